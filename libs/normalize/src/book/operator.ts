/**
 * BookOperator: the sequencer and the book state wired together — what a collector's keyed worker
 * runs for the four book streams. Pure and synchronous: the REST fetch is the caller's
 * (`requestSnapshot` → SnapshotScheduler → `onSnapshot`), time comes from the events' `ingestTs`
 * and from `tick(now)`.
 */
import type { BookConfig, BookRow } from './book-state.js';
import { BookState, resolveBookConfig } from './book-state.js';
import type { BookCounters, BookMetricsSink } from './metrics.js';
import { noopBookMetrics } from './metrics.js';
import type { OrderBook } from './order-book.js';
import { BookSequencer } from './sequencer.js';
import type { BookKey, DepthEvent, DepthSnapshot, SyncState } from './types.js';

export interface BookOperatorOptions {
  readonly config?: Partial<BookConfig>;
  readonly emit: (row: BookRow) => void;
  readonly requestSnapshot: (key: BookKey) => void;
  readonly metrics?: BookMetricsSink;
}

export class BookOperator {
  readonly config: BookConfig;
  readonly sequencer: BookSequencer;
  readonly state: BookState;

  constructor(options: BookOperatorOptions) {
    this.config = resolveBookConfig(options.config);
    const metrics = options.metrics ?? noopBookMetrics;
    this.state = new BookState(this.config, options.emit, metrics);
    this.sequencer = new BookSequencer({
      target: this.state,
      requestSnapshot: options.requestSnapshot,
      maxBufferedEvents: this.config.maxBufferedEvents,
      metrics,
    });
  }

  onEvent(e: DepthEvent): void {
    this.sequencer.onEvent(e);
  }

  onSnapshot(key: BookKey, snapshot: DepthSnapshot): boolean {
    return this.sequencer.onSnapshot(key, snapshot);
  }

  onSnapshotFailed(key: BookKey): void {
    this.sequencer.onSnapshotFailed(key);
  }

  onReconnect(keys?: Iterable<BookKey>): void {
    this.sequencer.onReconnect(keys);
  }

  tick(nowMicros: number): void {
    this.state.tick(nowMicros);
  }

  stateOf(key: BookKey): SyncState | undefined {
    return this.sequencer.stateOf(key);
  }

  book(key: BookKey): OrderBook | undefined {
    return this.sequencer.stateOf(key) === 'live' ? this.state.book(key) : undefined;
  }

  get counters(): BookCounters {
    return this.sequencer.counters;
  }

  /** Per-key view for summaries (`npm start`): state, update id, best bid/ask. */
  summary(): { key: BookKey; state: SyncState; updateId: number | null; bestBid: number | null; bestAsk: number | null }[] {
    return this.sequencer.keyList().map((key) => {
      const b = this.book(key);
      return {
        key,
        state: this.sequencer.stateOf(key) ?? 'syncing',
        updateId: b ? b.updateId : null,
        bestBid: b && b.bids.size > 0 ? b.bestBid() : null,
        bestAsk: b && b.asks.size > 0 ? b.bestAsk() : null,
      };
    });
  }
}
