import { describe, expect, it } from 'vitest';
import type { TradeRow } from '@cryptoflow/model';
import { naturalKeyOf } from '../src/index.js';

const base: TradeRow = {
  table: 'trades',
  exchange: 'bybit-linear',
  symbol: 'BTCUSDT',
  exchange_ts: 1,
  ingest_ts: 2,
  trade_ts: 1,
  trade_id: null,
  first_trade_id: null,
  last_trade_id: null,
  price: 1,
  qty: 1,
  side: 'buy',
  trade_id_text: null,
};

describe('trade natural key: the venue id from trade_id or trade_id_text', () => {
  const key = naturalKeyOf('trades');

  it('is the id itself, with no string built for integer ids', () => {
    expect(key({ ...base, exchange: 'binance', trade_id: 42 })).toBe(42);
    expect(key({ ...base, trade_id_text: '6f1e2c3d-aaaa-4bbb-8ccc-000000000001' })).toBe(
      '6f1e2c3d-aaaa-4bbb-8ccc-000000000001',
    );
  });

  it('keeps an integer id apart from the same digits as text, and rows with both apart from either', () => {
    const keys = [
      key({ ...base, trade_id: 42 }),
      key({ ...base, trade_id_text: '42' }),
      key({ ...base, trade_id: 42, trade_id_text: '42' }),
    ];
    expect(new Set(keys).size).toBe(3);
  });
});
