import { describe, expect, it } from 'vitest';
import { isCfError } from '@cryptoflow/core';
import { EXCHANGES, EXCHANGE_DEFS } from '@cryptoflow/model';
import type { Exchange } from '@cryptoflow/model';
import type { BookRow } from '../../src/book/index.js';
import {
  BookState,
  DEFAULT_BOOK_CONFIG,
  bookKey,
  depthEventFromPayload,
  depthRequestWeight,
  syncRules,
  venueWeightPerMinute,
} from '../../src/book/index.js';

const T0 = 1_700_000_000_000_000;

function tablesOfBook(exchange: Exchange): Set<string> {
  const rows: BookRow[] = [];
  const state = new BookState(DEFAULT_BOOK_CONFIG, (r) => rows.push(r));
  const key = bookKey(exchange, 'BTCUSDT');
  state.reset(key, exchange, 'BTCUSDT', {
    lastUpdateId: 10,
    exchangeTs: null,
    receivedAt: T0,
    bids: [99, 1],
    asks: [101, 1],
  });
  state.apply(key, {
    exchange,
    symbol: 'BTCUSDT',
    exchangeTs: T0 + 1,
    ingestTs: T0 + 2_000_000,
    firstUpdateId: 11,
    lastUpdateId: 11,
    prevUpdateId: 10,
    bids: [99, 2],
    asks: [],
  });
  return new Set(rows.map((r) => r.table));
}

function unsupported(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isCfError(err, 'CF_MARKET_UNSUPPORTED')) return err.message;
    throw err;
  }
  throw new Error('expected CF_MARKET_UNSUPPORTED');
}

describe('books follow the market, never a Binance default', () => {
  it('a spot book of any venue goes to spot_*, a derivatives book to futures_*', () => {
    for (const exchange of EXCHANGES) {
      const expected =
        EXCHANGE_DEFS[exchange].kind === 'spot' ? ['spot_delta', 'spot_ob'] : ['futures_delta', 'futures_ob'];
      expect([...tablesOfBook(exchange)].sort(), exchange).toEqual(expected);
    }
  });

  it('Binance rules, weights and parsing refuse a market they do not know', () => {
    expect(syncRules('binance')).not.toBe(syncRules('binance-usdm'));
    expect(unsupported(() => syncRules('bybit-linear'))).toBe('no book sync rules for bybit-linear');
    expect(unsupported(() => syncRules('binance-coinm'))).toBe('no book sync rules for binance-coinm');
    expect(unsupported(() => depthRequestWeight('okx-swap', 100))).toBe('no REST weights for okx-swap');
    expect(unsupported(() => venueWeightPerMinute('kraken'))).toBe('no REST weights for kraken');
    const payload = { s: 'BTCUSDT', E: 1, U: 1, u: 2, b: [], a: [] };
    expect(depthEventFromPayload('binance', payload, T0).prevUpdateId).toBeNull();
    expect(unsupported(() => depthEventFromPayload('bybit', payload, T0))).toBe('no depth parser for bybit');
  });
});
