/**
 * Book state operator: one OrderBook per key, fed only by the BookSequencer (so it never sees a
 * diff across a gap), and the rows it emits:
 *  - delta tables (spot_delta / futures_delta): the snapshot a sync starts from (`is_snapshot`),
 *    then one row per changed level of every applied diff, in order;
 *  - snapshot tables (spot_ob / futures_ob): the top N levels on the `snapshotIntervalMs` grid and
 *    every kept level on the `checkpointIntervalMs` grid of the receive clock (`ingest_ts`).
 */
import { bookTables } from '@cryptoflow/model';
import type { BookLevelRow, BookSide, DeltaRow, Exchange, SnapshotKind } from '@cryptoflow/model';
import type { BookMetricsSink } from './metrics.js';
import { noopBookMetrics } from './metrics.js';
import { OrderBook } from './order-book.js';
import type { SequencerTarget } from './sequencer.js';
import type { BookKey, DepthEvent, DepthSnapshot } from './types.js';

export interface BookConfig {
  /** `book.depth_cap`: levels kept per side. */
  readonly depthCap: number;
  /** `book.top_n`: levels per side in a `top` snapshot. */
  readonly topN: number;
  /** `book.snapshot_interval_ms`: grid of `top` snapshots. */
  readonly snapshotIntervalMs: number;
  /** `book.checkpoint_interval_ms`: grid of `full` snapshots. */
  readonly checkpointIntervalMs: number;
  /** `book.max_buffered_events`: diffs buffered per key while syncing. */
  readonly maxBufferedEvents: number;
  /** Emit delta-table rows (the `*-delta` streams). */
  readonly emitDeltas: boolean;
  /** Emit snapshot-table rows (the `*-ob` streams). */
  readonly emitSnapshots: boolean;
}

export const DEFAULT_BOOK_CONFIG: BookConfig = {
  depthCap: 2000,
  topN: 20,
  snapshotIntervalMs: 100,
  checkpointIntervalMs: 1000,
  maxBufferedEvents: 10_000,
  emitDeltas: true,
  emitSnapshots: true,
};

export function resolveBookConfig(partial: Partial<BookConfig> = {}): BookConfig {
  const c = { ...DEFAULT_BOOK_CONFIG, ...partial };
  const positive: [keyof BookConfig, string][] = [
    ['depthCap', 'book.depth_cap'],
    ['topN', 'book.top_n'],
    ['snapshotIntervalMs', 'book.snapshot_interval_ms'],
    ['checkpointIntervalMs', 'book.checkpoint_interval_ms'],
    ['maxBufferedEvents', 'book.max_buffered_events'],
  ];
  const errors: string[] = [];
  for (const [k, path] of positive) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) errors.push(`${path}: expected positive integer, got ${String(v)}`);
  }
  if (c.topN > c.depthCap) errors.push(`book.top_n: ${c.topN} exceeds book.depth_cap ${c.depthCap}`);
  if (errors.length > 0) throw new RangeError(errors.join('; '));
  return c;
}

export type BookRow = DeltaRow | BookLevelRow;

class KeyBook extends OrderBook {
  valid = false;
  /** Kept but not emitted: diffs may have been lost (reconnect) until the next applied diff proves otherwise. */
  suspended = false;
  nextTop = 0;
  nextFull = 0;
  evictedSeen = 0;
  /** The tables follow the market (spot or derivatives), asked once per book; an unknown market throws here. */
  readonly tables: ReturnType<typeof bookTables>;
  constructor(
    readonly exchange: Exchange,
    readonly symbol: string,
    depthCap: number,
  ) {
    super(depthCap);
    this.tables = bookTables(exchange);
  }
}

export class BookState implements SequencerTarget {
  private readonly books = new Map<BookKey, KeyBook>();
  private readonly topUs: number;
  private readonly fullUs: number;

  constructor(
    readonly config: BookConfig,
    private readonly emit: (row: BookRow) => void,
    private readonly metrics: BookMetricsSink = noopBookMetrics,
  ) {
    this.topUs = config.snapshotIntervalMs * 1000;
    this.fullUs = config.checkpointIntervalMs * 1000;
  }

  /** The live book of a key (undefined while it is not valid). Read-only use. */
  book(key: BookKey): OrderBook | undefined {
    const b = this.books.get(key);
    return b && b.valid ? b : undefined;
  }

  reset(key: BookKey, exchange: Exchange, symbol: string, snap: DepthSnapshot): void {
    let b = this.books.get(key);
    if (!b) {
      b = new KeyBook(exchange, symbol, this.config.depthCap);
      this.books.set(key, b);
    }
    b.clear();
    b.applyLevels(snap.bids, snap.asks);
    b.updateId = snap.lastUpdateId;
    b.exchangeTs = snap.exchangeTs ?? snap.receivedAt;
    b.ingestTs = snap.receivedAt;
    b.valid = true;
    b.suspended = false;
    b.nextTop = Math.floor(snap.receivedAt / this.topUs) * this.topUs + this.topUs;
    b.nextFull = Math.floor(snap.receivedAt / this.fullUs) * this.fullUs + this.fullUs;
    this.noteEvictions(b);
    if (this.config.emitDeltas) {
      const table = b.tables.delta;
      const L = snap.lastUpdateId;
      this.emitDeltaLevels(table, exchange, symbol, b.exchangeTs, snap.receivedAt, 'bid', snap.bids, L, L, null, true);
      this.emitDeltaLevels(table, exchange, symbol, b.exchangeTs, snap.receivedAt, 'ask', snap.asks, L, L, null, true);
    }
  }

  apply(key: BookKey, e: DepthEvent): boolean {
    const b = this.books.get(key);
    if (!b || !b.valid) return true;
    const t = e.ingestTs;
    // This diff continues the chain: nothing was lost while suspended, so the book held all along.
    b.suspended = false;
    // The grid snapshot at a boundary shows every diff received before it: take it before applying.
    if (t >= b.nextTop || t >= b.nextFull) this.emitDue(b, t);
    b.applyLevels(e.bids, e.asks);
    b.updateId = e.lastUpdateId;
    b.exchangeTs = e.exchangeTs;
    b.ingestTs = t;
    if (b.bids.evicted + b.asks.evicted !== b.evictedSeen) this.noteEvictions(b);
    if (this.config.emitDeltas) {
      const table = b.tables.delta;
      this.emitDeltaLevels(table, e.exchange, e.symbol, e.exchangeTs, t, 'bid', e.bids, e.firstUpdateId, e.lastUpdateId, e.prevUpdateId, false);
      this.emitDeltaLevels(table, e.exchange, e.symbol, e.exchangeTs, t, 'ask', e.asks, e.firstUpdateId, e.lastUpdateId, e.prevUpdateId, false);
    }
    return !b.isCrossed();
  }

  invalidate(key: BookKey): void {
    const b = this.books.get(key);
    if (b) {
      b.valid = false;
      b.suspended = false;
    }
  }

  suspend(key: BookKey): void {
    const b = this.books.get(key);
    if (b && b.valid) b.suspended = true;
  }

  /** Emit the grid snapshots that are due at `nowMicros` for every live book (idle symbols). */
  tick(nowMicros: number): void {
    for (const b of this.books.values()) {
      if (b.valid && !b.suspended && (nowMicros >= b.nextTop || nowMicros >= b.nextFull)) this.emitDue(b, nowMicros);
    }
  }

  private noteEvictions(b: KeyBook): void {
    const total = b.bids.evicted + b.asks.evicted;
    if (total !== b.evictedSeen) {
      this.metrics.evicted(b.exchange, total - b.evictedSeen);
      b.evictedSeen = total;
    }
  }

  private emitDue(b: KeyBook, t: number): void {
    if (t >= b.nextTop) {
      const ts = Math.floor(t / this.topUs) * this.topUs;
      b.nextTop = ts + this.topUs;
      if (this.config.emitSnapshots) this.emitBook(b, 'top', ts, this.config.topN);
    }
    if (t >= b.nextFull) {
      const ts = Math.floor(t / this.fullUs) * this.fullUs;
      b.nextFull = ts + this.fullUs;
      if (this.config.emitSnapshots) this.emitBook(b, 'full', ts, this.config.depthCap);
    }
  }

  private emitBook(b: KeyBook, kind: SnapshotKind, snapshotTs: number, levels: number): void {
    const table = b.tables.ob;
    const emit = this.emit;
    const nb = Math.min(levels, b.bids.size);
    for (let i = 0; i < nb; i++) {
      emit({
        table,
        exchange: b.exchange,
        symbol: b.symbol,
        exchange_ts: b.exchangeTs,
        ingest_ts: b.ingestTs,
        snapshot_ts: snapshotTs,
        update_id: b.updateId,
        snapshot_kind: kind,
        side: 'bid',
        level: i,
        price: b.bids.priceAt(i),
        qty: b.bids.qtyAt(i),
      } as BookLevelRow);
    }
    const na = Math.min(levels, b.asks.size);
    for (let i = 0; i < na; i++) {
      emit({
        table,
        exchange: b.exchange,
        symbol: b.symbol,
        exchange_ts: b.exchangeTs,
        ingest_ts: b.ingestTs,
        snapshot_ts: snapshotTs,
        update_id: b.updateId,
        snapshot_kind: kind,
        side: 'ask',
        level: i,
        price: b.asks.priceAt(i),
        qty: b.asks.qtyAt(i),
      } as BookLevelRow);
    }
  }

  private emitDeltaLevels(
    table: 'spot_delta' | 'futures_delta',
    exchange: Exchange,
    symbol: string,
    exchangeTs: number,
    ingestTs: number,
    side: BookSide,
    levels: readonly number[],
    first: number,
    last: number,
    prev: number | null,
    isSnapshot: boolean,
  ): void {
    const emit = this.emit;
    for (let i = 0; i + 1 < levels.length; i += 2) {
      emit({
        table,
        exchange,
        symbol,
        exchange_ts: exchangeTs,
        ingest_ts: ingestTs,
        side,
        price: levels[i]!,
        qty: levels[i + 1]!,
        first_update_id: first,
        last_update_id: last,
        prev_update_id: prev,
        is_snapshot: isSnapshot,
      } as DeltaRow);
    }
  }
}
