/**
 * BookSequencer: per-key (exchange|symbol) continuity of venue depth diffs.
 *
 *   (first event) ──▶ syncing ──snapshot used──▶ live ──gap | crossed──▶ resyncing
 *                       ▲  │ stale snapshot: re-request     │  ▲           │
 *                       └──┘                      reconnect │  │ next diff └──snapshot used──▶ live
 *                                                           ▼  │ breaks the chain (reason reconnect)
 *                                                     live, suspect ──next diff continues──▶ live
 *
 * While not live a key buffers its diffs (bounded, oldest dropped first) and waits for a REST
 * snapshot it asked for through `requestSnapshot(key)`; the caller fetches it and hands it back with
 * `onSnapshot`. Only the key with the problem pauses; every other key keeps flowing. The target
 * (the book state) sees exactly: `reset` from a snapshot, then `apply` for each diff that continues
 * the chain, and `invalidate` whenever the chain breaks, so nothing built across a gap is emitted.
 */
import type { Exchange } from '@cryptoflow/model';
import type { BookCounters, BookMetricsSink } from './metrics.js';
import { emptyCounters, noopBookMetrics } from './metrics.js';
import type { SyncRules } from './sync-rules.js';
import { syncRules } from './sync-rules.js';
import type { BookKey, DepthEvent, DepthSnapshot, ResyncReason, SyncState } from './types.js';
import { bookKey } from './types.js';

export interface SequencerTarget {
  /** Rebuild the key's book from `snapshot`; it is about to be continued by `apply`. */
  reset(key: BookKey, exchange: Exchange, symbol: string, snapshot: DepthSnapshot): void;
  /** Apply a diff that continues the chain. Return false when the book is now crossed. */
  apply(key: BookKey, event: DepthEvent): boolean;
  /** The key's book is no longer valid; emit nothing for it until the next `reset`. */
  invalidate(key: BookKey): void;
  /**
   * Diffs may have been lost (the connection dropped): keep the book but emit nothing for it until the
   * next `apply` (a diff that continues the chain proves nothing was lost) or `invalidate`.
   */
  suspend(key: BookKey): void;
}

export interface BookSequencerOptions {
  readonly target: SequencerTarget;
  /** Ask for a fresh REST snapshot; the caller later calls onSnapshot / onSnapshotFailed. */
  readonly requestSnapshot: (key: BookKey) => void;
  /** `book.max_buffered_events`: diffs buffered per key while not live. */
  readonly maxBufferedEvents?: number;
  readonly metrics?: BookMetricsSink;
}

const RECENT = 8;

class KeyState {
  state: SyncState = 'syncing';
  lastU = -1;
  /** Diffs waiting for a snapshot: `buf[head..]`. */
  buf: DepthEvent[] = [];
  head = 0;
  snapshot: DepthSnapshot | null = null;
  inFlight = false;
  overflowed = false;
  /** Live, but the connection dropped since the last applied diff: unproven until the next one. */
  suspect = false;
  /** `u` of the last applied diffs, to tell a duplicate from a late (out-of-order) diff. */
  readonly recent = new Float64Array(RECENT).fill(-1);
  recentPos = 0;

  constructor(
    readonly key: BookKey,
    readonly exchange: Exchange,
    readonly symbol: string,
    readonly rules: SyncRules,
  ) {}

  get buffered(): number {
    return this.buf.length - this.head;
  }

  takeBuffer(): DepthEvent[] {
    const out = this.head === 0 ? this.buf : this.buf.slice(this.head);
    this.buf = [];
    this.head = 0;
    return out;
  }

  remember(u: number): void {
    this.recent[this.recentPos] = u;
    this.recentPos = (this.recentPos + 1) % RECENT;
  }

  seen(u: number): boolean {
    for (let i = 0; i < RECENT; i++) if (this.recent[i] === u) return true;
    return false;
  }
}

export class BookSequencer {
  private readonly keys = new Map<BookKey, KeyState>();
  private readonly target: SequencerTarget;
  private readonly requestSnapshot: (key: BookKey) => void;
  private readonly maxBuffered: number;
  private readonly metrics: BookMetricsSink;
  readonly counters: BookCounters = emptyCounters();
  private readonly stateCounts: Record<SyncState, number> = { syncing: 0, live: 0, resyncing: 0 };

  constructor(options: BookSequencerOptions) {
    this.target = options.target;
    this.requestSnapshot = options.requestSnapshot;
    this.maxBuffered = options.maxBufferedEvents ?? 10_000;
    if (!Number.isInteger(this.maxBuffered) || this.maxBuffered < 1) {
      throw new RangeError(`book.max_buffered_events: expected positive integer, got ${this.maxBuffered}`);
    }
    this.metrics = options.metrics ?? noopBookMetrics;
  }

  stateOf(key: BookKey): SyncState | undefined {
    return this.keys.get(key)?.state;
  }

  /** Number of keys in each state. */
  stateCountsSnapshot(): Readonly<Record<SyncState, number>> {
    return { ...this.stateCounts };
  }

  keyList(): BookKey[] {
    return [...this.keys.keys()];
  }

  /** Last applied update id of a live key, or undefined. */
  updateIdOf(key: BookKey): number | undefined {
    const st = this.keys.get(key);
    return st && st.state === 'live' ? st.lastU : undefined;
  }

  bufferedOf(key: BookKey): number {
    return this.keys.get(key)?.buffered ?? 0;
  }

  private keyState(exchange: Exchange, symbol: string, key: BookKey): KeyState {
    let st = this.keys.get(key);
    if (!st) {
      st = new KeyState(key, exchange, symbol, syncRules(exchange));
      this.keys.set(key, st);
      this.stateCounts.syncing++;
      this.metrics.states(this.stateCounts);
    }
    return st;
  }

  private setState(st: KeyState, next: SyncState): void {
    if (st.state === next) return;
    this.stateCounts[st.state]--;
    this.stateCounts[next]++;
    st.state = next;
    this.metrics.states(this.stateCounts);
  }

  private request(st: KeyState): void {
    if (st.inFlight) return;
    st.inFlight = true;
    this.requestSnapshot(st.key);
  }

  onEvent(e: DepthEvent): void {
    const key = bookKey(e.exchange, e.symbol);
    const st = this.keyState(e.exchange, e.symbol, key);
    if (st.state === 'live') {
      this.applyLive(st, e);
      return;
    }
    this.bufferEvent(st, e);
    if (st.snapshot) this.trySync(st);
    else this.request(st);
  }

  /**
   * A snapshot for `key` arrived. Used only while the key is not live (an unrequested snapshot for a
   * live key is ignored: the chain is intact). Returns whether it was taken.
   */
  onSnapshot(key: BookKey, snapshot: DepthSnapshot): boolean {
    const bar = key.indexOf('|');
    const st = this.keyState(key.slice(0, bar) as Exchange, key.slice(bar + 1), key);
    st.inFlight = false;
    if (st.state === 'live') return false;
    st.snapshot = snapshot;
    this.trySync(st);
    return true;
  }

  /** The snapshot fetch for `key` failed for good (after the scheduler's own retries): ask again. */
  onSnapshotFailed(key: BookKey): void {
    const st = this.keys.get(key);
    if (!st) return;
    st.inFlight = false;
    if (st.state !== 'live') this.request(st);
  }

  /**
   * The connection carrying these keys dropped: diffs may have been lost in between. Binance update
   * ids have no holes per symbol, so the next diff tells exactly: each live key keeps its book but
   * emits nothing (no grid snapshots of a book that may be stale) until its next diff; if that diff
   * continues the chain nothing was lost and the key carries on with no REST call (a reconnect of
   * hundreds of quiet symbols costs no snapshot weight); if not, it is a gap and the key resyncs with
   * reason `reconnect`. Keys already syncing keep their buffer (the new connection's diffs follow it).
   */
  onReconnect(keys: Iterable<BookKey> = this.keys.keys()): void {
    for (const key of keys) {
      const st = this.keys.get(key);
      if (st && st.state === 'live' && !st.suspect) {
        st.suspect = true;
        this.target.suspend(key);
      }
    }
  }

  /** Live keys waiting for their first diff since a reconnect. */
  isSuspect(key: BookKey): boolean {
    return this.keys.get(key)?.suspect === true;
  }

  /** Forget a key (unsubscribed). */
  remove(key: BookKey): void {
    const st = this.keys.get(key);
    if (!st) return;
    this.stateCounts[st.state]--;
    this.keys.delete(key);
    this.target.invalidate(key);
    this.metrics.states(this.stateCounts);
  }

  private bufferEvent(st: KeyState, e: DepthEvent): void {
    if (st.buffered >= this.maxBuffered) {
      // Drop the oldest: any snapshot taken from now on is newer than it anyway.
      st.head++;
      if (st.head > 1024 && st.head * 2 > st.buf.length) st.buf = st.buf.slice(st.head), (st.head = 0);
      this.counters.bufferOverflows++;
      this.metrics.bufferOverflow(st.exchange);
      if (!st.overflowed) {
        st.overflowed = true;
        this.countResync(st, 'buffer_overflow');
      }
    }
    st.buf.push(e);
  }

  private countResync(st: KeyState, reason: ResyncReason): void {
    this.counters.resyncs[reason]++;
    this.metrics.resync(st.exchange, reason);
  }

  private resync(st: KeyState, reason: ResyncReason): void {
    this.countResync(st, reason);
    this.setState(st, 'resyncing');
    st.suspect = false;
    st.snapshot = null;
    this.target.invalidate(st.key);
    this.request(st);
  }

  private applyLive(st: KeyState, e: DepthEvent): void {
    if (e.lastUpdateId <= st.lastU) {
      if (st.seen(e.lastUpdateId)) {
        this.counters.duplicates++;
        this.metrics.duplicate(st.exchange);
      } else {
        this.counters.outOfOrder++;
        this.metrics.outOfOrder(st.exchange);
      }
      return;
    }
    if (!st.rules.follows(e, st.lastU)) {
      this.counters.gaps++;
      this.metrics.gap(st.exchange);
      this.resync(st, st.suspect ? 'reconnect' : 'gap');
      this.bufferEvent(st, e);
      return;
    }
    this.applyContinuing(st, e);
  }

  private applyContinuing(st: KeyState, e: DepthEvent): void {
    st.suspect = false; // BookState.apply lifts its suspension too
    const ok = this.target.apply(st.key, e);
    st.lastU = e.lastUpdateId;
    st.remember(e.lastUpdateId);
    if (!ok) this.resync(st, 'crossed');
  }

  private trySync(st: KeyState): void {
    const snap = st.snapshot;
    if (!snap) return;
    const L = snap.lastUpdateId;
    const buf = st.buf;
    while (st.head < buf.length && st.rules.isStale(buf[st.head]!, L)) st.head++;
    if (st.head === buf.length) {
      st.buf = [];
      st.head = 0;
      return; // every buffered diff is in the snapshot: wait for the stream to reach it
    }
    const first = buf[st.head]!;
    if (!st.rules.isFirst(first, L)) {
      // The stream is already past the snapshot (diffs between are gone): it is too old.
      st.snapshot = null;
      this.countResync(st, 'stale_snapshot');
      this.request(st);
      return;
    }
    st.head++;
    const rest = st.takeBuffer();
    st.snapshot = null;
    st.overflowed = false;
    st.recent.fill(-1);
    this.setState(st, 'live');
    this.target.reset(st.key, st.exchange, st.symbol, snap);
    this.counters.snapshotsUsed++;
    this.metrics.snapshotUsed(st.exchange);
    st.lastU = L;
    this.applyContinuing(st, first);
    for (let i = 0; i < rest.length; i++) {
      const e = rest[i]!;
      if (st.state === 'live') this.applyLive(st, e);
      else this.bufferEvent(st, e);
    }
    if (st.state !== 'live' && st.buffered > 0) this.request(st);
  }
}
