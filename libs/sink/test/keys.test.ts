import { beforeAll, describe, expect, it } from 'vitest';
import { TABLE_SCHEMAS } from '@cryptoflow/model';
import type { CanonicalRow } from '@cryptoflow/model';
import { fileHash16, loadKeyHasher, objectKey } from '../src/index.js';
import { rowsFor } from './fixtures.js';

beforeAll(loadKeyHasher);

describe('objectKey', () => {
  const schema = TABLE_SCHEMAS.trades;
  const rows = rowsFor('trades', 100);

  it('has the documented layout', () => {
    expect(objectKey(schema, '2021-10-12T00', 3, rows)).toMatch(
      /^trades\/exchange_ts_hour=2021-10-12T00\/shard=003\/trades-2021-10-12T00-s003-[0-9a-f]{16}\.parquet$/,
    );
    // Shards past 999 (up to MAX_TOTAL_SHARDS) take as many digits as they need; keys stay distinct.
    expect(objectKey(schema, '2021-10-12T00', 1008, rows)).toMatch(/\/shard=1008\/trades-2021-10-12T00-s1008-[0-9a-f]{16}\.parquet$/);
    expect(objectKey(schema, '2021-10-12T00', 100, rows)).not.toBe(objectKey(schema, '2021-10-12T00', 1000, rows));
  });

  it('is a function of content: same rows → same key, even from different objects', () => {
    const copy = rowsFor('trades', 100).map((r) => ({ ...r }) as CanonicalRow);
    expect(objectKey(schema, '2021-10-12T00', 3, copy)).toBe(objectKey(schema, '2021-10-12T00', 3, rows));
  });

  it('changes with the row range, the count, the table and the schema version', () => {
    const base = fileHash16(schema, rows);
    expect(fileHash16(schema, rows.slice(1))).not.toBe(base); // first row
    expect(fileHash16(schema, rows.slice(0, 99))).not.toBe(base); // last row
    const sameEnds = [rows[0], ...rows.slice(2)] as CanonicalRow[]; // same first and last, one fewer row
    expect(fileHash16(schema, sameEnds)).not.toBe(base);
    expect(fileHash16({ ...schema, schemaVersion: schema.schemaVersion + 1 }, rows)).not.toBe(base);
    expect(fileHash16(TABLE_SCHEMAS.futures_delta, rowsFor('futures_delta', 5))).not.toBe(fileHash16(TABLE_SCHEMAS.spot_delta, rowsFor('spot_delta', 5).map((r) => ({ ...r, table: 'spot_delta' }) as CanonicalRow)));
  });
});
