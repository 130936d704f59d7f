import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parquetReadObjects } from 'hyparquet';
import { CfError, MICROS_PER_HOUR } from '@cryptoflow/core';
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import { TABLE_SCHEMAS } from '@cryptoflow/model';
import type { CanonicalRow, TableName } from '@cryptoflow/model';
import { Partitioner } from '@cryptoflow/partitioner';
import { LocalFileStore, RowSink } from '../src/index.js';
import type { FilePut, FileStore, FlushedFile, RowSinkOptions, StoredFile } from '../src/index.js';
import { T0, rowsFor } from './fixtures.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cf-sink-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const logger = createLogger({ app: 'test', level: 'silent' });
const shardOf = (_e: string, s: string): number => {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  return h % 4;
};

interface Harness {
  sink: RowSink;
  files: FlushedFile[];
  registry: Registry;
  store: LocalFileStore;
}

function harness(opts: Partial<RowSinkOptions> & { storeDir?: string } = {}): Harness {
  const files: FlushedFile[] = [];
  const registry = new Registry();
  const store = new LocalFileStore({ dir: opts.storeDir ?? dir, fsync: false });
  const sink = new RowSink({
    store,
    partitioner: new Partitioner({ totalShards: 4, shardOf }),
    registry,
    logger,
    labels: { stream: 'test' },
    autoTick: false,
    retryBackoff: { baseMs: 1, maxMs: 5, factor: 2 },
    onFileStored: async (f) => {
      files.push(f);
    },
    ...opts,
  });
  return { sink, files, registry, store };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 5000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function readFile(f: FlushedFile): Promise<Record<string, unknown>[]> {
  const buf = readFileSync(fileURLToPath(f.uri));
  return (await parquetReadObjects({
    file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer,
    parsers: { timestampFromMicroseconds: (v: bigint) => Number(v) } as never,
  })) as Record<string, unknown>[];
}

/** The rows of the files, as canonical rows, so they compare equal to what was written. */
async function rowsOf(files: readonly FlushedFile[]): Promise<CanonicalRow[]> {
  const out: CanonicalRow[] = [];
  for (const f of files) {
    const schema = TABLE_SCHEMAS[f.table];
    for (const r of await readFile(f)) {
      const row: Record<string, unknown> = { table: f.table };
      for (const c of schema.columns) row[c.name] = typeof r[c.name] === 'bigint' ? Number(r[c.name]) : (r[c.name] ?? null);
      out.push(row as unknown as CanonicalRow);
    }
  }
  return out;
}

const sig = (r: CanonicalRow): string => JSON.stringify(r);
const sortRows = (rows: CanonicalRow[]): string[] => rows.map(sig).sort();

/** Sum of a counter's series. */
async function metric(registry: Registry, name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values.reduce((a, v) => a + v.value, 0);
}

type Series = { metricName?: string; labels: Record<string, unknown>; value: number };
async function series(registry: Registry, name: string): Promise<Series[]> {
  return (await registry.getSingleMetric(name)!.get()).values as unknown as Series[];
}

describe('RowSink', () => {
  it('flushes a buffer when its size estimate reaches targetFileBytes, without being asked', async () => {
    const { sink, files } = harness({ targetFileBytes: 20_000, flushIntervalMs: 0 });
    const rows = rowsFor('trades', 3000, { stepMicros: 10 }).map((r) => ({ ...r, symbol: 'BTCUSDT' }) as CanonicalRow);
    for (const r of rows) sink.write(r);
    await until(() => files.length >= 3 && sink.pendingFiles() === 0, 'size flushes');
    const bySize = files.length;
    expect(bySize).toBeGreaterThanOrEqual(3);
    await sink.close();
    // every file but the last was cut by size; rows are all there, in order
    expect((await rowsOf(files)).map(sig)).toEqual(rows.map(sig));
    expect(sink.bufferedRows()).toBe(0);
  });

  it('flushes a buffer when its oldest row is flushIntervalMs old (tick)', async () => {
    let now = 1_000_000;
    const { sink, files } = harness({ flushIntervalMs: 5000, now: () => now });
    const rows = rowsFor('funding', 11).map((r) => ({ ...r, symbol: 'BTCUSDT' }) as CanonicalRow);
    for (const r of rows.slice(0, 10)) sink.write(r);
    now += 4999;
    sink.tick();
    await new Promise((r) => setTimeout(r, 20));
    expect(files).toHaveLength(0);
    expect(sink.bufferedRows()).toBe(10);
    now += 1;
    sink.tick();
    await until(() => files.length === 1, 'age flush');
    expect(files[0]?.rows).toBe(10);
    expect(sink.bufferedRows()).toBe(0);
    // the next row starts a new buffer with its own age
    sink.write(rows[10] as CanonicalRow);
    now += 4000;
    sink.tick();
    await new Promise((r) => setTimeout(r, 20));
    expect(files).toHaveLength(1);
    await sink.close();
    expect(files).toHaveLength(2);
  });

  it('flushEveryRows cuts files at fixed row counts: a replay yields the same keys and bytes', async () => {
    const rows = rowsFor('spot_delta', 2600, { stepMicros: 50 }).map((r) => ({ ...r, symbol: 'ETHUSDT' }) as CanonicalRow);
    const run = async (d: string): Promise<FlushedFile[]> => {
      const { sink, files } = harness({ flushEveryRows: 1000, storeDir: d, flushIntervalMs: 1 });
      for (const r of rows) sink.write(r);
      await until(() => files.length === 2, 'count flushes');
      sink.tick(Number.MAX_SAFE_INTEGER); // age is ignored in replay mode
      await new Promise((r) => setTimeout(r, 20));
      expect(files).toHaveLength(2);
      await sink.close();
      return files;
    };
    const a = await run(join(dir, 'a'));
    const b = await run(join(dir, 'b'));
    expect(a.map((f) => f.rows)).toEqual([1000, 1000, 600]);
    expect(b.map((f) => [f.key, f.checksumSha256, f.bytes])).toEqual(a.map((f) => [f.key, f.checksumSha256, f.bytes]));
    expect(new Set(a.map((f) => f.key)).size).toBe(3);
    // replaying into the *same* store is an idempotent no-op per file
    const again = await run(join(dir, 'a'));
    expect(again.map((f) => f.key)).toEqual(a.map((f) => f.key));
  });

  it('close() flushes every table, hour and shard; files hold exactly the rows, per-symbol order kept', async () => {
    const { sink, files } = harness({ flushIntervalMs: 0 });
    const tables: TableName[] = ['trades', 'spot_delta', 'futures_ob', 'funding', 'liquidations', 'spot_ob', 'futures_delta'];
    const input: CanonicalRow[] = [];
    for (const t of tables) {
      // 2 hours of rows: crosses an hour boundary
      input.push(...rowsFor(t, 1500, { start: T0 + MICROS_PER_HOUR - 750 * 1000, stepMicros: 1000, seed: t.length }));
    }
    for (const r of input) sink.write(r);
    expect(files).toHaveLength(0);
    expect(sink.bufferedRows()).toBe(input.length);
    await sink.close();
    expect(sink.bufferedRows()).toBe(0);
    const hours = new Set(files.map((f) => f.hour));
    expect(hours).toEqual(new Set(['2021-10-12T00', '2021-10-12T01']));
    for (const f of files) {
      expect(f.key.startsWith(`${f.table}/exchange_ts_hour=${f.hour}/shard=00${f.shard}/`)).toBe(true);
      expect(new Date(f.minExchangeTs / 1000).toISOString().slice(0, 13)).toBe(f.hour);
      expect(new Date(f.maxExchangeTs / 1000).toISOString().slice(0, 13)).toBe(f.hour);
    }
    const back = await rowsOf(files);
    expect(sortRows(back)).toEqual(sortRows(input));
    // per (table, exchange, symbol): the subsequence in the files equals the input subsequence
    const seq = (rows: CanonicalRow[]): Map<string, string[]> => {
      const m = new Map<string, string[]>();
      for (const r of rows) {
        const k = `${r.table}|${r.exchange}|${r.symbol}`;
        m.set(k, [...(m.get(k) ?? []), sig(r)]);
      }
      return m;
    };
    const want = seq(input);
    const got = seq(back);
    for (const [k, v] of want) {
      const g = got.get(k) ?? [];
      // one symbol may span two hour files; within the same hour file the order must be the input's
      expect([...g].sort()).toEqual([...v].sort());
      const byHour = (xs: string[]) => xs.filter((x) => JSON.parse(x).exchange_ts < T0 + MICROS_PER_HOUR);
      expect(byHour(g)).toEqual(byHour(v));
    }
    expect(() => sink.write(input[0] as CanonicalRow)).toThrow(/write after close/);
  });

  it('a store that fails twice with a retriable error loses nothing and recovers health', async () => {
    const real = new LocalFileStore({ dir, fsync: false });
    let failures = 0;
    const flaky: FileStore = {
      async put(f: FilePut): Promise<StoredFile> {
        if (failures < 2) {
          failures++;
          throw new CfError('CF_SINK_IO', 'disk hiccup', { retriable: true });
        }
        return real.put(f);
      },
    };
    const { sink, files, registry } = harness({ store: flaky });
    const rows = rowsFor('trades', 500);
    for (const r of rows) sink.write(r);
    const flushed = await sink.flushAll();
    expect(failures).toBe(2);
    expect(sink.healthy()).toBe(true);
    expect(sink.bufferedRows()).toBe(0);
    expect(sortRows(await rowsOf(flushed))).toEqual(sortRows(rows));
    expect(files.map((f) => f.key).sort()).toEqual(flushed.map((f) => f.key).sort());
    expect(await metric(registry, 'sink_flush_failures_total')).toBe(2);
    expect(await metric(registry, 'rows_written_total')).toBe(500);
    expect(await metric(registry, 'files_written_total')).toBe(flushed.length);
    await sink.close();
  });

  it('a non-retriable failure keeps the rows, marks the sink unhealthy, and the next flush stores them', async () => {
    const real = new LocalFileStore({ dir, fsync: false });
    let broken = true;
    const store: FileStore = {
      put: (f) => (broken ? Promise.reject(new CfError('CF_SINK_IO', 'read-only file system', { retriable: false })) : real.put(f)),
    };
    const { sink, registry } = harness({ store });
    const rows = rowsFor('liquidations', 300);
    for (const r of rows) sink.write(r);
    const err = await sink.flushAll().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CF_SINK_IO', retriable: false });
    expect(sink.healthy()).toBe(false);
    expect(sink.bufferedRows()).toBe(300);
    const gauge = await registry.getSingleMetric('sink_buffered_rows')!.get();
    expect(gauge.values.find((v) => v.labels['table'] === 'liquidations')?.value).toBe(300);
    broken = false;
    const flushed = await sink.flushAll();
    expect(sink.healthy()).toBe(true);
    expect(sink.bufferedRows()).toBe(0);
    expect(sortRows(await rowsOf(flushed))).toEqual(sortRows(rows));
    await sink.close();
  });

  it('flushAll gives up after maxAttemptsPerFlush but the rows stay and are retried in the background', async () => {
    const real = new LocalFileStore({ dir, fsync: false });
    let calls = 0;
    const store: FileStore = {
      put: (f) => (++calls <= 4 ? Promise.reject(new CfError('CF_SINK_IO', 'EIO', { retriable: true })) : real.put(f)),
    };
    const { sink, files } = harness({ store, maxAttemptsPerFlush: 3 });
    for (const r of rowsFor('funding', 4).map((r) => ({ ...r, symbol: 'BTCUSDT' }) as CanonicalRow)) sink.write(r);
    await expect(sink.flushAll()).rejects.toMatchObject({ code: 'CF_SINK_IO', retriable: true });
    expect(sink.bufferedRows()).toBe(4);
    await until(() => files.length === 1, 'background retry');
    expect(sink.bufferedRows()).toBe(0);
    expect(sink.healthy()).toBe(true);
    await sink.close();
  });

  it('a failing onFileStored hook re-puts the same file (idempotent) and calls the hook again', async () => {
    let hookCalls = 0;
    const stored: FlushedFile[] = [];
    const { sink } = harness({
      onFileStored: async (f) => {
        hookCalls++;
        if (hookCalls === 1) throw new CfError('CF_LEDGER', 'throttled', { retriable: true });
        stored.push(f);
      },
    });
    for (const r of rowsFor('trades', 50).map((r) => ({ ...r, exchange: 'binance', symbol: 'BTCUSDT' }) as CanonicalRow)) sink.write(r);
    const flushed = await sink.flushAll();
    expect(hookCalls).toBe(2);
    expect(flushed).toHaveLength(1);
    expect(stored).toEqual(flushed);
  });

  it('rejects a bad row at write() and buffers nothing for it', () => {
    const { sink } = harness();
    const bad = { ...(rowsFor('trades', 1)[0] as CanonicalRow), qty: null } as unknown as CanonicalRow;
    expect(() => sink.write(bad)).toThrow(/trades\.qty: required column is null/);
    expect(sink.bufferedRows()).toBe(0);
  });

  it('exports flush size and duration histograms per table', async () => {
    const { sink, registry } = harness();
    for (const r of rowsFor('spot_ob', 200)) sink.write(r);
    const files = await sink.flushAll();
    const size = await series(registry, 'flush_size_bytes');
    const count = size.find((v) => v.metricName === 'flush_size_bytes_count' && v.labels['table'] === 'spot_ob');
    const sum = size.find((v) => v.metricName === 'flush_size_bytes_sum' && v.labels['table'] === 'spot_ob');
    expect(count?.value).toBe(files.length);
    expect(sum?.value).toBe(files.reduce((a, f) => a + f.bytes, 0));
    expect(count?.labels['stream']).toBe('test');
    const dur = await series(registry, 'flush_duration_seconds');
    expect(dur.find((v) => v.metricName === 'flush_duration_seconds_count')?.value).toBe(files.length);
    await sink.close();
  });
});
