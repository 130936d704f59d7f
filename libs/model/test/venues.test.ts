import { describe, expect, it } from 'vitest';
import { isCfError } from '@cryptoflow/core';
import {
  EXCHANGES,
  EXCHANGE_DEFS,
  STREAMS,
  STREAM_EXCHANGES,
  STREAM_MARKET_KINDS,
  STREAM_TABLE,
  VENUES,
  bookTables,
  exchangeDef,
  marketCanFeed,
  requireStream,
  streamProblem,
} from '../src/index.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isCfError(err) ? err.code : 'not a CfError';
  }
  return undefined;
}

describe('venue markets', () => {
  it('one entry per id, each on a known venue, spot markets listing only spot', () => {
    for (const id of EXCHANGES) {
      const def = EXCHANGE_DEFS[id];
      expect(def.id).toBe(id);
      expect(VENUES).toContain(def.venue);
      expect(def.marketTypes.length).toBeGreaterThan(0);
      expect(
        def.marketTypes.every((t) => (t === 'spot') === (def.kind === 'spot')),
        id,
      ).toBe(true);
    }
    // The bare venue name is the venue's spot market.
    for (const venue of VENUES) expect(EXCHANGE_DEFS[venue]).toMatchObject({ venue, kind: 'spot' });
  });

  it('an adapter only claims streams its market kind can feed', () => {
    for (const id of EXCHANGES)
      for (const stream of EXCHANGE_DEFS[id].supported)
        expect(marketCanFeed(id, stream), `${id} ${stream}`).toBe(true);
  });

  it('the Binance markets keep serving exactly what they served before the registry', () => {
    expect(STREAM_EXCHANGES).toEqual({
      ticks: ['binance', 'binance-usdm'],
      'spot-ob': ['binance'],
      'spot-delta': ['binance'],
      'futures-ob': ['binance-usdm'],
      'futures-delta': ['binance-usdm'],
      liquidations: ['binance-usdm'],
      funding: ['binance-usdm'],
    });
  });

  it('tables follow the market kind: a stream writes one table and takes the kinds that table holds', () => {
    for (const stream of STREAMS) {
      const table = STREAM_TABLE[stream];
      const kinds = STREAM_MARKET_KINDS[stream];
      if (table.startsWith('spot_')) expect(kinds).toEqual(['spot']);
      if (table.startsWith('futures_') || table === 'liquidations' || table === 'funding')
        expect(kinds).toEqual(['derivatives']);
    }
    expect(bookTables('bybit-linear')).toEqual({ delta: 'futures_delta', ob: 'futures_ob' });
    expect(bookTables('okx-swap')).toEqual({ delta: 'futures_delta', ob: 'futures_ob' });
    expect(bookTables('kraken')).toEqual({ delta: 'spot_delta', ob: 'spot_ob' });
    expect(bookTables('binance-usdm')).toEqual({ delta: 'futures_delta', ob: 'futures_ob' });
    expect(bookTables('binance')).toEqual({ delta: 'spot_delta', ob: 'spot_ob' });
  });

  it('an unknown or unsupported combination is a typed error naming venue and stream', () => {
    expect(code(() => exchangeDef('bybit-spot'))).toBe('CF_MARKET_UNSUPPORTED');
    expect(code(() => bookTables('ftx'))).toBe('CF_MARKET_UNSUPPORTED');
    expect(code(() => requireStream('binance-usdm', 'funding'))).toBeUndefined();
    expect(code(() => requireStream('bybit-linear', 'funding'))).toBe('CF_MARKET_UNSUPPORTED');
    expect(streamProblem('bybit-linear', 'funding')).toBe(
      'venue bybit has no adapter for stream funding on bybit-linear (Bybit linear (USDT and USDC perpetuals and futures)) yet (available for funding: binance-usdm)',
    );
    expect(streamProblem('coinbase', 'liquidations')).toBe(
      'stream liquidations takes derivatives markets; coinbase (Coinbase Advanced Trade spot, venue coinbase) is a spot market',
    );
    expect(streamProblem('binance', 'spot-delta')).toBeUndefined();
  });
});
