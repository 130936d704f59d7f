/**
 * A deliberately naive reference book for tests: a Map per side, sorted on every read.
 * Obviously correct, obviously slow.
 */
import type { BookRow } from '../../src/book/index.js';

export class RefBook {
  readonly bids = new Map<number, number>();
  readonly asks = new Map<number, number>();
  updateId = -1;

  clear(): void {
    this.bids.clear();
    this.asks.clear();
  }

  set(side: 'bid' | 'ask', price: number, qty: number): void {
    const m = side === 'bid' ? this.bids : this.asks;
    if (qty === 0) m.delete(price);
    else m.set(price, qty);
  }

  applyFlat(bids: readonly number[], asks: readonly number[]): void {
    for (let i = 0; i < bids.length; i += 2) this.set('bid', bids[i]!, bids[i + 1]!);
    for (let i = 0; i < asks.length; i += 2) this.set('ask', asks[i]!, asks[i + 1]!);
  }

  top(side: 'bid' | 'ask', n: number): [number, number][] {
    const m = side === 'bid' ? this.bids : this.asks;
    return [...m.entries()].sort((a, b) => (side === 'bid' ? b[0] - a[0] : a[0] - b[0])).slice(0, n);
  }
}

export interface SnapshotCheck {
  symbol: string;
  kind: string;
  snapshotTs: number;
  updateId: number;
  refUpdateId: number;
  emitted: { bids: [number, number][]; asks: [number, number][] };
  reference: { bids: [number, number][]; asks: [number, number][] };
}

/**
 * Rebuild every symbol's book from the emitted delta rows alone (clear when a new snapshot starts,
 * apply rows in order) and, at each emitted book snapshot, record what the snapshot said next to
 * what the reference holds at that moment.
 */
export function checkSnapshotsAgainstDeltas(rows: readonly BookRow[]): SnapshotCheck[] {
  const books = new Map<string, RefBook>();
  const inSnapshot = new Map<string, number>();
  const checks: SnapshotCheck[] = [];
  let pending: { key: string; rows: BookRow[] } | null = null;
  const flush = (): void => {
    if (!pending) return;
    const r0 = pending.rows[0]!;
    if (!('snapshot_kind' in r0)) throw new Error('unreachable');
    const ref = books.get(r0.symbol) ?? new RefBook();
    const levels = (side: string): [number, number][] =>
      pending!.rows.filter((r) => r.side === side).map((r) => [r.price, r.qty] as [number, number]);
    const n = Math.max(levels('bid').length, levels('ask').length);
    checks.push({
      symbol: r0.symbol,
      kind: r0.snapshot_kind,
      snapshotTs: r0.snapshot_ts,
      updateId: r0.update_id,
      refUpdateId: ref.updateId,
      emitted: { bids: levels('bid'), asks: levels('ask') },
      reference: { bids: ref.top('bid', n), asks: ref.top('ask', n) },
    });
    pending = null;
  };
  for (const row of rows) {
    if ('snapshot_kind' in row) {
      const key = `${row.symbol}|${row.snapshot_kind}|${row.snapshot_ts}`;
      if (pending && pending.key !== key) flush();
      pending ??= { key, rows: [] };
      pending.rows.push(row);
      continue;
    }
    flush();
    let ref = books.get(row.symbol);
    if (!ref) {
      ref = new RefBook();
      books.set(row.symbol, ref);
    }
    if (row.is_snapshot) {
      if (inSnapshot.get(row.symbol) !== row.last_update_id) ref.clear();
      inSnapshot.set(row.symbol, row.last_update_id);
    } else {
      inSnapshot.delete(row.symbol);
    }
    ref.set(row.side, row.price, row.qty);
    ref.updateId = row.last_update_id;
  }
  flush();
  return checks;
}
