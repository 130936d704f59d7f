/**
 * Property: whatever the transport does to the diff stream (drops → gaps, duplicates, adjacent
 * swaps) and however stale the REST snapshots are, every book the operator emits — each top/full
 * snapshot and the book implied by the delta rows after each diff — equals the book of the
 * unbroken stream at the same update id; otherwise the key is not live and emits nothing.
 * Once the stream is clean again the key heals by itself.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Exchange } from '@cryptoflow/model';
import type { BookCounters, BookRow, DepthEvent, DepthSnapshot } from '../../src/book/index.js';
import { BookOperator, bookKey } from '../../src/book/index.js';
import { RefBook } from './reference.js';

/** `reconnect`: the connection drops and this diff is lost with it; `blip`: it drops and nothing is lost. */
type Fault = 'ok' | 'drop' | 'dup' | 'swap' | 'reconnect' | 'blip';

interface Scenario {
  readonly exchange: Exchange;
  readonly diffs: { gapBefore: number; span: number; bids: [number, number][]; asks: [number, number][] }[];
  readonly faults: Fault[];
  readonly snapshots: { delay: number; lag: number }[];
}

const level = (lo: number): fc.Arbitrary<[number, number]> =>
  fc.tuple(fc.integer({ min: lo, max: lo + 9 }), fc.integer({ min: 0, max: 3 })) as fc.Arbitrary<[number, number]>;

const scenario = (exchange: Exchange): fc.Arbitrary<Scenario> =>
  fc.integer({ min: 20, max: 70 }).chain((n) =>
    fc.record({
      exchange: fc.constant(exchange),
      diffs: fc.array(
        fc.record({
          // USD-M ids are global across symbols: a symbol's diffs skip ids. Spot ids are contiguous.
          gapBefore: exchange === 'binance-usdm' ? fc.integer({ min: 0, max: 5 }) : fc.constant(0),
          span: fc.integer({ min: 0, max: 3 }),
          bids: fc.array(level(90), { maxLength: 4 }),
          asks: fc.array(level(101), { maxLength: 4 }),
        }),
        { minLength: n, maxLength: n },
      ),
      faults: fc.array(fc.constantFrom<Fault>('ok', 'ok', 'ok', 'drop', 'dup', 'swap', 'reconnect', 'blip'), { minLength: Math.floor(n / 2), maxLength: Math.floor(n / 2) }),
      snapshots: fc.array(fc.record({ delay: fc.integer({ min: 0, max: 8 }), lag: fc.integer({ min: 0, max: 8 }) }), { minLength: 12, maxLength: 12 }),
    }),
  );

function flat(levels: [number, number][]): number[] {
  return levels.flatMap(([p, q]) => [p, q]);
}

function runScenario(s: Scenario): { counters: BookCounters; bookRows: number; deltaRows: number } {
  const symbol = 'TESTUSDT';
  const key = bookKey(s.exchange, symbol);
  const L0 = 1000;
  // The unbroken stream and the truth after each diff.
  const events: DepthEvent[] = [];
  const truth = new Map<number, RefBook>();
  const initial = new RefBook();
  initial.applyFlat([95, 5, 94, 5], [105, 5, 106, 5]);
  truth.set(L0, initial);
  let prevU = L0;
  let book = initial;
  s.diffs.forEach((d, i) => {
    const U = prevU + 1 + d.gapBefore;
    const u = U + d.span;
    const e: DepthEvent = {
      exchange: s.exchange,
      symbol,
      exchangeTs: 1_700_000_000_000_000 + i * 37_000,
      ingestTs: 1_700_000_000_000_000 + i * 37_000 + 500,
      firstUpdateId: U,
      lastUpdateId: u,
      prevUpdateId: s.exchange === 'binance-usdm' ? prevU : null,
      bids: flat(d.bids),
      asks: flat(d.asks),
    };
    events.push(e);
    const next = new RefBook();
    for (const [p, q] of book.bids) next.bids.set(p, q);
    for (const [p, q] of book.asks) next.asks.set(p, q);
    next.applyFlat(e.bids, e.asks);
    truth.set(u, next);
    book = next;
    prevU = u;
  });
  const idOfIndex = (i: number): number => (i < 0 ? L0 : events[i]!.lastUpdateId);
  const snapshotAt = (i: number, receivedAt: number): DepthSnapshot => {
    const t = truth.get(idOfIndex(i))!;
    return {
      lastUpdateId: idOfIndex(i),
      exchangeTs: null,
      receivedAt,
      bids: [...t.bids].flatMap(([p, q]) => [p, q]),
      asks: [...t.asks].flatMap(([p, q]) => [p, q]),
    };
  };

  // Delivery order: faults in the first half, clean second half.
  const order: number[] = [];
  /** Delivery positions before which the connection dropped. */
  const reconnectAt = new Set<number>();
  for (let i = 0; i < events.length; i++) {
    const f = s.faults[i] ?? 'ok';
    if (f === 'reconnect' || f === 'blip') reconnectAt.add(order.length);
    if (f === 'drop' || f === 'reconnect') continue;
    if (f === 'swap' && i + 1 < Math.floor(events.length / 2)) {
      order.push(i + 1, i);
      i++;
      continue;
    }
    order.push(i);
    if (f === 'dup') order.push(i);
  }

  const rows: BookRow[] = [];
  const requests: { dueAt: number; lag: number }[] = [];
  let requestCount = 0;
  let cursor = 0;
  const op = new BookOperator({
    config: { topN: 5, snapshotIntervalMs: 100, checkpointIntervalMs: 300, maxBufferedEvents: 6 },
    emit: (row) => {
      expect(op.stateOf(key)).toBe('live');
      // Nothing is shown between a reconnect and the diff that proves the book held.
      expect(op.sequencer.isSuspect(key)).toBe(false);
      rows.push(row);
    },
    requestSnapshot: (k) => {
      expect(k).toBe(key);
      const clean = order[cursor] !== undefined && order[cursor]! >= Math.floor(events.length / 2);
      const spec = s.snapshots[requestCount++ % s.snapshots.length]!;
      requests.push(clean ? { dueAt: cursor + 1, lag: 0 } : { dueAt: cursor + 1 + spec.delay, lag: spec.lag });
    },
  });

  let venuePos = -1;
  for (cursor = 0; cursor < order.length; cursor++) {
    const idx = order[cursor]!;
    for (let r = 0; r < requests.length; r++) {
      const req = requests[r]!;
      if (req.dueAt <= cursor) {
        requests.splice(r--, 1);
        op.onSnapshot(key, snapshotAt(Math.max(-1, venuePos - req.lag), events[idx]!.ingestTs - 1));
      }
    }
    venuePos = Math.max(venuePos, idx);
    if (reconnectAt.has(cursor)) op.onReconnect([key]);
    op.tick(events[idx]!.ingestTs - 1); // the runtime's idle-book timer, between frames
    op.onEvent(events[idx]!);
  }

  // Every emitted book equals the truth at its update id.
  const rebuilt = new RefBook();
  let snapL: number | null = null;
  let i = 0;
  while (i < rows.length) {
    const r = rows[i]!;
    if ('snapshot_kind' in r) {
      let j = i;
      while (j < rows.length && 'snapshot_kind' in rows[j]! && (rows[j] as typeof r).snapshot_ts === r.snapshot_ts && (rows[j] as typeof r).snapshot_kind === r.snapshot_kind) j++;
      const group = rows.slice(i, j) as (typeof r)[];
      const t = truth.get(r.update_id);
      expect(t, `snapshot update id ${r.update_id} is on the stream`).toBeDefined();
      const n = r.snapshot_kind === 'top' ? 5 : 2000;
      expect(group.filter((g) => g.side === 'bid').map((g) => [g.price, g.qty])).toEqual(t!.top('bid', n));
      expect(group.filter((g) => g.side === 'ask').map((g) => [g.price, g.qty])).toEqual(t!.top('ask', n));
      i = j;
      continue;
    }
    // A delta group: all rows with the same (last_update_id, is_snapshot), applied then compared.
    const id = r.last_update_id;
    const isSnap = r.is_snapshot;
    if (isSnap && snapL !== id) rebuilt.clear();
    snapL = isSnap ? id : null;
    let j = i;
    while (j < rows.length && !('snapshot_kind' in rows[j]!)) {
      const d = rows[j] as typeof r;
      if (d.last_update_id !== id || d.is_snapshot !== isSnap) break;
      rebuilt.set(d.side, d.price, d.qty);
      j++;
    }
    const t = truth.get(id)!;
    expect(t, `delta update id ${id} is on the stream`).toBeDefined();
    if (!isSnap || j >= rows.length || !('is_snapshot' in rows[j]!) || (rows[j] as typeof r).last_update_id !== id) {
      expect(rebuilt.top('bid', 1000)).toEqual(t.top('bid', 1000));
      expect(rebuilt.top('ask', 1000)).toEqual(t.top('ask', 1000));
    }
    i = j;
  }

  // The clean second half heals the key (it needs two clean diffs after the last request).
  const tail = events.length - Math.floor(events.length / 2);
  if (tail >= 3) {
    expect(op.stateOf(key)).toBe('live');
    expect(op.book(key)!.updateId).toBe(events[events.length - 1]!.lastUpdateId);
  }
  const bookRows = rows.filter((r) => 'snapshot_kind' in r).length;
  return { counters: op.counters, bookRows, deltaRows: rows.length - bookRows };
}

describe.each(['binance', 'binance-usdm'] as const)('BookOperator under faults (%s)', (exchange) => {
  it('never emits a wrong book, and heals once the stream is clean', () => {
    const seen = { gaps: 0, duplicates: 0, outOfOrder: 0, stale: 0, overflow: 0, reconnectResyncs: 0, bookRows: 0, deltaRows: 0 };
    fc.assert(
      fc.property(scenario(exchange), (s) => {
        const r = runScenario(s);
        seen.gaps += r.counters.gaps;
        seen.duplicates += r.counters.duplicates;
        seen.outOfOrder += r.counters.outOfOrder;
        seen.stale += r.counters.resyncs.stale_snapshot;
        seen.overflow += r.counters.bufferOverflows;
        seen.reconnectResyncs += r.counters.resyncs.reconnect;
        seen.bookRows += r.bookRows;
        seen.deltaRows += r.deltaRows;
      }),
      { numRuns: 300, interruptAfterTimeLimit: 20_000 },
    );
    // The generated faults really exercised every path the property is about.
    for (const [k, v] of Object.entries(seen)) expect(v, k).toBeGreaterThan(0);
  });

  it('is not vacuous: faults do cause gaps, duplicates and stale-snapshot resyncs', () => {
    // A fixed scenario with one of each fault, checked through the counters.
    const diffs = Array.from({ length: 30 }, (_, i) => ({ gapBefore: 0, span: 1, bids: [[90 + (i % 10), 1]] as [number, number][], asks: [[101 + (i % 10), 1]] as [number, number][] }));
    const faults: Fault[] = ['ok', 'ok', 'ok', 'dup', 'ok', 'drop', 'ok', 'ok', 'swap', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok'];
    const r = runScenario({ exchange, diffs, faults, snapshots: [{ delay: 0, lag: 0 }, { delay: 1, lag: 6 }, { delay: 0, lag: 0 }] });
    expect(r.counters.duplicates).toBe(1);
    expect(r.counters.gaps).toBeGreaterThanOrEqual(1);
    expect(r.counters.resyncs.stale_snapshot).toBeGreaterThanOrEqual(1);
    expect(r.counters.snapshotsUsed).toBeGreaterThanOrEqual(2);
    expect(r.bookRows).toBeGreaterThan(0);
  });
});
