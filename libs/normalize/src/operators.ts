import { counter, histogram } from '@cryptoflow/metrics';
import type { Counter, Histogram, Registry } from '@cryptoflow/metrics';
import type { CanonicalRow } from '@cryptoflow/model';

export type Emit<T> = (item: T) => void;

/**
 * A push-based operator: `push` handles one input and calls `emit` zero or more times, synchronously.
 * No per-message closures or arrays: operators are objects with methods, chained once at build time.
 */
export interface Operator<I, O> {
  readonly name: string;
  push(input: I, emit: Emit<O>): void;
  /** End of input: emit what the operator still holds (open windows). */
  flush?(emit: Emit<O>): void;
}

export function filter<T>(name: string, pred: (item: T) => boolean): Operator<T, T> {
  return { name, push: (item, emit) => (pred(item) ? emit(item) : undefined) };
}

export function map<I, O>(name: string, fn: (item: I) => O): Operator<I, O> {
  return { name, push: (item, emit) => emit(fn(item)) };
}

/** One input to many outputs (an event to its level rows, a batch to its items). */
export function flatten<I, O>(name: string, fn: (item: I, emit: Emit<O>) => void): Operator<I, O> {
  return { name, push: fn };
}

/**
 * Drops rows whose key was seen among the last `window` keys of the same (exchange, symbol).
 * The venue re-sends on reconnect and during make-before-break rollovers; this removes the overlap.
 */
export class Dedupe<T extends { exchange: string; symbol: string }> implements Operator<T, T> {
  readonly name: string;
  dropped = 0;
  // exchange → symbol → recent keys: two lookups, no string built per row.
  private readonly perKey = new Map<
    string,
    Map<string, { ring: (string | number)[]; head: number; seen: Set<string | number> }>
  >();

  constructor(
    private readonly key: (row: T) => string | number,
    private readonly window = 4096,
    private readonly onDrop?: () => void,
    name = 'dedupe',
  ) {
    this.name = name;
  }

  push(row: T, emit: Emit<T>): void {
    let bySymbol = this.perKey.get(row.exchange);
    if (!bySymbol) this.perKey.set(row.exchange, (bySymbol = new Map()));
    let b = bySymbol.get(row.symbol);
    if (!b) bySymbol.set(row.symbol, (b = { ring: [], head: 0, seen: new Set() }));
    const k = this.key(row);
    if (b.seen.has(k)) {
      this.dropped++;
      this.onDrop?.();
      return;
    }
    if (b.ring.length < this.window) b.ring.push(k);
    else {
      b.seen.delete(b.ring[b.head] as string | number);
      b.ring[b.head] = k;
      b.head = (b.head + 1) % this.window;
    }
    b.seen.add(k);
    emit(row);
  }
}

/**
 * Tracks the event-time watermark per (exchange, symbol): max exchange_ts seen. Rows older than the
 * watermark minus the allowed lateness pass through but are counted (`late_rows_total`): a collector
 * never drops data for being late; the metric tells the operator the venue or the network is lagging.
 */
export class Watermark<
  T extends { exchange: string; symbol: string; exchange_ts: number },
> implements Operator<T, T> {
  readonly name = 'watermark';
  late = 0;
  private readonly marks = new Map<string, number>();

  constructor(
    private readonly allowedLatenessMicros: number,
    private readonly onLate?: () => void,
  ) {}

  push(row: T, emit: Emit<T>): void {
    const key = row.exchange + '|' + row.symbol;
    const mark = this.marks.get(key) ?? 0;
    if (row.exchange_ts > mark) this.marks.set(key, row.exchange_ts);
    else if (row.exchange_ts < mark - this.allowedLatenessMicros) {
      this.late++;
      this.onLate?.();
    }
    emit(row);
  }

  watermark(exchange: string, symbol: string): number | undefined {
    return this.marks.get(exchange + '|' + symbol);
  }
}

export interface TumblingWindowSpec<T, A, O> {
  readonly name: string;
  readonly widthMicros: number;
  /** Group key within an (exchange, symbol), e.g. '' for one window per symbol. */
  readonly init: (first: T, windowStart: number) => A;
  readonly add: (acc: A, item: T) => void;
  readonly result: (acc: A, windowStart: number, windowEnd: number) => O;
  /** Event time of an item, µs. */
  readonly time: (item: T) => number;
  readonly key: (item: T) => string;
}

/**
 * Tumbling windows over event time per key (e.g. 1-minute OHLCV per symbol from trades). A window is
 * emitted when an item of a later window arrives for its key (event time, so replays give the same
 * output), and on `flush` at end of input. Items older than the open window are counted, not merged.
 */
export class TumblingWindow<T, A, O> implements Operator<T, O> {
  readonly name: string;
  lateItems = 0;
  private readonly open = new Map<string, { start: number; acc: A }>();

  constructor(private readonly spec: TumblingWindowSpec<T, A, O>) {
    this.name = spec.name;
  }

  push(item: T, emit: Emit<O>): void {
    const t = this.spec.time(item);
    const start = t - (t % this.spec.widthMicros);
    const key = this.spec.key(item);
    const w = this.open.get(key);
    if (w === undefined) {
      this.open.set(key, { start, acc: this.spec.init(item, start) });
    } else if (start === w.start) {
      this.spec.add(w.acc, item);
    } else if (start > w.start) {
      emit(this.spec.result(w.acc, w.start, w.start + this.spec.widthMicros));
      this.open.set(key, { start, acc: this.spec.init(item, start) });
    } else {
      this.lateItems++;
    }
  }

  flush(emit: Emit<O>): void {
    for (const w of this.open.values())
      emit(this.spec.result(w.acc, w.start, w.start + this.spec.widthMicros));
    this.open.clear();
  }
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

/** 1-minute (or any width) OHLCV bars per symbol from trade rows, on trade time. */
export function ohlcvWindow(widthMicros: number): TumblingWindow<
  { exchange: string; symbol: string; trade_ts: number; price: number; qty: number },
  {
    exchange: string;
    symbol: string;
    open: number;
    high: number;
    low: number;
    close: number;
    volume: number;
    trades: number;
  },
  OhlcvBar
> {
  return new TumblingWindow({
    name: 'ohlcv',
    widthMicros,
    key: (t) => t.exchange + '|' + t.symbol,
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
    result: (a, start, end) => ({ ...a, window_start: start, window_end: end }),
  });
}

/**
 * Chains operators into one `push`. Each stage's latency is sampled (1 in `sampleEvery` inputs, one
 * clock read pair) into `operator_latency_seconds{operator,exchange,stream}`; rows in/out are counted.
 */
export class OperatorChain {
  private readonly stages: Operator<CanonicalRow, CanonicalRow>[];
  private readonly emits: Emit<CanonicalRow>[];
  private readonly latency: Histogram.Internal<string>[];
  private readonly rowsIn: Counter.Internal[];
  private readonly rowsOut: Counter.Internal[];
  // Plain counts per stage, added to the prom counters on every sampled push and on flush: a prom-client
  // inc() hashes its label set, too costly once per row per stage.
  private readonly inCounts: Float64Array;
  private readonly outCounts: Float64Array;
  private readonly sampleEvery: number;
  private counter = 0;

  constructor(
    stages: readonly Operator<CanonicalRow, CanonicalRow>[],
    sinkEmit: Emit<CanonicalRow>,
    options: { registry: Registry; labels: { exchange: string; stream: string }; sampleEvery?: number },
  ) {
    this.stages = [...stages];
    const latency = histogram(
      options.registry,
      'operator_latency_seconds',
      'Time spent in one normalize operator per input (sampled).',
      ['operator', 'exchange', 'stream'],
    );
    const rows = counter(
      options.registry,
      'operator_rows_total',
      'Rows into and out of each normalize operator.',
      ['operator', 'exchange', 'stream', 'direction'],
    );
    this.latency = this.stages.map((st) => latency.labels({ operator: st.name, ...options.labels }));
    this.rowsIn = this.stages.map((st) =>
      rows.labels({ operator: st.name, ...options.labels, direction: 'in' }),
    );
    this.rowsOut = this.stages.map((st) =>
      rows.labels({ operator: st.name, ...options.labels, direction: 'out' }),
    );
    this.inCounts = new Float64Array(this.stages.length);
    this.outCounts = new Float64Array(this.stages.length);
    this.sampleEvery = options.sampleEvery ?? 64;
    // Emits are built once: stage i emits into stage i+1, the last into the sink.
    this.emits = new Array<Emit<CanonicalRow>>(this.stages.length + 1);
    this.emits[this.stages.length] = sinkEmit;
    const ins = this.inCounts;
    const outs = this.outCounts;
    for (let i = this.stages.length - 1; i >= 0; i--) {
      const stage = this.stages[i + 1];
      const next = this.emits[i + 1] as Emit<CanonicalRow>;
      const at = i;
      this.emits[i] = stage
        ? (row) => {
            outs[at] = (outs[at] as number) + 1;
            ins[at + 1] = (ins[at + 1] as number) + 1;
            stage.push(row, next);
          }
        : (row) => {
            outs[at] = (outs[at] as number) + 1;
            next(row);
          };
    }
  }

  push(row: CanonicalRow): void {
    const first = this.stages[0];
    if (!first) {
      (this.emits[0] as Emit<CanonicalRow>)(row);
      return;
    }
    this.inCounts[0] = (this.inCounts[0] as number) + 1;
    if (++this.counter % this.sampleEvery !== 0) {
      first.push(row, this.emits[0] as Emit<CanonicalRow>);
      return;
    }
    // Sampled: time each stage on its own by running the chain stage by stage for this row.
    this.timedPush(0, row);
    this.publishCounts();
  }

  private timedPush(index: number, row: CanonicalRow): void {
    const stage = this.stages[index];
    if (!stage) {
      (this.emits[this.stages.length] as Emit<CanonicalRow>)(row);
      return;
    }
    const outs: CanonicalRow[] = [];
    const t0 = performance.now();
    stage.push(row, (r) => outs.push(r));
    (this.latency[index] as Histogram.Internal<string>).observe((performance.now() - t0) / 1000);
    for (const r of outs) {
      this.outCounts[index] = (this.outCounts[index] as number) + 1;
      if (this.stages[index + 1]) this.inCounts[index + 1] = (this.inCounts[index + 1] as number) + 1;
      this.timedPush(index + 1, r);
    }
  }

  private publishCounts(): void {
    for (let i = 0; i < this.stages.length; i++) {
      const nIn = this.inCounts[i] as number;
      const nOut = this.outCounts[i] as number;
      if (nIn > 0) (this.rowsIn[i] as Counter.Internal).inc(nIn);
      if (nOut > 0) (this.rowsOut[i] as Counter.Internal).inc(nOut);
      this.inCounts[i] = 0;
      this.outCounts[i] = 0;
    }
  }

  flush(): void {
    for (let i = 0; i < this.stages.length; i++) this.stages[i]?.flush?.(this.emits[i] as Emit<CanonicalRow>);
    this.publishCounts();
  }
}
