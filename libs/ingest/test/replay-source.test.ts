import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isCfError } from '@cryptoflow/core';
import { exchangeOfUrl, readRecordings } from '../src/index.js';

describe('recordings name their venue market, never by default', () => {
  it('tells Binance markets by URL and refuses a URL it cannot place', () => {
    expect(exchangeOfUrl('wss://stream.binance.com:9443/stream')).toBe('binance');
    expect(exchangeOfUrl('https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000')).toBe('binance');
    expect(exchangeOfUrl('wss://fstream.binance.com/market/stream')).toBe('binance-usdm');
    expect(exchangeOfUrl('https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT')).toBe('binance-usdm');
    let err: unknown;
    try {
      exchangeOfUrl('wss://stream.bybit.com/v5/public/linear');
    } catch (e) {
      err = e;
    }
    expect(isCfError(err, 'CF_MARKET_UNSUPPORTED')).toBe(true);
    expect((err as Error).message).toContain('wss://stream.bybit.com/v5/public/linear');
  });

  it('refuses a fixture line whose exchange the model does not know', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cf-rec-'));
    const path = join(dir, 'frames.jsonl');
    writeFileSync(path, `${JSON.stringify({ receivedAt: 1, exchange: 'bybit-spot', data: '{}' })}\n`);
    expect(() => readRecordings([path])).toThrow(`${path}:1: unknown exchange "bybit-spot"`);
  });
});
