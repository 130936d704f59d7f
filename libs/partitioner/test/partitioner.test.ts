import { describe, expect, it } from 'vitest';
import { MAX_TOTAL_SHARDS, hourLabel } from '@cryptoflow/core';
import type { TradeRow, FundingRow } from '@cryptoflow/model';
import { Partitioner } from '../src/index.js';

const H = 3_600_000_000;
const T0 = Date.UTC(2021, 9, 12, 0, 0, 0) * 1000; // 2021-10-12T00 in µs

function trade(symbol: string, exchange_ts: number, exchange: 'binance' | 'binance-usdm' = 'binance'): TradeRow {
  return {
    table: 'trades', exchange, symbol, exchange_ts, ingest_ts: exchange_ts + 5, trade_ts: exchange_ts,
    trade_id: 1, first_trade_id: null, last_trade_id: null, price: 1, qty: 1, side: 'buy', trade_id_text: null,
  };
}

describe('Partitioner', () => {
  const calls: string[] = [];
  const shardOf = (e: string, s: string): number => {
    calls.push(`${e}|${s}`);
    return s === 'BTCUSDT' ? 3 : s === 'ETHUSDT' ? 1 : 0;
  };

  it('keys a row by table, UTC hour of exchange_ts and shard', () => {
    const p = new Partitioner({ totalShards: 4, shardOf });
    const k = p.keyOf(trade('BTCUSDT', T0 + 59 * 60_000_000));
    expect(k).toEqual({ table: 'trades', hour: '2021-10-12T00', shard: 3, id: 'trades/2021-10-12T00/3' });
    const next = p.keyOf(trade('BTCUSDT', T0 + H));
    expect(next.hour).toBe('2021-10-12T01');
    expect(next.hour).toBe(hourLabel(T0 + H));
  });

  it('returns the same key object for every row of a buffer and asks shardOf once per (exchange, symbol)', () => {
    calls.length = 0;
    const p = new Partitioner({ totalShards: 4, shardOf });
    const a = p.keyOf(trade('BTCUSDT', T0 + 1));
    const b = p.keyOf(trade('BTCUSDT', T0 + 1000));
    const c = p.keyOf(trade('ETHUSDT', T0 + 2000));
    p.keyOf(trade('BTCUSDT', T0 + H)); // another hour
    const d = p.keyOf(trade('BTCUSDT', T0 + 3000)); // back to the first hour: still cached
    expect(a).toBe(b);
    expect(a).toBe(d);
    expect(c).not.toBe(a);
    expect(c.shard).toBe(1);
    // same symbol on another venue market is another instrument: asked separately
    p.keyOf(trade('BTCUSDT', T0, 'binance-usdm'));
    expect(calls).toEqual(['binance|BTCUSDT', 'binance|ETHUSDT', 'binance-usdm|BTCUSDT']);
  });

  it('keeps tables apart', () => {
    const p = new Partitioner({ totalShards: 4, shardOf });
    const f: FundingRow = {
      table: 'funding', exchange: 'binance-usdm', symbol: 'BTCUSDT', exchange_ts: T0, ingest_ts: T0,
      mark_price: 1, index_price: null, est_settle_price: null, funding_rate: null, next_funding_ts: null,
    };
    expect(p.keyOf(f).id).toBe('funding/2021-10-12T00/3');
    expect(p.keyOf(trade('BTCUSDT', T0)).id).toBe('trades/2021-10-12T00/3');
  });

  it('evicts old hours beyond maxCachedHours and rebuilds them equal on demand', () => {
    const p = new Partitioner({ totalShards: 4, shardOf, maxCachedHours: 2 });
    const first = p.keyOf(trade('BTCUSDT', T0));
    p.keyOf(trade('BTCUSDT', T0 + H));
    p.keyOf(trade('BTCUSDT', T0 + 2 * H));
    const again = p.keyOf(trade('BTCUSDT', T0));
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });

  it('handles timestamps before the epoch hour boundary correctly (floor, not trunc)', () => {
    const p = new Partitioner({ totalShards: 1, shardOf: () => 0 });
    expect(p.keyOf(trade('X', -1)).hour).toBe('1969-12-31T23');
  });

  it('fails loudly on a shard out of range and on a bad exchange_ts', () => {
    const p = new Partitioner({ totalShards: 2, shardOf: () => 5 });
    expect(() => p.keyOf(trade('BTCUSDT', T0))).toThrow(/outside 0..1/);
    const q = new Partitioner({ totalShards: 2, shardOf: () => 0 });
    expect(() => q.keyOf(trade('BTCUSDT', Number.NaN))).toThrow(/non-finite exchange_ts/);
    expect(() => new Partitioner({ totalShards: 0, shardOf })).toThrow(/totalShards/);
    expect(() => new Partitioner({ totalShards: MAX_TOTAL_SHARDS + 1, shardOf })).toThrow(
      `partitioner.totalShards: expected an integer in [1, ${MAX_TOTAL_SHARDS}], got ${MAX_TOTAL_SHARDS + 1}`,
    );
  });

  it('takes every shard count the config accepts, up to the one limit (it stopped at 999 before)', () => {
    for (const total of [999, 1000, 1024, MAX_TOTAL_SHARDS]) {
      const p = new Partitioner({ totalShards: total, shardOf: (_e, s) => Number(s.slice(1)) });
      const last = p.keyOf(trade(`S${total - 1}`, T0));
      expect(last).toMatchObject({ shard: total - 1, id: `trades/2021-10-12T00/${total - 1}` });
      expect(p.keyOf(trade(`S${total - 1}`, T0 + 1))).toBe(last); // cached, same object
      expect(p.keyOf(trade('S0', T0)).shard).toBe(0);
    }
  });
});
