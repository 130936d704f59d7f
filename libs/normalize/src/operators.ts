import { counter, histogram } from '@cryptoflow/metrics';
import type { Counter, Histogram, Registry } from '@cryptoflow/metrics';

export type Emit<T> = (item: T) => void;

/**
 * A push-based operator: `push` handles one input and calls `emit` zero or more times, synchronously.
 * Operators are objects with methods, chained once at build time by a Pipeline: nothing is allocated
 * per message by the plumbing (no closures, spreads or temporary arrays).
 */
export interface Operator<I, O> {
  readonly name: string;
  push(input: I, emit: Emit<O>): void;
  /** End of input: emit what the operator still holds (open windows). */
  flush?(emit: Emit<O>): void;
}

/** Rows keyed by venue market: state of dedupe / watermark / windows is per (exchange, symbol). */
export interface MarketKeyed {
  readonly exchange: string;
  readonly symbol: string;
}

/** Where an operator reports its own counters (dedupe drops, late rows). */
export interface OperatorMetrics {
  readonly registry: Registry;
  readonly labels: { readonly exchange: string; readonly stream: string; readonly shard: string };
}

class FilterOp<T> implements Operator<T, T> {
  constructor(
    readonly name: string,
    private readonly pred: (item: T) => boolean,
  ) {}
  push(item: T, emit: Emit<T>): void {
    if (this.pred(item)) emit(item);
  }
}

class MapOp<I, O> implements Operator<I, O> {
  constructor(
    readonly name: string,
    private readonly fn: (item: I) => O,
  ) {}
  push(item: I, emit: Emit<O>): void {
    emit(this.fn(item));
  }
}

class FlattenOp<I, O> implements Operator<I, O> {
  constructor(
    readonly name: string,
    private readonly fn: (item: I, emit: Emit<O>) => void,
  ) {}
  push(item: I, emit: Emit<O>): void {
    this.fn(item, emit);
  }
}

/** Keeps the items for which `pred` is true. */
export function filter<T>(pred: (item: T) => boolean, name = 'filter'): Operator<T, T> {
  return new FilterOp(name, pred);
}

/** One output per input. */
export function map<I, O>(fn: (item: I) => O, name = 'map'): Operator<I, O> {
  return new MapOp(name, fn);
}

/** One input to many outputs through `emit` (an event to its level rows, a batch to its items). */
export function flatten<I, O>(fn: (item: I, emit: Emit<O>) => void, name = 'flatten'): Operator<I, O> {
  return new FlattenOp(name, fn);
}

/** exchange → symbol → state: two Map lookups and no string built per row. */
class PerMarket<S> {
  private readonly byExchange = new Map<string, Map<string, S>>();

  get(exchange: string, symbol: string): S | undefined {
    return this.byExchange.get(exchange)?.get(symbol);
  }

  set(exchange: string, symbol: string, state: S): void {
    let bySymbol = this.byExchange.get(exchange);
    if (bySymbol === undefined) this.byExchange.set(exchange, (bySymbol = new Map()));
    bySymbol.set(symbol, state);
  }

  *values(): IterableIterator<S> {
    for (const bySymbol of this.byExchange.values()) yield* bySymbol.values();
  }

  clear(): void {
    this.byExchange.clear();
  }
}

interface RecentKeys {
  readonly ring: (string | number)[];
  head: number;
  readonly seen: Set<string | number>;
}

export interface DedupeOptions<T> {
  /** Natural key of a row within its (exchange, symbol), e.g. the trade id. */
  readonly key: (row: T) => string | number;
  /** How many recent keys are remembered per (exchange, symbol). */
  readonly window: number;
  readonly name?: string;
  /** Counts drops in `dedupe_dropped_total{exchange,stream,shard}`. */
  readonly metrics?: OperatorMetrics;
}

/**
 * Drops rows whose key was seen among the last `window` keys of the same (exchange, symbol).
 * The venue re-sends on reconnect and during make-before-break rollovers; this removes the overlap.
 * A ring of keys plus a Set: O(1) per row, memory bounded by window × markets.
 */
export class Dedupe<T extends MarketKeyed> implements Operator<T, T> {
  readonly name: string;
  dropped = 0;
  private readonly key: (row: T) => string | number;
  private readonly window: number;
  private readonly perMarket = new PerMarket<RecentKeys>();
  private readonly droppedMetric: Counter.Internal | undefined;

  constructor(options: DedupeOptions<T>) {
    if (!Number.isInteger(options.window) || options.window < 1)
      throw new RangeError(`dedupe window must be a positive integer, got ${options.window}`);
    this.name = options.name ?? 'dedupe';
    this.key = options.key;
    this.window = options.window;
    this.droppedMetric = options.metrics
      ? counter(
          options.metrics.registry,
          'dedupe_dropped_total',
          'Rows dropped as repeats of an event already emitted (reconnect / rollover overlap).',
          ['exchange', 'stream', 'shard'],
        ).labels(plainLabels(options.metrics.labels))
      : undefined;
  }

  push(row: T, emit: Emit<T>): void {
    let b = this.perMarket.get(row.exchange, row.symbol);
    if (b === undefined)
      this.perMarket.set(row.exchange, row.symbol, (b = { ring: [], head: 0, seen: new Set() }));
    const k = this.key(row);
    if (b.seen.has(k)) {
      this.dropped++;
      this.droppedMetric?.inc();
      return;
    }
    if (b.ring.length < this.window) b.ring.push(k);
    else {
      b.seen.delete(b.ring[b.head] as string | number);
      b.ring[b.head] = k;
      b.head = b.head + 1 === this.window ? 0 : b.head + 1;
    }
    b.seen.add(k);
    emit(row);
  }
}

export function dedupe<T extends MarketKeyed>(options: DedupeOptions<T>): Dedupe<T> {
  return new Dedupe(options);
}

export interface WatermarkOptions {
  /** A row whose exchange_ts is older than (max exchange_ts seen for its market − this) is late. */
  readonly allowedLatenessMs: number;
  readonly name?: string;
  /** Counts late rows in `late_rows_total{exchange,stream,shard}`. */
  readonly metrics?: OperatorMetrics;
}

/**
 * Tracks the event-time watermark per (exchange, symbol): the max exchange_ts seen. Rows older than the
 * watermark minus the allowed lateness pass through but are counted (`late_rows_total`): a collector
 * never drops data for being late; the metric tells the operator the venue or the network is lagging.
 */
export class Watermark<T extends MarketKeyed & { readonly exchange_ts: number }> implements Operator<T, T> {
  readonly name: string;
  late = 0;
  private readonly latenessMicros: number;
  private readonly marks = new PerMarket<{ max: number }>();
  private readonly lateMetric: Counter.Internal | undefined;

  constructor(options: WatermarkOptions) {
    if (!(options.allowedLatenessMs >= 0))
      throw new RangeError(`allowedLatenessMs must be ≥ 0, got ${options.allowedLatenessMs}`);
    this.name = options.name ?? 'watermark';
    this.latenessMicros = options.allowedLatenessMs * 1000;
    this.lateMetric = options.metrics
      ? counter(
          options.metrics.registry,
          'late_rows_total',
          'Rows whose exchange time is older than the watermark minus the allowed lateness (passed on, not dropped).',
          ['exchange', 'stream', 'shard'],
        ).labels(plainLabels(options.metrics.labels))
      : undefined;
  }

  push(row: T, emit: Emit<T>): void {
    const m = this.marks.get(row.exchange, row.symbol);
    if (m === undefined) this.marks.set(row.exchange, row.symbol, { max: row.exchange_ts });
    else if (row.exchange_ts > m.max) m.max = row.exchange_ts;
    else if (row.exchange_ts < m.max - this.latenessMicros) {
      this.late++;
      this.lateMetric?.inc();
    }
    emit(row);
  }

  /** Max exchange_ts seen for a market, µs. */
  watermark(exchange: string, symbol: string): number | undefined {
    return this.marks.get(exchange, symbol)?.max;
  }
}

export function watermark<T extends MarketKeyed & { readonly exchange_ts: number }>(
  options: WatermarkOptions,
): Watermark<T> {
  return new Watermark<T>(options);
}

export interface TumblingWindowSpec<T, A, O> {
  readonly name?: string;
  /** Window width; windows are aligned to the epoch ([k·width, (k+1)·width)). */
  readonly widthMs: number;
  /** How far behind its key's max event time an item may be and still join its window (default 0). */
  readonly allowedLatenessMs?: number;
  /** Event time of an item, µs (default: `exchange_ts`). */
  readonly time?: (item: T) => number;
  /** Window group; default one group per (exchange, symbol) of the item (no string built per item). */
  readonly key?: (item: T) => string | number;
  readonly init: (first: T, windowStart: number) => A;
  readonly add: (acc: A, item: T) => void;
  readonly emitRow: (acc: A, windowStart: number, windowEnd: number) => O;
  readonly metrics?: OperatorMetrics;
}

interface WindowState<A> {
  maxTime: number;
  /** End of the last emitted window: items before it can no longer be merged. */
  closedUntil: number;
  /** Open windows by start, ascending (usually one; more only within the allowed lateness). */
  readonly open: { start: number; acc: A }[];
}

/**
 * Tumbling windows over event time (e.g. 1-minute OHLCV per symbol from trades). A window is emitted when
 * its key's watermark (max event time − allowed lateness) passes the window end — so replays give the
 * same output as live — and on `flush` (end of input / close). An item for a window already emitted is
 * counted in `late_rows_total` and `lateItems` and not merged.
 */
export class TumblingWindow<T, A, O> implements Operator<T, O> {
  readonly name: string;
  lateItems = 0;
  private readonly width: number;
  private readonly lateness: number;
  private readonly time: (item: T) => number;
  private readonly byMarket = new PerMarket<WindowState<A>>();
  private readonly byKey = new Map<string | number, WindowState<A>>();
  private readonly lateMetric: Counter.Internal | undefined;

  constructor(private readonly spec: TumblingWindowSpec<T, A, O>) {
    if (!(spec.widthMs > 0)) throw new RangeError(`widthMs must be > 0, got ${spec.widthMs}`);
    this.name = spec.name ?? 'window';
    this.width = spec.widthMs * 1000;
    this.lateness = (spec.allowedLatenessMs ?? 0) * 1000;
    this.time = spec.time ?? ((item) => (item as unknown as { exchange_ts: number }).exchange_ts);
    this.lateMetric = spec.metrics
      ? counter(
          spec.metrics.registry,
          'late_rows_total',
          'Rows whose exchange time is older than the watermark minus the allowed lateness (passed on, not dropped).',
          ['exchange', 'stream', 'shard'],
        ).labels(plainLabels(spec.metrics.labels))
      : undefined;
  }

  private stateOf(item: T): WindowState<A> {
    let s: WindowState<A> | undefined;
    if (this.spec.key) {
      const k = this.spec.key(item);
      s = this.byKey.get(k);
      if (s === undefined) this.byKey.set(k, (s = newState()));
    } else {
      const m = item as unknown as MarketKeyed;
      s = this.byMarket.get(m.exchange, m.symbol);
      if (s === undefined) this.byMarket.set(m.exchange, m.symbol, (s = newState()));
    }
    return s;
  }

  push(item: T, emit: Emit<O>): void {
    const t = this.time(item);
    const start = t - mod(t, this.width);
    const s = this.stateOf(item);
    if (start + this.width <= s.closedUntil) {
      this.lateItems++;
      this.lateMetric?.inc();
      return;
    }
    const open = s.open;
    let i = open.length - 1;
    while (i >= 0 && (open[i] as { start: number }).start > start) i--;
    const w = open[i];
    if (w !== undefined && w.start === start) this.spec.add(w.acc, item);
    else open.splice(i + 1, 0, { start, acc: this.spec.init(item, start) }); // once per window, not per item
    if (t > s.maxTime) {
      s.maxTime = t;
      const mark = t - this.lateness;
      while (open.length > 0 && (open[0] as { start: number }).start + this.width <= mark) {
        const done = open.shift() as { start: number; acc: A };
        s.closedUntil = done.start + this.width;
        emit(this.spec.emitRow(done.acc, done.start, s.closedUntil));
      }
    }
  }

  flush(emit: Emit<O>): void {
    for (const states of [this.byMarket.values(), this.byKey.values()])
      for (const s of states) {
        for (const w of s.open) emit(this.spec.emitRow(w.acc, w.start, w.start + this.width));
        if (s.open.length > 0)
          s.closedUntil = (s.open[s.open.length - 1] as { start: number }).start + this.width;
        s.open.length = 0;
      }
  }
}

function newState<A>(): WindowState<A> {
  return { maxTime: Number.NEGATIVE_INFINITY, closedUntil: Number.NEGATIVE_INFINITY, open: [] };
}

function mod(a: number, n: number): number {
  const r = a % n;
  return r < 0 ? r + n : r;
}

export function tumblingWindow<T, A, O>(spec: TumblingWindowSpec<T, A, O>): TumblingWindow<T, A, O> {
  return new TumblingWindow(spec);
}

export interface OhlcvBar {
  readonly exchange: string;
  readonly symbol: string;
  readonly window_start: number;
  readonly window_end: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  readonly trades: number;
}

interface OhlcvAcc {
  exchange: string;
  symbol: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  trades: number;
}

export type OhlcvInput = MarketKeyed & {
  readonly trade_ts: number;
  readonly price: number;
  readonly qty: number;
};

/** OHLCV bars per (exchange, symbol) from trade rows, on trade time (`trade_ts`). */
export function ohlcvWindow(
  widthMs: number,
  options: { allowedLatenessMs?: number; metrics?: OperatorMetrics } = {},
): TumblingWindow<OhlcvInput, OhlcvAcc, OhlcvBar> {
  return new TumblingWindow<OhlcvInput, OhlcvAcc, OhlcvBar>({
    name: 'ohlcv',
    widthMs,
    allowedLatenessMs: options.allowedLatenessMs,
    metrics: options.metrics,
    time: (t) => t.trade_ts,
    init: (t) => ({
      exchange: t.exchange,
      symbol: t.symbol,
      open: t.price,
      high: t.price,
      low: t.price,
      close: t.price,
      volume: t.qty,
      trades: 1,
    }),
    add: (a, t) => {
      if (t.price > a.high) a.high = t.price;
      if (t.price < a.low) a.low = t.price;
      a.close = t.price;
      a.volume += t.qty;
      a.trades++;
    },
    emitRow: (a, start, end) => ({
      exchange: a.exchange,
      symbol: a.symbol,
      window_start: start,
      window_end: end,
      open: a.open,
      high: a.high,
      low: a.low,
      close: a.close,
      volume: a.volume,
      trades: a.trades,
    }),
  });
}

export interface PipelineOptions {
  readonly registry: Registry;
  readonly labels: { readonly exchange: string; readonly stream: string };
  /** Time one input in this many (default 64). */
  readonly sampleEvery?: number;
}

/**
 * Chains operators into one `push`. The emit each stage calls is built once here (stage i emits into
 * stage i+1, the last into the sink). One input in `sampleEvery` is timed: each stage's *own* time
 * (its clock pauses while downstream stages run) goes to `operator_latency_seconds{operator,exchange,stream}`.
 * Rows in and out of each stage are counted in plain arrays and added to
 * `operator_rows_total{operator,exchange,stream,direction}` on sampled pushes and on flush (a prom-client
 * `inc()` hashes its labels: too costly once per row per stage).
 */
export class Pipeline<I, O> {
  // Stages are type-erased: the chain's types are checked where it is assembled.
  private readonly stages: Operator<unknown, unknown>[];
  private readonly emits: Emit<unknown>[];
  private readonly latency: Histogram.Internal<string>[];
  private readonly rowsIn: Counter.Internal[];
  private readonly rowsOut: Counter.Internal[];
  private readonly inCounts: Float64Array;
  private readonly outCounts: Float64Array;
  private readonly started: Float64Array;
  private readonly own: Float64Array;
  private readonly ran: Uint8Array;
  private readonly sink: Emit<unknown>;
  private readonly sampleEvery: number;
  private sampling = false;
  private pushes = 0;

  constructor(stages: readonly Operator<any, any>[], sink: Emit<O>, options: PipelineOptions) {
    this.stages = [...stages] as Operator<unknown, unknown>[];
    const n = this.stages.length;
    const latency = histogram(
      options.registry,
      'operator_latency_seconds',
      'Time spent in one normalize operator per input, excluding downstream operators (sampled).',
      ['operator', 'exchange', 'stream'],
    );
    const rows = counter(
      options.registry,
      'operator_rows_total',
      'Rows into and out of each normalize operator.',
      ['operator', 'exchange', 'stream', 'direction'],
    );
    const { exchange, stream } = options.labels;
    this.latency = this.stages.map((st) => latency.labels({ operator: st.name, exchange, stream }));
    this.rowsIn = this.stages.map((st) =>
      rows.labels({ operator: st.name, exchange, stream, direction: 'in' }),
    );
    this.rowsOut = this.stages.map((st) =>
      rows.labels({ operator: st.name, exchange, stream, direction: 'out' }),
    );
    this.inCounts = new Float64Array(n);
    this.outCounts = new Float64Array(n);
    this.started = new Float64Array(n);
    this.own = new Float64Array(n);
    this.ran = new Uint8Array(n);
    this.sampleEvery = Math.max(1, Math.floor(options.sampleEvery ?? 64));
    this.sink = sink as Emit<unknown>;
    this.emits = new Array<Emit<unknown>>(n);
    for (let i = n - 1; i >= 0; i--) this.emits[i] = this.emitAfter(i, sink as Emit<unknown>);
  }

  /** The emit stage `at` calls: count, then hand the row on (pausing `at`'s clock when sampling). */
  private emitAfter(at: number, sink: Emit<unknown>): Emit<unknown> {
    const outs = this.outCounts;
    const ins = this.inCounts;
    const started = this.started;
    const own = this.own;
    const nextStage = this.stages[at + 1];
    if (nextStage === undefined) {
      return (row) => {
        outs[at]! += 1;
        if (!this.sampling) return sink(row);
        own[at]! += performance.now() - started[at]!;
        sink(row);
        started[at] = performance.now();
      };
    }
    const nextEmit = this.emits[at + 1] as Emit<unknown>;
    const next = at + 1;
    return (row) => {
      outs[at]! += 1;
      ins[next]! += 1;
      if (!this.sampling) return nextStage.push(row, nextEmit);
      const t = performance.now();
      own[at]! += t - started[at]!;
      this.ran[next] = 1;
      started[next] = t;
      nextStage.push(row, nextEmit);
      const after = performance.now();
      own[next]! += after - started[next]!;
      started[at] = after;
    };
  }

  push(row: I): void {
    const first = this.stages[0];
    if (first === undefined) return this.sink(row);
    this.inCounts[0]! += 1;
    if (++this.pushes !== this.sampleEvery) return first.push(row, this.emits[0] as Emit<unknown>);
    this.pushes = 0;
    this.own.fill(0);
    this.ran.fill(0);
    this.ran[0] = 1;
    this.sampling = true;
    this.started[0] = performance.now();
    try {
      first.push(row, this.emits[0] as Emit<unknown>);
      this.own[0]! += performance.now() - this.started[0]!;
    } finally {
      this.sampling = false;
    }
    for (let i = 0; i < this.stages.length; i++)
      if (this.ran[i] === 1) (this.latency[i] as Histogram.Internal<string>).observe(this.own[i]! / 1000);
    this.publishCounts();
  }

  /** Flushes every stage in order (a stage's flushed rows still pass through the stages after it). */
  flush(): void {
    for (let i = 0; i < this.stages.length; i++) this.stages[i]?.flush?.(this.emits[i] as Emit<unknown>);
    this.publishCounts();
  }

  private publishCounts(): void {
    for (let i = 0; i < this.stages.length; i++) {
      const nIn = this.inCounts[i]!;
      const nOut = this.outCounts[i]!;
      if (nIn > 0) (this.rowsIn[i] as Counter.Internal).inc(nIn);
      if (nOut > 0) (this.rowsOut[i] as Counter.Internal).inc(nOut);
      this.inCounts[i] = 0;
      this.outCounts[i] = 0;
    }
  }
}

function plainLabels(l: OperatorMetrics['labels']): { exchange: string; stream: string; shard: string } {
  return { exchange: l.exchange, stream: l.stream, shard: l.shard };
}
