import type { CanonicalRow, TableSchema } from '@cryptoflow/model';
import type { PartitionKey } from '@cryptoflow/partitioner';

export type FlushReason = 'size' | 'age' | 'rows' | 'flush';

export interface FlushPolicy {
  /** Flush when the buffer's estimated encoded size reaches this (bytes). */
  readonly targetFileBytes: number;
  /** Flush when the buffer's oldest row has waited this long (ms). 0 disables age flushes. */
  readonly flushIntervalMs: number;
  /**
   * Replay mode: flush exactly every N rows per buffer and at close, nothing else — boundaries then depend
   * only on the input, so a replay reproduces the same files (same keys, same bytes). Size and age
   * triggers are off in this mode.
   */
  readonly flushEveryRows?: number | undefined;
}

/**
 * Estimates a row's encoded Parquet size: raw value bytes (8 per long/double/timestamp, 4 per int, one
 * bit per boolean, length + 4 per string) times a compression ratio learned per table from the files
 * actually written. It starts at 1 (raw size, so the first file comes out smaller than the target, never
 * larger) and follows an exponential average of observed ratios.
 */
export class RowSizeEstimator {
  private readonly fixedBytes: number;
  private readonly stringColumns: readonly string[];
  private ratioValue = 1;

  constructor(schema: TableSchema) {
    let fixed = 0;
    const strings: string[] = [];
    for (const c of schema.columns) {
      if (c.type === 'string') strings.push(c.name);
      else if (c.type === 'int') fixed += 4;
      else if (c.type === 'boolean') fixed += 0.125;
      else fixed += 8;
    }
    this.fixedBytes = fixed + strings.length * 4;
    this.stringColumns = strings;
  }

  rawSize(row: CanonicalRow): number {
    const r = row as unknown as Record<string, string | null>;
    let n = this.fixedBytes;
    for (let i = 0; i < this.stringColumns.length; i++) {
      const v = r[this.stringColumns[i] as string];
      if (v != null) n += v.length;
    }
    return n;
  }

  get ratio(): number {
    return this.ratioValue;
  }

  /** Learn from a written file: `encodedBytes` actual, `rawBytes` the estimate's raw sum. */
  observe(rawBytes: number, encodedBytes: number): void {
    if (rawBytes <= 0 || encodedBytes <= 0) return;
    const r = Math.min(2, encodedBytes / rawBytes);
    this.ratioValue = this.ratioValue === 1 ? r : this.ratioValue * 0.7 + r * 0.3;
  }
}

/**
 * Rows for one (table, hour, shard), in arrival order. Rows of one (exchange, symbol) arrive in order
 * (one normalize lane per symbol), so appending keeps per-symbol order inside the file.
 */
export class FileBuffer {
  readonly key: PartitionKey;
  private readonly estimator: RowSizeEstimator;
  private rowsValue: CanonicalRow[] = [];
  private rawBytesValue = 0;
  private openedAtMsValue = 0;

  constructor(key: PartitionKey, estimator: RowSizeEstimator) {
    this.key = key;
    this.estimator = estimator;
  }

  get length(): number {
    return this.rowsValue.length;
  }

  /** Sum of raw row sizes (what the estimator's ratio applies to). */
  get rawBytes(): number {
    return this.rawBytesValue;
  }

  /** When the oldest buffered row arrived (ms, the sink's clock). */
  get openedAtMs(): number {
    return this.openedAtMsValue;
  }

  estimatedBytes(): number {
    return this.rawBytesValue * this.estimator.ratio;
  }

  ageMs(nowMs: number): number {
    return this.rowsValue.length === 0 ? 0 : nowMs - this.openedAtMsValue;
  }

  append(row: CanonicalRow, nowMs: number): void {
    if (this.rowsValue.length === 0) this.openedAtMsValue = nowMs;
    this.rowsValue.push(row);
    this.rawBytesValue += this.estimator.rawSize(row);
  }

  /** Which trigger says this buffer should flush now, if any. Age is only looked at when `nowMs` is given. */
  due(policy: FlushPolicy, nowMs?: number): FlushReason | undefined {
    const n = this.rowsValue.length;
    if (n === 0) return undefined;
    if (policy.flushEveryRows !== undefined) return n >= policy.flushEveryRows ? 'rows' : undefined;
    if (this.estimatedBytes() >= policy.targetFileBytes) return 'size';
    if (nowMs !== undefined && policy.flushIntervalMs > 0 && nowMs - this.openedAtMsValue >= policy.flushIntervalMs) return 'age';
    return undefined;
  }

  /** Hands over the buffered rows and starts empty. */
  take(): { rows: CanonicalRow[]; rawBytes: number; openedAtMs: number } {
    const out = { rows: this.rowsValue, rawBytes: this.rawBytesValue, openedAtMs: this.openedAtMsValue };
    this.rowsValue = [];
    this.rawBytesValue = 0;
    this.openedAtMsValue = 0;
    return out;
  }
}
