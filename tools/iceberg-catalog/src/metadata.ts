/**
 * Table metadata v2 (Iceberg table spec, "Table Metadata" and Appendix C) and the REST commit
 * semantics: requirements are checked against the current metadata, then updates are applied in order.
 */
import { randomUUID } from 'node:crypto';
import { badRequest, commitFailed } from './errors.js';
import { idEq, toBig } from './json.js';

export type Json = Record<string, unknown>;
export type TableMetadata = Json & {
  'format-version': number;
  'table-uuid': string;
  location: string;
  'last-sequence-number': number | bigint;
  'last-updated-ms': number;
  'last-column-id': number;
  schemas: Json[];
  'current-schema-id': number;
  'partition-specs': Json[];
  'default-spec-id': number;
  'last-partition-id': number;
  properties: Record<string, string>;
  'current-snapshot-id'?: number | bigint;
  snapshots: Json[];
  'snapshot-log': Json[];
  'metadata-log': Json[];
  'sort-orders': Json[];
  'default-sort-order-id': number;
  refs: Record<string, Json>;
};

const PRIMITIVES =
  /^(boolean|int|long|float|double|date|time|timestamp|timestamptz|timestamp_ns|timestamptz_ns|string|uuid|binary|fixed\[\d+\]|decimal\(\s*\d+\s*,\s*\d+\s*\))$/;
const TRANSFORMS = /^(identity|year|month|day|hour|void|bucket\[\d+\]|truncate\[\d+\])$/;

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Highest field id anywhere in a (possibly nested) type. */
function maxFieldId(type: unknown): number {
  if (!isObj(type)) return 0;
  let max = 0;
  if (type['type'] === 'struct' && Array.isArray(type['fields'])) {
    for (const f of type['fields'] as Json[]) max = Math.max(max, Number(f['id']), maxFieldId(f['type']));
  } else if (type['type'] === 'list') {
    max = Math.max(Number(type['element-id']), maxFieldId(type['element']));
  } else if (type['type'] === 'map') {
    max = Math.max(
      Number(type['key-id']),
      Number(type['value-id']),
      maxFieldId(type['key']),
      maxFieldId(type['value']),
    );
  }
  return max;
}

export function validateSchema(schema: unknown, where: string): Json {
  if (!isObj(schema) || schema['type'] !== 'struct' || !Array.isArray(schema['fields']))
    throw badRequest(`${where}: schema must be a struct with fields`);
  const ids = new Set<number>();
  const names = new Set<string>();
  for (const f of schema['fields'] as unknown[]) {
    if (!isObj(f)) throw badRequest(`${where}: field is not an object`);
    const id = f['id'];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0)
      throw badRequest(`${where}: field id must be a non-negative integer`);
    if (typeof f['name'] !== 'string' || f['name'].length === 0)
      throw badRequest(`${where}: field ${id} has no name`);
    if (typeof f['required'] !== 'boolean') throw badRequest(`${where}: field ${f['name']} lacks required`);
    if (ids.has(id)) throw badRequest(`${where}: duplicate field id ${id}`);
    if (names.has(f['name'])) throw badRequest(`${where}: duplicate field name ${f['name']}`);
    ids.add(id);
    names.add(f['name']);
    const t = f['type'];
    if (typeof t === 'string' ? !PRIMITIVES.test(t) : !isObj(t))
      throw badRequest(`${where}: field ${f['name']} has unsupported type ${JSON.stringify(t)}`);
  }
  return schema;
}

export function newTableMetadata(args: {
  location: string;
  schema: unknown;
  partitionSpec?: unknown;
  writeOrder?: unknown;
  properties?: unknown;
  now: number;
}): TableMetadata {
  const schema: Json = { ...validateSchema(args.schema, 'schema'), 'schema-id': 0 };
  const columnIds = new Set((schema['fields'] as Json[]).map((f) => Number(f['id'])));
  const specIn = args.partitionSpec;
  let nextPartitionId = 1000;
  const specFields: Json[] = [];
  if (specIn !== undefined && specIn !== null) {
    if (!isObj(specIn) || !Array.isArray(specIn['fields']))
      throw badRequest('partition-spec: must be an object with fields');
    for (const pf of specIn['fields'] as unknown[]) {
      if (!isObj(pf)) throw badRequest('partition-spec: field is not an object');
      const sourceId = Number(pf['source-id']);
      if (!columnIds.has(sourceId)) throw badRequest(`partition-spec: source-id ${sourceId} is not a column`);
      if (typeof pf['transform'] !== 'string' || !TRANSFORMS.test(pf['transform']))
        throw badRequest(`partition-spec: unknown transform ${String(pf['transform'])}`);
      if (typeof pf['name'] !== 'string' || pf['name'].length === 0)
        throw badRequest('partition-spec: field without name');
      const fieldId = pf['field-id'] === undefined ? nextPartitionId : Number(pf['field-id']);
      nextPartitionId = Math.max(nextPartitionId, fieldId + 1);
      specFields.push({
        name: pf['name'],
        transform: pf['transform'],
        'source-id': sourceId,
        'field-id': fieldId,
      });
    }
  }
  const sortOrders: Json[] = [{ 'order-id': 0, fields: [] }];
  let defaultSortOrderId = 0;
  if (
    isObj(args.writeOrder) &&
    Array.isArray(args.writeOrder['fields']) &&
    args.writeOrder['fields'].length > 0
  ) {
    sortOrders.push({ 'order-id': 1, fields: args.writeOrder['fields'] });
    defaultSortOrderId = 1;
  }
  const properties: Record<string, string> = {};
  if (args.properties !== undefined) {
    if (!isObj(args.properties)) throw badRequest('properties: must be a string map');
    for (const [k, v] of Object.entries(args.properties)) {
      if (typeof v !== 'string') throw badRequest(`properties.${k}: must be a string`);
      properties[k] = v;
    }
  }
  // `format-version` in create properties selects the table version (as in the Java catalogs); only v2 here.
  const fv = properties['format-version'];
  delete properties['format-version'];
  if (fv !== undefined && fv !== '2') throw badRequest(`format-version ${fv} is not supported (only 2)`);
  return {
    'format-version': 2,
    'table-uuid': randomUUID(),
    location: args.location,
    'last-sequence-number': 0,
    'last-updated-ms': args.now,
    'last-column-id': maxFieldId(schema),
    schemas: [schema],
    'current-schema-id': 0,
    'partition-specs': [{ 'spec-id': 0, fields: specFields }],
    'default-spec-id': 0,
    'last-partition-id':
      specFields.length === 0 ? 999 : Math.max(...specFields.map((f) => Number(f['field-id']))),
    properties,
    snapshots: [],
    'snapshot-log': [],
    'metadata-log': [],
    'sort-orders': sortOrders,
    'default-sort-order-id': defaultSortOrderId,
    refs: {},
  };
}

/** Throws 409 CommitFailedException when a requirement does not hold, 400 for an unknown requirement. */
export function checkRequirements(md: TableMetadata, requirements: unknown): void {
  if (!Array.isArray(requirements)) throw badRequest('requirements: must be an array');
  for (const r of requirements as unknown[]) {
    if (!isObj(r)) throw badRequest('requirement: must be an object');
    switch (r['type']) {
      case 'assert-create':
        throw commitFailed('Requirement failed: table already exists');
      case 'assert-table-uuid':
        if (r['uuid'] !== md['table-uuid'])
          throw commitFailed(
            `Requirement failed: UUID does not match: expected ${md['table-uuid']} != ${String(r['uuid'])}`,
          );
        break;
      case 'assert-ref-snapshot-id': {
        const refName = r['ref'];
        if (typeof refName !== 'string') throw badRequest('assert-ref-snapshot-id: ref must be a string');
        if (!('snapshot-id' in r))
          throw badRequest('assert-ref-snapshot-id: snapshot-id is required (null for absent)');
        const ref = md.refs[refName];
        const want = r['snapshot-id'];
        if (want === null) {
          if (ref) throw commitFailed(`Requirement failed: ref ${refName} was created concurrently`);
        } else if (!ref) {
          throw commitFailed(`Requirement failed: ref ${refName} is missing, expected ${String(want)}`);
        } else if (!idEq(ref['snapshot-id'], want)) {
          throw commitFailed(
            `Requirement failed: ref ${refName} has changed: expected id ${String(want)} != ${String(ref['snapshot-id'])}`,
          );
        }
        break;
      }
      case 'assert-current-schema-id':
        if (r['current-schema-id'] !== md['current-schema-id'])
          throw commitFailed('Requirement failed: current schema changed');
        break;
      case 'assert-last-assigned-field-id':
        if (r['last-assigned-field-id'] !== md['last-column-id'])
          throw commitFailed('Requirement failed: last assigned field id changed');
        break;
      case 'assert-last-assigned-partition-id':
        if (r['last-assigned-partition-id'] !== md['last-partition-id'])
          throw commitFailed('Requirement failed: last assigned partition id changed');
        break;
      case 'assert-default-spec-id':
        if (r['default-spec-id'] !== md['default-spec-id'])
          throw commitFailed('Requirement failed: default partition spec changed');
        break;
      case 'assert-default-sort-order-id':
        if (r['default-sort-order-id'] !== md['default-sort-order-id'])
          throw commitFailed('Requirement failed: default sort order changed');
        break;
      default:
        throw badRequest(`Unknown requirement type: ${String(r['type'])}`);
    }
  }
}

/** Applies updates to a copy of `md`. Unknown actions → 400 (the spec requires rejecting them). */
export function applyUpdates(
  base: TableMetadata,
  updates: unknown,
  now: number,
  previousLocation: string,
): TableMetadata {
  if (!Array.isArray(updates)) throw badRequest('updates: must be an array');
  const md: TableMetadata = structuredClone(base);
  let lastAddedSchemaId: number | undefined;
  for (const u of updates as unknown[]) {
    if (!isObj(u)) throw badRequest('update: must be an object');
    switch (u['action']) {
      case 'add-snapshot': {
        const s = u['snapshot'];
        if (!isObj(s)) throw badRequest('add-snapshot: snapshot is required');
        for (const k of ['snapshot-id', 'timestamp-ms', 'manifest-list', 'summary'])
          if (!(k in s)) throw badRequest(`add-snapshot: snapshot.${k} is required`);
        if (!isObj(s['summary']) || typeof s['summary']['operation'] !== 'string')
          throw badRequest('add-snapshot: summary.operation is required');
        if (md.snapshots.some((x) => idEq(x['snapshot-id'], s['snapshot-id'])))
          throw commitFailed(`Snapshot already exists: ${String(s['snapshot-id'])}`);
        const seq = s['sequence-number'];
        if (seq === undefined) throw badRequest('add-snapshot: sequence-number is required for format v2');
        if (toBig(seq) <= toBig(md['last-sequence-number'])) {
          throw commitFailed(
            `Cannot add snapshot with sequence number ${String(seq)} older than last sequence number ${String(md['last-sequence-number'])}`,
          );
        }
        md.snapshots.push(s);
        md['last-sequence-number'] = seq as number | bigint;
        break;
      }
      case 'set-snapshot-ref': {
        const name = u['ref-name'];
        const id = u['snapshot-id'];
        const type = u['type'];
        if (typeof name !== 'string' || (type !== 'branch' && type !== 'tag'))
          throw badRequest('set-snapshot-ref: ref-name and type (branch|tag) are required');
        const snap = md.snapshots.find((x) => idEq(x['snapshot-id'], id));
        if (!snap) throw badRequest(`set-snapshot-ref: snapshot ${String(id)} does not exist`);
        const ref: Json = { 'snapshot-id': id, type };
        for (const k of ['max-ref-age-ms', 'max-snapshot-age-ms', 'min-snapshots-to-keep'])
          if (u[k] !== undefined) ref[k] = u[k];
        md.refs[name] = ref;
        if (name === 'main') {
          md['current-snapshot-id'] = id as number | bigint;
          md['snapshot-log'].push({ 'snapshot-id': id, 'timestamp-ms': snap['timestamp-ms'] ?? now });
        }
        break;
      }
      case 'remove-snapshot-ref': {
        const name = u['ref-name'];
        if (typeof name !== 'string') throw badRequest('remove-snapshot-ref: ref-name is required');
        delete md.refs[name];
        if (name === 'main') delete md['current-snapshot-id'];
        break;
      }
      case 'set-properties': {
        const up = u['updates'];
        if (!isObj(up)) throw badRequest('set-properties: updates must be a string map');
        for (const [k, v] of Object.entries(up)) {
          if (typeof v !== 'string') throw badRequest(`set-properties: ${k} must be a string`);
          md.properties[k] = v;
        }
        break;
      }
      case 'remove-properties': {
        const rm = u['removals'];
        if (!Array.isArray(rm)) throw badRequest('remove-properties: removals must be an array');
        for (const k of rm) delete md.properties[String(k)];
        break;
      }
      case 'add-schema': {
        const schema = validateSchema(u['schema'], 'add-schema');
        const used = new Set(md.schemas.map((s) => Number(s['schema-id'])));
        const wanted = typeof schema['schema-id'] === 'number' ? schema['schema-id'] : undefined;
        const id = wanted !== undefined && !used.has(wanted) ? wanted : Math.max(...used) + 1;
        md.schemas.push({ ...schema, 'schema-id': id });
        md['last-column-id'] = Math.max(
          md['last-column-id'],
          Number(u['last-column-id'] ?? 0),
          maxFieldId(schema),
        );
        lastAddedSchemaId = id;
        break;
      }
      case 'set-current-schema': {
        let id = Number(u['schema-id']);
        if (id === -1) {
          if (lastAddedSchemaId === undefined)
            throw badRequest('set-current-schema: -1 without a schema added in this commit');
          id = lastAddedSchemaId;
        }
        if (!md.schemas.some((s) => s['schema-id'] === id))
          throw badRequest(`set-current-schema: schema ${id} does not exist`);
        md['current-schema-id'] = id;
        break;
      }
      default:
        throw badRequest(`Unsupported table update: ${String(u['action'])}`);
    }
  }
  md['metadata-log'].push({ 'metadata-file': previousLocation, 'timestamp-ms': base['last-updated-ms'] });
  md['last-updated-ms'] = Math.max(now, Number(base['last-updated-ms']) + 1);
  return md;
}
