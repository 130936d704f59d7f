import type { CanonicalRow } from '@cryptoflow/model';
import type { RowConsumer } from './pipeline.js';

export interface TallySummary {
  readonly rows: number;
  /** table → `exchange:symbol` → rows */
  readonly byTable: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

/** Counts rows per table and symbol for summaries (`npm start`, the replayer). */
export class RowTally implements RowConsumer {
  private readonly counts = new Map<string, Map<string, number>>();
  private total = 0;

  write(row: CanonicalRow): void {
    let t = this.counts.get(row.table);
    if (!t) this.counts.set(row.table, (t = new Map()));
    const k = `${row.exchange}:${row.symbol}`;
    t.set(k, (t.get(k) ?? 0) + 1);
    this.total++;
  }

  summary(): TallySummary {
    const byTable: Record<string, Record<string, number>> = {};
    for (const [table, m] of [...this.counts].sort()) byTable[table] = Object.fromEntries([...m].sort());
    return { rows: this.total, byTable };
  }
}
