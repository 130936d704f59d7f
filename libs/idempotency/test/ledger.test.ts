import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import { isCfError } from '@cryptoflow/core';
import { localDynamoClient, startDynamo, startFaultProxy } from '@cryptoflow/stand-ins';
import type { FaultProxy, LocalDynamo } from '@cryptoflow/stand-ins';
import { FileLedger } from '../src/index.js';
import type { LedgerEntryInput } from '../src/index.js';

const logger = createLogger({ app: 'test', level: 'silent' });
const sha = (text: string): string => createHash('sha256').update(text).digest('base64');
let seq = 0;
const uniqueTable = (): string => `ledger-${process.pid}-${++seq}`;

function entry(fileKey: string, over: Partial<LedgerEntryInput> = {}): LedgerEntryInput {
  return {
    fileKey,
    table: 'trades',
    hour: '2024-01-31T13',
    shard: 3,
    uri: `s3://lake/${fileKey}`,
    rows: 1000,
    bytes: 123_456,
    checksumSha256: sha(fileKey),
    writer: 'collector-ticks/1',
    ...over,
  };
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

describe('FileLedger against dynalite', () => {
  let dynamo: LocalDynamo;
  let proxy: FaultProxy;
  beforeAll(async () => {
    dynamo = await startDynamo();
    proxy = await startFaultProxy({ target: dynamo.endpoint });
  });
  afterAll(async () => {
    await proxy?.close();
    await dynamo?.close();
  });

  async function ledger(options: { tableName?: string; nowMs?: () => number; viaProxy?: boolean; registry?: Registry } = {}) {
    const registry = options.registry ?? new Registry();
    const l = new FileLedger({
      client: localDynamoClient(options.viaProxy ? proxy.endpoint : dynamo.endpoint),
      tableName: options.tableName ?? uniqueTable(),
      registry,
      logger,
      indexShards: 4,
      policy: { attempts: 5, backoff: { baseMs: 5, maxMs: 20, factor: 2 } },
      ...(options.nowMs ? { nowMs: options.nowMs } : {}),
    });
    await l.ensureTable();
    return { l, registry };
  }

  it('ensureTable is idempotent, also when racing', async () => {
    const tableName = uniqueTable();
    await Promise.all([ledger({ tableName }), ledger({ tableName }), ledger({ tableName })]);
    const { l } = await ledger({ tableName });
    expect((await l.seenOrPut(entry('a'))).firstTime).toBe(true);
  });

  it('records a file once; a replay with the same checksum is a counted duplicate', async () => {
    const { l, registry } = await ledger();
    const first = await l.seenOrPut(entry('trades/2024-01-31T13/s3/f1.parquet'));
    expect(first.firstTime).toBe(true);
    expect(first.entry.state).toBe('uploaded');
    const again = await l.seenOrPut(entry('trades/2024-01-31T13/s3/f1.parquet', { writer: 'collector-ticks/2' }));
    expect(again.firstTime).toBe(false);
    expect(again.entry.writer).toBe('collector-ticks/1');
    expect(again.entry.rows).toBe(1000);
    expect(await metricValue(registry, 'idempotency_dupe_total', { table: 'trades' })).toBe(1);
  });

  it('the same key with a different checksum is a non-retriable CF_LEDGER error', async () => {
    const { l } = await ledger();
    await l.seenOrPut(entry('k1'));
    const err = await l.seenOrPut(entry('k1', { checksumSha256: sha('other bytes') })).catch((e: unknown) => e);
    expect(isCfError(err, 'CF_LEDGER')).toBe(true);
    expect((err as { retriable: boolean }).retriable).toBe(false);
  });

  it('keeps the exchange_ts range a writer records, and rejects an inverted one', async () => {
    const { l } = await ledger();
    const { entry: stored } = await l.seenOrPut(entry('ranged', { exchangeTsRange: { min: 10, max: 20 } }));
    expect(stored.exchangeTsRange).toEqual({ min: 10, max: 20 });
    expect((await l.get('ranged'))?.exchangeTsRange).toEqual({ min: 10, max: 20 });
    expect((await l.seenOrPut(entry('unranged'))).entry.exchangeTsRange).toBeNull();
    await expect(l.seenOrPut(entry('inverted', { exchangeTsRange: { min: 20, max: 10 } }))).rejects.toThrow(
      /exchangeTsRange: expected integer µs with min <= max, got 20\.\.10/,
    );
  });

  it('lists every file of one (table, hour, shard), committed or not, and nothing of the others', async () => {
    const { l } = await ledger();
    await l.seenOrPut(entry('sh/a', { exchangeTsRange: { min: 1, max: 2 } }));
    await l.seenOrPut(entry('sh/b'));
    await l.seenOrPut(entry('sh/other-shard', { shard: 4 }));
    await l.seenOrPut(entry('sh/other-hour', { hour: '2024-01-31T14' }));
    await l.seenOrPut(entry('sh/other-table', { table: 'funding' }));
    await l.markCommitted(['sh/b'], '7', 'commit-sh');
    const files = await l.listShardHour('trades', '2024-01-31T13', 3);
    expect(files.map((f) => [f.fileKey, f.state]).sort()).toEqual([
      ['sh/a', 'uploaded'],
      ['sh/b', 'committed'],
    ]);
    expect(files.find((f) => f.fileKey === 'sh/a')?.exchangeTsRange).toEqual({ min: 1, max: 2 });
  });

  it('rejects malformed entries before writing', async () => {
    const { l } = await ledger();
    await expect(l.seenOrPut(entry('bad', { checksumSha256: 'abc', rows: -1 }))).rejects.toThrow(/checksumSha256.*rows/);
    expect(await l.get('bad')).toBeUndefined();
  });

  it('20 concurrent seenOrPut of one key: exactly one firstTime', async () => {
    const { l, registry } = await ledger();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => l.seenOrPut(entry('race', { writer: `w${i}` }))));
    expect(results.filter((r) => r.firstTime).length).toBe(1);
    const winner = results.find((r) => r.firstTime)?.entry.writer;
    expect(results.every((r) => r.entry.writer === winner)).toBe(true);
    expect(await metricValue(registry, 'idempotency_dupe_total', { table: 'trades' })).toBe(19);
  });

  it('lists uncommitted files oldest hour first across index shards; committed files leave the list', async () => {
    const { l } = await ledger();
    const hours = ['2024-01-31T15', '2024-01-31T13', '2024-01-31T14'];
    const keys: string[] = [];
    for (const hour of hours) {
      for (let i = 0; i < 30; i++) {
        const k = `trades/${hour}/f${String(i).padStart(3, '0')}`;
        keys.push(k);
        await l.seenOrPut(entry(k, { hour }));
      }
    }
    await l.seenOrPut(entry('funding/x', { table: 'funding' }));
    const firstPage = await l.listUncommitted('trades', 40);
    expect(firstPage.length).toBe(40);
    expect(firstPage.map((e) => e.fileKey)).toEqual([...keys].sort().slice(0, 40));
    expect(firstPage.every((e) => e.table === 'trades' && e.state === 'uploaded')).toBe(true);

    await l.markCommitted(
      firstPage.map((e) => e.fileKey),
      '9007199254740993123',
      'commit-a',
    );
    const rest = await l.listUncommitted('trades', 1000);
    expect(rest.map((e) => e.fileKey)).toEqual([...keys].sort().slice(40));
    const committed = await l.get(firstPage[0]!.fileKey);
    expect(committed).toMatchObject({ state: 'committed', snapshotId: '9007199254740993123', commitId: 'commit-a' });
    const many = await l.getMany([...keys, 'nope']);
    expect(many.size).toBe(90);
    expect([...many.values()].filter((e) => e.state === 'committed').length).toBe(40);
  });

  it('markCommitted is a no-op on retry with the same commit id, an error with another', async () => {
    const { l } = await ledger();
    await l.seenOrPut(entry('c1'));
    await l.markCommitted(['c1'], '42', 'commit-1');
    await l.markCommitted(['c1'], '42', 'commit-1');
    const err = await l.markCommitted(['c1'], '43', 'commit-2').catch((e: unknown) => e);
    expect(isCfError(err, 'CF_LEDGER')).toBe(true);
    expect(String(err)).toMatch(/two commits/);
    await expect(l.markCommitted(['missing'], '1', 'c')).rejects.toThrow(/not in the ledger/);
    expect(await l.get('c1')).toMatchObject({ snapshotId: '42', commitId: 'commit-1' });
  });

  it('two committers racing for one table: exactly one holds the lease', async () => {
    const tableName = uniqueTable();
    const [{ l: a }, { l: b }] = await Promise.all([ledger({ tableName }), ledger({ tableName })]);
    const grants = await Promise.all([
      a.leases.acquire('commit/trades', 'committer-a', 30_000),
      b.leases.acquire('commit/trades', 'committer-b', 30_000),
      a.leases.acquire('commit/trades', 'committer-a2', 30_000),
      b.leases.acquire('commit/trades', 'committer-b2', 30_000),
    ]);
    const held = grants.filter((g) => g !== undefined);
    expect(held.length).toBe(1);
    expect(held[0]!.token).toBe(1);
    // Another resource is independent.
    expect(await b.leases.acquire('commit/funding', 'committer-b', 30_000)).toBeDefined();
  });

  it('an expired lease is taken over with a higher token and the old holder is fenced', async () => {
    const tableName = uniqueTable();
    let clockB = 1_000_000;
    const { l: a } = await ledger({ tableName, nowMs: () => 1_000_000 });
    const { l: b } = await ledger({ tableName, nowMs: () => clockB });
    await a.seenOrPut(entry('f-old'));
    await a.seenOrPut(entry('f-new'));

    const old = await a.leases.acquire('commit/trades', 'committer-a', 10_000);
    expect(old?.token).toBe(1);
    expect(await b.leases.acquire('commit/trades', 'committer-b', 10_000)).toBeUndefined();

    clockB += 10_001; // a stopped renewing (GC pause, partition); its lease ran out
    const fresh = await b.leases.acquire('commit/trades', 'committer-b', 10_000);
    expect(fresh?.token).toBe(2);

    // Every conditional write of the old holder now fails.
    await expect(a.leases.renew(old!, 10_000)).rejects.toMatchObject({ code: 'CF_FENCED' });
    await expect(a.leases.check(old!)).rejects.toMatchObject({ code: 'CF_FENCED' });
    await expect(a.markCommitted(['f-old'], '1', 'commit-old', old!)).rejects.toMatchObject({ code: 'CF_FENCED' });
    expect((await a.get('f-old'))?.state).toBe('uploaded');

    // The new holder works and stamps the files it commits with its token.
    await b.markCommitted(['f-new'], '2', 'commit-new', fresh!);
    expect(await b.get('f-new')).toMatchObject({ state: 'committed', commitId: 'commit-new' });
    await b.leases.renew(fresh!, 10_000);
    await b.leases.release(fresh!);
    await a.leases.release(old!); // losing it already is fine
    const third = await a.leases.acquire('commit/trades', 'committer-a', 10_000);
    expect(third?.token).toBe(3);
  });

  it('survives injected DynamoDB faults: 500s are retried, a lost answer is still our own first write', async () => {
    const { l, registry } = await ledger({ viaProxy: true });
    const isPut = (req: { headers: Record<string, unknown> }): boolean => req.headers['x-amz-target'] === 'DynamoDB_20120810.PutItem';
    const fivehundreds = proxy.inject({ method: 'POST', when: isPut, count: 2, fault: { kind: 'status', status: 500 } });
    expect((await l.seenOrPut(entry('fault-1'))).firstTime).toBe(true);
    expect(fivehundreds.hits).toBe(2);

    const lost = proxy.inject({ method: 'POST', when: isPut, count: 1, fault: { kind: 'reset-after-forward' } });
    const r = await l.seenOrPut(entry('fault-2'));
    expect(lost.hits).toBe(1);
    expect(r.firstTime).toBe(true);
    expect(await metricValue(registry, 'idempotency_dupe_total', { table: 'trades' })).toBe(0);
    expect(await metricValue(registry, 'ledger_errors_total', { op: 'put_file', retriable: 'true' })).toBe(3);

    const throttled = proxy.inject({ method: 'POST', when: isPut, count: 100, fault: { kind: 'status', status: 503 } });
    const err = await l.seenOrPut(entry('fault-3')).catch((e: unknown) => e);
    throttled.cancel();
    expect(isCfError(err, 'CF_LEDGER')).toBe(true);
    expect((err as { retriable: boolean }).retriable).toBe(true);
    expect(await l.get('fault-3')).toBeUndefined();
  });

  it('a lease acquire whose answer is lost still yields the lease to its caller', async () => {
    const { l } = await ledger({ viaProxy: true });
    proxy.inject({
      method: 'POST',
      when: (req) => req.headers['x-amz-target'] === 'DynamoDB_20120810.UpdateItem',
      fault: { kind: 'reset-after-forward' },
    });
    const lease = await l.leases.acquire('commit/trades', 'committer-a', 10_000);
    expect(lease).toBeDefined();
    expect((await l.leases.current('commit/trades'))?.holder).toBe('committer-a');
    await l.leases.check(lease!);
  });
});
