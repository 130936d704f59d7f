/**
 * `npm start`: the whole fleet on one machine, against recorded Binance traffic.
 *
 * 1. Two fake venues (Binance spot and USD-M) replay the real captures over real WebSockets and REST.
 * 2. The seven collectors connect to them exactly as they would to Binance (only the URLs differ),
 *    each with its health server (/live, /ready, /metrics).
 *    Their files go to the local lake: S3 (s3rver) → DynamoDB ledger (dynalite) → the committer appends
 *    them to Iceberg tables in the local REST catalog — the same protocols as S3, DynamoDB and S3 Tables.
 * 3. When the recordings have played, the collectors drain and flush, the committer commits what is
 *    left, and the stack prints what was collected — rows per table and symbol, files, book counters —
 *    and answers SQL with DuckDB over each table's current Iceberg snapshot (standing in for Athena).
 *
 * Flags: --speed <n|max> (default 2: the 30 s captures play in 15 s), --data <dir> (default .data/local),
 *        --keep (do not clear the data dir first), --no-lake (Parquet on local disk only).
 */
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadCollectorConfig, loadCommitterConfig } from '@cryptoflow/config';
import type { CollectorConfig } from '@cryptoflow/config';
import { FakeExchange } from '@cryptoflow/fake-exchange';
import { createLogger } from '@cryptoflow/logger';
import { createRegistry } from '@cryptoflow/metrics';
import type { Registry } from '@cryptoflow/metrics';
import type { Stream } from '@cryptoflow/model';
import { STREAMS, TABLES } from '@cryptoflow/model';
import { Committer, startCollector } from '@cryptoflow/runtime';
import type { Collector, CollectorSummary } from '@cryptoflow/runtime';
import { downloadCurrentFiles, startLocalLake } from './lake.js';
import { queryParquet } from './query.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const CAPTURES = join(ROOT, 'test', 'fixtures', 'captures');

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}

const speedArg = flag('speed', '2');
const speed: number | 'max' = speedArg === 'max' ? 'max' : Number(speedArg);
if (speed !== 'max' && !(speed > 0)) {
  console.error(`--speed: expected a positive number or max, got ${speedArg}`);
  process.exit(2);
}
const dataDir = resolve(flag('data', join(ROOT, '.data', 'local')));
if (!process.argv.includes('--keep') && existsSync(dataDir))
  rmSync(dataDir, { recursive: true, force: true });

// The SDK's notice that releases after January 2027 need Node 22 is for maintainers, not for this demo.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
const log = (line: string): void => void process.stdout.write(`${line}\n`);
log(`CryptoFlow local stack — data in ${dataDir}`);
const useLake = !process.argv.includes('--no-lake');
const lake = useLake ? await startLocalLake({ dir: join(dataDir, 's3') }) : undefined;
if (lake) {
  Object.assign(process.env, lake.env);
  log(
    `local lake: S3 ${lake.s3.endpoint}, DynamoDB ${lake.dynamo.endpoint}, Iceberg REST catalog ${lake.catalog.uri}`,
  );
}
const committerRegistry = createRegistry({ app: 'committer' });
const committer = lake
  ? new Committer(
      loadCommitterConfig({
        value: {
          tables: [...TABLES],
          sink: { kind: 's3' },
          batch: { max_files: 500, max_wait_ms: 3000, poll_interval_ms: 500 },
        },
        argv: [...lake.flags],
      }),
      { registry: committerRegistry, logger: createLogger({ app: 'committer', level: 'warn' }) },
    )
  : undefined;
await committer?.init();
const stopCommitter = new AbortController();
const committing = committer?.run(stopCommitter.signal);

const spot = new FakeExchange({
  venue: 'binance',
  captures: ['BINANCE.ws.1.0', 'BINANCE.http.0.0', 'BINANCE.0']
    .map((f) => join(CAPTURES, f))
    .filter((f) => existsSync(f)),
  speed,
  startOn: 'manual',
});
const usdm = new FakeExchange({
  venue: 'binance-usdm',
  captures: [
    'BINANCE_FUTURES.ws.1.0',
    'BINANCE_FUTURES.http.0.0',
    'BINANCE_FUTURES.0',
    'BINANCE_FUTURES.synthetic.ws.0',
  ]
    .map((f) => join(CAPTURES, f))
    .filter((f) => existsSync(f)),
  speed,
  startOn: 'manual',
});
const [spotUrls, usdmUrls] = await Promise.all([spot.listen(), usdm.listen()]);
log(`fake Binance spot  ${spotUrls.wsUrl}  (REST ${spotUrls.restUrl})`);
log(`fake Binance USD-M ${usdmUrls.wsUrl}  (REST ${usdmUrls.restUrl})`);

function configFor(stream: Stream): CollectorConfig {
  const app = `collector-${stream}`;
  const argv = [
    `--sink.dir=${join(dataDir, 'lake')}`,
    `--channels.defaults.spill_dir=${join(dataDir, 'spill')}`,
    '--health.host=127.0.0.1',
    '--health.port=0',
    '--log.level=warn',
    '--sink.flush_interval_ms=2000',
    ...(lake ? [...lake.flags, '--sink.commit=committer'] : []),
  ];
  const base = loadCollectorConfig({ file: join(ROOT, 'configs', 'local', `${app}.yaml`) });
  if (base.exchanges.binance)
    argv.push(
      `--exchanges.binance.ws_url=${spotUrls.wsUrl}`,
      `--exchanges.binance.rest_url=${spotUrls.restUrl}`,
    );
  if (base.exchanges['binance-usdm'])
    argv.push(
      `--exchanges.binance-usdm.ws_url=${usdmUrls.wsUrl}`,
      `--exchanges.binance-usdm.rest_url=${usdmUrls.restUrl}`,
    );
  return loadCollectorConfig({ file: join(ROOT, 'configs', 'local', `${app}.yaml`), argv });
}

const collectors = new Map<Stream, Collector>();
const registries = new Map<Stream, Registry>();
await Promise.all(
  STREAMS.map(async (stream) => {
    const app = `collector-${stream}`;
    const config = configFor(stream);
    const registry = createRegistry({ app });
    registries.set(stream, registry);
    const logger = createLogger({ app, level: config.log.level });
    collectors.set(
      stream,
      await startCollector(config, {
        app,
        logger,
        registry,
        version: { app, version: 'local', gitSha: 'local' },
      }),
    );
  }),
);
for (const [stream, c] of collectors)
  log(`  collector-${stream.padEnd(14)} ${c.health.url}/ready  ${c.health.url}/metrics`);
// The venue timelines start once every collector's sockets are open, so each sees the whole recording.
for (let waited = 0; ; waited += 100) {
  const open = await Promise.all(
    [...collectors.values()].map(async (c) => {
      const body = (await (await fetch(`${c.health.url}/ready`)).json()) as {
        checks: { name: string; ok: boolean }[];
      };
      return body.checks.find((k) => k.name === 'connected')?.ok === true;
    }),
  );
  if (open.every(Boolean)) break;
  if (waited > 15_000) throw new Error('collectors did not connect to the fake venues within 15 s');
  await new Promise((r) => setTimeout(r, 100));
}
spot.start();
usdm.start();
log(`replaying the recordings at ${speed === 'max' ? 'full speed' : `${speed}× recorded pace`}…`);

const started = Date.now();
const progress = setInterval(() => {
  const rows = [...collectors.values()].reduce((n, c) => n + c.summary().rows, 0);
  log(
    `  ${((Date.now() - started) / 1000).toFixed(0)} s: ${rows.toLocaleString()} rows, spot ${spot.stats().framesSent} / USD-M ${usdm.stats().framesSent} frames sent`,
  );
}, 5000);
await Promise.all([spot.whenFinished(), usdm.whenFinished()]);
await new Promise((r) => setTimeout(r, 1500)); // frames in flight reach the collectors
clearInterval(progress);

log('recordings finished: draining channels and flushing files…');
const summaries = new Map<Stream, CollectorSummary>();
for (const [stream, c] of collectors) summaries.set(stream, await c.stop());
await Promise.all([spot.close(), usdm.close()]);
if (committer) {
  log('committing the last files to the Iceberg tables…');
  stopCommitter.abort();
  await committing;
  const final = new Committer(
    loadCommitterConfig({
      value: {
        tables: [...TABLES],
        sink: { kind: 's3' },
        batch: { max_files: 5000, max_wait_ms: 1, poll_interval_ms: 100 },
      },
      argv: [...(lake?.flags ?? [])],
    }),
    { registry: committerRegistry, logger: createLogger({ app: 'committer', level: 'warn' }) },
  );
  while ((await final.runOnce()) > 0);
  const s = {
    batches: committer.stats.batches + final.stats.batches,
    files: committer.stats.filesCommitted + final.stats.filesCommitted,
  };
  log(`committer: ${s.files} files in ${s.batches} Iceberg commits`);
}

log('\n== collected ==');
let files = 0;
for (const [stream, s] of summaries) {
  files += s.files.length;
  for (const [table, bySymbol] of Object.entries(s.byTable)) {
    const parts = Object.entries(bySymbol).map(([sym, n]) => `${sym} ${n.toLocaleString()}`);
    log(`${table.padEnd(14)} ${String(s.rows).padStart(8)} rows  (${stream})  ${parts.join(', ')}`);
  }
  if (Object.keys(s.byTable).length === 0) log(`${stream.padEnd(14)}        0 rows`);
}
log(`${files} Parquet files ${lake ? `in S3 (${lake.bucket})` : `under ${join(dataDir, 'lake')}`}`);

log('\n== order books (sequencer counters per collector) ==');
for (const stream of ['spot-delta', 'spot-ob', 'futures-delta', 'futures-ob'] as const) {
  const registry = registries.get(stream);
  if (!registry) continue;
  const total = async (name: string): Promise<number> =>
    ((await registry.getSingleMetric(name)?.get())?.values ?? []).reduce((n, v) => n + v.value, 0);
  log(
    `collector-${stream.padEnd(14)} snapshots used ${await total('book_snapshots_used_total')}, gaps ${await total('seq_gaps_total')}, ` +
      `duplicates ${await total('seq_duplicates_total')}, resyncs ${await total('book_resyncs_total')}, decode errors ${await total('decode_errors_total')}`,
  );
}

const lakeDir = join(dataDir, lake ? 'snapshot' : 'lake');
if (lake) {
  // Each table's current Iceberg snapshot, file by file from its manifests (what Athena reads).
  for (const t of TABLES) await downloadCurrentFiles(lake, 'cryptoflow', t, join(lakeDir, t));
  log(
    `\n== SQL over each table's current Iceberg snapshot (DuckDB standing in for Athena; the same queries: docs/operations/athena.md) ==`,
  );
} else {
  log(
    '\n== SQL over the Parquet files (DuckDB; Athena runs the same queries on the Iceberg tables: docs/operations/athena.md) ==',
  );
}
for (const { title, sql } of [
  {
    title: 'rows per table',
    sql: `SELECT table_name, count(*) AS n FROM (${unionAll(lakeDir)}) GROUP BY 1 ORDER BY 1`,
  },
  {
    title: 'trades per symbol: count, VWAP, last price',
    sql: `SELECT exchange, symbol, count(*) AS trades, round(sum(price*qty)/sum(qty), 6) AS vwap, arg_max(price, trade_id) AS last FROM read_parquet('${lakeDir}/trades/**/*.parquet') GROUP BY 1, 2 ORDER BY 1, 2`,
  },
  {
    title: 'top of book per symbol at the last snapshot (spot and USD-M)',
    sql: `WITH b AS (SELECT * FROM read_parquet(['${lakeDir}/spot_ob/**/*.parquet', '${lakeDir}/futures_ob/**/*.parquet'], union_by_name=true) WHERE snapshot_kind = 'top' AND level = 0),
          last AS (SELECT exchange, symbol, max(snapshot_ts) AS ts FROM b GROUP BY 1, 2)
          SELECT b.exchange, b.symbol, max(b.update_id) AS update_id, max(CASE WHEN side = 'bid' THEN price END) AS best_bid, max(CASE WHEN side = 'ask' THEN price END) AS best_ask
          FROM b JOIN last USING (exchange, symbol) WHERE b.snapshot_ts = last.ts GROUP BY 1, 2 ORDER BY 1, 2`,
  },
  {
    title: 'latest funding per symbol',
    sql: `SELECT symbol, arg_max(mark_price, exchange_ts) AS mark, arg_max(funding_rate, exchange_ts) AS funding_rate FROM read_parquet('${lakeDir}/funding/**/*.parquet') GROUP BY 1 ORDER BY 1`,
  },
]) {
  log(`-- ${title}`);
  try {
    log(await queryParquet(sql));
  } catch (err) {
    log(`   (query failed: ${(err as Error).message.split('\n')[0]})`);
  }
}
await lake?.close();
log(
  lake
    ? `\nDone. S3 objects (data and Iceberg metadata) are in ${join(dataDir, 's3')}; the snapshot files queried are in ${lakeDir}. --speed max for a fast pass.`
    : `\nDone. Look at ${lakeDir} (table/exchange_ts_hour=…/shard=…/*.parquet).`,
);

function unionAll(dir: string): string {
  return ['trades', 'liquidations', 'funding', 'spot_delta', 'futures_delta', 'spot_ob', 'futures_ob']
    .filter((t) => existsSync(join(dir, t)))
    .map((t) => `SELECT '${t}' AS table_name FROM read_parquet('${dir}/${t}/**/*.parquet')`)
    .join(' UNION ALL ');
}
