/**
 * Iceberg v2 manifests and manifest lists (table spec: "Manifests", "Manifest Lists", Appendix A
 * for the Avro mapping: maps with non-string keys are arrays of `k<id>_v<id>` records tagged
 * `logicalType: map`; every field carries its Iceberg `field-id`).
 */
import { CfError } from '@cryptoflow/core';
import type { AvroSchemaJson } from './avro.js';
import { readAvroContainer, writeAvroContainer } from './avro.js';
import { encodeBound } from './bounds.js';
import { stringifyJson } from './json.js';
import type { DataFileInput, IcebergPartitionSpec, IcebergSchema } from './types.js';

type AvroRecordSchema = { type: 'record'; name: string; fields: Record<string, unknown>[] };

function optional(name: string, fieldId: number, type: AvroSchemaJson): Record<string, unknown> {
  return { name, type: ['null', type], default: null, 'field-id': fieldId };
}

function required(name: string, fieldId: number, type: AvroSchemaJson): Record<string, unknown> {
  return { name, type, 'field-id': fieldId };
}

function intMap(name: string, fieldId: number, keyId: number, valueId: number, valueType: 'long' | 'bytes'): Record<string, unknown> {
  return optional(name, fieldId, {
    type: 'array',
    logicalType: 'map',
    items: {
      type: 'record',
      name: `k${keyId}_v${valueId}`,
      fields: [required('key', keyId, 'int'), required('value', valueId, valueType)],
    },
  });
}

/** Avro type of a partition field's value: the transform's result type (spec "Partition Transforms"). */
function partitionValueAvroType(field: { transform: string; 'source-id': number }, schema: IcebergSchema): AvroSchemaJson {
  const t = field.transform;
  if (t === 'hour' || t === 'day' || t === 'month' || t === 'year' || t.startsWith('bucket[')) return 'int';
  if (t === 'identity' || t.startsWith('truncate[')) {
    const source = schema.fields.find((f) => f.id === field['source-id']);
    switch (source?.type) {
      case 'int':
        return 'int';
      case 'long':
        return 'long';
      case 'double':
        return 'double';
      case 'boolean':
        return 'boolean';
      case 'string':
        return 'string';
      case 'timestamptz':
        return { type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': true };
      default:
        break;
    }
  }
  throw new CfError('CF_CATALOG', `unsupported partition transform ${t} on source field ${field['source-id']}`, {
    context: { transform: t },
  });
}

function partitionBoundType(avroT: AvroSchemaJson): 'int' | 'long' | 'double' | 'boolean' | 'string' {
  if (typeof avroT === 'string') return avroT as 'int' | 'long' | 'double' | 'boolean' | 'string';
  return 'long';
}

export function partitionRecordSchema(spec: IcebergPartitionSpec, schema: IcebergSchema): AvroRecordSchema {
  return {
    type: 'record',
    name: 'r102',
    fields: spec.fields.map((f) => optional(f.name, f['field-id'], partitionValueAvroType(f, schema))),
  };
}

/** `manifest_entry` for format v2 with the `data_file` struct. */
export function manifestEntrySchema(spec: IcebergPartitionSpec, schema: IcebergSchema): AvroRecordSchema {
  return {
    type: 'record',
    name: 'manifest_entry',
    fields: [
      required('status', 0, 'int'),
      optional('snapshot_id', 1, 'long'),
      optional('sequence_number', 3, 'long'),
      optional('file_sequence_number', 4, 'long'),
      required('data_file', 2, {
        type: 'record',
        name: 'r2',
        fields: [
          required('content', 134, 'int'),
          required('file_path', 100, 'string'),
          required('file_format', 101, 'string'),
          required('partition', 102, partitionRecordSchema(spec, schema)),
          required('record_count', 103, 'long'),
          required('file_size_in_bytes', 104, 'long'),
          intMap('column_sizes', 108, 117, 118, 'long'),
          intMap('value_counts', 109, 119, 120, 'long'),
          intMap('null_value_counts', 110, 121, 122, 'long'),
          intMap('nan_value_counts', 137, 138, 139, 'long'),
          intMap('lower_bounds', 125, 126, 127, 'bytes'),
          intMap('upper_bounds', 128, 129, 130, 'bytes'),
          optional('key_metadata', 131, 'bytes'),
          optional('split_offsets', 132, { type: 'array', items: 'long', 'element-id': 133 }),
          optional('equality_ids', 135, { type: 'array', items: 'int', 'element-id': 136 }),
          optional('sort_order_id', 140, 'int'),
        ],
      }),
    ],
  };
}

/** `manifest_file` for format v2. */
export const MANIFEST_FILE_SCHEMA: AvroRecordSchema = {
  type: 'record',
  name: 'manifest_file',
  fields: [
    required('manifest_path', 500, 'string'),
    required('manifest_length', 501, 'long'),
    required('partition_spec_id', 502, 'int'),
    required('content', 517, 'int'),
    required('sequence_number', 515, 'long'),
    required('min_sequence_number', 516, 'long'),
    required('added_snapshot_id', 503, 'long'),
    required('added_files_count', 504, 'int'),
    required('existing_files_count', 505, 'int'),
    required('deleted_files_count', 506, 'int'),
    required('added_rows_count', 512, 'long'),
    required('existing_rows_count', 513, 'long'),
    required('deleted_rows_count', 514, 'long'),
    optional('partitions', 507, {
      type: 'array',
      'element-id': 508,
      items: {
        type: 'record',
        name: 'r508',
        fields: [
          required('contains_null', 509, 'boolean'),
          optional('contains_nan', 518, 'boolean'),
          optional('lower_bound', 510, 'bytes'),
          optional('upper_bound', 511, 'bytes'),
        ],
      },
    }),
    optional('key_metadata', 519, 'bytes'),
  ],
};

export interface FieldSummary {
  contains_null: boolean;
  contains_nan: boolean | null;
  lower_bound: Buffer | null;
  upper_bound: Buffer | null;
}

/** One row of a manifest list, as written (longs are bigint). */
export interface ManifestFileRecord {
  manifest_path: string;
  manifest_length: bigint;
  partition_spec_id: number;
  content: number;
  sequence_number: bigint;
  min_sequence_number: bigint;
  added_snapshot_id: bigint;
  added_files_count: number;
  existing_files_count: number;
  deleted_files_count: number;
  added_rows_count: bigint;
  existing_rows_count: bigint;
  deleted_rows_count: bigint;
  partitions: FieldSummary[] | null;
  key_metadata: Buffer | null;
}

function mapEntries(m: Readonly<Record<number, number | bigint>> | undefined): { key: number; value: bigint }[] | null {
  if (!m) return null;
  return Object.entries(m)
    .map(([k, v]) => ({ key: Number(k), value: BigInt(v) }))
    .sort((a, b) => a.key - b.key);
}

function boundEntries(m: Readonly<Record<number, Uint8Array>> | undefined): { key: number; value: Buffer }[] | null {
  if (!m) return null;
  return Object.entries(m)
    .map(([k, v]) => ({ key: Number(k), value: Buffer.from(v.buffer, v.byteOffset, v.byteLength) }))
    .sort((a, b) => a.key - b.key);
}

export interface WrittenManifest {
  readonly bytes: Uint8Array;
  /** The manifest-list row for this manifest, minus `manifest_path` and the sequence numbers assigned at commit. */
  readonly summary: Omit<ManifestFileRecord, 'manifest_path' | 'sequence_number' | 'min_sequence_number'>;
}

/**
 * One data manifest with every file as ADDED by `snapshotId`. Sequence numbers are left null so the
 * entries inherit the manifest's sequence number from the manifest list: the same manifest bytes stay
 * valid across commit retries, only the manifest list is rewritten.
 */
export function writeDataManifest(args: {
  readonly snapshotId: bigint;
  readonly schema: IcebergSchema;
  readonly spec: IcebergPartitionSpec;
  readonly files: readonly DataFileInput[];
}): WrittenManifest {
  const { snapshotId, schema, spec, files } = args;
  const entrySchema = manifestEntrySchema(spec, schema);
  const partitionSchema = partitionRecordSchema(spec, schema);
  const boundTypes = partitionSchema.fields.map((f) => partitionBoundType((f['type'] as AvroSchemaJson[])[1]!));
  const lows: (number | bigint | string | boolean | null)[] = spec.fields.map(() => null);
  const highs: (number | bigint | string | boolean | null)[] = spec.fields.map(() => null);
  const nulls: boolean[] = spec.fields.map(() => false);
  let rows = 0n;
  const entries = files.map((f) => {
    const partition: Record<string, unknown> = {};
    spec.fields.forEach((pf, i) => {
      const v = f.partition[pf.name];
      if (v === undefined) {
        throw new CfError('CF_CATALOG', `data file ${f.filePath}: partition value ${pf.name} missing`, {
          context: { filePath: f.filePath, partitionField: pf.name },
        });
      }
      const bt = boundTypes[i]!;
      const value = v === null ? null : bt === 'long' ? BigInt(v) : v;
      partition[pf.name] = value;
      if (value === null) nulls[i] = true;
      else {
        const lo = lows[i];
        const hi = highs[i];
        if (lo === null || lo === undefined || value < lo) lows[i] = value;
        if (hi === null || hi === undefined || value > hi) highs[i] = value;
      }
    });
    rows += BigInt(f.recordCount);
    return {
      status: 1,
      snapshot_id: snapshotId,
      sequence_number: null,
      file_sequence_number: null,
      data_file: {
        content: 0,
        file_path: f.filePath,
        file_format: 'PARQUET',
        partition,
        record_count: BigInt(f.recordCount),
        file_size_in_bytes: BigInt(f.fileSizeInBytes),
        column_sizes: mapEntries(f.columnSizes),
        value_counts: mapEntries(f.valueCounts),
        null_value_counts: mapEntries(f.nullValueCounts),
        nan_value_counts: mapEntries(f.nanValueCounts),
        lower_bounds: boundEntries(f.lowerBounds),
        upper_bounds: boundEntries(f.upperBounds),
        key_metadata: null,
        split_offsets: f.splitOffsets ? f.splitOffsets.map((o) => BigInt(o)) : null,
        equality_ids: null,
        sort_order_id: f.sortOrderId ?? null,
      },
    };
  });
  const bytes = writeAvroContainer(entrySchema, entries, {
    syncSeed: `manifest-${snapshotId}`,
    metadata: {
      schema: stringifyJson(schema),
      'schema-id': String(schema['schema-id']),
      'partition-spec': stringifyJson(spec.fields),
      'partition-spec-id': String(spec['spec-id']),
      'format-version': '2',
      content: 'data',
    },
  });
  const partitions: FieldSummary[] = spec.fields.map((_, i) => {
    const lo = lows[i];
    const hi = highs[i];
    const bt = boundTypes[i]!;
    return {
      contains_null: nulls[i]!,
      contains_nan: bt === 'double' ? false : null,
      lower_bound: lo === null || lo === undefined ? null : Buffer.from(encodeBound(bt, lo)),
      upper_bound: hi === null || hi === undefined ? null : Buffer.from(encodeBound(bt, hi)),
    };
  });
  return {
    bytes,
    summary: {
      manifest_length: BigInt(bytes.byteLength),
      partition_spec_id: spec['spec-id'],
      content: 0,
      added_snapshot_id: snapshotId,
      added_files_count: files.length,
      existing_files_count: 0,
      deleted_files_count: 0,
      added_rows_count: rows,
      existing_rows_count: 0n,
      deleted_rows_count: 0n,
      partitions,
      key_metadata: null,
    },
  };
}

export function writeManifestList(args: {
  readonly snapshotId: bigint;
  readonly parentSnapshotId: bigint | null;
  readonly sequenceNumber: bigint;
  readonly manifests: readonly ManifestFileRecord[];
  /** Distinguishes attempts in the sync-marker seed (bytes differ per attempt anyway). */
  readonly attempt: number;
}): Uint8Array {
  const metadata: Record<string, string> = {
    'snapshot-id': String(args.snapshotId),
    'sequence-number': String(args.sequenceNumber),
    'format-version': '2',
  };
  metadata['parent-snapshot-id'] = args.parentSnapshotId === null ? 'null' : String(args.parentSnapshotId);
  return writeAvroContainer(MANIFEST_FILE_SCHEMA, args.manifests, {
    syncSeed: `manifest-list-${args.snapshotId}-${args.sequenceNumber}-${args.attempt}`,
    metadata,
  });
}

/**
 * Resolve a decoded value written with `writer` schema into the shape of `reader` schema, matching
 * record fields by Iceberg `field-id` (then by name): how Iceberg projects files written by other
 * engines, whose Avro field names have differed across versions.
 */
function project(value: unknown, writer: AvroSchemaJson | undefined, reader: AvroSchemaJson): unknown {
  if (value === null || value === undefined) return null;
  const readerNonNull = Array.isArray(reader) ? (reader.find((t) => t !== 'null') as AvroSchemaJson) : reader;
  const writerNonNull = Array.isArray(writer) ? (writer.find((t) => t !== 'null') as AvroSchemaJson | undefined) : writer;
  if (typeof readerNonNull === 'object' && readerNonNull !== null && !Array.isArray(readerNonNull)) {
    const r = readerNonNull as Record<string, unknown>;
    const w = (typeof writerNonNull === 'object' && writerNonNull !== null ? writerNonNull : {}) as Record<string, unknown>;
    if (r['type'] === 'record') {
      const src = value as Record<string, unknown>;
      const wFields = (w['fields'] as Record<string, unknown>[] | undefined) ?? [];
      const out: Record<string, unknown> = {};
      for (const rf of r['fields'] as Record<string, unknown>[]) {
        const wf = wFields.find((f) => f['field-id'] !== undefined && f['field-id'] === rf['field-id']) ?? wFields.find((f) => f['name'] === rf['name']);
        const raw = wf ? src[wf['name'] as string] : undefined;
        out[rf['name'] as string] = project(raw, wf?.['type'] as AvroSchemaJson | undefined, rf['type'] as AvroSchemaJson);
      }
      return out;
    }
    if (r['type'] === 'array') {
      return (value as unknown[]).map((v) => project(v, w['items'] as AvroSchemaJson | undefined, r['items'] as AvroSchemaJson));
    }
  }
  if (readerNonNull === 'long' && typeof value === 'number') return BigInt(value);
  if (readerNonNull === 'int' && typeof value === 'bigint') return Number(value);
  return value;
}

const REQUIRED_V2: readonly (keyof ManifestFileRecord)[] = [
  'manifest_path',
  'manifest_length',
  'partition_spec_id',
  'added_snapshot_id',
  'added_files_count',
  'existing_files_count',
  'deleted_files_count',
  'added_rows_count',
  'existing_rows_count',
  'deleted_rows_count',
];

/** Read a manifest list (ours or another writer's) into v2 rows, ready to be repeated in a new list. */
export function readManifestList(bytes: Uint8Array, location: string): ManifestFileRecord[] {
  const container = readAvroContainer(bytes);
  return container.records.map((rec, i) => {
    const row = project(rec, container.schema, MANIFEST_FILE_SCHEMA) as Record<string, unknown>;
    // v1 lists have no content/sequence columns: the spec says read them as 0.
    row['content'] ??= 0;
    row['sequence_number'] ??= 0n;
    row['min_sequence_number'] ??= 0n;
    for (const k of REQUIRED_V2) {
      // A null count means "assume non-zero"; writing 0 would make readers skip the manifest, so refuse.
      if (row[k] === null || row[k] === undefined) {
        throw new CfError('CF_CATALOG', `manifest list ${location} row ${i}: required field ${k} is missing`, {
          context: { location, field: k },
        });
      }
    }
    return row as unknown as ManifestFileRecord;
  });
}

export interface ManifestEntryRecord {
  status: number;
  snapshot_id: bigint | null;
  sequence_number: bigint | null;
  file_sequence_number: bigint | null;
  data_file: {
    content: number;
    file_path: string;
    file_format: string;
    partition: Record<string, unknown>;
    record_count: bigint;
    file_size_in_bytes: bigint;
    [k: string]: unknown;
  };
}

/** Read a data manifest (used by tests and by tools that list a snapshot's files). */
export function readManifest(bytes: Uint8Array): { metadata: Readonly<Record<string, string>>; schema: AvroSchemaJson; entries: ManifestEntryRecord[] } {
  const c = readAvroContainer(bytes);
  return { metadata: c.metadata, schema: c.schema, entries: c.records as ManifestEntryRecord[] };
}
