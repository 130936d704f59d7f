import { describe, expect, it } from 'vitest';
import { Registry } from '@cryptoflow/metrics';
import type { Exchange } from '@cryptoflow/model';
import type { BookKey, BookRow, DepthEvent, DepthSnapshot } from '../../src/book/index.js';
import { BookOperator, OrderBook, bookKey, createBookMetrics, depthEventFromPayload, resolveBookConfig } from '../../src/book/index.js';

const T0 = 1_700_000_000_000_000;

function ev(exchange: Exchange, symbol: string, U: number, u: number, pu: number | null, bids: number[], asks: number[], t = T0): DepthEvent {
  return { exchange, symbol, exchangeTs: t, ingestTs: t, firstUpdateId: U, lastUpdateId: u, prevUpdateId: pu, bids, asks };
}

function snap(L: number, bids: number[], asks: number[], t = T0): DepthSnapshot {
  return { lastUpdateId: L, exchangeTs: null, receivedAt: t, bids, asks };
}

function harness(config = {}) {
  const rows: BookRow[] = [];
  const requested: BookKey[] = [];
  const registry = new Registry();
  const op = new BookOperator({
    config,
    emit: (r) => rows.push(r),
    requestSnapshot: (k) => requested.push(k),
    metrics: createBookMetrics(registry, { stream: 'spot-delta', shard: '3' }),
  });
  return { rows, requested, op, registry };
}

describe('OrderBook', () => {
  it('keeps levels sorted best-first with exact price identity and removes on qty 0', () => {
    const b = new OrderBook(10);
    b.applyLevels([1.1, 1, 1.3, 2, 1.2, 3], [1.5, 1, 1.4, 2, 1.6, 3]);
    expect([0, 1, 2].map((i) => b.bids.priceAt(i))).toEqual([1.3, 1.2, 1.1]);
    expect([0, 1, 2].map((i) => b.asks.priceAt(i))).toEqual([1.4, 1.5, 1.6]);
    b.applyLevels([1.2, 0, 1.3, 7], [1.4, 0]);
    expect(b.bids.size).toBe(2);
    expect(b.bids.qtyOf(1.3)).toBe(7);
    expect(b.bestAsk()).toBe(1.5);
    expect(b.bids.priceAt(5)).toBeNaN();
    expect(b.isCrossed()).toBe(false);
    b.applyLevels([1.5, 1], []);
    expect(b.isCrossed()).toBe(true);
  });

  it('evicts from the far side at the depth cap and refuses levels beyond it', () => {
    const b = new OrderBook(3);
    b.applyLevels([10, 1, 9, 1, 8, 1], [11, 1, 12, 1, 13, 1]);
    b.applyLevels([9.5, 1, 7, 1], [14, 1, 11.5, 1]);
    expect([0, 1, 2].map((i) => b.bids.priceAt(i))).toEqual([10, 9.5, 9]);
    expect([0, 1, 2].map((i) => b.asks.priceAt(i))).toEqual([11, 11.5, 12]);
    expect(b.bids.size).toBe(3);
    expect(b.bids.evicted + b.asks.evicted).toBe(4);
  });

  it('matches a naive sorted map over many random updates', () => {
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const b = new OrderBook(5000);
    const ref = new Map<number, number>();
    for (let i = 0; i < 20_000; i++) {
      const p = Math.round(rnd() * 3000) / 100;
      const q = rnd() < 0.3 ? 0 : Math.round(rnd() * 100);
      b.bids.set(p, q);
      if (q === 0) ref.delete(p);
      else ref.set(p, q);
    }
    const sorted = [...ref.entries()].sort((x, y) => y[0] - x[0]);
    expect(b.bids.size).toBe(sorted.length);
    expect(sorted.map((_, i) => [b.bids.priceAt(i), b.bids.qtyAt(i)])).toEqual(sorted);
  });
});

describe('BookOperator', () => {
  it('a crossed book resyncs that key (reason crossed) and emits nothing until the new snapshot', async () => {
    const { rows, requested, op, registry } = harness();
    const key = bookKey('binance', 'AAA');
    op.onEvent(ev('binance', 'AAA', 101, 101, null, [10, 1], []));
    op.onSnapshot(key, snap(100, [10, 1, 9, 1], [11, 1, 12, 1]));
    expect(op.stateOf(key)).toBe('live');
    // bid at 11.5 crosses the ask at 11
    op.onEvent(ev('binance', 'AAA', 102, 102, null, [11.5, 1], [], T0 + 50_000));
    expect(op.stateOf(key)).toBe('resyncing');
    expect(op.counters.resyncs.crossed).toBe(1);
    expect(requested).toEqual([key, key]);
    const before = rows.length;
    op.onEvent(ev('binance', 'AAA', 103, 103, null, [9, 2], [], T0 + 500_000));
    op.tick(T0 + 2_000_000);
    expect(rows.length).toBe(before);
    op.onSnapshot(key, snap(103, [10, 1, 9, 2], [11, 1], T0 + 600_000));
    op.onEvent(ev('binance', 'AAA', 104, 104, null, [], [11, 3], T0 + 700_000));
    expect(op.stateOf(key)).toBe('live');
    expect(op.book(key)!.asks.qtyOf(11)).toBe(3);
    const text = await registry.metrics();
    expect(text).toContain('book_resyncs_total{exchange="binance",stream="spot-delta",shard="3",reason="crossed"} 1');
    expect(text).toContain('book_keys{stream="spot-delta",shard="3",state="live"} 1');
  });

  it('a gap on one key pauses only that key; others keep flowing', () => {
    const { rows, op } = harness();
    const a = bookKey('binance-usdm', 'AAA');
    const b = bookKey('binance-usdm', 'BBB');
    op.onEvent(ev('binance-usdm', 'AAA', 10, 20, 5, [1, 1], [2, 1]));
    op.onEvent(ev('binance-usdm', 'BBB', 12, 22, 7, [1, 1], [2, 1]));
    op.onSnapshot(a, snap(20, [1, 1], [2, 1]));
    op.onSnapshot(b, snap(22, [1, 1], [2, 1]));
    expect([op.stateOf(a), op.stateOf(b)]).toEqual(['live', 'live']);
    op.onEvent(ev('binance-usdm', 'AAA', 30, 40, 25, [1, 2], [])); // pu 25 != 20: gap
    op.onEvent(ev('binance-usdm', 'BBB', 30, 41, 22, [1, 3], []));
    expect([op.stateOf(a), op.stateOf(b)]).toEqual(['resyncing', 'live']);
    expect(op.counters.gaps).toBe(1);
    const bRows = rows.filter((r) => r.symbol === 'BBB' && 'is_snapshot' in r && !r.is_snapshot);
    expect(bRows.map((r) => ('qty' in r ? r.qty : null))).toEqual([1, 1, 3]);
  });

  it('drops duplicates silently and counts them; a late diff counts as out-of-order', () => {
    const { op } = harness();
    const k = bookKey('binance', 'AAA');
    op.onEvent(ev('binance', 'AAA', 1, 5, null, [1, 1], [2, 1]));
    op.onSnapshot(k, snap(3, [1, 1], [2, 1]));
    op.onEvent(ev('binance', 'AAA', 6, 8, null, [1, 2], []));
    op.onEvent(ev('binance', 'AAA', 6, 8, null, [1, 2], []));
    op.onEvent(ev('binance', 'AAA', 4, 4, null, [1, 9], []));
    op.onEvent(ev('binance', 'AAA', 9, 9, null, [1, 4], []));
    expect(op.stateOf(k)).toBe('live');
    expect(op.counters.duplicates).toBe(1);
    expect(op.counters.outOfOrder).toBe(1);
    expect(op.book(k)!.bids.qtyOf(1)).toBe(4);
  });

  it('re-requests a snapshot that is older than the buffered stream', () => {
    const { requested, op } = harness();
    const k = bookKey('binance', 'AAA');
    op.onEvent(ev('binance', 'AAA', 50, 60, null, [1, 1], []));
    op.onSnapshot(k, snap(40, [1, 1], [2, 1])); // 41 < U=50: diffs 41..49 are gone
    expect(op.stateOf(k)).toBe('syncing');
    expect(op.counters.resyncs.stale_snapshot).toBe(1);
    expect(requested).toEqual([k, k]);
    op.onSnapshot(k, snap(55, [1, 1], [2, 1]));
    expect(op.stateOf(k)).toBe('live');
    expect(op.book(k)!.updateId).toBe(60);
  });

  it('bounds the buffer: drops the oldest diffs, counts the overflow, still syncs on a newer snapshot', () => {
    const { op } = harness({ maxBufferedEvents: 3 });
    const k = bookKey('binance', 'AAA');
    for (let i = 1; i <= 10; i++) op.onEvent(ev('binance', 'AAA', i, i, null, [1, i], []));
    expect(op.sequencer.bufferedOf(k)).toBe(3);
    expect(op.counters.bufferOverflows).toBe(7);
    expect(op.counters.resyncs.buffer_overflow).toBe(1);
    op.onSnapshot(k, snap(8, [1, 8], [2, 1]));
    expect(op.stateOf(k)).toBe('live');
    expect(op.book(k)!.bids.qtyOf(1)).toBe(10);
  });

  it('emits snapshot rows first (is_snapshot, first=last=lastUpdateId), then one row per changed level', () => {
    const { rows, op } = harness();
    const k = bookKey('binance-usdm', 'AAA');
    op.onEvent(ev('binance-usdm', 'AAA', 95, 105, 90, [1, 2], [3, 0]));
    op.onSnapshot(k, { lastUpdateId: 100, exchangeTs: T0 - 5, receivedAt: T0 + 1, bids: [1, 1], asks: [3, 1, 4, 1] });
    expect(rows.map((r) => ('is_snapshot' in r ? [r.side, r.price, r.qty, r.first_update_id, r.last_update_id, r.prev_update_id, r.is_snapshot] : null))).toEqual([
      ['bid', 1, 1, 100, 100, null, true],
      ['ask', 3, 1, 100, 100, null, true],
      ['ask', 4, 1, 100, 100, null, true],
      ['bid', 1, 2, 95, 105, 90, false],
      ['ask', 3, 0, 95, 105, 90, false],
    ]);
    expect(rows[0]!.table).toBe('futures_delta');
    expect(rows[0]!.exchange_ts).toBe(T0 - 5);
  });

  it('tick emits top and full snapshots for idle live books on the grid', () => {
    const { rows, op } = harness({ topN: 1, snapshotIntervalMs: 100, checkpointIntervalMs: 1000 });
    const k = bookKey('binance', 'AAA');
    op.onEvent(ev('binance', 'AAA', 11, 11, null, [], []));
    op.onSnapshot(k, snap(10, [1, 1, 0.5, 1], [2, 1], T0 + 10));
    rows.length = 0;
    op.tick(T0 + 99_999);
    expect(rows).toHaveLength(0);
    op.tick(T0 + 1_000_050);
    const kinds = rows.map((r) => ('snapshot_kind' in r ? `${r.snapshot_kind}:${r.side}:${r.level}:${r.snapshot_ts - T0}` : ''));
    expect(kinds).toEqual(['top:bid:0:1000000', 'top:ask:0:1000000', 'full:bid:0:1000000', 'full:bid:1:1000000', 'full:ask:0:1000000']);
  });

  it('after a reconnect a live key emits nothing until its next diff; a continuing diff costs no snapshot', () => {
    const { op, rows, requested } = harness({ topN: 1, snapshotIntervalMs: 100, emitDeltas: false });
    const k = bookKey('binance', 'AAA');
    op.onEvent(ev('binance', 'AAA', 11, 11, null, [], []));
    op.onSnapshot(k, snap(10, [1, 1], [2, 1], T0 + 10));
    requested.length = 0;
    op.tick(T0 + 150_000);
    expect(rows).toHaveLength(2); // top bid + ask at the 100 ms boundary
    op.onReconnect([k]);
    expect(op.stateOf(k)).toBe('live');
    expect(op.sequencer.isSuspect(k)).toBe(true);
    op.tick(T0 + 250_000);
    op.tick(T0 + 350_000);
    expect(rows).toHaveLength(2); // a book that may be stale is not shown
    op.onEvent(ev('binance', 'AAA', 12, 12, null, [1, 3], [], T0 + 420_000));
    expect(op.sequencer.isSuspect(k)).toBe(false);
    expect(requested).toEqual([]);
    expect(op.counters.gaps).toBe(0);
    expect(Object.values(op.counters.resyncs).every((n) => n === 0)).toBe(true);
    // The diff proved the book held: the boundary before it shows the book as it was, then it resumes.
    const after = rows.slice(2).map((r) => ('snapshot_kind' in r ? [r.snapshot_ts - T0, r.side, r.qty, r.update_id] : null));
    expect(after).toEqual([
      [400_000, 'bid', 1, 11],
      [400_000, 'ask', 1, 11],
    ]);
    op.tick(T0 + 510_000);
    expect(rows.slice(4).map((r) => ('snapshot_kind' in r ? [r.side, r.qty, r.update_id] : null))).toEqual([
      ['bid', 3, 12],
      ['ask', 1, 12],
    ]);
  });

  it('after a reconnect a diff that breaks the chain resyncs with reason reconnect', () => {
    const { op, requested } = harness();
    const k = bookKey('binance-usdm', 'AAA');
    op.onEvent(ev('binance-usdm', 'AAA', 9, 12, 8, [], []));
    op.onSnapshot(k, snap(10, [1, 1], [2, 1]));
    requested.length = 0;
    op.onReconnect();
    op.onEvent(ev('binance-usdm', 'AAA', 12, 12, 12, [], [])); // duplicate: still suspect
    expect(op.counters.duplicates).toBe(1);
    expect(op.sequencer.isSuspect(k)).toBe(true);
    op.onEvent(ev('binance-usdm', 'AAA', 20, 25, 19, [1, 2], []));
    expect(op.stateOf(k)).toBe('resyncing');
    expect(op.counters.gaps).toBe(1);
    expect(op.counters.resyncs.reconnect).toBe(1);
    expect(op.counters.resyncs.gap).toBe(0);
    expect(requested).toEqual([k]);
    expect(op.book(k)).toBeUndefined();
  });

  it('config errors name the key', () => {
    expect(() => resolveBookConfig({ topN: 0, depthCap: 1.5 })).toThrow(/book\.depth_cap.*book\.top_n/);
  });
});

describe('depthEventFromPayload', () => {
  it('rejects a bad level with the frame preview', () => {
    expect(() => depthEventFromPayload('binance', { s: 'X', E: 1, U: 1, u: 2, b: [['abc', '1']], a: [] }, 0)).toThrow(/b\[0\]: bad level/);
    expect(() => depthEventFromPayload('binance-usdm', { s: 'X', E: 1, U: 1, u: 2, b: [], a: [] }, 0)).toThrow(/pu/);
  });
});
