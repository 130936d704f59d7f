/**
 * The lake end to end on local stand-ins that speak the real protocols: the golden captures are
 * replayed with an S3 sink (Parquet → S3 → DynamoDB ledger), the committer appends the ledgered files
 * to the Iceberg table through the REST catalog, and an independent reader (icebird, over HTTP from the
 * local S3) reads exactly the golden rows. Replaying again (a crash-restart) and committing again adds nothing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parquetReadObjects } from 'hyparquet';
import { icebergRead } from 'icebird';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCollectorConfig, loadCommitterConfig } from '@cryptoflow/config';
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import { TABLE_SCHEMAS } from '@cryptoflow/model';
import { Committer, replay } from '@cryptoflow/runtime';
import {
  IcebergRestClient,
  readManifest,
  readManifestList,
  s3ObjectStore,
  parseS3Uri,
} from '@cryptoflow/sink';
import { startLocalLake } from '@cryptoflow/local-stack';
import type { LocalLake } from '@cryptoflow/local-stack';
// queryLake is not exported from the package index yet (tools/local-stack/src/index.ts is the integrator's).
import { queryLake } from '@cryptoflow/local-stack';
import { decodeBound } from '@cryptoflow/sink';
import { FileLedger } from '@cryptoflow/idempotency';
import { localDynamoClient } from '@cryptoflow/stand-ins';
import { ROOT, routeS3ToLocal, withoutIngestTs } from './helpers.js';

const CAPTURES = ['BINANCE.ws.1.0', 'BINANCE_FUTURES.ws.1.0'].map((f) =>
  join(ROOT, 'test', 'fixtures', 'captures', f),
);
const logger = createLogger({ app: 'lake-test', level: 'error' });
let lake: LocalLake;
let restoreFetch: () => void = () => undefined;

beforeAll(async () => {
  lake = await startLocalLake();
  Object.assign(process.env, lake.env);
  restoreFetch = routeS3ToLocal(lake.s3.endpoint);
});
afterAll(async () => {
  restoreFetch();
  await lake?.close();
});

function golden(): Record<string, unknown>[] {
  return readFileSync(join(ROOT, 'test', 'golden', 'ticks.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function replayTicks(): Promise<number> {
  const config = loadCollectorConfig({
    file: join(ROOT, 'configs', 'local', 'collector-ticks.yaml'),
    argv: [...lake.flags, '--sink.commit=committer', '--sink.flush_every_rows=16'],
  });
  const result = await replay({
    config,
    inputs: CAPTURES,
    emit: 'parquet',
    registry: new Registry(),
    logger,
  });
  return result.files.length;
}

function committer(registry = new Registry()): Committer {
  const config = loadCommitterConfig({
    value: {
      tables: ['trades'],
      sink: { kind: 's3' },
      batch: { max_files: 500, max_wait_ms: 1, poll_interval_ms: 100 },
    },
    argv: [...lake.flags],
  });
  return new Committer(config, { registry, logger });
}

/** Every row of the table's current snapshot, read exactly (µs) from the data files its manifests list. */
async function tableRows(): Promise<{
  rows: Record<string, unknown>[];
  snapshots: number;
  files: number;
  /** Data files whose exchange_ts lower/upper bounds equal the min/max of their rows. */
  exactBounds: number;
}> {
  const s3 = new S3Client({ endpoint: lake.s3.endpoint, region: 'us-east-1', forcePathStyle: true });
  const client = new IcebergRestClient({
    uri: lake.catalog.uri,
    warehouse: lake.catalog.warehouse,
    signer: 'none',
    objects: s3ObjectStore(s3),
  });
  const table = await client.loadTable({ namespace: 'cryptoflow', name: 'trades' });
  const current = table.metadata.snapshots?.find(
    (s) => String(s['snapshot-id']) === String(table.metadata['current-snapshot-id']),
  );
  if (!current) return { rows: [], snapshots: 0, files: 0, exactBounds: 0 };
  const tsId = TABLE_SCHEMAS.trades.columns.find((c) => c.name === 'exchange_ts')!.id;
  let exactBounds = 0;
  const store = s3ObjectStore(s3);
  const rows: Record<string, unknown>[] = [];
  let files = 0;
  const listLocation = current['manifest-list'] as string;
  for (const m of readManifestList(await store.get(listLocation), listLocation)) {
    for (const entry of readManifest(await store.get(m.manifest_path)).entries) {
      if (entry.status === 2) continue; // deleted
      files++;
      const { bucket, key } = parseS3Uri(entry.data_file.file_path);
      const body = await (
        await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      ).Body!.transformToByteArray();
      const objs = (await parquetReadObjects({
        file: body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer,
        parsers: { timestampFromMicroseconds: (v: bigint) => Number(v) } as never,
      })) as Record<string, unknown>[];
      let lo = Infinity;
      let hi = -Infinity;
      for (const o of objs) {
        const row: Record<string, unknown> = { table: 'trades' };
        for (const c of TABLE_SCHEMAS.trades.columns)
          row[c.name] = typeof o[c.name] === 'bigint' ? Number(o[c.name]) : (o[c.name] ?? null);
        rows.push(row);
        lo = Math.min(lo, row['exchange_ts'] as number);
        hi = Math.max(hi, row['exchange_ts'] as number);
      }
      type Bounds = { key: number; value: Uint8Array }[] | null;
      const lower = (entry.data_file.lower_bounds as Bounds)?.find((b) => b.key === tsId);
      const upper = (entry.data_file.upper_bounds as Bounds)?.find((b) => b.key === tsId);
      if (
        lower &&
        upper &&
        Number(decodeBound('timestamptz', lower.value)) === lo &&
        Number(decodeBound('timestamptz', upper.value)) === hi
      )
        exactBounds++;
    }
  }
  return { rows, snapshots: table.metadata.snapshots?.length ?? 0, files, exactBounds };
}

const byKey = (rows: Record<string, unknown>[]) => rows.map((r) => JSON.stringify(r)).sort();

describe('lake: replay → S3 → ledger → committer → Iceberg', () => {
  it('commits exactly the golden rows, and a crash-replay plus a second commit add nothing', async () => {
    const filesFirst = await replayTicks();
    expect(filesFirst).toBeGreaterThan(3);
    const c = committer();
    await c.init();
    expect(await c.runOnce()).toBe(filesFirst);
    const first = await tableRows();
    expect(first.files).toBe(filesFirst);
    expect(byKey(first.rows)).toEqual(byKey(golden()));
    // The committer carries each file's exchange_ts range from the ledger into the manifest (time pruning).
    expect(first.exactBounds).toBe(filesFirst);

    // The collector crashed after uploading and replays the same input: same keys, the ledger dedupes.
    const dupes = new Registry();
    const filesAgain = await replayTicks();
    expect(filesAgain).toBe(filesFirst);
    const c2 = committer(dupes);
    expect(await c2.runOnce()).toBe(0);
    const second = await tableRows();
    expect(second.snapshots).toBe(first.snapshots);
    expect(byKey(second.rows)).toEqual(byKey(golden()));
  });

  it('an independent Iceberg reader (icebird over HTTP from S3) reads the same rows', async () => {
    const s3 = new S3Client({ endpoint: lake.s3.endpoint, region: 'us-east-1', forcePathStyle: true });
    const client = new IcebergRestClient({
      uri: lake.catalog.uri,
      warehouse: lake.catalog.warehouse,
      signer: 'none',
      objects: s3ObjectStore(s3),
    });
    const table = await client.loadTable({ namespace: 'cryptoflow', name: 'trades' });
    const toHttp = (u: string) => u.replace(/^s3:\/\//, `${lake.s3.endpoint}/`);
    const loc = table.metadataLocation as string;
    const rows = (await icebergRead({
      tableUrl: toHttp(table.metadata.location),
      metadataFileName: loc.slice(loc.lastIndexOf('/') + 1),
    })) as Record<string, unknown>[];
    // icebird turns µs timestamps into Dates (ms); compare everything else exactly.
    const strip = (r: Record<string, unknown>) => {
      const { exchange_ts: _a, trade_ts: _b, ...rest } = withoutIngestTs(r);
      return JSON.stringify(
        Object.fromEntries(
          Object.entries(rest)
            .filter(([k]) => k !== 'table')
            .map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v]),
        ),
      );
    };
    expect(rows.map(strip).sort()).toEqual(golden().map(strip).sort());
  });

  it('queryLake answers SQL over the committed snapshot with DuckDB (the Athena stand-in)', async () => {
    const g = golden();
    const res = await queryLake({
      catalogUri: lake.catalog.uri,
      warehouse: lake.catalog.warehouse,
      s3Endpoint: lake.s3.endpoint,
      namespace: 'cryptoflow',
      tables: ['trades', 'funding'],
      sql: `SELECT count(*) AS n, count(DISTINCT (exchange, symbol, trade_id)) AS k, sum(qty) AS q,
                   (SELECT count(*) FROM funding) AS f
              FROM trades`,
    });
    expect(res.columns).toEqual(['n', 'k', 'q', 'f']);
    const [n, k, q, f] = res.rows[0] as [bigint, bigint, number, bigint];
    expect(Number(n)).toBe(g.length);
    expect(Number(k)).toBe(g.length);
    expect(q).toBeCloseTo(
      g.reduce((a, r) => a + (r['qty'] as number), 0),
      6,
    );
    expect(Number(f)).toBe(0); // nothing committed to funding: an empty table, not an error
    expect(res.text).toContain('n');
  });

  it('inline commits: each file its own snapshot, with exchange_ts bounds; exactly the golden rows', async () => {
    const config = loadCollectorConfig({
      file: join(ROOT, 'configs', 'local', 'collector-ticks.yaml'),
      argv: [
        ...lake.flags,
        '--sink.catalog.namespace=inline',
        '--sink.commit=inline',
        '--sink.flush_every_rows=16',
      ],
    });
    const result = await replay({
      config,
      inputs: CAPTURES,
      emit: 'parquet',
      registry: new Registry(),
      logger,
    });
    const s3 = new S3Client({ endpoint: lake.s3.endpoint, region: 'us-east-1', forcePathStyle: true });
    const store = s3ObjectStore(s3);
    const client = new IcebergRestClient({
      uri: lake.catalog.uri,
      warehouse: lake.catalog.warehouse,
      signer: 'none',
      objects: store,
    });
    const table = await client.loadTable({ namespace: 'inline', name: 'trades' });
    expect(table.metadata.snapshots).toHaveLength(result.files.length);
    const current = table.metadata.snapshots!.find(
      (s) => String(s['snapshot-id']) === String(table.metadata['current-snapshot-id']),
    )!;
    const rows = await queryLake({
      catalogUri: lake.catalog.uri,
      warehouse: lake.catalog.warehouse,
      s3Endpoint: lake.s3.endpoint,
      namespace: 'inline',
      tables: ['trades'],
      sql: 'SELECT count(*) FROM trades',
    });
    expect(Number(rows.rows[0]![0])).toBe(golden().length);
    let checked = 0;
    for (const m of readManifestList(await store.get(current['manifest-list']), current['manifest-list'])) {
      for (const e of readManifest(await store.get(m.manifest_path)).entries) {
        type Bounds = { key: number; value: Uint8Array }[] | null;
        const lower = (e.data_file.lower_bounds as Bounds)?.find((b) => b.key === 3);
        const upper = (e.data_file.upper_bounds as Bounds)?.find((b) => b.key === 3);
        expect(lower && upper).toBeTruthy();
        const lo = Number(decodeBound('timestamptz', lower!.value));
        const hi = Number(decodeBound('timestamptz', upper!.value));
        expect(lo).toBeLessThanOrEqual(hi);
        // Same hour partition as the bounds say.
        expect(Math.floor(lo / 3_600_000_000)).toBe(Number(e.data_file.partition['exchange_ts_hour']));
        checked++;
      }
    }
    expect(checked).toBe(result.files.length);
    s3.destroy();
  });

  it('total_shards: 1024 runs the sink end to end: 4-digit shard labels in keys, ledger and Iceberg', async () => {
    const config = loadCollectorConfig({
      file: join(ROOT, 'configs', 'local', 'collector-ticks.yaml'),
      argv: [
        ...lake.flags,
        '--sharding.total_shards=1024',
        '--sink.catalog.namespace=shards1024',
        '--sink.commit=inline',
        '--sink.flush_every_rows=16',
      ],
    });
    expect(config.sharding.total_shards).toBe(1024);
    const result = await replay({ config, inputs: CAPTURES, emit: 'parquet', registry: new Registry(), logger });
    // binance-usdm|AKROUSDT hashes to shard 1008 of 1024 (the partitioner refused more than 999 shards before).
    const akro = result.files.filter((f) => f.key.includes('/shard=1008/'));
    expect(akro.length).toBeGreaterThan(0);
    for (const f of akro) expect(f.key).toMatch(/\/trades\/exchange_ts_hour=[^/]+\/shard=1008\/trades-[^/]+-s1008-[0-9a-f]{16}\.parquet$/);
    const ledger = new FileLedger({
      client: localDynamoClient(lake.dynamo.endpoint),
      tableName: lake.ledgerTable,
      registry: new Registry(),
      logger,
    });
    const hour = /exchange_ts_hour=([^/]+)\//.exec(akro[0]!.key)![1]!;
    const recorded = await ledger.listShardHour('trades', hour, 1008);
    expect(recorded.map((e) => e.fileKey).sort()).toEqual(akro.filter((f) => f.key.includes(hour)).map((f) => f.key).sort());
    expect(recorded.every((e) => e.shard === 1008 && e.state === 'committed')).toBe(true);
    const res = await queryLake({
      catalogUri: lake.catalog.uri,
      warehouse: lake.catalog.warehouse,
      s3Endpoint: lake.s3.endpoint,
      namespace: 'shards1024',
      tables: ['trades'],
      sql: "SELECT count(*), count(*) FILTER (WHERE symbol = 'AKROUSDT') FROM trades",
    });
    const g = golden();
    expect(res.rows[0]!.map(Number)).toEqual([g.length, g.filter((r) => r['symbol'] === 'AKROUSDT').length]);
  });
});
