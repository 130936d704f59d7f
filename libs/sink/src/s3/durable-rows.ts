import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { CfError, MICROS_PER_HOUR, hourLabel } from '@cryptoflow/core';
import { TABLE_SCHEMAS } from '@cryptoflow/model';
import type { TableName } from '@cryptoflow/model';
import { naturalRowKey } from '../keys.js';
import { parseS3Uri } from '../iceberg/s3-object-store.js';

/** A data file the ledger recorded (uploaded and recorded: it will be committed). */
export interface RecordedFile {
  readonly uri: string;
  /** The file's exchange_ts range, when its writer recorded it: files outside the window are not read. */
  readonly exchangeTsRange?: { readonly min: number; readonly max: number } | null;
}

export interface DurableRowsQuery {
  readonly s3: S3Client;
  readonly table: TableName;
  readonly shard: number;
  /** Exchange-time window (µs, inclusive) whose durable rows are wanted. */
  readonly fromUs: number;
  readonly toUs: number;
  /**
   * The recorded files of the shard in one hour partition (the ledger). Only recorded files count: an object
   * uploaded but never recorded was left by a writer that died in between, and will never be committed.
   * (The ledger, not an S3 listing: S3 Tables storage does not list objects.)
   */
  readonly recordedFiles: (hour: string) => Promise<readonly RecordedFile[]>;
}

export interface DurableRows {
  /** Natural keys (`naturalRowKey`) of every recorded row of the shard in the window. */
  readonly keys: Set<string>;
  /** Latest exchange time among them (0: none). */
  readonly maxTs: number;
  readonly files: number;
}

/**
 * The rows of one (table, shard) that are durably in the lake for an exchange-time window: the recorded
 * Parquet files of the shard's hour partitions, read back. A standby taking over a dead owner's shard writes
 * exactly the buffered rows not among them: nothing the owner made durable twice, nothing it lost skipped.
 */
export async function readDurableRows(q: DurableRowsQuery): Promise<DurableRows> {
  if (!(q.fromUs <= q.toUs)) throw new CfError('CF_S3', `durable rows: empty window ${q.fromUs}..${q.toUs}`);
  const schema = TABLE_SCHEMAS[q.table];
  const keys = new Set<string>();
  let maxTs = 0;
  let files = 0;
  const firstHour = Math.floor(q.fromUs / MICROS_PER_HOUR) * MICROS_PER_HOUR;
  for (let h = firstHour; h <= q.toUs; h += MICROS_PER_HOUR) {
    for (const file of await q.recordedFiles(hourLabel(h))) {
      const range = file.exchangeTsRange;
      if (range && (range.max < q.fromUs || range.min > q.toUs)) continue;
      const { bucket, key } = parseS3Uri(file.uri);
      const got = await q.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = await got.Body?.transformToByteArray();
      if (!bytes) throw new CfError('CF_S3', `durable rows: ${file.uri} has no body`, { retriable: true, context: { uri: file.uri } });
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      const metadata = parquetMetadata(buffer);
      // A file written under an older schema lacks the columns added since: they read as null (naturalRowKey).
      const present = new Set(metadata.schema.map((c) => c.name));
      const rows = (await parquetReadObjects({
        file: buffer,
        metadata,
        columns: [...new Set([...schema.naturalKey, 'exchange_ts'])].filter((c) => present.has(c)),
        // Timestamps as the integer µs our rows carry, not Dates.
        parsers: { timestampFromMicroseconds: (v: bigint) => Number(v) } as never,
      })) as Record<string, unknown>[];
      files++;
      for (const row of rows) {
        const ts = Number(row['exchange_ts']);
        if (ts < q.fromUs || ts > q.toUs) continue;
        keys.add(naturalRowKey(schema, row));
        if (ts > maxTs) maxTs = ts;
      }
    }
  }
  return { keys, maxTs, files };
}
