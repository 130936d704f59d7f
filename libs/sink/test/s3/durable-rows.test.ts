import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLE_SCHEMAS } from '@cryptoflow/model';
import { createBucket, localS3Client, startS3 } from '@cryptoflow/stand-ins';
import type { LocalS3 } from '@cryptoflow/stand-ins';
import { ParquetEncoder, naturalRowKey, readDurableRows } from '../../src/index.js';
import type { RecordedFile } from '../../src/index.js';
import { T0, rowsFor } from '../fixtures.js';

describe('readDurableRows: what a dead owner made durable, from the files the ledger recorded', () => {
  let dir: string;
  let s3: LocalS3;
  let client: S3Client;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cf-durable-'));
    s3 = await startS3({ dir });
    await createBucket(s3.endpoint, 'lake');
    client = localS3Client(s3.endpoint);
  });
  afterAll(async () => {
    client?.destroy();
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the recorded files of the window back to natural keys, and skips files outside it unread', async () => {
    const rows = rowsFor('trades', 300); // ~1 ms apart from T0
    const encoder = new ParquetEncoder(TABLE_SCHEMAS.trades);
    const put = async (key: string, part: typeof rows): Promise<RecordedFile> => {
      await client.send(new PutObjectCommand({ Bucket: 'lake', Key: key, Body: encoder.encode(part) }));
      const ts = part.map((r) => r.exchange_ts);
      return { uri: `s3://lake/${key}`, exchangeTsRange: { min: Math.min(...ts), max: Math.max(...ts) } };
    };
    const first = await put('trades/a.parquet', rows.slice(0, 100));
    const second = await put('trades/b.parquet', rows.slice(100, 200));
    // Recorded, but its range is before the window: never fetched (the object does not even exist).
    const outside: RecordedFile = { uri: 's3://lake/trades/missing.parquet', exchangeTsRange: { min: 0, max: T0 - 1 } };
    const hours: string[] = [];
    const fromUs = rows[50]!.exchange_ts;
    const toUs = rows[250]!.exchange_ts;
    const durable = await readDurableRows({
      s3: client,
      table: 'trades',
      shard: 3,
      fromUs,
      toUs,
      recordedFiles: async (hour) => {
        hours.push(hour);
        return [outside, first, second];
      },
    });
    expect(hours).toEqual([new Date(T0 / 1000).toISOString().slice(0, 13)]);
    expect(durable.files).toBe(2);
    const want = rows.slice(50, 200).map((r) => naturalRowKey(TABLE_SCHEMAS.trades, r));
    expect([...durable.keys].sort()).toEqual(want.sort());
    expect(durable.maxTs).toBe(rows[199]!.exchange_ts);
    // Rows of the window no recorded file holds (the owner never made them durable) are not among them.
    expect(durable.keys.has(naturalRowKey(TABLE_SCHEMAS.trades, rows[220]!))).toBe(false);
  });

  it('reads files written before a column was added: the column counts as null, keys match new rows', async () => {
    // A trades file as a writer of schema version 1 wrote it: no trade_id_text column (field id 12).
    const v1 = { ...TABLE_SCHEMAS.trades, schemaVersion: 1, columns: TABLE_SCHEMAS.trades.columns.filter((c) => c.name !== 'trade_id_text') };
    const rows = rowsFor('trades', 50).filter((r) => (r as { trade_id: number | null }).trade_id !== null);
    await client.send(new PutObjectCommand({ Bucket: 'lake', Key: 'trades/v1.parquet', Body: new ParquetEncoder(v1).encode(rows) }));
    const durable = await readDurableRows({
      s3: client,
      table: 'trades',
      shard: 3,
      fromUs: rows[0]!.exchange_ts,
      toUs: rows[rows.length - 1]!.exchange_ts,
      recordedFiles: async () => [{ uri: 's3://lake/trades/v1.parquet' }],
    });
    expect([...durable.keys].sort()).toEqual(rows.map((r) => naturalRowKey(TABLE_SCHEMAS.trades, r)).sort());
  });

  it('refuses an empty window', async () => {
    await expect(
      readDurableRows({ s3: client, table: 'trades', shard: 0, fromUs: 10, toUs: 5, recordedFiles: async () => [] }),
    ).rejects.toThrow(/durable rows: empty window 10\.\.5/);
  });
});
