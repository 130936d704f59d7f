import { join } from 'node:path';
import { BoundedChannel, jsonSpillCodec } from '@cryptoflow/channels';
import type { ChannelWatcher } from '@cryptoflow/channels';
import type { ChannelSettings } from '@cryptoflow/config';
import { CfError, framePreview } from '@cryptoflow/core';
import type { RawFrame } from '@cryptoflow/exchanges';
import { OnceLogger } from '@cryptoflow/logger';
import type { Logger } from '@cryptoflow/logger';
import { counter } from '@cryptoflow/metrics';
import type { Counter, Registry } from '@cryptoflow/metrics';
import type { CanonicalRow, Exchange, Stream } from '@cryptoflow/model';
import { ChannelOutlet } from './outlet.js';

/**
 * Turns raw frames of one (exchange, shard) into canonical rows. Built per stream (see processors.ts):
 * decoder + normalizer for trades/liquidations/funding, decoder + sequencer + book for the book streams.
 */
export interface FrameProcessor {
  /** Synchronous: decode, normalize, emit rows through the outlet given at construction. */
  process(frame: RawFrame): void;
  /** Called about every 100 ms with the receive clock (idle book snapshots, window closes). */
  tick?(nowMicros: number): void;
  /** End of input: emit what operators still hold and wait for in-flight work (snapshot fetches). */
  finish(): Promise<void>;
  /** Readiness detail for /ready (books synced...). */
  ready?(): { ok: boolean; detail?: unknown };
}

/** Where rows go after the row channel: the file sink, and optionally Kafka. */
export interface RowConsumer {
  write(row: CanonicalRow): void;
}

export interface ShardPipelineOptions {
  readonly app: string;
  readonly exchange: Exchange;
  readonly stream: Stream;
  readonly shard: number;
  readonly settings: ChannelSettings;
  readonly createProcessor: (emit: (row: CanonicalRow) => void) => FrameProcessor;
  readonly consumers: readonly RowConsumer[];
  /**
   * Drops rows this replica must not write (shard handover cut), counted; `'hold'` keeps a row (and every
   * row after it, so order holds) until the decision is known: `releaseHeld()` asks again. `'buffer'` keeps
   * it the same way but as a standby's copy: evicted oldest first (`evictHeldBefore`, or past the cap)
   * instead of pushing back on the socket.
   */
  readonly rowFilter?: (row: CanonicalRow) => boolean | 'hold' | 'buffer';
  readonly registry: Registry;
  readonly logger: Logger;
  readonly watcher?: ChannelWatcher;
  /** Tick the processor on the wall clock (live). Replays leave it off so output depends on the data alone. */
  readonly wallClockTicks?: boolean;
}

const RAW_BATCH = 256;
const ROW_BATCH = 2048;
/**
 * Rows held for one shard (a handover cut not yet acknowledged) past which the sink loop waits instead:
 * backpressure up to the socket, the channels' normal policy, rather than unbounded memory.
 */
const MAX_HELD_ROWS = 100_000;
const HELD_RECHECK_MS = 50;
/** A standby's buffer per shard: past this the oldest rows go (the window normally evicts them first). */
const MAX_BUFFERED_ROWS = 1_000_000;

/**
 * One (exchange, shard) lane: raw channel → processor → row channel → consumers. Every item of one
 * symbol passes through the same two FIFO channels and one processor, so per-symbol order holds.
 */
export class ShardPipeline {
  readonly raw: BoundedChannel<RawFrame>;
  readonly rows: BoundedChannel<CanonicalRow>;
  readonly processor: FrameProcessor;
  private readonly outlet: ChannelOutlet<CanonicalRow>;
  private decodeLoop: Promise<void> | undefined;
  private sinkLoop: Promise<void> | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private readonly rejected: Counter<'exchange' | 'stream' | 'shard' | 'reason'>;
  private readonly once: OnceLogger;
  private readonly labels: { exchange: string; stream: string; shard: string };
  /** Rows waiting for a handover decision, in arrival order. */
  private held: CanonicalRow[] = [];
  private heldHead = 0;
  rowsOut = 0;

  constructor(private readonly options: ShardPipelineOptions) {
    const { settings, exchange, stream, shard, app } = options;
    this.labels = { exchange, stream, shard: String(shard) };
    const channel = <T>(kind: 'raw' | 'rows', capacity: number): BoundedChannel<T> =>
      new BoundedChannel<T>({
        name: `${kind}.${exchange}.s${shard}`,
        capacity,
        policy: settings.policy,
        sampleEvery: settings.sample_every,
        spillDir: join(settings.spill_dir, app),
        codec: jsonSpillCodec<T>(),
        warnOccupancy: settings.warn_occupancy,
        labels: this.labels,
      });
    this.raw = channel<RawFrame>('raw', settings.raw_cap);
    // Rows always wait: sampling or dropping canonical rows would lose data silently after decode.
    this.rows = new BoundedChannel<CanonicalRow>({
      name: `rows.${exchange}.s${shard}`,
      capacity: settings.row_cap,
      policy: settings.policy === 'spill' ? 'spill' : 'wait',
      spillDir: join(settings.spill_dir, app),
      codec: jsonSpillCodec<CanonicalRow>(),
      warnOccupancy: settings.warn_occupancy,
      labels: this.labels,
    });
    this.outlet = new ChannelOutlet(this.rows);
    this.processor = options.createProcessor(this.outlet.emit);
    this.rejected = counter(
      options.registry,
      'rows_rejected_total',
      'Canonical rows not written (handover cut or schema mismatch).',
      ['exchange', 'stream', 'shard', 'reason'],
    );
    this.once = new OnceLogger(options.logger);
    options.watcher?.watch(this.raw as BoundedChannel<unknown>);
    options.watcher?.watch(this.rows as BoundedChannel<unknown>);
  }

  start(): void {
    if (this.decodeLoop) return;
    this.decodeLoop = this.runDecode();
    this.sinkLoop = this.runSink();
    if (this.processor.tick && (this.options.wallClockTicks ?? true)) {
      this.tickTimer = setInterval(() => this.processor.tick?.(Date.now() * 1000), 100);
      this.tickTimer.unref();
    }
  }

  /** Non-blocking hand-off from a socket: false = full, pause the socket until `writable()`. */
  readonly offer = (frame: RawFrame): boolean => this.raw.offer(frame);

  /** Awaiting hand-off (replays). */
  push(frame: RawFrame): Promise<void> {
    return this.raw.offer(frame) ? Promise.resolve() : this.raw.send(frame);
  }

  /** Rows held for a handover decision. */
  get heldRows(): number {
    return this.held.length - this.heldHead;
  }

  /**
   * Asks the row filter again for held rows, in order, up to the first still undecided; written or
   * rejected as it now says. Called when ownership changes (and by the sink loop before each batch).
   */
  releaseHeld(): void {
    const filter = this.options.rowFilter;
    if (!filter) return;
    while (this.heldHead < this.held.length) {
      const row = this.held[this.heldHead] as CanonicalRow;
      const decision = filter(row);
      if (decision === 'hold' || decision === 'buffer') return;
      this.heldHead++;
      if (decision) this.deliver(row);
      else this.rejected.inc({ ...this.labels, reason: 'not_owner' });
    }
    this.held = [];
    this.heldHead = 0;
  }

  /**
   * Drops held rows from the oldest while their exchange time is before `exchangeTsMicros`: a standby's
   * buffer only needs to reach back to the owner's last durable file. Returns how many went.
   */
  evictHeldBefore(exchangeTsMicros: number): number {
    let n = 0;
    while (this.heldHead < this.held.length && (this.held[this.heldHead] as CanonicalRow).exchange_ts < exchangeTsMicros) {
      this.heldHead++;
      n++;
    }
    if (this.heldHead === this.held.length) {
      this.held = [];
      this.heldHead = 0;
    } else if (this.heldHead > 65_536 && this.heldHead * 2 > this.held.length) {
      this.held = this.held.slice(this.heldHead);
      this.heldHead = 0;
    }
    return n;
  }

  /** Exchange time of the oldest held row (undefined: none held). */
  oldestHeldTs(): number | undefined {
    return this.heldRows > 0 ? (this.held[this.heldHead] as CanonicalRow).exchange_ts : undefined;
  }

  /** Closes the input and resolves when every frame received has become rows handed to the consumers. */
  async finish(): Promise<void> {
    this.start();
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (!this.raw.closed) this.raw.close();
    await this.decodeLoop;
    await this.processor.finish();
    await this.outlet.settle();
    if (!this.rows.closed) this.rows.close();
    await this.sinkLoop;
    this.releaseHeld();
    const undecided = this.heldRows;
    const head = this.held[this.heldHead];
    if (undecided > 0 && head && this.options.rowFilter?.(head) === 'buffer') {
      // A standby's copy: the owner writes these.
      this.rejected.inc({ ...this.labels, reason: 'standby' }, undecided);
      this.held = [];
      this.heldHead = 0;
    } else if (undecided > 0) {
      // Stopped while a handover cut was still unacknowledged: the old owner has not stopped writing these.
      this.rejected.inc({ ...this.labels, reason: 'handover_unacknowledged' }, undecided);
      this.options.logger.warn(
        { rows: undecided, first: this.held[this.heldHead]?.exchange_ts },
        'shard stopped with rows held for an unacknowledged handover cut: left to the old owner',
      );
      this.held = [];
      this.heldHead = 0;
    }
    this.options.watcher?.unwatch(this.raw as BoundedChannel<unknown>);
    this.options.watcher?.unwatch(this.rows as BoundedChannel<unknown>);
  }

  private async runDecode(): Promise<void> {
    for (;;) {
      const batch = await this.raw.receiveBatch(RAW_BATCH);
      if (batch.length === 0) return;
      for (let i = 0; i < batch.length; i++) this.processor.process(batch[i] as RawFrame);
      await this.outlet.settle();
    }
  }

  private async runSink(): Promise<void> {
    const { rowFilter } = this.options;
    for (;;) {
      const batch = await this.rows.receiveBatch(ROW_BATCH);
      if (batch.length === 0) return;
      if (this.heldRows > 0) this.releaseHeld();
      for (let i = 0; i < batch.length; i++) {
        const row = batch[i] as CanonicalRow;
        const decision = rowFilter ? rowFilter(row) : true;
        if (decision === 'buffer') {
          this.buffer(row);
          continue;
        }
        // Behind a held row every row waits in line, so a symbol's rows never overtake each other.
        if (decision === 'hold' || this.heldRows > 0) {
          await this.hold(row);
          continue;
        }
        if (!decision) {
          this.rejected.inc({ ...this.labels, reason: 'not_owner' });
          continue;
        }
        this.deliver(row);
      }
    }
  }

  private buffer(row: CanonicalRow): void {
    this.held.push(row);
    if (this.heldRows > MAX_BUFFERED_ROWS) this.heldHead++;
  }

  private async hold(row: CanonicalRow): Promise<void> {
    this.held.push(row);
    while (this.heldRows >= MAX_HELD_ROWS) {
      await new Promise((r) => setTimeout(r, HELD_RECHECK_MS));
      this.releaseHeld();
    }
  }

  private deliver(row: CanonicalRow): void {
    const { consumers } = this.options;
    for (let c = 0; c < consumers.length; c++) {
      try {
        (consumers[c] as RowConsumer).write(row);
      } catch (err) {
        if (!(err instanceof CfError) || err.code !== 'CF_SCHEMA') throw err;
        this.rejected.inc({ ...this.labels, reason: 'schema' });
        this.once.warn(
          `schema:${row.table}`,
          { err: err.message, row: framePreview(JSON.stringify(row)) },
          'row rejected by the sink schema',
        );
      }
    }
    this.rowsOut++;
  }
}
