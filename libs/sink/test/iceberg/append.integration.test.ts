import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startIcebergCatalog } from '@cryptoflow/iceberg-catalog';
import type { RunningCatalog } from '@cryptoflow/iceberg-catalog';
import { Registry } from '@cryptoflow/metrics';
import { TABLES, TABLE_SCHEMAS, icebergPartitionSpecJson, icebergSchemaJson } from '@cryptoflow/model';
import { isCfError } from '@cryptoflow/core';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { icebergRead } from 'icebird';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IcebergRestClient,
  readManifest,
  readManifestList,
  s3ObjectStore,
  snapshotIdForCommit,
} from '../../src/iceberg/index.js';
import type { DataFileInput, LoadedTable, TableIdent } from '../../src/iceberg/index.js';
import type { LocalS3 } from '@cryptoflow/stand-ins';
import { startS3 } from '@cryptoflow/stand-ins';
import { BASE_TS, tradeRows, writeFixtureParquet } from './parquet-fixture.js';

const BUCKET = 'cf-lake-test';
const WAREHOUSE = 'arn:aws:s3tables:us-east-1:000000000000:bucket/cf-lake-test';
const NS = 'market_data';
const TRADES: TableIdent = { namespace: NS, name: 'trades' };
const creds = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

let s3: LocalS3;
let catalog: RunningCatalog;
let s3client: S3Client;
let registry: Registry;
let client: IcebergRestClient;
let rival: IcebergRestClient;
const realFetch = globalThis.fetch;
const written: Record<string, unknown>[] = [];
let fileNo = 0;

function newClient(
  reg: Registry,
  extra: Partial<ConstructorParameters<typeof IcebergRestClient>[0]> = {},
): IcebergRestClient {
  return new IcebergRestClient({
    uri: catalog.uri,
    warehouse: WAREHOUSE,
    objects: s3ObjectStore(s3client),
    registry: reg,
    backoff: { baseMs: 5, maxMs: 20, factor: 2 },
    ...extra,
  });
}

/** Write a Parquet file of trade rows to the local S3 and describe it for appendFiles. */
async function dataFile(firstId: number, n: number, hourOffset = 0): Promise<DataFileInput> {
  const rows = tradeRows(firstId, n, hourOffset);
  const { bytes, stats } = writeFixtureParquet('trades', rows);
  const key = `data/trades/${String(++fileNo).padStart(4, '0')}-${firstId}.parquet`;
  await s3client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bytes }));
  written.push(...rows.map((r) => ({ ...r, _file: key })));
  return { filePath: `s3://${BUCKET}/${key}`, ...stats };
}

/** A funding row in the first fixture hour whose mark price is `n`. */
function fundingRow(n: number): Record<string, unknown> {
  const ts = BASE_TS + n * 1_000_000;
  return { exchange: 'binance-usdm', symbol: 'BTCUSDT', exchange_ts: ts, ingest_ts: ts + 5, mark_price: n, index_price: n, est_settle_price: null, funding_rate: 0.0001 };
}

/** Read the table with icebird over HTTP from s3rver: an independent Iceberg reader. */
async function readWithIcebird(table: LoadedTable): Promise<Record<string, unknown>[]> {
  const loc = table.metadataLocation!;
  const tableLoc = table.metadata.location;
  const toHttp = (s3uri: string): string => s3uri.replace(/^s3:\/\//, `${s3.endpoint}/`);
  return icebergRead({ tableUrl: toHttp(tableLoc), metadataFileName: loc.slice(loc.lastIndexOf('/') + 1) });
}

/**
 * Rows as comparable strings. icebird reads through hyparquet, whose default parser turns
 * TIMESTAMP(MICROS) into a JS Date (millisecond precision): with `ms` the expected µs values are
 * floored the same way. `readExact` below checks the full µs values.
 */
function normalise(rows: readonly Record<string, unknown>[], precision: 'ms' | 'us' = 'ms'): string[] {
  const TS = new Set(['exchange_ts', 'ingest_ts', 'trade_ts']);
  return rows
    .map((r) =>
      JSON.stringify(
        [
          'exchange',
          'symbol',
          'exchange_ts',
          'ingest_ts',
          'trade_ts',
          'trade_id',
          'first_trade_id',
          'last_trade_id',
          'price',
          'qty',
          'side',
        ].map((k) => {
          const v = r[k];
          if (v instanceof Date) return v.getTime() * 1000;
          if (typeof v === 'bigint') return Number(v);
          if (TS.has(k) && precision === 'ms' && typeof v === 'number') return Math.floor(v / 1000) * 1000;
          return v ?? null;
        }),
      ),
    )
    .sort();
}

/** Every live data file of the current snapshot, found through our manifests, read with µs timestamps kept. */
async function readExact(table: LoadedTable): Promise<Record<string, unknown>[]> {
  const store = s3ObjectStore(s3client);
  const current = table.metadata.snapshots!.find(
    (s) => s['snapshot-id'] === table.metadata['current-snapshot-id'],
  )!;
  const rows: Record<string, unknown>[] = [];
  for (const m of readManifestList(await store.get(current['manifest-list']), current['manifest-list'])) {
    for (const e of readManifest(await store.get(m.manifest_path)).entries) {
      const bytes = await store.get(e.data_file.file_path);
      const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      const metadata = parquetMetadata(file);
      // Athena/Trino match Parquet columns to Iceberg columns by field id: every column must carry one.
      expect(metadata.schema.slice(1).map((c) => c.field_id)).toEqual(
        TABLE_SCHEMAS.trades.columns.map((c) => c.id),
      );
      rows.push(
        ...(await parquetReadObjects({
          file,
          metadata,
          parsers: { timestampFromMicroseconds: (v: bigint) => v } as never,
        })),
      );
    }
  }
  return rows;
}

beforeAll(async () => {
  s3 = await startS3();
  catalog = await startIcebergCatalog({
    s3: { endpoint: s3.endpoint, bucket: BUCKET, region: 'us-east-1', credentials: creds },
    warehouse: WAREHOUSE,
  });
  s3client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    credentials: creds,
    forcePathStyle: true,
  });
  // icebird maps s3://b/k to https://b.s3.amazonaws.com/k; send those requests to the local S3 instead.
  globalThis.fetch = ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const m = /^https:\/\/([^./]+)\.s3\.amazonaws\.com\/(.*)$/.exec(url);
    return realFetch(m ? `${s3.endpoint}/${m[1]}/${m[2]}` : input, init);
  }) as typeof fetch;
  registry = new Registry();
  client = newClient(registry);
  rival = newClient(new Registry());
});

afterAll(async () => {
  globalThis.fetch = realFetch;
  s3client?.destroy();
  await catalog?.close();
  await s3?.close();
});

describe('IcebergRestClient against the local catalog', () => {
  it('discovers the prefix and creates the namespace and every model table', async () => {
    const config = await client.loadConfig();
    expect(config.overrides['prefix']).toBe(WAREHOUSE);
    await client.ensureNamespace(NS);
    await client.ensureNamespace(NS); // idempotent
    for (const t of TABLES) {
      const table = await client.ensureModelTable(NS, t);
      expect(table.metadata['partition-specs'][0]!.fields[0]!.transform).toBe('hour');
      expect(table.metadata.properties?.['write.format.default']).toBe('parquet');
    }
    expect((await client.listTables(NS)).map((t) => t.name).sort()).toEqual([...TABLES].sort());
    expect(await client.namespaceExists('nope')).toBe(false);
  });

  it('appends Parquet files and icebird reads exactly those rows', async () => {
    const r1 = await client.appendFiles(TRADES, [await dataFile(0, 5, 0), await dataFile(100, 4, 1)], {
      commitId: 'batch-1',
    });
    expect(r1).toMatchObject({
      committed: true,
      attempts: 1,
      sequenceNumber: 1n,
      snapshotId: snapshotIdForCommit('batch-1'),
    });
    const r2 = await client.appendFiles(TRADES, [await dataFile(200, 3, 1)], { commitId: 'batch-2' });
    expect(r2.sequenceNumber).toBe(2n);
    const table = await client.loadTable(TRADES);
    const snap = table.metadata.snapshots!.find((s) => s['snapshot-id'] === r2.snapshotId)!;
    expect(snap.summary).toMatchObject({
      operation: 'append',
      'cryptoflow.commit-id': 'batch-2',
      'added-data-files': '1',
      'added-records': '3',
      'total-data-files': '3',
      'total-records': '12',
    });
    expect(snap['parent-snapshot-id']).toBe(r1.snapshotId);
    expect(await readWithIcebird(table)).toHaveLength(12);
    expect(normalise(await readWithIcebird(table))).toEqual(normalise(written));
    expect(normalise(await readExact(table), 'us')).toEqual(normalise(written, 'us'));
  });

  it('writes a manifest list that repeats the parent manifests with their own sequence numbers', async () => {
    const table = await client.loadTable(TRADES);
    const current = table.metadata.snapshots!.find(
      (s) => s['snapshot-id'] === table.metadata['current-snapshot-id'],
    )!;
    const store = s3ObjectStore(s3client);
    const list = readManifestList(await store.get(current['manifest-list']), current['manifest-list']);
    expect(
      list.map((m) => [m.sequence_number, m.min_sequence_number, m.added_files_count, m.added_rows_count]),
    ).toEqual([
      [2n, 2n, 1, 3n],
      [1n, 1n, 2, 9n],
    ]);
    expect(list[1]!.partitions![0]!.lower_bound!.readInt32LE(0)).toBe(477000);
    expect(list[1]!.partitions![0]!.upper_bound!.readInt32LE(0)).toBe(477001);
    const manifest = readManifest(await store.get(list[1]!.manifest_path));
    expect(manifest.metadata).toMatchObject({
      'format-version': '2',
      content: 'data',
      'partition-spec-id': '0',
      'schema-id': '0',
    });
    expect(JSON.parse(manifest.metadata['partition-spec']!)).toEqual([
      { name: 'exchange_ts_hour', transform: 'hour', 'source-id': 3, 'field-id': 1000 },
    ]);
    expect(
      manifest.entries.map((e) => [e.status, e.sequence_number, e.data_file.partition['exchange_ts_hour']]),
    ).toEqual([
      [1, null, 477000],
      [1, null, 477001],
    ]);
  });

  it('a competing commit makes ours 409: it is rebuilt on the new parent and both land', async () => {
    const ours = await dataFile(300, 2);
    const theirs = await dataFile(400, 2);
    const before = (await client.loadTable(TRADES)).metadata.snapshots!.length;
    catalog.faults.beforeNextCommit(async () => {
      await rival.appendFiles(TRADES, [theirs], { commitId: 'rival-1' });
    });
    const res = await client.appendFiles(TRADES, [ours], { commitId: 'batch-3' });
    expect(res).toMatchObject({ committed: true, attempts: 2 });
    const table = await client.loadTable(TRADES);
    expect(table.metadata.snapshots).toHaveLength(before + 2);
    const mine = table.metadata.snapshots!.find((s) => s['snapshot-id'] === res.snapshotId)!;
    expect(mine['parent-snapshot-id']).toBe(snapshotIdForCommit('rival-1'));
    expect(normalise(await readWithIcebird(table))).toEqual(normalise(written));
    expect(await registry.getSingleMetricAsString('s3tables_commit_retries_total')).toContain(
      'reason="conflict"} 1',
    );
  });

  it('500 after the commit was applied: found on reload, no duplicate snapshot', async () => {
    const before = (await client.loadTable(TRADES)).metadata.snapshots!.length;
    catalog.faults.failNextCommits(1, 500, { applyBeforeFailing: true });
    const res = await client.appendFiles(TRADES, [await dataFile(500, 3)], { commitId: 'batch-4' });
    expect(res).toMatchObject({ committed: true, attempts: 2 });
    const table = await client.loadTable(TRADES);
    expect(table.metadata.snapshots).toHaveLength(before + 1);
    expect(normalise(await readWithIcebird(table))).toEqual(normalise(written));
  });

  it('502 before the commit was applied: retried and committed once', async () => {
    const before = (await client.loadTable(TRADES)).metadata.snapshots!.length;
    catalog.faults.failNextCommits(2, 502);
    const res = await client.appendFiles(TRADES, [await dataFile(600, 1)], { commitId: 'batch-5' });
    expect(res).toMatchObject({ committed: true, attempts: 3 });
    expect((await client.loadTable(TRADES)).metadata.snapshots).toHaveLength(before + 1);
  });

  it('a client timeout while the commit lands: recognised, not applied twice', async () => {
    const slow = newClient(new Registry(), { requestTimeoutMs: 300 });
    const before = (await client.loadTable(TRADES)).metadata.snapshots!.length;
    catalog.faults.delayNextCommits(1, 1_000, { applyBeforeDelay: true });
    const res = await slow.appendFiles(TRADES, [await dataFile(700, 2)], { commitId: 'batch-6' });
    expect(res).toMatchObject({ committed: true, attempts: 2 });
    const table = await client.loadTable(TRADES);
    expect(table.metadata.snapshots).toHaveLength(before + 1);
    expect(normalise(await readWithIcebird(table))).toEqual(normalise(written));
  });

  it('the same commit id twice adds nothing the second time', async () => {
    const before = await client.loadTable(TRADES);
    const again = await client.appendFiles(
      TRADES,
      [
        {
          filePath: `s3://${BUCKET}/data/trades/0001-0.parquet`,
          fileSizeInBytes: 1,
          recordCount: 5,
          partition: { exchange_ts_hour: 477000 },
        },
      ],
      { commitId: 'batch-1' },
    );
    expect(again).toMatchObject({
      committed: false,
      attempts: 1,
      snapshotId: snapshotIdForCommit('batch-1'),
    });
    const after = await client.loadTable(TRADES);
    expect(after.metadataLocation).toBe(before.metadataLocation);
    expect(normalise(await readWithIcebird(after))).toEqual(normalise(written));
    expect(normalise(await readExact(after), 'us')).toEqual(normalise(written, 'us'));
  });

  it('gives up with a typed, retriable error when every attempt conflicts', async () => {
    const stubborn = newClient(new Registry(), { maxCommitAttempts: 3 });
    catalog.faults.failNextCommits(3, 409);
    await expect(
      stubborn.appendFiles(TRADES, [await dataFile(800, 1)], { commitId: 'batch-7' }),
    ).rejects.toMatchObject({
      code: 'CF_CATALOG_CONFLICT',
      retriable: true,
    });
    written.splice(
      written.findIndex((r) => r['trade_id'] === 9_000_000_800),
      1,
    );
    expect(normalise(await readWithIcebird(await client.loadTable(TRADES)))).toEqual(normalise(written));
  });

  it('evolves a table created from an older model schema: add-schema once, old files read with nulls', async () => {
    // funding as an older model declared it: without its last column, and funding_rate still required.
    const model = icebergSchemaJson('funding');
    const lastId = Math.max(...model.fields.map((f) => f.id));
    const added = model.fields.find((f) => f.id === lastId)!;
    const older = {
      ...model,
      'schema-id': 0,
      fields: model.fields.filter((f) => f.id !== lastId).map((f) => (f.name === 'funding_rate' ? { ...f, required: true } : f)),
    };
    const ident: TableIdent = { namespace: 'evolve', name: 'funding' };
    await client.ensureNamespace('evolve');
    await client.createTable('evolve', 'funding', { schema: older, partitionSpec: icebergPartitionSpecJson('funding') });
    // A file written before the upgrade: it has no column `added`.
    const olderColumns = TABLE_SCHEMAS.funding.columns.filter((c) => c.id !== lastId);
    const oldRows = [fundingRow(1), fundingRow(2)];
    const { bytes, stats } = writeFixtureParquet('funding', oldRows, olderColumns);
    await s3client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'data/funding/old.parquet', Body: bytes }));
    await client.appendFiles(ident, [{ filePath: `s3://${BUCKET}/data/funding/old.parquet`, ...stats }], { commitId: 'old-1' });

    // Two writers start with the new model at once: one evolves, the other's commit conflicts, reloads, finds
    // nothing left to do. One new schema, current, with the new column optional and the id past the old ones.
    const [mine, theirs] = await Promise.all([client.ensureModelTable('evolve', 'funding'), rival.ensureModelTable('evolve', 'funding')]);
    for (const t of [mine, theirs, await client.loadTable(ident)]) {
      expect(t.metadata.schemas).toHaveLength(2);
      const current = t.metadata.schemas.find((x) => x['schema-id'] === t.metadata['current-schema-id'])!;
      expect(current.fields.map((f) => [f.id, f.name, f.required, f.type])).toEqual(model.fields.map((f) => [f.id, f.name, f.required, f.type]));
      expect(t.metadata['last-column-id']).toBe(lastId);
    }
    expect(await client.ensureModelTable('evolve', 'funding')).toMatchObject({ metadata: { schemas: { length: 2 } } });

    // New files carry the column; the old one reads it as null.
    const newRows = [{ ...fundingRow(3), [added.name]: BASE_TS + 8 * 3_600_000_000 }];
    const next = writeFixtureParquet('funding', newRows);
    await s3client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'data/funding/new.parquet', Body: next.bytes }));
    const r = await client.appendFiles(ident, [{ filePath: `s3://${BUCKET}/data/funding/new.parquet`, ...next.stats }], { commitId: 'new-1' });
    const table = await client.loadTable(ident);
    expect(table.metadata.snapshots!.find((x) => x['snapshot-id'] === r.snapshotId)!['schema-id']).toBe(table.metadata['current-schema-id']);
    const read = await readWithIcebird(table);
    const value = (row: Record<string, unknown>): unknown => {
      const v = row[added.name];
      return v instanceof Date ? v.getTime() * 1000 : v === undefined ? null : typeof v === 'bigint' ? Number(v) : v;
    };
    expect(read.map((row) => [Number(row['mark_price']), value(row)]).sort()).toEqual([
      [1, null],
      [2, null],
      [3, BASE_TS + 8 * 3_600_000_000],
    ]);
  });

  it('trades created at schema version 1 take text trade ids after the upgrade, old rows unchanged', async () => {
    const model = icebergSchemaJson('trades');
    const v1 = {
      ...model,
      'schema-id': 0,
      fields: model.fields.filter((f) => f.name !== 'trade_id_text').map((f) => (f.name === 'trade_id' ? { ...f, required: true } : f)),
    };
    const ident: TableIdent = { namespace: 'evolve', name: 'trades' };
    await client.ensureNamespace('evolve');
    await client.createTable('evolve', 'trades', { schema: v1, partitionSpec: icebergPartitionSpecJson('trades') });
    const old = writeFixtureParquet('trades', tradeRows(0, 2), TABLE_SCHEMAS.trades.columns.filter((c) => c.name !== 'trade_id_text'));
    await s3client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'data/evolve-trades/v1.parquet', Body: old.bytes }));
    await client.appendFiles(ident, [{ filePath: `s3://${BUCKET}/data/evolve-trades/v1.parquet`, ...old.stats }], { commitId: 't-v1' });

    await client.ensureModelTable('evolve', 'trades');
    const uuid = '9f1c2e3d-0000-4000-8000-0000000000aa';
    const textRow = { ...tradeRows(10, 1)[0]!, exchange: 'bybit-linear', trade_id: null, first_trade_id: null, last_trade_id: null, trade_id_text: uuid };
    const next = writeFixtureParquet('trades', [textRow]);
    await s3client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'data/evolve-trades/v2.parquet', Body: next.bytes }));
    await client.appendFiles(ident, [{ filePath: `s3://${BUCKET}/data/evolve-trades/v2.parquet`, ...next.stats }], { commitId: 't-v2' });
    const read = await readWithIcebird(await client.loadTable(ident));
    const ids = read.map((r) => [r['exchange'], r['trade_id'] === null || r['trade_id'] === undefined ? null : Number(r['trade_id']), r['trade_id_text'] ?? null]);
    expect(ids.sort()).toEqual([
      ['binance', 9_000_000_000, null],
      ['binance-usdm', 9_000_000_001, null],
      ['bybit-linear', null, uuid],
    ]);
  });

  it('refuses to evolve a table whose column means something else, naming it', async () => {
    const model = icebergSchemaJson('liquidations');
    const clash = { ...model, fields: model.fields.map((f) => (f.name === 'price' ? { ...f, type: 'string' } : f)) };
    await client.createTable('evolve', 'liquidations', { schema: clash });
    const err = await client.ensureModelTable('evolve', 'liquidations').catch((e: unknown) => e);
    expect(isCfError(err, 'CF_SCHEMA')).toBe(true);
    expect((err as Error).message).toContain('evolve.liquidations: the table\'s schema cannot evolve to the model\'s: price: type "string" cannot become double');
  });

  it('maps catalog errors to CfError with the spec error type', async () => {
    await expect(client.loadTable({ namespace: NS, name: 'nope' })).rejects.toMatchObject({
      code: 'CF_CATALOG',
      retriable: false,
      context: { status: 404, type: 'NoSuchTableException' },
    });
  });
});
