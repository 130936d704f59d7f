import { describe, expect, it } from 'vitest';
import { TABLE_SCHEMAS } from '@cryptoflow/model';
import type { CanonicalRow } from '@cryptoflow/model';
import { FileBuffer, RowSizeEstimator } from '../src/index.js';
import { rowsFor } from './fixtures.js';

const key = { table: 'trades', hour: '2021-10-12T00', shard: 0, id: 'trades/2021-10-12T00/0' } as const;

describe('RowSizeEstimator', () => {
  it('counts 8 bytes per long/double/timestamp, string lengths + 4, and learns the compression ratio', () => {
    const est = new RowSizeEstimator(TABLE_SCHEMAS.trades);
    const row = rowsFor('trades', 1)[0] as CanonicalRow & { symbol: string; exchange: string; side: string };
    // 8 numeric columns × 8 + 4 strings × 4 + their lengths (trade_id_text is null: 0)
    expect(est.rawSize(row)).toBe(64 + 16 + row.exchange.length + row.symbol.length + row.side.length);
    expect(est.ratio).toBe(1);
    est.observe(1000, 250);
    expect(est.ratio).toBe(0.25);
    est.observe(1000, 350);
    expect(est.ratio).toBeCloseTo(0.28, 10);
  });
});

describe('FileBuffer', () => {
  const rows = rowsFor('trades', 10);

  it('keeps rows in append order and reports size and age', () => {
    const buf = new FileBuffer(key, new RowSizeEstimator(TABLE_SCHEMAS.trades));
    rows.forEach((r, i) => buf.append(r, 1000 + i));
    expect(buf.length).toBe(10);
    expect(buf.openedAtMs).toBe(1000);
    expect(buf.ageMs(1500)).toBe(500);
    const taken = buf.take();
    expect(taken.rows).toEqual(rows);
    expect(buf.length).toBe(0);
    expect(buf.ageMs(99_999)).toBe(0);
  });

  it('due(): size, then age; rows only in replay mode', () => {
    const est = new RowSizeEstimator(TABLE_SCHEMAS.trades);
    const buf = new FileBuffer(key, est);
    for (const r of rows) buf.append(r, 0);
    const size = buf.estimatedBytes();
    expect(buf.due({ targetFileBytes: size + 1, flushIntervalMs: 5000 })).toBeUndefined();
    expect(buf.due({ targetFileBytes: size, flushIntervalMs: 5000 })).toBe('size');
    expect(buf.due({ targetFileBytes: size + 1, flushIntervalMs: 5000 }, 4999)).toBeUndefined();
    expect(buf.due({ targetFileBytes: size + 1, flushIntervalMs: 5000 }, 5000)).toBe('age');
    expect(buf.due({ targetFileBytes: size + 1, flushIntervalMs: 0 }, 1e12)).toBeUndefined();
    expect(buf.due({ targetFileBytes: 1, flushIntervalMs: 1, flushEveryRows: 11 }, 1e12)).toBeUndefined();
    expect(buf.due({ targetFileBytes: 1, flushIntervalMs: 1, flushEveryRows: 10 }, 1e12)).toBe('rows');
  });
});
