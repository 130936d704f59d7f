import { CfError } from '@cryptoflow/core';
import { SpillStore } from './spill.js';
import { WaiterQueue } from './waiters.js';

export type BackpressurePolicy = 'wait' | 'drop-oldest' | 'sample' | 'spill';

/** Turns an item into one line and back. `encode` must not emit a raw newline (JSON.stringify never does). */
export interface SpillCodec<T> {
  encode(item: T): string;
  decode(line: string): T;
}

/** A codec for JSON-serialisable items. */
export function jsonSpillCodec<T>(): SpillCodec<T> {
  return { encode: (item) => JSON.stringify(item), decode: (line) => JSON.parse(line) as T };
}

export interface ChannelOptions<T> {
  readonly name: string;
  /** Items held in memory. */
  readonly capacity: number;
  readonly policy: BackpressurePolicy;
  /** policy 'sample': while full keep 1 in N new items (the kept one evicts the oldest). Default 10. */
  readonly sampleEvery?: number;
  /** policy 'spill': root directory; the channel uses `<spillDir>/<encodeURIComponent(name)>/`. */
  readonly spillDir?: string;
  readonly codec?: SpillCodec<T>;
  /** Occupancy (0..1] above which the watcher warns. Default 0.8. */
  readonly warnOccupancy?: number;
  /** Added to every metric series beside `channel: name`, e.g. `{ exchange, stream, shard }`. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Enqueue delay is measured on 1 in N items (one clock read each). Default 16; 1 measures every item. */
  readonly delaySampleEvery?: number;
  /** Spill segment rotation size. Default 64 MiB. */
  readonly spillSegmentBytes?: number;
  /** Spill lines buffered before a write. Default 256 KiB. */
  readonly spillWriteBufferBytes?: number;
  /** Buffered spill lines are written at the latest after this long. Default 100 ms. */
  readonly spillFlushMs?: number;
}

export interface ChannelStats {
  readonly name: string;
  readonly policy: BackpressurePolicy;
  readonly labels: Readonly<Record<string, string>>;
  readonly warnOccupancy: number;
  /** Items in memory. */
  readonly depth: number;
  readonly capacity: number;
  /** depth / capacity. */
  readonly occupancy: number;
  /** Highest depth since the last window reset. */
  readonly highWater: number;
  /** Items accepted by offer/send (into memory or spill). */
  readonly enqueued: number;
  /** Items handed to receivers. */
  readonly dequeued: number;
  /** Items evicted from the head to make room (drop-oldest, and the kept items of 'sample'). */
  readonly dropped: number;
  /** New items skipped by 'sample' while full. */
  readonly sampledOut: number;
  /** Offers refused under 'wait' because the channel was full (the caller kept the item). */
  readonly refused: number;
  /** Items written to spill. */
  readonly spilled: number;
  /** Items on disk (or buffered for it) not yet read back. */
  readonly spillBacklog: number;
  /** Items found in the spill directory when the channel was opened. */
  readonly spillRecovered: number;
  readonly spillBytes: number;
  readonly spillSegments: number;
  /** Segments that ended in a partial line (a crash mid-write); the partial line is skipped. */
  readonly spillTornTails: number;
  /** Spill lines that failed to decode (reported to the receiver as CF_SPILL_IO). */
  readonly spillCorrupt: number;
  /** Enqueue→dequeue delays in seconds measured since the last window reset (1 in delaySampleEvery items). */
  readonly enqueueDelaySamples: Float64Array;
  /** Measurements not kept because the window's sample buffer was full. */
  readonly enqueueDelaySkipped: number;
  readonly closed: boolean;
}

export interface StatsOptions {
  /** Start a new window: high-water restarts at the current depth and delay samples are consumed. */
  readonly resetWindow?: boolean;
}

const DELAY_SAMPLE_CAPACITY = 4096;
const RESOLVED: Promise<void> = Promise.resolve();
const POLICIES: readonly BackpressurePolicy[] = ['wait', 'drop-oldest', 'sample', 'spill'];

function invalid(name: string, key: string, expected: string, got: unknown): CfError {
  return new CfError(
    'CF_CONFIG_INVALID',
    `channel ${name}: ${key}: expected ${expected}, got ${String(got)}`,
    {
      context: { channel: name, key, value: got },
    },
  );
}

/**
 * A bounded FIFO between a producer that must never block (a socket handler) and an async consumer.
 *
 * Memory is a ring of `capacity` slots with a parallel Float64Array of enqueue times (0 = not
 * measured), so the hot path allocates nothing: no Array.shift, no per-item objects or closures.
 * When full, the policy decides: 'wait' refuses (offer → false; send/writable wait), 'drop-oldest'
 * evicts the head, 'sample' keeps 1 in N, 'spill' appends to disk. Once spilling, every later item
 * goes to disk until the disk backlog is empty, and the reader refills the ring from disk, so order
 * is strict FIFO across memory and disk.
 *
 * Items must not be `undefined` (it means "closed and drained").
 */
export class BoundedChannel<T> {
  readonly name: string;
  readonly policy: BackpressurePolicy;
  readonly labels: Readonly<Record<string, string>>;
  readonly warnOccupancy: number;

  private readonly cap: number;
  private readonly ring: (T | undefined)[];
  private readonly stamps: Float64Array;
  private head = 0;
  private count = 0;
  private isClosed = false;

  private readonly sampleEvery: number;
  private sampleTick = 0;
  private readonly delayEvery: number;
  private delayTick = 0;
  private readonly delaySamples = new Float64Array(DELAY_SAMPLE_CAPACITY);
  private delayCount = 0;
  private delaySkipped = 0;
  private windowHigh = 0;

  private enqueuedTotal = 0;
  private dequeuedTotal = 0;
  private droppedTotal = 0;
  private sampledOutTotal = 0;
  private refusedTotal = 0;
  private spilledTotal = 0;
  private spillCorrupt = 0;

  private readonly readers = new WaiterQueue();
  private readonly writers = new WaiterQueue();
  private readonly spill: SpillStore | undefined;
  private readonly codec: SpillCodec<T> | undefined;
  private readonly lines: string[] = [];
  private readonly parkReader = (resolve: () => void): void => this.readers.push(resolve);
  private readonly parkWriter = (resolve: () => void): void => this.writers.push(resolve);
  private readonly receiveAgain = (): Promise<T | undefined> => this.receive();

  constructor(options: ChannelOptions<T>) {
    const name = options.name;
    if (typeof name !== 'string' || name.length === 0)
      throw invalid(String(name), 'name', 'a non-empty string', name);
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw invalid(name, 'capacity', 'a positive integer', options.capacity);
    }
    if (!POLICIES.includes(options.policy))
      throw invalid(name, 'policy', POLICIES.join(' | '), options.policy);
    const sampleEvery = options.sampleEvery ?? 10;
    if (!Number.isInteger(sampleEvery) || sampleEvery < 1)
      throw invalid(name, 'sampleEvery', 'a positive integer', sampleEvery);
    const warn = options.warnOccupancy ?? 0.8;
    if (!(warn > 0 && warn <= 1)) throw invalid(name, 'warnOccupancy', 'a number in (0, 1]', warn);
    const delayEvery = options.delaySampleEvery ?? 16;
    if (!Number.isInteger(delayEvery) || delayEvery < 1)
      throw invalid(name, 'delaySampleEvery', 'a positive integer', delayEvery);

    this.name = name;
    this.policy = options.policy;
    this.labels = Object.freeze({ ...(options.labels ?? {}) });
    this.warnOccupancy = warn;
    this.cap = options.capacity;
    this.ring = new Array<T | undefined>(options.capacity).fill(undefined);
    this.stamps = new Float64Array(options.capacity);
    this.sampleEvery = sampleEvery;
    this.delayEvery = delayEvery;
    this.delayTick = delayEvery - 1; // the first item is measured

    if (options.policy === 'spill') {
      if (!options.spillDir)
        throw invalid(name, 'spillDir', "a directory (required by policy 'spill')", options.spillDir);
      if (!options.codec)
        throw invalid(name, 'codec', "a SpillCodec (required by policy 'spill')", options.codec);
      const segmentBytes = options.spillSegmentBytes ?? 64 * 1024 * 1024;
      const writeBufferBytes = options.spillWriteBufferBytes ?? 256 * 1024;
      const flushMs = options.spillFlushMs ?? 100;
      if (!Number.isInteger(segmentBytes) || segmentBytes < 1)
        throw invalid(name, 'spillSegmentBytes', 'a positive integer', segmentBytes);
      if (!Number.isInteger(writeBufferBytes) || writeBufferBytes < 1) {
        throw invalid(name, 'spillWriteBufferBytes', 'a positive integer', writeBufferBytes);
      }
      if (!(flushMs >= 0)) throw invalid(name, 'spillFlushMs', 'a non-negative number', flushMs);
      this.codec = options.codec;
      this.spill = new SpillStore({
        channel: name,
        root: options.spillDir,
        segmentBytes,
        writeBufferBytes,
        flushMs,
      });
    }
  }

  /** Items waiting: in memory plus the spill backlog. */
  get size(): number {
    return this.count + (this.spill === undefined ? 0 : this.spill.backlog);
  }

  get capacity(): number {
    return this.cap;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Where this channel spills, when its policy is 'spill'. */
  get spillPath(): string | undefined {
    return this.spill?.dir;
  }

  /**
   * Synchronous, never waits. 'wait': false when full (the item was not taken; await writable()).
   * Other policies always take the item (drop the oldest, sample, or spill to disk) and return true.
   * Throws CF_CHANNEL_CLOSED after close(), CF_SPILL_IO when the spill cannot be written.
   */
  offer(item: T): boolean {
    if (this.isClosed) throw this.closedError();
    if (item === undefined)
      throw new CfError('CF_INTERNAL', `channel ${this.name}: undefined cannot be sent`);
    const spill = this.spill;
    if (this.count < this.cap && (spill === undefined || spill.backlog === 0)) {
      this.sampleTick = 0;
      this.push(item);
      return true;
    }
    switch (this.policy) {
      case 'wait':
        this.refusedTotal++;
        return false;
      case 'drop-oldest':
        this.evict();
        this.push(item);
        return true;
      case 'sample':
        if (++this.sampleTick >= this.sampleEvery) {
          this.sampleTick = 0;
          this.evict();
          this.push(item);
        } else {
          this.sampledOutTotal++;
        }
        return true;
      case 'spill':
        this.spillOut(item);
        return true;
    }
  }

  /** Resolves once the item is enqueued; under 'wait' waits for room. Rejects with CF_CHANNEL_CLOSED. */
  send(item: T): Promise<void> {
    try {
      if (this.offer(item)) return RESOLVED;
    } catch (err) {
      return Promise.reject(err);
    }
    return this.sendSlow(item);
  }

  /** Resolves when an offer would be taken (always, except 'wait' when full) or the channel is closed. */
  writable(): Promise<void> {
    if (this.isClosed || this.policy !== 'wait' || this.count < this.cap) return RESOLVED;
    return new Promise<void>(this.parkWriter);
  }

  /** Next item in FIFO order; undefined once closed and fully drained (memory and spill). */
  receive(): Promise<T | undefined> {
    try {
      if (this.count > 0 || this.refill()) return Promise.resolve(this.take());
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.isClosed) {
      this.finish();
      return Promise.resolve(undefined);
    }
    return new Promise<void>(this.parkReader).then(this.receiveAgain);
  }

  /**
   * Up to `max` items that are available now, waiting for the first if there is none: a consumer that
   * awaited something else meanwhile gets everything that piled up in one call. [] once closed and drained.
   * Items are appended to `into` (pass a reused array to avoid one allocation per batch).
   */
  receiveBatch(max: number, into: T[] = []): Promise<T[]> {
    if (!(max >= 1))
      return Promise.reject(
        new CfError('CF_INTERNAL', `channel ${this.name}: receiveBatch max must be >= 1, got ${max}`),
      );
    let taken = 0;
    try {
      if (this.count > 0 || this.refill()) {
        taken = 0;
        while (taken < max && (this.count > 0 || this.refill())) {
          into.push(this.take());
          taken++;
        }
        return Promise.resolve(into);
      }
    } catch (err) {
      if (taken > 0) return Promise.resolve(into); // hand over what we have; the error repeats on the next call
      return Promise.reject(err);
    }
    if (this.isClosed) {
      this.finish();
      return Promise.resolve(into);
    }
    return new Promise<void>(this.parkReader).then(() => this.receiveBatch(max, into));
  }

  /** The next item if one is available now (refilling from spill if needed), else undefined. */
  tryReceive(): T | undefined {
    if (this.count > 0 || this.refill()) return this.take();
    if (this.isClosed) this.finish();
    return undefined;
  }

  /**
   * No more offers (offer throws CF_CHANNEL_CLOSED; pending send()s reject). Receivers still get
   * everything in memory and on disk, then undefined. Buffered spill lines are written now.
   */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.readers.wakeAll();
    this.writers.wakeAll();
    this.spill?.flush(); // may throw CF_SPILL_IO; the channel is closed either way
    if (this.count === 0 && (this.spill === undefined || this.spill.backlog === 0)) this.finish();
  }

  /**
   * policy 'spill' only: closes the channel and leaves everything it holds — memory ring included —
   * in the spill directory, in order, for the next channel opened on the same directory (a restart
   * that should not wait for consumers to drain). The channel is then closed and empty.
   */
  detach(): void {
    const spill = this.spill;
    const codec = this.codec;
    if (spill === undefined || codec === undefined) {
      throw new CfError(
        'CF_INTERNAL',
        `channel ${this.name}: detach() needs policy 'spill' (policy is '${this.policy}')`,
      );
    }
    this.isClosed = true;
    const head: string[] = [];
    const now = Date.now();
    const perfNow = performance.now();
    while (this.count > 0) {
      const stamp = this.stamps[this.head]!;
      const item = this.ring[this.head] as T;
      this.ring[this.head] = undefined;
      this.head = this.head + 1 === this.cap ? 0 : this.head + 1;
      this.count--;
      head.push(this.line(codec, item, stamp === 0 ? 0 : Math.round(now - (perfNow - stamp))));
    }
    spill.detach(head);
    this.readers.wakeAll();
    this.writers.wakeAll();
  }

  stats(options?: StatsOptions): ChannelStats {
    const spill = this.spill;
    const stats: ChannelStats = {
      name: this.name,
      policy: this.policy,
      labels: this.labels,
      warnOccupancy: this.warnOccupancy,
      depth: this.count,
      capacity: this.cap,
      occupancy: this.count / this.cap,
      highWater: Math.max(this.windowHigh, this.count),
      enqueued: this.enqueuedTotal,
      dequeued: this.dequeuedTotal,
      dropped: this.droppedTotal,
      sampledOut: this.sampledOutTotal,
      refused: this.refusedTotal,
      spilled: this.spilledTotal,
      spillBacklog: spill?.backlog ?? 0,
      spillRecovered: spill?.recovered ?? 0,
      spillBytes: spill?.bytesWritten ?? 0,
      spillSegments: spill?.segmentCount ?? 0,
      spillTornTails: spill?.tornTails ?? 0,
      spillCorrupt: this.spillCorrupt,
      enqueueDelaySamples: this.delaySamples.slice(0, this.delayCount),
      enqueueDelaySkipped: this.delaySkipped,
      closed: this.isClosed,
    };
    if (options?.resetWindow) {
      this.windowHigh = this.count;
      this.delayCount = 0;
    }
    return stats;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: async (): Promise<IteratorResult<T>> => {
        const value = await this.receive();
        return value === undefined ? { done: true, value: undefined } : { done: false, value };
      },
    };
  }

  private async sendSlow(item: T): Promise<void> {
    for (;;) {
      await this.writable();
      if (this.offer(item)) return;
    }
  }

  private push(item: T): void {
    let tail = this.head + this.count;
    if (tail >= this.cap) tail -= this.cap;
    this.ring[tail] = item;
    if (++this.delayTick >= this.delayEvery) {
      this.delayTick = 0;
      this.stamps[tail] = performance.now();
    } else {
      this.stamps[tail] = 0;
    }
    this.count++;
    this.enqueuedTotal++;
    if (this.count > this.windowHigh) this.windowHigh = this.count;
    if (this.readers.size > 0) this.readers.wakeOne();
  }

  private evict(): void {
    this.ring[this.head] = undefined;
    this.head = this.head + 1 === this.cap ? 0 : this.head + 1;
    this.count--;
    this.droppedTotal++;
  }

  /** Caller checked count > 0. */
  private take(): T {
    const slot = this.head;
    const item = this.ring[slot] as T;
    this.ring[slot] = undefined;
    this.head = slot + 1 === this.cap ? 0 : slot + 1;
    this.count--;
    this.dequeuedTotal++;
    const stamp = this.stamps[slot]!;
    if (stamp !== 0) {
      if (this.delayCount < DELAY_SAMPLE_CAPACITY) {
        const delay = (performance.now() - stamp) / 1000;
        this.delaySamples[this.delayCount++] = delay > 0 ? delay : 0;
      } else {
        this.delaySkipped++;
      }
    }
    if (this.writers.size > 0) this.writers.wakeAll(); // woken writers re-check; none is left behind with room free
    if (this.isClosed && this.count === 0) this.finish();
    return item;
  }

  private spillOut(item: T): void {
    const codec = this.codec!;
    let stamp = 0;
    if (++this.delayTick >= this.delayEvery) {
      this.delayTick = 0;
      stamp = Date.now();
    }
    this.spill!.append(this.line(codec, item, stamp));
    this.spilledTotal++;
    this.enqueuedTotal++;
    if (this.readers.size > 0) this.readers.wakeOne();
  }

  /** `<enqueue ms or empty>\t<encoded item>`. */
  private line(codec: SpillCodec<T>, item: T, stampMs: number): string {
    const encoded = codec.encode(item);
    if (encoded.indexOf('\n') >= 0) {
      throw new CfError('CF_SPILL_IO', `channel ${this.name}: spill codec produced a raw newline`, {
        context: { channel: this.name, preview: encoded.slice(0, 160) },
      });
    }
    return stampMs === 0 ? `\t${encoded}` : `${stampMs}\t${encoded}`;
  }

  /**
   * Moves the oldest spilled items into the empty ring. True when it moved at least one. A line that
   * does not decode is skipped and reported (CF_SPILL_IO) after the good ones are in the ring.
   */
  private refill(): boolean {
    const spill = this.spill;
    if (spill === undefined || spill.backlog === 0 || this.count > 0) return false;
    const codec = this.codec!;
    const lines = this.lines;
    const n = spill.readLines(this.cap, lines);
    const wallNow = Date.now();
    const perfNow = performance.now();
    let failure: CfError | undefined;
    for (let i = 0; i < n; i++) {
      const line = lines[i]!;
      const tab = line.indexOf('\t');
      let item: T;
      try {
        if (tab < 0) throw new Error('no tab separator');
        item = codec.decode(line.slice(tab + 1));
        if (item === undefined) throw new Error('codec decoded undefined');
      } catch (err) {
        this.spillCorrupt++;
        failure ??= new CfError(
          'CF_SPILL_IO',
          `channel ${this.name}: spilled line does not decode (skipped)`,
          {
            cause: err,
            context: { channel: this.name, dir: spill.dir, preview: line.slice(0, 160) },
          },
        );
        continue;
      }
      let tail = this.head + this.count;
      if (tail >= this.cap) tail -= this.cap;
      this.ring[tail] = item;
      // Spill lines carry wall-clock ms; translate to the ring's performance.now() clock.
      this.stamps[tail] = tab === 0 ? 0 : perfNow - (wallNow - Number(line.slice(0, tab))) || 0;
      this.count++;
    }
    lines.length = 0;
    if (this.count > this.windowHigh) this.windowHigh = this.count;
    if (failure) throw failure;
    return this.count > 0;
  }

  /** Closed and nothing left anywhere: remove the spill directory. */
  private finish(): void {
    const spill = this.spill;
    if (spill !== undefined && !spill.isReleased && this.count === 0 && spill.backlog === 0) spill.release();
  }

  private closedError(): CfError {
    return new CfError('CF_CHANNEL_CLOSED', `channel ${this.name} is closed`, {
      context: { channel: this.name, ...this.labels },
    });
  }
}
