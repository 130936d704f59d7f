import { counter, gauge } from '@cryptoflow/metrics';
import type { Registry } from '@cryptoflow/metrics';
import type { Exchange } from '@cryptoflow/model';
import type { ResyncReason, SyncState } from './types.js';
import { RESYNC_REASONS } from './types.js';

/**
 * What the sequencer and book state report. Plain counters are always kept (tests and the
 * `npm start` summary read them); `createBookMetrics` also mirrors them into Prometheus with
 * label sets bound once per exchange, so the hot path does no label lookup.
 */
export interface BookMetricsSink {
  gap(exchange: Exchange): void;
  duplicate(exchange: Exchange): void;
  outOfOrder(exchange: Exchange): void;
  resync(exchange: Exchange, reason: ResyncReason): void;
  bufferOverflow(exchange: Exchange): void;
  snapshotUsed(exchange: Exchange): void;
  evicted(exchange: Exchange, levels: number): void;
  states(counts: Readonly<Record<SyncState, number>>): void;
}

export interface BookCounters {
  gaps: number;
  duplicates: number;
  outOfOrder: number;
  bufferOverflows: number;
  snapshotsUsed: number;
  evictedLevels: number;
  resyncs: Record<ResyncReason, number>;
}

export function emptyCounters(): BookCounters {
  return {
    gaps: 0,
    duplicates: 0,
    outOfOrder: 0,
    bufferOverflows: 0,
    snapshotsUsed: 0,
    evictedLevels: 0,
    resyncs: { gap: 0, crossed: 0, stale_snapshot: 0, buffer_overflow: 0, reconnect: 0 },
  };
}

export const noopBookMetrics: BookMetricsSink = {
  gap: () => {},
  duplicate: () => {},
  outOfOrder: () => {},
  resync: () => {},
  bufferOverflow: () => {},
  snapshotUsed: () => {},
  evicted: () => {},
  states: () => {},
};

export interface BookMetricLabels {
  readonly stream: string;
  readonly shard: string;
}

/** Prometheus metrics (names documented in src/book/README.md). */
export function createBookMetrics(registry: Registry, labels: BookMetricLabels): BookMetricsSink {
  const L = ['exchange', 'stream', 'shard'] as const;
  const gaps = counter(registry, 'seq_gaps_total', 'Sequence gaps detected in venue book diffs (each starts a resync).', L);
  const dups = counter(registry, 'seq_duplicates_total', 'Book diffs dropped because they were already applied.', L);
  const ooo = counter(registry, 'seq_out_of_order_total', 'Book diffs dropped because they arrived after a later diff was applied.', L);
  const resyncs = counter(registry, 'book_resyncs_total', 'Books rebuilt from a fresh REST snapshot, by reason.', [...L, 'reason']);
  const overflows = counter(registry, 'book_buffer_overflows_total', 'Diffs dropped (oldest first) because a syncing key buffered more than book.max_buffered_events.', L);
  const used = counter(registry, 'book_snapshots_used_total', 'REST depth snapshots a book was (re)built from.', L);
  const evicted = counter(registry, 'book_levels_evicted_total', 'Levels dropped or refused because of book.depth_cap.', L);
  const keys = gauge(registry, 'book_keys', 'Book keys (exchange|symbol) by sync state.', ['stream', 'shard', 'state']);
  const bound = new Map<string, ReturnType<typeof bind>>();
  function bind(exchange: Exchange) {
    const l = { exchange, stream: labels.stream, shard: labels.shard };
    const byReason = {} as Record<ResyncReason, { inc(v?: number): void }>;
    for (const r of RESYNC_REASONS) byReason[r] = resyncs.labels({ ...l, reason: r });
    return { gaps: gaps.labels(l), dups: dups.labels(l), ooo: ooo.labels(l), overflows: overflows.labels(l), used: used.labels(l), evicted: evicted.labels(l), byReason };
  }
  const get = (exchange: Exchange) => {
    let b = bound.get(exchange);
    if (!b) {
      b = bind(exchange);
      bound.set(exchange, b);
    }
    return b;
  };
  return {
    gap: (e) => get(e).gaps.inc(),
    duplicate: (e) => get(e).dups.inc(),
    outOfOrder: (e) => get(e).ooo.inc(),
    resync: (e, r) => get(e).byReason[r].inc(),
    bufferOverflow: (e) => get(e).overflows.inc(),
    snapshotUsed: (e) => get(e).used.inc(),
    evicted: (e, n) => get(e).evicted.inc(n),
    states: (c) => {
      for (const s of ['syncing', 'live', 'resyncing'] as const) keys.set({ stream: labels.stream, shard: labels.shard, state: s }, c[s]);
    },
  };
}
