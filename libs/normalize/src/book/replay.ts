/**
 * Deterministic replay of recorded depth traffic through the BookOperator: the golden files and the
 * benchmarks use it. A record is either a WebSocket frame or a REST depth answer, each with its
 * local receive time; a snapshot is handed over only if the operator asked for that key before the
 * answer's receive time (as a live collector would see it).
 */
import type { Exchange } from '@cryptoflow/model';
import type { BookConfig, BookRow } from './book-state.js';
import { BookOperator } from './operator.js';
import { depthEventFromPayload, depthSnapshotFromBody } from './parse.js';
import type { BookKey, DepthEvent, DepthSnapshot } from './types.js';
import { bookKey } from './types.js';

/** One line of a fixture file in test/fixtures/books/*.jsonl. */
export interface BookFixtureRecord {
  /** `ws`: a frame as received; `rest`: a depth snapshot answer. */
  readonly kind: 'ws' | 'rest';
  /** Local receive time, µs. */
  readonly receivedAt: number;
  /** REST: the symbol the snapshot was requested for. */
  readonly symbol?: string;
  /** The frame text or REST body exactly as received. */
  readonly data: string;
}

export type ReplayItem =
  | { readonly kind: 'event'; readonly event: DepthEvent }
  | { readonly kind: 'snapshot'; readonly key: BookKey; readonly snapshot: DepthSnapshot };

/** Decode fixture records into replay items (combined-stream frames; non-depth frames skipped). */
export function decodeBookFixture(exchange: Exchange, records: readonly BookFixtureRecord[]): ReplayItem[] {
  const out: ReplayItem[] = [];
  for (const r of records) {
    if (r.kind === 'rest') {
      if (!r.symbol) throw new Error(`rest record at ${r.receivedAt} has no symbol`);
      out.push({ kind: 'snapshot', key: bookKey(exchange, r.symbol), snapshot: depthSnapshotFromBody(exchange, JSON.parse(r.data), r.receivedAt) });
      continue;
    }
    const frame = JSON.parse(r.data) as { data?: { e?: string } };
    if (frame.data?.e !== 'depthUpdate') continue;
    out.push({ kind: 'event', event: depthEventFromPayload(exchange, frame.data, r.receivedAt) });
  }
  return out;
}

export function parseFixtureJsonl(text: string): BookFixtureRecord[] {
  return text
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as BookFixtureRecord);
}

export interface ReplayResult {
  readonly rows: BookRow[];
  readonly operator: BookOperator;
  readonly requested: BookKey[];
}

/**
 * Run items through a fresh operator. `tickEveryMs` additionally calls `tick` on the receive clock
 * grid between items (as the live runtime's timer would), so idle symbols get snapshots too.
 */
export function replayBook(items: readonly ReplayItem[], config: Partial<BookConfig> = {}, tickEveryMs = 0): ReplayResult {
  const rows: BookRow[] = [];
  const requested: BookKey[] = [];
  const pending = new Set<BookKey>();
  const op = new BookOperator({
    config,
    emit: (row) => rows.push(row),
    requestSnapshot: (key) => {
      requested.push(key);
      pending.add(key);
    },
  });
  const tickUs = tickEveryMs * 1000;
  let nextTick = -1;
  for (const item of items) {
    const t = item.kind === 'event' ? item.event.ingestTs : item.snapshot.receivedAt;
    if (tickUs > 0) {
      if (nextTick < 0) nextTick = Math.floor(t / tickUs) * tickUs + tickUs;
      while (t >= nextTick) {
        op.tick(nextTick);
        nextTick += tickUs;
      }
    }
    if (item.kind === 'event') op.onEvent(item.event);
    else if (pending.delete(item.key)) op.onSnapshot(item.key, item.snapshot);
  }
  return { rows, operator: op, requested };
}
