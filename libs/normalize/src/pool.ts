import { CfError } from '@cryptoflow/core';
import { counter, gauge } from '@cryptoflow/metrics';
import type { Counter, Gauge, Registry } from '@cryptoflow/metrics';

export interface KeyedWorkerPoolOptions<T> {
  /** Number of lanes (independent sequential workers). */
  readonly lanes: number;
  /** Items each lane holds before `offer` refuses and `send` waits. */
  readonly capacity: number;
  /** The ordering key, e.g. `exchange|symbol`: same key → same lane, always. */
  readonly key: (item: T) => string;
  /**
   * Processes one item. Returning a promise pauses this lane (only) until it settles; the lane's next
   * item starts after that, so a key's items are handled strictly one after the other.
   */
  readonly handler: (item: T, lane: number) => void | PromiseLike<void>;
  /** A handler that throws or rejects: the item is counted as done and the lane goes on. Default:
   *  remember the error and reject the next `drain()` with it. */
  readonly onError?: (err: unknown, item: T) => void;
  readonly registry?: Registry;
  readonly labels?: { readonly exchange: string; readonly stream: string; readonly shard: string };
}

export interface PoolStats {
  readonly depths: readonly number[];
  readonly pending: number;
  readonly processed: number;
  readonly paused: readonly boolean[];
}

const RESOLVED: Promise<void> = Promise.resolve();

interface SendWaiter<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** A lane: a fixed ring of items, senders waiting for room, and its own run loop. */
class Lane<T> {
  readonly items: (T | undefined)[];
  head = 0;
  size = 0;
  readonly waiters: SendWaiter<T>[] = [];
  waiterHead = 0;
  running = false;
  paused = false;
  current: T | undefined;
  depthGauge: Gauge.Internal<string> | undefined;
  /** Bound once per lane: no closure per item. */
  readonly run: () => void;
  readonly resumed: () => void;
  readonly failed: (err: unknown) => void;

  constructor(
    readonly index: number,
    capacity: number,
    pool: KeyedWorkerPool<T>,
  ) {
    this.items = new Array<T | undefined>(capacity);
    this.run = () => pool.runLane(this);
    this.resumed = () => pool.resumeLane(this, undefined, false);
    this.failed = (err) => pool.resumeLane(this, err, true);
  }

  get waiting(): number {
    return this.waiters.length - this.waiterHead;
  }

  push(item: T): void {
    this.items[(this.head + this.size) % this.items.length] = item;
    this.size++;
  }

  shift(): T {
    const item = this.items[this.head] as T;
    this.items[this.head] = undefined;
    this.head = this.head + 1 === this.items.length ? 0 : this.head + 1;
    this.size--;
    return item;
  }

  nextWaiter(): SendWaiter<T> | undefined {
    if (this.waiterHead === this.waiters.length) return undefined;
    const w = this.waiters[this.waiterHead++];
    if (this.waiterHead > 1024 && this.waiterHead * 2 > this.waiters.length) {
      this.waiters.splice(0, this.waiterHead);
      this.waiterHead = 0;
    }
    return w;
  }
}

/**
 * N sequential lanes; an item's key picks its lane (stable FNV-1a hash), each lane handles its items
 * strictly in order, and a lane whose handler returned a promise waits for it while the other lanes go
 * on — a paused key holds back only the keys sharing its lane. Per-lane queues are bounded with channel
 * semantics: `offer` refuses when full, `send` waits for room. `drain()` resolves once every submitted
 * item has been handled.
 *
 * Metrics: `worker_lane_depth{exchange,stream,shard,lane}` (set when a lane starts and ends a run — not
 * per item), `worker_lane_full_total{exchange,stream,shard}` (offers refused or sends that had to wait).
 */
export class KeyedWorkerPool<T> {
  private readonly lanes: Lane<T>[];
  private readonly key: (item: T) => string;
  private readonly handler: (item: T, lane: number) => void | PromiseLike<void>;
  private readonly onError: (err: unknown, item: T) => void;
  private readonly errors: unknown[] = [];
  private readonly fullMetric: Counter.Internal | undefined;
  private submitted = 0;
  private finished = 0;
  private closed = false;
  private drainWaiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];

  constructor(options: KeyedWorkerPoolOptions<T>) {
    if (!Number.isInteger(options.lanes) || options.lanes < 1)
      throw new RangeError(`lanes must be a positive integer, got ${options.lanes}`);
    if (!Number.isInteger(options.capacity) || options.capacity < 1)
      throw new RangeError(`capacity must be a positive integer, got ${options.capacity}`);
    this.key = options.key;
    this.handler = options.handler;
    this.onError = options.onError ?? ((err) => void this.errors.push(err));
    this.lanes = [];
    for (let i = 0; i < options.lanes; i++) this.lanes.push(new Lane<T>(i, options.capacity, this));
    if (options.registry && options.labels) {
      const l = {
        exchange: options.labels.exchange,
        stream: options.labels.stream,
        shard: options.labels.shard,
      };
      const depth = gauge(options.registry, 'worker_lane_depth', 'Items queued in a normalize worker lane.', [
        'exchange',
        'stream',
        'shard',
        'lane',
      ]);
      for (const lane of this.lanes) lane.depthGauge = depth.labels({ ...l, lane: String(lane.index) });
      this.fullMetric = counter(
        options.registry,
        'worker_lane_full_total',
        'Items offered to a full normalize worker lane (offer refused or send waited).',
        ['exchange', 'stream', 'shard'],
      ).labels(l);
    }
  }

  /** The lane a key maps to (FNV-1a, 32 bit): stable for the life of the pool and across processes. */
  laneOf(key: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) {
      h ^= key.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    return (h >>> 0) % this.lanes.length;
  }

  /** Queues the item if its lane has room (and no earlier send is waiting); false otherwise. */
  offer(item: T): boolean {
    if (this.closed) throw new CfError('CF_CHANNEL_CLOSED', 'KeyedWorkerPool is closed');
    const lane = this.lanes[this.laneOf(this.key(item))] as Lane<T>;
    if (lane.size === lane.items.length || lane.waiting > 0) {
      this.fullMetric?.inc();
      return false;
    }
    this.enqueue(lane, item);
    return true;
  }

  /** Queues the item, waiting for room in its lane; resolves once queued (not once handled). */
  send(item: T): Promise<void> {
    if (this.closed) return Promise.reject(new CfError('CF_CHANNEL_CLOSED', 'KeyedWorkerPool is closed'));
    const lane = this.lanes[this.laneOf(this.key(item))] as Lane<T>;
    if (lane.size < lane.items.length && lane.waiting === 0) {
      this.enqueue(lane, item);
      return RESOLVED;
    }
    this.fullMetric?.inc();
    return new Promise<void>((resolve, reject) => lane.waiters.push({ item, resolve, reject }));
  }

  /** Resolves when every item offered or sent so far has been handled (rejects with a handler error). */
  drain(): Promise<void> {
    if (this.submitted === this.finished && this.waitingSends() === 0) return this.settleDrain();
    return new Promise<void>((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  /** No more items: offer throws, pending sends reject. Items already queued are still handled. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const err = new CfError('CF_CHANNEL_CLOSED', 'KeyedWorkerPool closed while send() was waiting');
    for (const lane of this.lanes) for (let w = lane.nextWaiter(); w; w = lane.nextWaiter()) w.reject(err);
    this.maybeDrained();
  }

  stats(): PoolStats {
    return {
      depths: this.lanes.map((l) => l.size),
      pending: this.submitted - this.finished,
      processed: this.finished,
      paused: this.lanes.map((l) => l.paused),
    };
  }

  private enqueue(lane: Lane<T>, item: T): void {
    lane.push(item);
    this.submitted++;
    if (!lane.running) {
      lane.running = true;
      queueMicrotask(lane.run);
    }
  }

  /** @internal Runs a lane until it is empty or a handler pauses it. */
  runLane(lane: Lane<T>): void {
    lane.depthGauge?.set(lane.size);
    while (lane.size > 0) {
      const item = lane.shift();
      const w = lane.nextWaiter();
      if (w) {
        lane.push(w.item);
        this.submitted++;
        w.resolve();
      }
      let result: void | PromiseLike<void>;
      try {
        result = this.handler(item, lane.index);
      } catch (err) {
        this.onError(err, item);
        result = undefined;
      }
      if (
        result !== undefined &&
        result !== null &&
        typeof (result as PromiseLike<void>).then === 'function'
      ) {
        lane.paused = true;
        lane.current = item;
        (result as PromiseLike<void>).then(lane.resumed, lane.failed);
        return;
      }
      this.finished++;
    }
    lane.running = false;
    lane.depthGauge?.set(0);
    this.maybeDrained();
  }

  /** @internal An async handler settled: count it, then continue the lane. */
  resumeLane(lane: Lane<T>, err: unknown, failed: boolean): void {
    const item = lane.current as T;
    lane.current = undefined;
    lane.paused = false;
    if (failed) this.onError(err, item);
    this.finished++;
    this.runLane(lane);
  }

  private waitingSends(): number {
    let n = 0;
    for (const lane of this.lanes) n += lane.waiting;
    return n;
  }

  private maybeDrained(): void {
    if (this.drainWaiters.length === 0 || this.submitted !== this.finished || this.waitingSends() !== 0)
      return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    const err = this.errors.shift();
    this.errors.length = 0;
    for (const w of waiters) err === undefined ? w.resolve() : w.reject(err);
  }

  private settleDrain(): Promise<void> {
    const err = this.errors.shift();
    this.errors.length = 0;
    return err === undefined ? RESOLVED : Promise.reject(err);
  }
}
