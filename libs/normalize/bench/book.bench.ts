/**
 * Order-book benchmarks.
 *  1. Depth events/s through sequencer + book state on the real capture frames (spot + USD-M),
 *     with JSON parse + decode outside the timed region and inside it. Row emission is on
 *     (rows go to a counter, as a cheap sink would take them).
 *  2. Cost of the 100 ms top-N snapshots for 1000 symbols: time per top-20 snapshot (40 rows),
 *     and the CPU share at 1000 symbols × 10 snapshots/s, next to the diff-apply CPU at
 *     1000 symbols × 10 diffs/s.
 * Run: npx tsx libs/normalize/bench/book.bench.ts
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Exchange } from '@cryptoflow/model';
import type { BookFixtureRecord, DepthEvent, ReplayItem } from '../src/book/index.js';
import { BookOperator, bookKey, decodeBookFixture, parseFixtureJsonl } from '../src/book/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(here, '../../../test/fixtures/books');

function load(name: string): BookFixtureRecord[] {
  return parseFixtureJsonl(readFileSync(join(FIXTURES, `${name}.jsonl`), 'utf8'));
}

/** Shift a replay so repeated passes continue the id chain and the receive clock. */
function runPasses(
  exchange: Exchange,
  items: readonly ReplayItem[],
  passes: number,
  decode: (() => ReplayItem[]) | null,
): { events: number; ms: number; rows: number } {
  let rows = 0;
  const op = new BookOperator({ emit: () => rows++, requestSnapshot: () => {} });
  let events = 0;
  const t0 = performance.now();
  for (let p = 0; p < passes; p++) {
    const list = decode ? decode() : items;
    // Each pass uses fresh symbols so every pass syncs and replays the real chain again.
    for (const it of list) {
      if (it.kind === 'event') {
        const e = it.event;
        op.onEvent(p === 0 ? e : ({ ...e, symbol: e.symbol + p } as DepthEvent));
        events++;
      } else {
        const key = p === 0 ? it.key : bookKey(exchange, it.key.slice(it.key.indexOf('|') + 1) + p);
        op.onSnapshot(key, it.snapshot);
      }
    }
  }
  void exchange;
  return { events, ms: performance.now() - t0, rows };
}

function measureReplay(exchange: Exchange, name: string, passes: number): Record<string, number> {
  const records = load(name);
  const items = decodeBookFixture(exchange, records);
  runPasses(exchange, items, 3, null); // warm-up
  const pre = runPasses(exchange, items, passes, null);
  const withParse = runPasses(exchange, items, passes, () => decodeBookFixture(exchange, records));
  const eventsPerPass = items.filter((i) => i.kind === 'event').length;
  // Diff-only rate: subtract the snapshot resets (1000-level snapshots dominate a short capture).
  return {
    [`${name}: depth events/s (decoded outside timing, incl. 4 snapshot resets per ${eventsPerPass} events)`]:
      Math.round(pre.events / (pre.ms / 1000)),
    [`${name}: depth events/s (JSON.parse + decode inside timing)`]: Math.round(
      withParse.events / (withParse.ms / 1000),
    ),
    [`${name}: rows emitted per pass`]: Math.round(pre.rows / passes),
  };
}

/** Steady-state diff apply: 1000 live books (1000 levels/side), diffs near the top. */
function steadyState(): Record<string, number | string> {
  const SYMBOLS = 1000;
  let rows = 0;
  const op = new BookOperator({
    config: { emitSnapshots: false },
    emit: () => rows++,
    requestSnapshot: () => {},
  });
  const t0 = 1_700_000_000_000_000;
  const mid = 100;
  const tick = 0.01;
  const bids: number[] = [];
  const asks: number[] = [];
  for (let i = 0; i < 1000; i++) {
    bids.push(Math.round((mid - tick * (i + 1)) * 100) / 100, 1 + (i % 7));
    asks.push(Math.round((mid + tick * (i + 1)) * 100) / 100, 1 + (i % 5));
  }
  const lastU = new Array<number>(SYMBOLS).fill(10);
  for (let s = 0; s < SYMBOLS; s++) {
    op.onEvent({
      exchange: 'binance',
      symbol: `S${s}`,
      exchangeTs: t0,
      ingestTs: t0,
      firstUpdateId: 11,
      lastUpdateId: 11,
      prevUpdateId: null,
      bids: [],
      asks: [],
    });
    op.onSnapshot(bookKey('binance', `S${s}`), {
      lastUpdateId: 10,
      exchangeTs: null,
      receivedAt: t0,
      bids,
      asks,
    });
    lastU[s] = 11;
  }
  // Pre-build diffs: 5 levels each, within the top 30, ~20% deletes/inserts.
  let seed = 1;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const N = 200_000;
  const diffs: DepthEvent[] = new Array(N);
  for (let i = 0; i < N; i++) {
    const s = i % SYMBOLS;
    const U = lastU[s]! + 1;
    lastU[s] = U;
    const b: number[] = [];
    const a: number[] = [];
    for (let k = 0; k < 3; k++)
      b.push(
        Math.round((mid - tick * (1 + Math.floor(rnd() * 30))) * 100) / 100,
        rnd() < 0.2 ? 0 : Math.ceil(rnd() * 9),
      );
    for (let k = 0; k < 2; k++)
      a.push(
        Math.round((mid + tick * (1 + Math.floor(rnd() * 30))) * 100) / 100,
        rnd() < 0.2 ? 0 : Math.ceil(rnd() * 9),
      );
    diffs[i] = {
      exchange: 'binance',
      symbol: `S${s}`,
      exchangeTs: t0 + i,
      ingestTs: t0 + i,
      firstUpdateId: U,
      lastUpdateId: U,
      prevUpdateId: null,
      bids: b,
      asks: a,
    };
  }
  const start = performance.now();
  for (let i = 0; i < N; i++) op.onEvent(diffs[i]!);
  const ms = performance.now() - start;
  const perSec = N / (ms / 1000);

  // Top-20 snapshots: time a full 100 ms round over 1000 symbols via tick().
  const snapOp = new BookOperator({
    config: { emitDeltas: false, topN: 20, checkpointIntervalMs: 3_600_000 },
    emit: () => rows++,
    requestSnapshot: () => {},
  });
  for (let s = 0; s < SYMBOLS; s++) {
    snapOp.onEvent({
      exchange: 'binance',
      symbol: `S${s}`,
      exchangeTs: t0,
      ingestTs: t0,
      firstUpdateId: 11,
      lastUpdateId: 11,
      prevUpdateId: null,
      bids: [],
      asks: [],
    });
    snapOp.onSnapshot(bookKey('binance', `S${s}`), {
      lastUpdateId: 10,
      exchangeTs: null,
      receivedAt: t0,
      bids,
      asks,
    });
  }
  const ROUNDS = 200;
  for (let r = 1; r <= 20; r++) snapOp.tick(t0 + r * 100_000); // warm-up
  const rowsBefore = rows;
  const s0 = performance.now();
  for (let r = 21; r < 21 + ROUNDS; r++) snapOp.tick(t0 + r * 100_000);
  const snapMs = performance.now() - s0;
  const perSnapshotUs = (snapMs * 1000) / (ROUNDS * SYMBOLS);
  const rowsPerRound = (rows - rowsBefore) / ROUNDS;
  // 1000 symbols × 10 snapshots/s = 10,000 snapshots/s.
  const snapCpu = (perSnapshotUs * 10_000) / 1e6;
  const diffCpu = (1000 * 10) / perSec;
  return {
    'steady state: diffs/s (5 levels each, 1000-level books, delta rows on)': Math.round(perSec),
    'top-20 snapshot: µs per symbol (40 rows)': Number(perSnapshotUs.toFixed(2)),
    'top-20 snapshot: rows per 100 ms round, 1000 symbols': rowsPerRound,
    'CPU share of one core: 100 ms top-20 snapshots, 1000 symbols': `${(snapCpu * 100).toFixed(1)} %`,
    'CPU share of one core: diffs at 1000 symbols × 10 updates/s': `${(diffCpu * 100).toFixed(2)} %`,
  };
}

export async function run(): Promise<Record<string, number | string>> {
  return {
    ...measureReplay('binance', 'binance-spot', 200),
    ...measureReplay('binance-usdm', 'binance-usdm', 100),
    ...steadyState(),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await run();
  for (const [k, v] of Object.entries(figures)) console.log(`${k}: ${v}`);
}
