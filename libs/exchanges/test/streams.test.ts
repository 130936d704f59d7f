import { describe, it, expect } from 'vitest';
import { isCfError } from '@cryptoflow/core';
import { binanceMarket, binanceStreamName, planConnections, usdmRoute } from '../src/index.js';

describe('binanceStreamName', () => {
  it('maps each CryptoFlow stream to the Binance stream it needs', () => {
    expect(binanceStreamName('ticks', 'binance', 'BTCUSDT')).toEqual(['btcusdt@aggTrade']);
    expect(binanceStreamName('ticks', 'binance-usdm', 'BTCUSDT')).toEqual(['btcusdt@aggTrade']);
    expect(binanceStreamName('liquidations', 'binance-usdm', 'ETHUSDT')).toEqual(['ethusdt@forceOrder']);
    expect(binanceStreamName('funding', 'binance-usdm', 'ETHUSDT')).toEqual(['ethusdt@markPrice@1s']);
    expect(binanceStreamName('spot-ob', 'binance', 'LRCBTC')).toEqual(['lrcbtc@depth@100ms']);
    expect(binanceStreamName('spot-delta', 'binance', 'LRCBTC')).toEqual(['lrcbtc@depth@100ms']);
    expect(binanceStreamName('futures-ob', 'binance-usdm', 'SUSHIUSDT')).toEqual(['sushiusdt@depth@100ms']);
    expect(binanceStreamName('futures-delta', 'binance-usdm', 'SUSHIUSDT')).toEqual([
      'sushiusdt@depth@100ms',
    ]);
  });

  it('refuses a stream the venue market does not have', () => {
    let err: unknown;
    try {
      binanceStreamName('funding', 'binance', 'BTCUSDT');
    } catch (e) {
      err = e;
    }
    expect(isCfError(err, 'CF_CONFIG_INVALID')).toBe(true);
    expect(() => binanceStreamName('ticks', 'binance', 'BTC/USDT')).toThrow(/bad symbol/);
  });

  it('serves only the Binance markets it speaks: any other market is refused, never given Binance endpoints', () => {
    expect(binanceMarket('binance-usdm')).toBe('binance-usdm');
    for (const other of ['binance-coinm', 'bybit-linear', 'okx'] as const) {
      expect(() => binanceStreamName('ticks', other, 'BTCUSDT')).toThrow(`stream ticks is not available on ${other}`);
      let err: unknown;
      try {
        planConnections(other, ['btcusdt@aggTrade']);
      } catch (e) {
        err = e;
      }
      expect(isCfError(err, 'CF_MARKET_UNSUPPORTED'), other).toBe(true);
    }
  });
});

describe('usdmRoute', () => {
  it('puts book data on /public and the rest on /market', () => {
    expect(usdmRoute('btcusdt@depth@100ms')).toBe('public');
    expect(usdmRoute('btcusdt@depth')).toBe('public');
    expect(usdmRoute('btcusdt@depth20@100ms')).toBe('public');
    expect(usdmRoute('btcusdt@bookTicker')).toBe('public');
    expect(usdmRoute('!bookTicker')).toBe('public');
    expect(usdmRoute('btcusdt@aggTrade')).toBe('market');
    expect(usdmRoute('btcusdt@markPrice@1s')).toBe('market');
    expect(usdmRoute('btcusdt@forceOrder')).toBe('market');
    expect(usdmRoute('!forceOrder@arr')).toBe('market');
    expect(usdmRoute('btcusdt@kline_1m')).toBe('market');
  });
});

describe('planConnections', () => {
  it('spot: one combined URL per chunk, duplicates removed', () => {
    const plans = planConnections('binance', ['a@aggTrade', 'b@aggTrade', 'a@aggTrade', 'c@aggTrade'], {
      maxStreamsPerConnection: 2,
    });
    expect(plans).toEqual([
      {
        exchange: 'binance',
        streams: ['a@aggTrade', 'b@aggTrade'],
        url: 'wss://stream.binance.com:9443/stream?streams=a@aggTrade/b@aggTrade',
        index: 0,
      },
      {
        exchange: 'binance',
        streams: ['c@aggTrade'],
        url: 'wss://stream.binance.com:9443/stream?streams=c@aggTrade',
        index: 1,
      },
    ]);
  });

  it('USD-M: split by route first, each URL on its path', () => {
    const plans = planConnections(
      'binance-usdm',
      ['x@depth@100ms', 'x@aggTrade', 'y@markPrice@1s', 'y@depth@100ms'],
      { wsBaseUrl: 'ws://127.0.0.1:1/' },
    );
    expect(plans.map((p) => [p.route, p.url])).toEqual([
      ['public', 'ws://127.0.0.1:1/public/stream?streams=x@depth@100ms/y@depth@100ms'],
      ['market', 'ws://127.0.0.1:1/market/stream?streams=x@aggTrade/y@markPrice@1s'],
    ]);
  });

  it('defaults to 200 per connection and refuses more than the venue maximum', () => {
    const names = Array.from({ length: 450 }, (_, i) => `s${i}@aggTrade`);
    expect(planConnections('binance', names).map((p) => p.streams.length)).toEqual([200, 200, 50]);
    expect(() => planConnections('binance', names, { maxStreamsPerConnection: 1025 })).toThrow(/1\.\.1024/);
  });
});
