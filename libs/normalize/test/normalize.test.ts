import { describe, expect, it } from 'vitest';
import { isCfError } from '@cryptoflow/core';
import { BadInputReporter, BinanceDecoder } from '@cryptoflow/ingest';
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import type { CanonicalRow, TradeRow } from '@cryptoflow/model';
import {
  Dedupe,
  TumblingWindow,
  Watermark,
  buildOperators,
  createNormalizer,
  ohlcvWindow,
} from '../src/index.js';
import type { OhlcvBar } from '../src/index.js';

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
      expect(issues).toMatch(/normalize\.operators\[0\]\.cmp/);
      expect(issues).toMatch(/normalize\.operators\[1\]\.column: nope is not a column of trades/);
      expect(issues).toMatch(/normalize\.operators\[2\]\.fn: round needs a double column, side is string/);
      expect(issues).toMatch(/normalize\.operators\[2\]\.decimals: required/);
      expect(issues).toMatch(/normalize\.operators\[3\]\.column: trade_id is part of the natural key/);
      expect(issues).toMatch(/normalize\.operators\[4\]\.op/);
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
    const d = new Dedupe<ReturnType<typeof row>>((r) => r.exchange_ts, 2);
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

  it('watermark counts rows later than the allowed lateness and passes them on', () => {
    const out: unknown[] = [];
    const w = new Watermark<ReturnType<typeof row>>(10);
    for (const t of [100, 120, 115, 105]) w.push(row('A', t), (r) => out.push(r));
    expect(out).toHaveLength(4);
    expect(w.late).toBe(1);
    expect(w.watermark('x', 'A')).toBe(120);
  });

  it('tumbling OHLCV windows close on event time and flush at the end', () => {
    const bars: OhlcvBar[] = [];
    const w = ohlcvWindow(60_000_000);
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
