import { describe, expect, it } from 'vitest';
import { isCfError } from '@cryptoflow/core';
import { BadInputReporter, BinanceDecoder } from '@cryptoflow/ingest';
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import type { CanonicalRow, TradeRow } from '@cryptoflow/model';
import {
  Dedupe,
  Pipeline,
  TumblingWindow,
  Watermark,
  buildOperators,
  createNormalizer,
  filter,
  flatten,
  map,
  ohlcvWindow,
  tumblingWindow,
} from '../src/index.js';
import type { OhlcvBar, Operator } from '../src/index.js';

const logger = createLogger({ app: 't', level: 'silent' });
const labels = { exchange: 'binance-usdm', stream: 'ticks', shard: '0' };

function setup(stream: 'ticks' | 'funding' | 'liquidations', operators: unknown[] = []) {
  const registry = new Registry();
  const reporter = new BadInputReporter({ registry, logger, labels });
  const decoder = new BinanceDecoder({
    exchange: 'binance-usdm',
    symbols: new Set(['BTCUSDT']),
    registry,
    logger,
    labels,
    reporter,
  });
  const rows: CanonicalRow[] = [];
  const n = createNormalizer({
    stream,
    exchange: 'binance-usdm',
    operators,
    registry,
    labels: { ...labels, stream },
    reporter,
    emit: (r) => rows.push(r),
  });
  const push = (data: object, at = 1_000_000): void => {
    const msg = decoder.decode({
      exchange: 'binance-usdm',
      connId: 'c',
      receivedAt: at,
      data: JSON.stringify(data),
    });
    if (msg) n.push(msg);
  };
  return { rows, push, reporter, registry, n };
}

const aggTrade = (a: number, extra: object = {}) => ({
  e: 'aggTrade',
  E: 1_700_000_000_000 + a,
  s: 'BTCUSDT',
  a,
  p: '100.5',
  q: '0.25',
  f: a * 10,
  l: a * 10 + 2,
  T: 1_700_000_000_000 + a,
  m: true,
  ...extra,
});

describe('normalizer', () => {
  it('maps aggTrade to a trade row: taker side from m, times in µs, ids kept', () => {
    const { rows, push } = setup('ticks');
    push(aggTrade(7), 42);
    push(aggTrade(8, { m: false }), 43);
    expect(rows[0]).toEqual({
      table: 'trades',
      exchange: 'binance-usdm',
      symbol: 'BTCUSDT',
      exchange_ts: 1_700_000_000_007_000,
      ingest_ts: 42,
      trade_ts: 1_700_000_000_007_000,
      trade_id: 7,
      first_trade_id: 70,
      last_trade_id: 72,
      price: 100.5,
      qty: 0.25,
      side: 'sell',
      trade_id_text: null,
    });
    expect((rows[1] as TradeRow).side).toBe('buy');
  });

  it('drops repeats of a trade (reconnect / rollover overlap) and counts them', async () => {
    const { rows, push, registry } = setup('ticks');
    for (const a of [1, 2, 3, 2, 3, 4]) push(aggTrade(a));
    expect(rows.map((r) => (r as TradeRow).trade_id)).toEqual([1, 2, 3, 4]);
    expect(await registry.getSingleMetricAsString('dedupe_dropped_total')).toContain('} 2');
  });

  it('maps markPrice with empty funding fields to nulls, and forceOrder', () => {
    const f = setup('funding');
    f.push({
      e: 'markPriceUpdate',
      E: 1_700_000_000_000,
      s: 'BTCUSDT',
      p: '100',
      i: '',
      P: '100.1',
      r: '',
      T: 0,
    });
    expect(f.rows[0]).toMatchObject({
      table: 'funding',
      mark_price: 100,
      index_price: null,
      est_settle_price: 100.1,
      funding_rate: null,
      next_funding_ts: null,
    });
    const l = setup('liquidations');
    l.push({
      e: 'forceOrder',
      E: 1_700_000_000_000,
      o: {
        s: 'BTCUSDT',
        S: 'SELL',
        o: 'LIMIT',
        f: 'IOC',
        q: '0.014',
        p: '9910',
        ap: '9910',
        X: 'FILLED',
        l: '0.014',
        z: '0.014',
        T: 1_700_000_000_001,
      },
    });
    expect(l.rows[0]).toMatchObject({
      table: 'liquidations',
      side: 'sell',
      orig_qty: 0.014,
      trade_ts: 1_700_000_000_001_000,
      order_status: 'FILLED',
    });
  });

  it('reports bad fields like bad frames and continues', () => {
    const { rows, push, reporter } = setup('ticks');
    push(aggTrade(1, { p: 'NaN?' }));
    push(aggTrade(2, { a: 2 ** 60 }));
    push(aggTrade(3, { q: undefined }));
    push(aggTrade(4));
    expect(rows).toHaveLength(1);
    expect(reporter.counts).toMatchObject({ mistyped_field: 1, unsafe_integer: 1, missing_field: 1 });
  });

  it('applies configured operators after the mapper', () => {
    const { rows, push } = setup('ticks', [
      { op: 'filter', column: 'qty', cmp: 'gte', value: 1 },
      { op: 'map', column: 'price', fn: 'round', decimals: 0 },
    ]);
    push(aggTrade(1, { q: '0.5' }));
    push(aggTrade(2, { q: '2', p: '100.6' }));
    expect(rows.map((r) => [(r as TradeRow).trade_id, (r as TradeRow).price])).toEqual([[2, 101]]);
  });
});

describe('config-built operators', () => {
  it('lists every problem with its path', () => {
    try {
      buildOperators(
        [
          { op: 'filter', column: 'qty', cmp: 'bigger', value: 1 },
          { op: 'filter', column: 'nope', cmp: 'gt', value: 1 },
          { op: 'map', column: 'side', fn: 'round' },
          { op: 'map', column: 'trade_id', fn: 'set', value: 3 },
          { op: 'explode' },
        ],
        'trades',
      );
      expect.unreachable();
    } catch (err) {
      expect(isCfError(err, 'CF_CONFIG_INVALID')).toBe(true);
      const issues = (err as { context: { issues: string[] } }).context.issues.join('\n');
      expect(issues).toMatch(/normalize\.operators\[0\]\.cmp: expected one of "eq"\|"ne"\|"gt"/);
      expect(issues).toMatch(/normalize\.operators\[1\]\.column: nope is not a column of trades/);
      expect(issues).toMatch(/normalize\.operators\[2\]\.fn: round needs a double column, side is string/);
      expect(issues).toMatch(/normalize\.operators\[2\]\.decimals: required/);
      expect(issues).toMatch(/normalize\.operators\[3\]\.column: trade_id is part of the natural key/);
      expect(issues).toMatch(/normalize\.operators\[4\]\.op: expected one of 'filter' \| 'map' \| 'dedupe'/);
    }
  });
});

describe('operators', () => {
  const row = (symbol: string, ts: number, price = 1, qty = 1) => ({
    exchange: 'x',
    symbol,
    exchange_ts: ts,
    trade_ts: ts,
    price,
    qty,
  });

  it('dedupe forgets keys beyond its window, per symbol', () => {
    const out: unknown[] = [];
    const d = new Dedupe<ReturnType<typeof row>>({ key: (r) => r.exchange_ts, window: 2 });
    for (const [s, t] of [
      ['A', 1],
      ['B', 1],
      ['A', 2],
      ['A', 1],
      ['A', 3],
      ['A', 1],
    ] as const)
      d.push(row(s, t), (r) => out.push(r));
    expect(out).toHaveLength(5); // ['A',1] repeat dropped once; after A3 the window {2,3} forgot 1
    expect(d.dropped).toBe(1);
  });

  it('watermark counts rows later than the allowed lateness and passes them on', async () => {
    const out: unknown[] = [];
    const registry = new Registry();
    const w = new Watermark<ReturnType<typeof row>>({ allowedLatenessMs: 10, metrics: { registry, labels } });
    for (const t of [100_000, 120_000, 115_000, 105_000, 109_999]) w.push(row('A', t), (r) => out.push(r));
    w.push(row('B', 50_000), (r) => out.push(r)); // another market has its own watermark
    expect(out).toHaveLength(6);
    expect(w.late).toBe(2);
    expect(w.watermark('x', 'A')).toBe(120_000);
    expect(w.watermark('x', 'B')).toBe(50_000);
    expect(await registry.getSingleMetricAsString('late_rows_total')).toContain('shard="0"} 2');
  });

  it('tumbling OHLCV windows close on event time and flush at the end', () => {
    const bars: OhlcvBar[] = [];
    const w = ohlcvWindow(60_000);
    const emit = (b: OhlcvBar) => bars.push(b);
    w.push(row('A', 1_000_000, 10, 1), emit);
    w.push(row('A', 30_000_000, 12, 2), emit);
    w.push(row('A', 59_000_000, 9, 1), emit);
    w.push(row('A', 61_000_000, 11, 1), emit);
    expect(bars).toEqual([
      {
        exchange: 'x',
        symbol: 'A',
        window_start: 0,
        window_end: 60_000_000,
        open: 10,
        high: 12,
        low: 9,
        close: 9,
        volume: 4,
        trades: 3,
      },
    ]);
    w.flush(emit);
    expect(bars[1]).toMatchObject({ window_start: 60_000_000, open: 11, trades: 1 });
    expect(w).toBeInstanceOf(TumblingWindow);
  });
});

describe('tumbling windows', () => {
  const t = (symbol: string, ms: number, price: number, qty = 1) => ({
    exchange: 'binance',
    symbol,
    trade_ts: ms * 1000,
    price,
    qty,
  });

  it('emit a window once the watermark passes its end, per symbol, and hold it within the lateness', () => {
    const bars: OhlcvBar[] = [];
    const emit = (b: OhlcvBar) => bars.push(b);
    const w = ohlcvWindow(60_000, { allowedLatenessMs: 5_000 });
    w.push(t('A', 10_000, 10), emit);
    w.push(t('B', 61_000, 99), emit); // B's time does not close A's window
    w.push(t('A', 62_000, 11), emit); // A's watermark 57 s: window [0, 60 s) still open
    expect(bars).toHaveLength(0);
    w.push(t('A', 58_000, 8), emit); // late but within the lateness: merged
    w.push(t('A', 65_000, 12), emit); // watermark 60 s: closes [0, 60 s)
    expect(bars).toEqual([
      {
        exchange: 'binance',
        symbol: 'A',
        window_start: 0,
        window_end: 60_000_000,
        open: 10,
        high: 10,
        low: 8,
        close: 8,
        volume: 2,
        trades: 2,
      },
    ]);
    w.push(t('A', 59_000, 1), emit); // its window was emitted: counted, not merged
    expect(w.lateItems).toBe(1);
    w.flush(emit);
    expect(bars.slice(1).map((b) => [b.symbol, b.window_start, b.open, b.close, b.trades])).toEqual([
      ['A', 60_000_000, 11, 12, 2],
      ['B', 60_000_000, 99, 99, 1],
    ]);
    w.flush(emit);
    expect(bars).toHaveLength(3); // flushed windows are not emitted twice
  });

  it('accept a custom key, time and aggregate', () => {
    const out: { k: string; n: number; start: number }[] = [];
    const w = tumblingWindow<
      { k: string; at: number },
      { n: number; k: string },
      { k: string; n: number; start: number }
    >({
      widthMs: 10,
      key: (i) => i.k,
      time: (i) => i.at,
      init: (i) => ({ n: 1, k: i.k }),
      add: (a) => void a.n++,
      emitRow: (a, start) => ({ k: a.k, n: a.n, start }),
    });
    for (const [k, at] of [
      ['x', 1_000],
      ['x', 9_000],
      ['y', 5_000],
      ['x', 10_000],
      ['y', 20_000],
    ] as const)
      w.push({ k, at }, (r) => out.push(r));
    expect(out).toEqual([
      { k: 'x', n: 2, start: 0 },
      { k: 'y', n: 1, start: 0 },
    ]);
    expect(w).toBeInstanceOf(TumblingWindow);
  });
});

describe('Pipeline', () => {
  it('chains filter, flatten and map in order, counts rows in/out and samples each operator', async () => {
    const registry = new Registry();
    const out: number[] = [];
    const stages: Operator<any, any>[] = [
      filter((n: number) => n % 2 === 1, 'odd'),
      flatten((n: number, emit: (x: number) => void) => {
        emit(n);
        emit(n * 10);
      }, 'twice'),
      map((n: number) => n + 1, 'inc'),
    ];
    const p = new Pipeline<number, number>(stages, (n) => out.push(n), {
      registry,
      labels: { exchange: 'binance', stream: 'ticks' },
      sampleEvery: 2,
    });
    for (let n = 0; n < 6; n++) p.push(n);
    p.flush();
    expect(out).toEqual([2, 11, 4, 31, 6, 51]);
    const rows = await registry.getSingleMetricAsString('operator_rows_total');
    expect(rows).toContain('operator="odd",exchange="binance",stream="ticks",direction="in"} 6');
    expect(rows).toContain('operator="odd",exchange="binance",stream="ticks",direction="out"} 3');
    expect(rows).toContain('operator="twice",exchange="binance",stream="ticks",direction="out"} 6');
    expect(rows).toContain('operator="inc",exchange="binance",stream="ticks",direction="in"} 6');
    const latency = await registry.getSingleMetricAsString('operator_latency_seconds');
    // 3 of 6 pushes sampled; all reach 'odd', the odd ones among them (1, 3, 5) reach the rest
    expect(latency).toContain(
      'operator_latency_seconds_count{operator="odd",exchange="binance",stream="ticks"} 3',
    );
    expect(latency).toMatch(
      /operator_latency_seconds_count\{operator="inc",exchange="binance",stream="ticks"\} [1-3]/,
    );
  });

  it('flushes stages in order so a window closed on flush still passes the later stages', () => {
    const out: unknown[] = [];
    const p = new Pipeline<ReturnType<typeof tr>, OhlcvBar>(
      [ohlcvWindow(60_000), filter((b: OhlcvBar) => b.trades > 1, 'busy')],
      (b) => out.push(b),
      { registry: new Registry(), labels: { exchange: 'x', stream: 'ticks' } },
    );
    p.push(tr(1));
    p.push(tr(2));
    expect(out).toHaveLength(0);
    p.flush();
    expect(out).toMatchObject([{ trades: 2 }]);
  });
  const tr = (ms: number) => ({ exchange: 'x', symbol: 'A', trade_ts: ms * 1000, price: 1, qty: 1 });
});

describe('config-built operators without a table', () => {
  const trade = (id: number, qty: number): CanonicalRow => ({
    table: 'trades',
    exchange: 'binance',
    symbol: 'BTCUSDT',
    exchange_ts: id,
    ingest_ts: id,
    trade_ts: id,
    trade_id: id,
    trade_id_text: null,
    first_trade_id: null,
    last_trade_id: null,
    price: 1.23456,
    qty,
    side: 'buy',
  });

  it('filter in/not_in, scale, round and a dedupe keyed by each row table', () => {
    const ops = buildOperators([
      { op: 'filter', column: 'side', cmp: 'in', value: ['buy', 'sell'] },
      { op: 'filter', column: 'qty', cmp: 'lt', value: 100 },
      { op: 'map', column: 'qty', fn: 'scale', factor: 2 },
      { op: 'map', column: 'price', fn: 'round', decimals: 2 },
      { op: 'dedupe', window: 8 },
    ]);
    const out: TradeRow[] = [];
    const p = new Pipeline<CanonicalRow, CanonicalRow>(ops, (r) => out.push(r as TradeRow), {
      registry: new Registry(),
      labels: { exchange: 'binance', stream: 'ticks' },
    });
    for (const [id, qty] of [
      [1, 1],
      [2, 500],
      [1, 1],
      [3, 2],
    ] as const)
      p.push(trade(id, qty));
    expect(out.map((r) => [r.trade_id, r.qty, r.price])).toEqual([
      [1, 2, 1.23],
      [3, 4, 1.23],
    ]);
  });

  it('still checks shapes and lists every issue with its path', () => {
    let issues: string[] = [];
    try {
      buildOperators(
        [
          { op: 'filter', column: 'qty', cmp: 'gt', value: 'x' },
          { op: 'filter', column: 'side', cmp: 'in', value: 'buy' },
          { op: 'map', column: 'symbol', fn: 'upper' },
          7,
        ],
        { path: 'x.ops' },
      );
    } catch (err) {
      issues = (err as { context: { issues: string[] } }).context.issues;
    }
    expect(issues).toEqual([
      'x.ops[0].value: gt needs a number',
      'x.ops[1].value: in needs a list of values',
      'x.ops[2].column: symbol identifies the row and cannot be mapped',
      'x.ops[3]: expected object, received number',
    ]);
  });
});
