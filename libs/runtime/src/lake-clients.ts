import { createHash } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { SinkConfig } from '@cryptoflow/config';
import { CfError } from '@cryptoflow/core';
import { FileLedger } from '@cryptoflow/idempotency';
import type { LedgerEntry } from '@cryptoflow/idempotency';
import type { Logger } from '@cryptoflow/logger';
import type { Registry } from '@cryptoflow/metrics';
import { MICROS_PER_HOUR } from '@cryptoflow/core';
import { TABLE_SCHEMAS, isTableName } from '@cryptoflow/model';
import { IcebergRestClient, S3ObjectWriter, encodeBound } from '@cryptoflow/sink';
import type { DataFileInput } from '@cryptoflow/sink';

/** Socket idle time after which an S3 request is abandoned and retried (a part upload keeps the socket busy). */
const S3_IDLE_TIMEOUT_MS = 30_000;
/** DynamoDB answers single-item calls in milliseconds; after this a call is retried. */
const DYNAMO_TIMEOUT_MS = 3_000;

/** S3, DynamoDB ledger and Iceberg catalog clients from `sink.*`, by endpoint configuration only. */
export interface LakeClients {
  readonly s3: S3Client;
  readonly ledger: FileLedger;
  readonly catalog: IcebergRestClient | undefined;
  /** Reads/writes Iceberg metadata objects (manifests) in S3, with retries and a circuit breaker. */
  readonly objects: S3ObjectWriter;
  readonly namespace: string;
  /** Releases the SDK clients' sockets. */
  destroy(): void;
}

export function createLakeClients(
  sink: SinkConfig,
  deps: { registry: Registry; logger: Logger },
): LakeClients {
  if (!sink.s3 || !sink.ledger) {
    throw new CfError(
      'CF_CONFIG_INVALID',
      'invalid config:\n  - sink.s3 and sink.ledger: required for the lake',
      { context: { issues: ['sink.s3', 'sink.ledger'] } },
    );
  }
  // Without a timeout a request the network swallows waits forever and the sink stalls with it; a timed-out
  // request is retried (the writes are idempotent: same key + same bytes, conditional ledger puts).
  const s3 = new S3Client({
    region: sink.s3.region,
    ...(sink.s3.endpoint ? { endpoint: sink.s3.endpoint } : {}),
    forcePathStyle: sink.s3.force_path_style,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: S3_IDLE_TIMEOUT_MS, throwOnRequestTimeout: true },
  });
  const dynamo = new DynamoDBClient({
    region: sink.ledger.region,
    ...(sink.ledger.endpoint ? { endpoint: sink.ledger.endpoint } : {}),
    requestHandler: { connectionTimeout: 3_000, requestTimeout: DYNAMO_TIMEOUT_MS, throwOnRequestTimeout: true },
  });
  const ledger = new FileLedger({
    client: dynamo,
    tableName: sink.ledger.table,
    registry: deps.registry,
    logger: deps.logger,
  });
  // Manifests go through the same retries and circuit breaker as data files.
  const objects = new S3ObjectWriter({
    client: s3,
    bucket: sink.s3.bucket,
    registry: deps.registry,
    logger: deps.logger,
  });
  const catalog = sink.catalog
    ? new IcebergRestClient({
        uri: sink.catalog.uri,
        warehouse: sink.catalog.warehouse,
        signer: sink.catalog.signer,
        region: sink.s3.region,
        registry: deps.registry,
        objects,
      })
    : undefined;
  return {
    s3,
    ledger,
    catalog,
    objects,
    namespace: sink.catalog?.namespace ?? 'cryptoflow',
    destroy: () => {
      s3.destroy();
      dynamo.destroy();
    },
  };
}

/** `2024-01-31T13` → hours since the epoch (the value of the `hour(exchange_ts)` partition). */
export function hourOrdinal(hourLabel: string): number {
  const ms = Date.parse(`${hourLabel}:00:00Z`);
  if (Number.isNaN(ms)) throw new CfError('CF_LEDGER', `not an hour label: ${hourLabel}`);
  return Math.floor((ms * 1000) / MICROS_PER_HOUR);
}

/** Iceberg field id of `exchange_ts` in a libs/model table. */
function exchangeTsFieldId(table: string): number {
  const col = isTableName(table) ? TABLE_SCHEMAS[table].columns.find((c) => c.name === 'exchange_ts') : undefined;
  if (!col) throw new CfError('CF_LEDGER', `ledger entry for unknown table ${table}`);
  return col.id;
}

/**
 * An Iceberg data file from a ledger entry: path, size, record count and partition; with the file's
 * exchange_ts range (µs) when the writer recorded it, as lower/upper bounds so engines prune by time.
 */
export function dataFileOf(entry: LedgerEntry): DataFileInput {
  const exchangeTs = entry.exchangeTsRange ?? undefined;
  const id = exchangeTs ? exchangeTsFieldId(entry.table) : 0;
  return {
    filePath: entry.uri,
    fileSizeInBytes: entry.bytes,
    recordCount: entry.rows,
    partition: { exchange_ts_hour: hourOrdinal(entry.hour) },
    ...(exchangeTs
      ? {
          valueCounts: { [id]: entry.rows },
          nullValueCounts: { [id]: 0 },
          lowerBounds: { [id]: encodeBound('timestamptz', exchangeTs.min) },
          upperBounds: { [id]: encodeBound('timestamptz', exchangeTs.max) },
        }
      : {}),
  };
}

/**
 * A commit id that depends only on which files it appends: re-running the same batch after a crash
 * produces the same id, so the catalog recognises the snapshot instead of adding the files twice.
 */
export function commitIdOf(table: string, fileKeys: readonly string[]): string {
  const h = createHash('sha256');
  h.update(table);
  for (const k of [...fileKeys].sort()) h.update('\n').update(k);
  return `cf-${table}-${h.digest('hex').slice(0, 32)}`;
}
