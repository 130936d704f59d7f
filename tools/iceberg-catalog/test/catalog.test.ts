import { readFileSync } from 'node:fs';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { TABLES, icebergPartitionSpecJson, icebergSchemaJson } from '@cryptoflow/model';
import { stringify } from 'lossless-json';
import { parseJson as parseLossless } from '../src/json.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ROUTES, startIcebergCatalog } from '../src/index.js';
import type { RunningCatalog } from '../src/index.js';
import type { LocalS3 } from '@cryptoflow/stand-ins';
import { startS3 } from '@cryptoflow/stand-ins';
import { OpenApiValidator } from './openapi-validator.js';

const SPEC_PATH = '/work/shared/reference/iceberg-rest/rest-catalog-open-api.yaml';
const spec = parseYaml(readFileSync(new URL(`file://${SPEC_PATH}`), 'utf8')) as Record<string, unknown>;
const validator = new OpenApiValidator(spec);
const WAREHOUSE = 'arn:aws:s3tables:us-east-1:000000000000:bucket/cf-test';
const BUCKET = 'cf-catalog-test';
const creds = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

let s3: LocalS3;
let catalog: RunningCatalog;
let P: string;

interface Res {
  status: number;
  body: unknown;
  text: string;
}

async function call(method: string, path: string, body?: unknown): Promise<Res> {
  const res = await fetch(catalog.uri + path, {
    method,
    ...(body === undefined ? {} : { body: stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  return { status: res.status, text, body: text ? parseLossless(text) : undefined };
}

/** Assert the response validates against the spec's schema for this operation and status. */
function conforms(template: string, method: string, res: Res): void {
  const schema = validator.responseSchema(template, method, res.status);
  if (schema === undefined) {
    expect(res.text).toBe('');
    return;
  }
  expect(validator.validate(schema, res.body)).toEqual([]);
}

const ns = 'market_data';
const tablePath = (name: string): string => `/v1/${P}/namespaces/${ns}/tables/${name}`;

beforeAll(async () => {
  s3 = await startS3();
  catalog = await startIcebergCatalog({
    s3: { endpoint: s3.endpoint, bucket: BUCKET, region: 'us-east-1', credentials: creds },
    warehouse: WAREHOUSE,
    port: 0,
  });
  P = encodeURIComponent(WAREHOUSE);
});

afterAll(async () => {
  await catalog?.close();
  await s3?.close();
});

describe('routes against the OpenAPI document', () => {
  it('every served route exists in the spec with that method', () => {
    const paths = spec['paths'] as Record<string, Record<string, unknown>>;
    for (const r of ROUTES) {
      expect(paths[r.path], r.path).toBeDefined();
      expect(paths[r.path]![r.method], `${r.method} ${r.path}`).toBeDefined();
    }
  });

  it('the validator rejects a body that breaks the schema (it can fail)', () => {
    const schema = validator.responseSchema('/v1/config', 'get', 200)!;
    expect(validator.validate(schema, { defaults: {} })).toContain('$: missing required overrides');
    expect(validator.validate(schema, { defaults: {}, overrides: { a: 1 } })).not.toEqual([]);
  });
});

describe('local Iceberg REST catalog', () => {
  it('serves config with the warehouse as prefix, 404 for an unknown warehouse', async () => {
    const res = await call('GET', `/v1/config?warehouse=${P}`);
    expect(res.status).toBe(200);
    conforms('/v1/config', 'get', res);
    expect((res.body as { overrides: { prefix: string } }).overrides.prefix).toBe(WAREHOUSE);
    const bad = await call('GET', '/v1/config?warehouse=nope');
    expect(bad.status).toBe(404);
    conforms('/v1/config', 'get', bad);
  });

  it('creates, lists, gets and checks namespaces; rejects duplicates and multi-level names', async () => {
    const created = await call('POST', `/v1/${P}/namespaces`, {
      namespace: [ns],
      properties: { owner: 'cryptoflow' },
    });
    expect(created.status).toBe(200);
    conforms('/v1/{prefix}/namespaces', 'post', created);
    const dup = await call('POST', `/v1/${P}/namespaces`, { namespace: [ns] });
    expect(dup.status).toBe(409);
    conforms('/v1/{prefix}/namespaces', 'post', dup);
    expect((dup.body as { error: { type: string } }).error.type).toBe('AlreadyExistsException');
    const multi = await call('POST', `/v1/${P}/namespaces`, { namespace: ['a', 'b'] });
    expect(multi.status).toBe(400);
    const list = await call('GET', `/v1/${P}/namespaces`);
    conforms('/v1/{prefix}/namespaces', 'get', list);
    expect((list.body as { namespaces: string[][] }).namespaces).toEqual([[ns]]);
    const got = await call('GET', `/v1/${P}/namespaces/${ns}`);
    conforms('/v1/{prefix}/namespaces/{namespace}', 'get', got);
    expect((got.body as { properties: Record<string, string> }).properties['owner']).toBe('cryptoflow');
    expect((await call('HEAD', `/v1/${P}/namespaces/${ns}`)).status).toBe(204);
    expect((await call('HEAD', `/v1/${P}/namespaces/missing`)).status).toBe(404);
  });

  it('creates every model table with its schema and hourly partition spec', async () => {
    for (const t of TABLES) {
      const res = await call('POST', `/v1/${P}/namespaces/${ns}/tables`, {
        name: t,
        schema: icebergSchemaJson(t),
        'partition-spec': icebergPartitionSpecJson(t),
        properties: { 'write.format.default': 'parquet', 'format-version': '2' },
      });
      expect(res.status, res.text).toBe(200);
      conforms('/v1/{prefix}/namespaces/{namespace}/tables', 'post', res);
      const md = (res.body as { metadata: Record<string, unknown> }).metadata;
      expect(md['format-version']).toBe(2);
      expect((md['partition-specs'] as { fields: unknown[] }[])[0]!.fields).toEqual([
        { name: 'exchange_ts_hour', transform: 'hour', 'source-id': 3, 'field-id': 1000 },
      ]);
      expect(md['last-column-id']).toBe(Math.max(...icebergSchemaJson(t).fields.map((f) => f.id)));
      expect(md['properties']).toEqual({ 'write.format.default': 'parquet' });
    }
    const list = await call('GET', `/v1/${P}/namespaces/${ns}/tables`);
    conforms('/v1/{prefix}/namespaces/{namespace}/tables', 'get', list);
    expect((list.body as { identifiers: { name: string }[] }).identifiers.map((i) => i.name).sort()).toEqual(
      [...TABLES].sort(),
    );
    const again = await call('POST', `/v1/${P}/namespaces/${ns}/tables`, {
      name: 'trades',
      schema: icebergSchemaJson('trades'),
    });
    expect(again.status).toBe(409);
    conforms('/v1/{prefix}/namespaces/{namespace}/tables', 'post', again);
  });

  it('commits with optimistic concurrency and keeps 63-bit ids exact', async () => {
    const loaded = await call('GET', tablePath('trades'));
    conforms('/v1/{prefix}/namespaces/{namespace}/tables/{table}', 'get', loaded);
    const md = (loaded.body as { metadata: { 'table-uuid': string; location: string } }).metadata;
    const id = 9_007_199_254_740_993n; // 2^53 + 1: JSON.parse would read 9007199254740992
    const snapshot = (sid: bigint, seq: number, parent?: bigint): Record<string, unknown> => ({
      'snapshot-id': sid,
      ...(parent === undefined ? {} : { 'parent-snapshot-id': parent }),
      'sequence-number': seq,
      'timestamp-ms': Date.now(),
      'manifest-list': `${md.location}/metadata/snap-${sid}.avro`,
      summary: { operation: 'append' },
      'schema-id': 0,
    });
    const body = (sid: bigint, seq: number, expectParent: bigint | null): unknown => ({
      requirements: [
        { type: 'assert-table-uuid', uuid: md['table-uuid'] },
        { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': expectParent },
      ],
      updates: [
        { action: 'add-snapshot', snapshot: snapshot(sid, seq, expectParent ?? undefined) },
        { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': sid },
      ],
    });
    const ok = await call('POST', tablePath('trades'), body(id, 1, null));
    expect(ok.status, ok.text).toBe(200);
    conforms('/v1/{prefix}/namespaces/{namespace}/tables/{table}', 'post', ok);
    expect(ok.text).toContain('"current-snapshot-id":9007199254740993');
    const after = (
      ok.body as {
        metadata: { refs: Record<string, { 'snapshot-id': bigint }>; 'last-sequence-number': number };
      }
    ).metadata;
    expect(after.refs['main']!['snapshot-id']).toBe(id);
    expect(after['last-sequence-number']).toBe(1);

    // Stale parent: someone else moved main → 409 CommitFailedException in the spec's error body.
    const stale = await call('POST', tablePath('trades'), body(42n, 2, null));
    expect(stale.status).toBe(409);
    conforms('/v1/{prefix}/namespaces/{namespace}/tables/{table}', 'post', stale);
    expect((stale.body as { error: { type: string } }).error.type).toBe('CommitFailedException');

    const wrongUuid = await call('POST', tablePath('trades'), {
      requirements: [{ type: 'assert-table-uuid', uuid: 'x' }],
      updates: [],
    });
    expect(wrongUuid.status).toBe(409);
    const create = await call('POST', tablePath('trades'), {
      requirements: [{ type: 'assert-create' }],
      updates: [],
    });
    expect(create.status).toBe(409);
    const unknown = await call('POST', tablePath('trades'), {
      requirements: [{ type: 'assert-something' }],
      updates: [],
    });
    expect(unknown.status).toBe(400);
    const unknownUpdate = await call('POST', tablePath('trades'), {
      requirements: [],
      updates: [{ action: 'upgrade-the-universe' }],
    });
    expect(unknownUpdate.status).toBe(400);

    const second = await call('POST', tablePath('trades'), body(7n, 2, id));
    expect(second.status, second.text).toBe(200);
    const reloaded = await call('GET', tablePath('trades'));
    const rmd = (
      reloaded.body as {
        metadata: { snapshots: { 'snapshot-id': bigint | number }[]; 'metadata-log': unknown[] };
      }
    ).metadata;
    expect(rmd.snapshots.map((s) => BigInt(s['snapshot-id']))).toEqual([id, 7n]);
    expect(rmd['metadata-log']).toHaveLength(2);
  });

  it('set-properties and add-schema/set-current-schema', async () => {
    const res = await call('POST', tablePath('funding'), {
      requirements: [{ type: 'assert-current-schema-id', 'current-schema-id': 0 }],
      updates: [
        { action: 'set-properties', updates: { 'cryptoflow.owner': 'committer' } },
        {
          action: 'add-schema',
          schema: {
            ...icebergSchemaJson('funding'),
            fields: [
              ...icebergSchemaJson('funding').fields,
              { id: 10, name: 'extra', required: false, type: 'string' },
            ],
          },
        },
        { action: 'set-current-schema', 'schema-id': -1 },
      ],
    });
    expect(res.status, res.text).toBe(200);
    const md = (res.body as { metadata: Record<string, unknown> }).metadata;
    expect(md['current-schema-id']).toBe(1);
    expect(md['last-column-id']).toBe(10);
    expect((md['properties'] as Record<string, string>)['cryptoflow.owner']).toBe('committer');
  });

  it('fault injection: failures without apply change nothing; applyBeforeFailing commits then answers 5xx', async () => {
    const load = async (): Promise<{
      'table-uuid': string;
      snapshots: { 'snapshot-id': bigint | number }[];
      location: string;
    }> =>
      (
        (await call('GET', tablePath('liquidations'))).body as {
          metadata: {
            'table-uuid': string;
            snapshots: { 'snapshot-id': bigint | number }[];
            location: string;
          };
        }
      ).metadata;
    const md = await load();
    const commitBody = (sid: bigint, seq: number, parent: bigint | null): unknown => ({
      requirements: [{ type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': parent }],
      updates: [
        {
          action: 'add-snapshot',
          snapshot: {
            'snapshot-id': sid,
            'sequence-number': seq,
            'timestamp-ms': Date.now(),
            'manifest-list': `${md.location}/metadata/x.avro`,
            summary: { operation: 'append' },
          },
        },
        { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': sid },
      ],
    });
    catalog.faults.failNextCommits(1, 502);
    const lost = await call('POST', tablePath('liquidations'), commitBody(11n, 1, null));
    expect(lost.status).toBe(502);
    conforms('/v1/{prefix}/namespaces/{namespace}/tables/{table}', 'post', lost);
    expect((lost.body as { error: { type: string } }).error.type).toBe('CommitStateUnknownException');
    expect((await load()).snapshots).toHaveLength(0);

    catalog.faults.failNextCommits(1, 500, { applyBeforeFailing: true });
    const applied = await call('POST', tablePath('liquidations'), commitBody(12n, 1, null));
    expect(applied.status).toBe(500);
    expect((await load()).snapshots.map((s) => BigInt(s['snapshot-id']))).toEqual([12n]);

    catalog.faults.failNextCommits(1, 409);
    expect((await call('POST', tablePath('liquidations'), commitBody(13n, 2, 12n))).status).toBe(409);
    expect((await call('POST', tablePath('liquidations'), commitBody(13n, 2, 12n))).status).toBe(200);
  });

  it('renames and drops (purge only), and refuses to drop a non-empty namespace', async () => {
    const ren = await call('POST', `/v1/${P}/tables/rename`, {
      source: { namespace: [ns], name: 'spot_ob' },
      destination: { namespace: [ns], name: 'spot_ob_old' },
    });
    expect(ren.status).toBe(204);
    expect((await call('HEAD', tablePath('spot_ob'))).status).toBe(404);
    expect((await call('HEAD', tablePath('spot_ob_old'))).status).toBe(204);
    const missing = await call('GET', tablePath('spot_ob'));
    expect(missing.status).toBe(404);
    conforms('/v1/{prefix}/namespaces/{namespace}/tables/{table}', 'get', missing);

    const loc = ((await call('GET', tablePath('spot_ob_old'))).body as { metadata: { location: string } })
      .metadata.location;
    expect((await call('DELETE', tablePath('spot_ob_old'))).status).toBe(400);
    expect((await call('DELETE', `${tablePath('spot_ob_old')}?purgeRequested=true`)).status).toBe(204);
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      credentials: creds,
      forcePathStyle: true,
    });
    const left = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: loc.replace(`s3://${BUCKET}/`, '') + '/' }),
    );
    expect(left.Contents ?? []).toHaveLength(0);
    client.destroy();

    const notEmpty = await call('DELETE', `/v1/${P}/namespaces/${ns}`);
    expect(notEmpty.status).toBe(409);
    conforms('/v1/{prefix}/namespaces/{namespace}', 'delete', notEmpty);
  });

  it('survives a restart: state lives in S3, not in the process', async () => {
    const before = await call('GET', tablePath('trades'));
    await catalog.close();
    catalog = await startIcebergCatalog({
      s3: { endpoint: s3.endpoint, bucket: BUCKET, region: 'us-east-1', credentials: creds },
      warehouse: WAREHOUSE,
      port: 0,
    });
    const after = await call('GET', tablePath('trades'));
    expect(after.status).toBe(200);
    expect(after.text).toBe(before.text);
  });
});
