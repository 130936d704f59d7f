/**
 * Crash test of the lake: the collector side (apps/replayer with an S3 sink) and apps/committer run as
 * child processes against the local stand-ins and are killed with SIGKILL at random moments, many times,
 * while S3, DynamoDB and the catalog inject faults (5xx, lost answers, timeouts, a competing commit).
 * After recovery (one clean replay, the committer drains and stops on SIGTERM) the Iceberg table holds
 * exactly the golden rows: none lost, none twice.
 *
 * CF_CRASH_ITERATIONS (default 3) sets how many kill rounds run; each round is bounded in time.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileLedger } from '@cryptoflow/idempotency';
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import { TABLE_SCHEMAS } from '@cryptoflow/model';
import {
  IcebergRestClient,
  currentSnapshot,
  parseS3Uri,
  readManifest,
  readManifestList,
  s3ObjectStore,
  toBigIntId,
  writeManifestList,
} from '@cryptoflow/sink';
import { startLocalLake } from '@cryptoflow/local-stack';
import type { LocalLake } from '@cryptoflow/local-stack';
import { startFaultProxy } from '@cryptoflow/stand-ins';
import type { FaultProxy } from '@cryptoflow/stand-ins';
import { ROOT } from './helpers.js';

const ITERATIONS = Math.max(1, Number(process.env['CF_CRASH_ITERATIONS'] ?? 3) || 3);
const CAPTURES = ['BINANCE.ws.1.0', 'BINANCE_FUTURES.ws.1.0'].map((f) =>
  join(ROOT, 'test', 'fixtures', 'captures', f),
);
/** Where the current test writes: each test has its own namespace (table location) and ledger table. */
let TRADES = { namespace: 'cryptoflow', name: 'trades' };
let ledgerTable = 'cryptoflow-ledger';
const LEASE_MS = 1_500;

let lake: LocalLake;
let s3Proxy: FaultProxy;
let dynamoProxy: FaultProxy;
let s3: S3Client;
let catalog: IcebergRestClient;
let ledger: FileLedger;

beforeAll(async () => {
  lake = await startLocalLake();
  s3Proxy = await startFaultProxy({ target: lake.s3.endpoint });
  dynamoProxy = await startFaultProxy({ target: lake.dynamo.endpoint });
  s3 = new S3Client({
    endpoint: lake.s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: lake.env['AWS_ACCESS_KEY_ID']!, secretAccessKey: lake.env['AWS_SECRET_ACCESS_KEY']! },
  });
  catalog = new IcebergRestClient({
    uri: lake.catalog.uri,
    warehouse: lake.catalog.warehouse,
    signer: 'none',
    objects: s3ObjectStore(s3),
  });
  useTarget('cryptoflow', 'cryptoflow-ledger');
}, 30_000);

function useTarget(namespace: string, table: string): void {
  TRADES = { namespace, name: 'trades' };
  ledgerTable = table;
  ledger = new FileLedger({
    client: new DynamoDBClient({
      endpoint: lake.dynamo.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    }),
    tableName: table,
    registry: new Registry(),
    logger: createLogger({ app: 'crash-test', level: 'error' }),
  });
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await s3Proxy?.close();
  await dynamoProxy?.close();
  s3?.destroy();
  await lake?.close();
});

// ------------------------------------------------------------------------------------------ children

const children = new Set<ChildProcess>();

/** Every process reaches S3 and DynamoDB through the fault proxies; the catalog injects its own faults. */
function lakeFlags(): string[] {
  return [
    ...lake.flags.map((f) =>
      f.startsWith('--sink.s3.endpoint=')
        ? `--sink.s3.endpoint=${s3Proxy.endpoint}`
        : f.startsWith('--sink.ledger.endpoint=')
          ? `--sink.ledger.endpoint=${dynamoProxy.endpoint}`
          : f,
    ),
    `--sink.catalog.namespace=${TRADES.namespace}`,
    `--sink.ledger.table=${ledgerTable}`,
  ];
}

interface Child {
  readonly proc: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

function spawnApp(app: 'replayer' | 'committer', args: readonly string[], extraEnv: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'apps', app, 'src', 'main.ts'), ...args], {
    cwd: ROOT,
    // CF_* variables are config overrides in the apps (CF_CRASH_ITERATIONS would be an unknown key).
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CF_'))),
      ...lake.env,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  let out = '';
  const keep = (c: Buffer): void => {
    out = (out + c.toString()).slice(-20_000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => {
      children.delete(proc);
      resolve({ code, signal });
    }),
  );
  return { proc, exited, output: () => out };
}

/** The collector side: the golden captures through the ticks pipeline into S3 + the ledger (files of 4 rows). */
function startReplayer(): Child {
  return spawnApp('replayer', [
    '--stream',
    'ticks',
    ...CAPTURES.flatMap((c) => ['--input', c]),
    '--emit',
    'parquet',
    ...lakeFlags(),
    '--sink.commit=committer',
    '--sink.flush_every_rows=4',
    '--log.level=warn',
  ]);
}

/** Small batches and a short lease so kills land mid-commit and a restart takes over quickly. */
function startCommitter(extraEnv: Record<string, string> = {}): Child {
  return spawnApp('committer', [
    ...lakeFlags(),
    '--tables=[trades]',
    '--batch.max_files=3',
    '--batch.max_wait_ms=1',
    '--batch.poll_interval_ms=50',
    `--lease_ms=${LEASE_MS}`,
    '--health.host=127.0.0.1',
    '--health.port=0',
    '--log.level=info',
  ], extraEnv);
}

/**
 * SIGKILL once `reached()` holds (polled every few ms) plus `extraMs`, or after `timeoutMs`; a child that
 * exits on its own first must have exited cleanly. Kill points follow progress (requests seen by the
 * stand-ins), not wall time: process start-up time varies far more than the work itself.
 */
async function killWhen(child: Child, reached: () => boolean, extraMs: number, timeoutMs: number): Promise<string> {
  let how = 'finished';
  const deadline = Date.now() + timeoutMs;
  const poll = setInterval(() => {
    if (reached() || Date.now() > deadline) {
      clearInterval(poll);
      setTimeout(() => {
        how = Date.now() > deadline ? 'killed at the time limit' : `killed ${extraMs} ms after its mark`;
        child.proc.kill('SIGKILL');
      }, extraMs);
    }
  }, 3);
  const { code, signal } = await child.exited;
  clearInterval(poll);
  if (signal !== 'SIGKILL') expect(code, child.output().slice(-3000)).toBe(0);
  return signal === 'SIGKILL' ? how : 'finished';
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

// ------------------------------------------------------------------------------------------ faults

/**
 * A commit by someone else that moves `main` without changing the data (as S3 Tables maintenance does):
 * a new snapshot whose manifest list repeats the current one. Our in-flight commit then gets a real 409.
 */
async function rivalCommit(): Promise<void> {
  const { metadata } = await catalog.loadTable(TRADES);
  const parent = currentSnapshot(metadata);
  const manifests = parent ? readManifestList(await s3ObjectStore(s3).get(parent['manifest-list']), parent['manifest-list']) : [];
  const snapshotId = BigInt(randomInt(1, 2 ** 47)) * 65_536n + BigInt(randomInt(0, 65_536));
  const sequenceNumber = toBigIntId(metadata['last-sequence-number'] ?? 0, 'last-sequence-number') + 1n;
  const parentId = parent ? toBigIntId(parent['snapshot-id'], 'snapshot-id') : null;
  const list = await s3ObjectStore(s3).put(
    `${metadata.location}/metadata/rival-${snapshotId}.avro`,
    writeManifestList({ snapshotId, parentSnapshotId: parentId, sequenceNumber, manifests, attempt: 1 }),
  );
  await catalog.commitTable(
    TRADES,
    [
      { type: 'assert-table-uuid', uuid: metadata['table-uuid'] },
      { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': parentId },
    ],
    [
      {
        action: 'add-snapshot',
        snapshot: {
          'snapshot-id': snapshotId,
          ...(parentId === null ? {} : { 'parent-snapshot-id': parentId }),
          'sequence-number': sequenceNumber,
          'timestamp-ms': Date.now(),
          'manifest-list': list,
          summary: { operation: 'replace' },
          'schema-id': metadata['current-schema-id'],
        },
      },
      { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': snapshotId },
    ],
  );
}

const dynamoWrite = (req: { headers: Record<string, unknown> }): boolean =>
  /PutItem|UpdateItem/.test(String(req.headers['x-amz-target'] ?? ''));

/** Fault sets, one per round in turn. */
const FAULTS: { name: string; arm(): void }[] = [
  {
    name: 'S3 5xx and lost PUT answers',
    arm() {
      s3Proxy.inject({ method: 'PUT', fault: { kind: 'status', status: 500 }, count: 3 });
      s3Proxy.inject({ method: 'PUT', fault: { kind: 'status', status: 503 }, count: 2 });
      s3Proxy.inject({ method: 'PUT', fault: { kind: 'reset-after-forward' }, count: 2 });
    },
  },
  {
    name: 'DynamoDB 5xx, timeouts and lost answers',
    arm() {
      dynamoProxy.inject({ when: dynamoWrite, fault: { kind: 'status', status: 500 }, count: 3 });
      dynamoProxy.inject({ when: dynamoWrite, fault: { kind: 'hang' }, count: 1 });
      dynamoProxy.inject({ when: dynamoWrite, fault: { kind: 'reset-after-forward' }, count: 2 });
    },
  },
  {
    name: 'catalog 500 after applying, 502 before, and a competing commit (409)',
    arm() {
      lake.catalog.faults.failNextCommits(1, 500, { applyBeforeFailing: true });
      lake.catalog.faults.failNextCommits(1, 502);
      lake.catalog.faults.beforeNextCommit(rivalCommit);
    },
  },
];

function clearFaults(): void {
  s3Proxy.clear();
  dynamoProxy.clear();
  lake.catalog.faults.reset();
}

// ------------------------------------------------------------------------------------------ reading

function golden(): string[] {
  return readFileSync(join(ROOT, 'test', 'golden', 'ticks.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.stringify(JSON.parse(l)))
    .sort();
}

/** The current snapshot's rows, read exactly from the data files its manifests list; and those files. */
async function tableContent(): Promise<{ rows: string[]; files: string[] }> {
  const { metadata } = await catalog.loadTable(TRADES);
  const current = currentSnapshot(metadata);
  if (!current) return { rows: [], files: [] };
  const store = s3ObjectStore(s3);
  const rows: string[] = [];
  const files: string[] = [];
  for (const m of readManifestList(await store.get(current['manifest-list']), current['manifest-list'])) {
    for (const entry of readManifest(await store.get(m.manifest_path)).entries) {
      if (entry.status === 2) continue;
      files.push(entry.data_file.file_path);
      const { bucket, key } = parseS3Uri(entry.data_file.file_path);
      const body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray();
      const objs = (await parquetReadObjects({
        file: body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer,
        parsers: { timestampFromMicroseconds: (v: bigint) => Number(v) } as never,
      })) as Record<string, unknown>[];
      for (const o of objs) {
        const row: Record<string, unknown> = { table: 'trades' };
        for (const c of TABLE_SCHEMAS.trades.columns)
          row[c.name] = typeof o[c.name] === 'bigint' ? Number(o[c.name]) : (o[c.name] ?? null);
        rows.push(JSON.stringify(row));
      }
    }
  }
  return { rows: rows.sort(), files: files.sort() };
}

/** Data files in S3 under the table's location. */
async function dataObjects(): Promise<string[]> {
  const { metadata } = await catalog.loadTable(TRADES);
  const { bucket, key } = parseS3Uri(`${metadata.location.replace(/\/+$/, '')}/data/`);
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key?.endsWith('.parquet')) out.push(`s3://${bucket}/${o.Key}`);
    token = page.NextContinuationToken;
  } while (token);
  return out.sort();
}

/** One clean replay, then a committer that drains the ledger and stops on SIGTERM. */
async function recover(): Promise<{ committerOutput: string }> {
  clearFaults();
  const replayer = startReplayer();
  const done = await replayer.exited;
  expect(done.code, replayer.output().slice(-3000)).toBe(0);
  const committer = startCommitter(EMF_ENV);
  await waitFor('the committer to start', async () => committer.output().includes('committer started'), 30_000);
  await waitFor('the ledger to drain', async () => (await ledger.listUncommitted('trades', 1)).length === 0, 60_000);
  // Ready once it holds the table's lease and the catalog answers.
  const url = /"url":"(http:\/\/[^"]+)"[^\n]*committer started/.exec(committer.output())?.[1];
  expect(url).toBeTruthy();
  let ready: { status: number; body: { checks?: unknown } } | undefined;
  await waitFor('/ready', async () => {
    const res = await fetch(`${url}/ready`);
    ready = { status: res.status, body: (await res.json()) as { checks?: unknown } };
    return res.status === 200;
  }, 10_000);
  expect(JSON.stringify(ready?.body)).toContain('"leases":["trades"]');
  committer.proc.kill('SIGTERM');
  const stopped = await committer.exited;
  expect(stopped.code, committer.output().slice(-3000)).toBe(0);
  expectCommitLatencyEmf(committer.output());
  return { committerOutput: committer.output() };
}

async function expectExactlyGolden(): Promise<void> {
  const { rows, files } = await tableContent();
  expect(new Set(files).size).toBe(files.length); // no data file twice
  expect(rows.length).toBe(golden().length);
  expect(rows).toEqual(golden());
  // Every data file written is in the table (nothing stranded), and every ledger entry is committed.
  expect(files).toEqual(await dataObjects());
  expect(await ledger.listUncommitted('trades', 1)).toEqual([]);
}

// ------------------------------------------------------------------------------------------ tests

describe('lake crash test: kill -9 the collector side and the committer, with faults', () => {
  it(`${ITERATIONS} rounds of random kills under faults, then exactly the golden rows`, async () => {
    const started = Date.now();
    for (let round = 0; round < ITERATIONS && Date.now() - started < 120_000; round++) {
      const faults = FAULTS[round % FAULTS.length]!;
      clearFaults();
      faults.arm();
      const s3Before = s3Proxy.seen.length;
      const replayer = startReplayer();
      const committer = startCommitter();
      // The replayer dies after a random number of S3 requests (a file takes ~4: HEAD, PUT, HEAD, tagging);
      // the committer a few ms after a random commit request reached the catalog (often between the
      // commit landing and the ledger update).
      const s3Mark = randomInt(1, 120);
      const commitMark = randomInt(1, 6);
      const [r, c] = await Promise.all([
        killWhen(replayer, () => s3Proxy.seen.length - s3Before >= s3Mark, randomInt(0, 20), 20_000),
        killWhen(committer, () => lake.catalog.faults.stats.received >= commitMark, randomInt(0, 40), 8_000),
      ]);
      const uncommitted = (await ledger.listUncommitted('trades', 1000)).length;
      const { files } = await tableContent();
      console.info(
        `round ${round + 1} (${faults.name}): replayer ${r} (mark ${s3Mark} S3 requests), committer ${c} (mark commit ${commitMark}); table files ${files.length}, ledgered uncommitted ${uncommitted}; ` +
          `faults hit: s3 ${s3Proxy.seen.filter((q) => q.fault).length}, dynamo ${dynamoProxy.seen.filter((q) => q.fault).length}, catalog ${lake.catalog.faults.stats.injected}`,
      );
    }
    await recover();
    await expectExactlyGolden();
  }, 180_000);

  it('a commit that landed while its committer was killed is never appended a second time', async () => {
    // A fresh table (its own namespace, so its own location) and a fresh ledger.
    useTarget('crash_landed', 'cryptoflow-ledger-landed');
    clearFaults();
    // The committer's first commit is applied, but its answer is held back until the committer is dead.
    lake.catalog.faults.delayNextCommits(1, 5_000, { applyBeforeDelay: true });
    const replayer = startReplayer();
    expect((await replayer.exited).code, replayer.output().slice(-3000)).toBe(0);
    const first = startCommitter();
    await waitFor('the first commit to be applied', async () => lake.catalog.faults.stats.applied >= 1, 30_000);
    first.proc.kill('SIGKILL');
    await first.exited;

    // The next committer takes batches of another size, so its batches (and commit ids) differ from the
    // one that landed: without looking at the table first it would append those files a second time.
    const { committerOutput } = await recoverWithBatch(5);
    await expectExactlyGolden();
    expect(committerOutput).toContain('files were already in the table');
  }, 120_000);
});

/** EMF on, as in ECS: in committer mode CommitLatency reaches CloudWatch only from the committer. */
const EMF_ENV = { CRYPTOFLOW_EMF: '1', CRYPTOFLOW_ENV: 'test' };

/** Every commit a committer made reached an EMF line (the last one is written on stop): CommitLatency per table. */
function expectCommitLatencyEmf(output: string): void {
  const batches = Number(/"batches":(\d+)[^\n]*committer stopped/.exec(output)?.[1] ?? 'NaN');
  expect(batches, output.slice(-3000)).toBeGreaterThanOrEqual(0);
  const emf = output.split('\n').filter((l) => l.includes('"CloudWatchMetrics"') && l.includes('"CommitLatency"'));
  if (batches === 0) return expect(emf).toEqual([]);
  expect(emf.length, output.slice(-3000)).toBeGreaterThan(0);
  expect(JSON.parse(emf[emf.length - 1]!)).toMatchObject({ Env: 'test', Table: expect.stringMatching(/trades$/) });
}

/** Like `recover`, with another batch size (different batch boundaries → different commit ids). */
async function recoverWithBatch(maxFiles: number): Promise<{ committerOutput: string }> {
  clearFaults();
  const committer = spawnApp('committer', [
    ...lakeFlags(),
    '--tables=[trades]',
    `--batch.max_files=${maxFiles}`,
    '--batch.max_wait_ms=1',
    '--batch.poll_interval_ms=50',
    `--lease_ms=${LEASE_MS}`,
    '--health.host=127.0.0.1',
    '--health.port=0',
    '--log.level=info',
  ], EMF_ENV);
  await waitFor('the committer to start', async () => committer.output().includes('committer started'), 30_000);
  await waitFor('the ledger to drain', async () => (await ledger.listUncommitted('trades', 1)).length === 0, 60_000);
  committer.proc.kill('SIGTERM');
  const stopped = await committer.exited;
  expect(stopped.code, committer.output().slice(-3000)).toBe(0);
  expectCommitLatencyEmf(committer.output());
  return { committerOutput: committer.output() };
}
