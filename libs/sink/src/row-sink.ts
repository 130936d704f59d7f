import { CfError, DEFAULT_BACKOFF, backoffDelayMs, isRetriable } from '@cryptoflow/core';
import type { BackoffPolicy } from '@cryptoflow/core';
import type { Logger } from '@cryptoflow/logger';
import { SIZE_BUCKETS_BYTES, counter, gauge, histogram } from '@cryptoflow/metrics';
import type { Counter, Gauge, Histogram, Registry } from '@cryptoflow/metrics';
import { TABLE_SCHEMAS } from '@cryptoflow/model';
import type { CanonicalRow, TableName } from '@cryptoflow/model';
import type { PartitionKey, Partitioner } from '@cryptoflow/partitioner';
import { FileBuffer, RowSizeEstimator } from './buffer.js';
import type { FlushPolicy, FlushReason } from './buffer.js';
import { loadKeyHasher, objectKey } from './keys.js';
import { ParquetEncoder } from './parquet.js';
import type { ParquetEncoderOptions } from './parquet.js';
import type { FileStore } from './store.js';

export const PARQUET_CONTENT_TYPE = 'application/vnd.apache.parquet';

/** One stored file, as handed to `onFileStored` (the ledger / commit hook) and returned by `flushAll`. */
export interface FlushedFile {
  readonly table: TableName;
  readonly hour: string;
  readonly shard: number;
  readonly key: string;
  readonly uri: string;
  readonly rows: number;
  readonly bytes: number;
  /** µs */
  readonly minExchangeTs: number;
  /** µs */
  readonly maxExchangeTs: number;
  /** base64 SHA-256 of the bytes */
  readonly checksumSha256: string;
  readonly schemaVersion: number;
}

export interface RowSinkOptions {
  readonly store: FileStore;
  readonly partitioner: Partitioner;
  /** Default 128 MiB. */
  readonly targetFileBytes?: number;
  /** Default 5000. 0 disables age flushes. */
  readonly flushIntervalMs?: number;
  /** Replay mode: count-only flush boundaries (see FlushPolicy). */
  readonly flushEveryRows?: number;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Constant labels on every sink metric, e.g. `{ stream: 'ticks' }`. */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Called after a file is durable in the store, before its rows are released. If it throws, the file
   * (same key, same bytes) is put again and the hook called again later: the hook must be idempotent
   * per key (the ledger's conditional put is).
   */
  readonly onFileStored?: (file: FlushedFile) => Promise<void>;
  /** Run `tick()` on an internal timer (default true). Tests drive `tick(now)` themselves. */
  readonly autoTick?: boolean;
  /** Clock in ms (default Date.now). */
  readonly now?: () => number;
  /** Files encoded/stored at once (default 2). Per partition key, files are always stored one at a time, in order. */
  readonly maxConcurrentFlushes?: number;
  /** Backoff between attempts of a failed file (default core DEFAULT_BACKOFF: 250 ms .. 30 s, full jitter). */
  readonly retryBackoff?: BackoffPolicy;
  /** Attempts `flushAll`/`close` make per file before rejecting (the file stays buffered and keeps retrying). Default 5. */
  readonly maxAttemptsPerFlush?: number;
  readonly encoder?: ParquetEncoderOptions;
}

interface TableState {
  readonly encoder: ParquetEncoder;
  readonly estimator: RowSizeEstimator;
  buffered: number;
  readonly bufferedGauge: Gauge.Internal<string>;
  readonly files: Counter.Internal;
  readonly rows: Counter.Internal;
  readonly size: Histogram.Internal<string>;
  readonly duration: Histogram.Internal<string>;
}

interface Waiter {
  readonly attemptsAtStart: number;
  readonly resolve: (f: FlushedFile) => void;
  readonly reject: (err: unknown) => void;
}

interface Batch {
  readonly key: PartitionKey;
  readonly rows: CanonicalRow[];
  readonly rawBytes: number;
  readonly reason: FlushReason;
  bytes: Uint8Array | undefined;
  objectKey: string | undefined;
  attempts: number;
  nextAttemptAtMs: number;
  waiters: Waiter[];
}

/**
 * Canonical rows → per-(table, hour, shard) buffers → Parquet files in a FileStore → `onFileStored`.
 *
 * `write` is synchronous and cheap (validate, route, append); encoding and storing run off the write path,
 * encoding in row-group slices between event-loop turns. Rows leave memory only after the store has the
 * file and the hook succeeded: a failed flush keeps them and retries (fast backoff for retriable errors,
 * the backoff ceiling otherwise), `healthy()` turns false until a flush succeeds again.
 */
export class RowSink {
  private readonly store: FileStore;
  private readonly partitioner: Partitioner;
  private readonly policy: FlushPolicy;
  private readonly logger: Logger;
  private readonly onFileStored: ((file: FlushedFile) => Promise<void>) | undefined;
  private readonly now: () => number;
  private readonly maxConcurrent: number;
  private readonly backoff: BackoffPolicy;
  private readonly maxAttemptsPerFlush: number;
  private readonly encoderOptions: ParquetEncoderOptions;
  private readonly labels: Readonly<Record<string, string>>;

  private readonly tables = new Map<TableName, TableState>();
  private readonly buffers = new Map<string, FileBuffer>();
  private readonly pending: Batch[] = [];
  private readonly inFlightKeys = new Set<string>();
  private inFlight = 0;
  private pumpScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryTimerAt = Number.POSITIVE_INFINITY;
  private tickTimer: NodeJS.Timeout | undefined;
  private lastFlushFailed = false;
  private closed = false;

  private readonly mFiles: Counter<string>;
  private readonly mRows: Counter<string>;
  private readonly mSize: Histogram<string>;
  private readonly mDuration: Histogram<string>;
  private readonly mBuffered: Gauge<string>;
  private readonly mFailures: Counter<string>;

  constructor(options: RowSinkOptions) {
    this.store = options.store;
    this.partitioner = options.partitioner;
    this.policy = {
      targetFileBytes: options.targetFileBytes ?? 128 * 1024 * 1024,
      flushIntervalMs: options.flushIntervalMs ?? 5000,
      flushEveryRows: options.flushEveryRows,
    };
    if (!(this.policy.targetFileBytes > 0)) {
      throw new CfError('CF_CONFIG_INVALID', `sink.target_file_bytes: expected positive number, got ${this.policy.targetFileBytes}`);
    }
    if (!(this.policy.flushIntervalMs >= 0)) {
      throw new CfError('CF_CONFIG_INVALID', `sink.flush_interval_ms: expected number >= 0, got ${this.policy.flushIntervalMs}`);
    }
    const every = this.policy.flushEveryRows;
    if (every !== undefined && !(Number.isInteger(every) && every > 0)) {
      throw new CfError('CF_CONFIG_INVALID', `sink.flush_every_rows: expected positive integer, got ${every}`);
    }
    this.logger = options.logger;
    this.onFileStored = options.onFileStored;
    this.now = options.now ?? Date.now;
    this.maxConcurrent = Math.max(1, options.maxConcurrentFlushes ?? 2);
    this.backoff = options.retryBackoff ?? DEFAULT_BACKOFF;
    this.maxAttemptsPerFlush = Math.max(1, options.maxAttemptsPerFlush ?? 5);
    this.encoderOptions = options.encoder ?? {};
    this.labels = options.labels ?? {};

    const extra = Object.keys(this.labels).sort();
    const reg = options.registry;
    this.mSize = histogram(reg, 'flush_size_bytes', 'Size of each Parquet file written by the sink.', ['table', ...extra], SIZE_BUCKETS_BYTES);
    this.mDuration = histogram(reg, 'flush_duration_seconds', 'Time to encode, store and record one file (successful flushes).', ['table', ...extra]);
    this.mFiles = counter(reg, 'files_written_total', 'Parquet files stored (and recorded by the hook).', ['table', ...extra]);
    this.mRows = counter(reg, 'rows_written_total', 'Rows in stored files.', ['table', ...extra]);
    this.mBuffered = gauge(reg, 'sink_buffered_rows', 'Rows held in memory: open buffers plus files not yet stored.', ['table', ...extra]);
    this.mFailures = counter(reg, 'sink_flush_failures_total', 'Failed file flush attempts (rows stay buffered and are retried).', ['table', 'stage', ...extra]);

    if (options.autoTick ?? true) {
      const every = Math.max(50, Math.min(1000, Math.floor((this.policy.flushIntervalMs || 4000) / 4)));
      this.tickTimer = setInterval(() => this.tick(), every);
      this.tickTimer.unref();
    }
  }

  /** Accepts one row. Throws CF_SCHEMA for a row that does not fit its table (nothing is buffered then). */
  write(row: CanonicalRow): void {
    if (this.closed) throw new CfError('CF_SINK_IO', 'write after close', { context: { table: row.table } });
    const t = this.table(row.table);
    t.encoder.validate(row);
    const key = this.partitioner.keyOf(row);
    let buf = this.buffers.get(key.id);
    if (buf === undefined) {
      buf = new FileBuffer(key, t.estimator);
      this.buffers.set(key.id, buf);
    }
    buf.append(row, buf.length === 0 ? this.now() : 0);
    t.buffered++;
    const reason = buf.due(this.policy);
    if (reason !== undefined) this.seal(buf, reason);
  }

  /** Age flushes and due retries; runs on the internal timer unless `autoTick: false`. */
  tick(nowMs: number = this.now()): void {
    for (const buf of this.buffers.values()) {
      const reason = buf.due(this.policy, nowMs);
      if (reason !== undefined) this.seal(buf, reason);
    }
    this.updateGauges();
    this.pump();
  }

  /**
   * Flushes every buffer now and waits for every file not yet stored (including earlier failed ones).
   * Resolves with the files stored by this call; rejects (CF_SINK_IO, cause = first failure) when a file
   * still fails after `maxAttemptsPerFlush` attempts — its rows stay buffered and keep being retried.
   */
  async flushAll(): Promise<FlushedFile[]> {
    for (const buf of [...this.buffers.values()]) if (buf.length > 0) this.seal(buf, 'flush');
    const nowMs = this.now();
    const waits: Promise<FlushedFile>[] = [];
    for (const b of this.pending) {
      b.nextAttemptAtMs = Math.min(b.nextAttemptAtMs, nowMs);
      waits.push(
        new Promise<FlushedFile>((resolve, reject) => b.waiters.push({ attemptsAtStart: b.attempts, resolve, reject })),
      );
    }
    this.updateGauges();
    this.pump();
    const settled = await Promise.allSettled(waits);
    const files: FlushedFile[] = [];
    const errors: unknown[] = [];
    for (const s of settled) {
      if (s.status === 'fulfilled') files.push(s.value);
      else errors.push(s.reason);
    }
    if (errors.length > 0) {
      throw new CfError('CF_SINK_IO', `${errors.length} of ${settled.length} files failed to flush; their rows stay buffered`, {
        retriable: errors.every(isRetriable),
        cause: errors[0],
        context: { failed: errors.length, total: settled.length, bufferedRows: this.bufferedRows() },
      });
    }
    return files;
  }

  /** Stops accepting rows and flushes everything. Rejects like `flushAll` if something could not be stored. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = undefined;
    await this.flushAll();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** False after a failed flush, until a flush succeeds. */
  healthy(): boolean {
    return !this.lastFlushFailed;
  }

  /** Rows in memory: open buffers plus sealed files not yet stored. */
  bufferedRows(): number {
    let n = 0;
    for (const t of this.tables.values()) n += t.buffered;
    return n;
  }

  /** Sealed files waiting to be (re)tried or in flight. */
  pendingFiles(): number {
    return this.pending.length;
  }

  private table(name: TableName): TableState {
    let t = this.tables.get(name);
    if (t === undefined) {
      const schema = TABLE_SCHEMAS[name];
      if (schema === undefined) throw new CfError('CF_SCHEMA', `unknown table ${String(name)}`, { context: { table: name } });
      const l = { ...this.labels, table: name };
      t = {
        encoder: new ParquetEncoder(schema, this.encoderOptions),
        estimator: new RowSizeEstimator(schema),
        buffered: 0,
        bufferedGauge: this.mBuffered.labels(l),
        files: this.mFiles.labels(l),
        rows: this.mRows.labels(l),
        size: this.mSize.labels(l),
        duration: this.mDuration.labels(l),
      };
      this.tables.set(name, t);
    }
    return t;
  }

  private seal(buf: FileBuffer, reason: FlushReason): void {
    this.buffers.delete(buf.key.id);
    const taken = buf.take();
    this.pending.push({
      key: buf.key,
      rows: taken.rows,
      rawBytes: taken.rawBytes,
      reason,
      bytes: undefined,
      objectKey: undefined,
      attempts: 0,
      nextAttemptAtMs: 0,
      waiters: [],
    });
    this.schedulePump();
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    const nowMs = this.now();
    let nextRetryAt = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.pending.length && this.inFlight < this.maxConcurrent; i++) {
      const b = this.pending[i] as Batch;
      if (this.inFlightKeys.has(b.key.id)) continue;
      // An earlier file of the same key still waiting blocks later ones: files of a key are stored in order.
      let blocked = false;
      for (let j = 0; j < i; j++) if ((this.pending[j] as Batch).key.id === b.key.id) blocked = true;
      if (blocked) continue;
      if (b.nextAttemptAtMs > nowMs) {
        nextRetryAt = Math.min(nextRetryAt, b.nextAttemptAtMs);
        continue;
      }
      this.inFlight++;
      this.inFlightKeys.add(b.key.id);
      void this.run(b);
    }
    this.armRetryTimer(nextRetryAt);
  }

  private armRetryTimer(at: number): void {
    if (at === Number.POSITIVE_INFINITY) return;
    if (this.retryTimer !== undefined && this.retryTimerAt <= at) return;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimerAt = at;
    // Kept referenced: a process must not exit while rows wait for a retry.
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.retryTimerAt = Number.POSITIVE_INFINITY;
      this.pump();
    }, Math.max(0, at - this.now()));
  }

  private async run(b: Batch): Promise<void> {
    const t = this.table(b.key.table);
    const schema = t.encoder.schema;
    const started = performance.now();
    let stage: 'encode' | 'store' | 'commit' = 'encode';
    try {
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < b.rows.length; i++) {
        const ts = (b.rows[i] as CanonicalRow).exchange_ts;
        if (ts < min) min = ts;
        if (ts > max) max = ts;
      }
      if (b.bytes === undefined || b.objectKey === undefined) {
        await loadKeyHasher();
        b.objectKey = objectKey(schema, b.key.hour, b.key.shard, b.rows);
        b.bytes = await t.encoder.encodeAsync(b.rows);
      }
      stage = 'store';
      const stored = await this.store.put({
        key: b.objectKey,
        bytes: b.bytes,
        contentType: PARQUET_CONTENT_TYPE,
        metadata: {
          table: schema.table,
          'schema-version': String(schema.schemaVersion),
          hour: b.key.hour,
          shard: String(b.key.shard),
          rows: String(b.rows.length),
          'min-exchange-ts': String(min),
          'max-exchange-ts': String(max),
        },
      });
      const file: FlushedFile = {
        table: schema.table,
        hour: b.key.hour,
        shard: b.key.shard,
        key: stored.key,
        uri: stored.uri,
        rows: b.rows.length,
        bytes: stored.bytes,
        minExchangeTs: min,
        maxExchangeTs: max,
        checksumSha256: stored.checksumSha256,
        schemaVersion: schema.schemaVersion,
      };
      stage = 'commit';
      if (this.onFileStored) await this.onFileStored(file);

      // Durable and recorded: release the rows.
      const idx = this.pending.indexOf(b);
      if (idx >= 0) this.pending.splice(idx, 1);
      t.buffered -= b.rows.length;
      t.estimator.observe(b.rawBytes, file.bytes);
      t.files.inc();
      t.rows.inc(file.rows);
      t.size.observe(file.bytes);
      t.duration.observe((performance.now() - started) / 1000);
      this.lastFlushFailed = false;
      this.logger.debug({ key: file.key, rows: file.rows, bytes: file.bytes, reason: b.reason, attempts: b.attempts + 1 }, 'file stored');
      for (const w of b.waiters) w.resolve(file);
      b.waiters = [];
    } catch (err) {
      b.attempts++;
      this.lastFlushFailed = true;
      this.mFailures.inc({ ...this.labels, table: schema.table, stage });
      const retriable = isRetriable(err);
      const delay = retriable ? backoffDelayMs(b.attempts - 1, this.backoff) : this.backoff.maxMs;
      b.nextAttemptAtMs = this.now() + delay;
      const log = { err, partition: b.key.id, key: b.objectKey, rows: b.rows.length, stage, attempts: b.attempts, retriable, retryInMs: delay };
      if (retriable) this.logger.warn(log, 'file flush failed; rows kept, retrying');
      else this.logger.error(log, 'file flush failed with a non-retriable error; rows kept, retrying slowly');
      this.settleFailure(b, err, retriable);
    } finally {
      this.inFlight--;
      this.inFlightKeys.delete(b.key.id);
      this.updateGauges();
      this.schedulePump();
    }
  }

  /** Rejects `flushAll` waiters that have used their attempts, and those queued behind this file's key. */
  private settleFailure(b: Batch, err: unknown, retriable: boolean): void {
    const keep: Waiter[] = [];
    let gaveUp = false;
    for (const w of b.waiters) {
      if (!retriable || b.attempts - w.attemptsAtStart >= this.maxAttemptsPerFlush) {
        w.reject(err);
        gaveUp = true;
      } else {
        keep.push(w);
      }
    }
    b.waiters = keep;
    if (!gaveUp) return;
    for (const later of this.pending) {
      if (later === b || later.key.id !== b.key.id || later.waiters.length === 0) continue;
      const blocked = new CfError('CF_SINK_IO', `not attempted: an earlier file of ${b.key.id} failed`, {
        retriable,
        cause: err,
        context: { partition: b.key.id },
      });
      for (const w of later.waiters) w.reject(blocked);
      later.waiters = [];
    }
  }

  private updateGauges(): void {
    for (const t of this.tables.values()) t.bufferedGauge.set(t.buffered);
  }
}
