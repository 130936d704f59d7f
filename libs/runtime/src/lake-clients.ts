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
import { IcebergRestClient, S3ObjectWriter } from '@cryptoflow/sink';
import type { DataFileInput } from '@cryptoflow/sink';

/** S3, DynamoDB ledger and Iceberg catalog clients from `sink.*`, by endpoint configuration only. */
export interface LakeClients {
  readonly s3: S3Client;
  readonly ledger: FileLedger;
  readonly catalog: IcebergRestClient | undefined;
  readonly namespace: string;
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
  const s3 = new S3Client({
    region: sink.s3.region,
    ...(sink.s3.endpoint ? { endpoint: sink.s3.endpoint } : {}),
    forcePathStyle: sink.s3.force_path_style,
  });
  const dynamo = new DynamoDBClient({
    region: sink.ledger.region,
    ...(sink.ledger.endpoint ? { endpoint: sink.ledger.endpoint } : {}),
  });
  const ledger = new FileLedger({
    client: dynamo,
    tableName: sink.ledger.table,
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
        // Manifests go through the same retries and circuit breaker as data files.
        objects: new S3ObjectWriter({
          client: s3,
          bucket: sink.s3.bucket,
          registry: deps.registry,
          logger: deps.logger,
        }),
      })
    : undefined;
  return { s3, ledger, catalog, namespace: sink.catalog?.namespace ?? 'cryptoflow' };
}

/** `2024-01-31T13` → hours since the epoch (the value of the `hour(exchange_ts)` partition). */
export function hourOrdinal(hourLabel: string): number {
  const ms = Date.parse(`${hourLabel}:00:00Z`);
  if (Number.isNaN(ms)) throw new CfError('CF_LEDGER', `not an hour label: ${hourLabel}`);
  return Math.floor((ms * 1000) / MICROS_PER_HOUR);
}

/** An Iceberg data file from a ledger entry. */
export function dataFileOf(entry: LedgerEntry): DataFileInput {
  return {
    filePath: entry.uri,
    fileSizeInBytes: entry.bytes,
    recordCount: entry.rows,
    partition: { exchange_ts_hour: hourOrdinal(entry.hour) },
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
