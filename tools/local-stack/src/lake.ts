import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import {
  IcebergRestClient,
  currentSnapshot,
  readManifest,
  readManifestList,
  s3ObjectStore,
} from '@cryptoflow/sink';
import { startIcebergCatalog } from '@cryptoflow/iceberg-catalog';
import type { RunningCatalog } from '@cryptoflow/iceberg-catalog';
import { LOCAL_CREDENTIALS, LOCAL_REGION, createBucket, startDynamo, startS3 } from '@cryptoflow/stand-ins';
import type { LocalDynamo, LocalS3 } from '@cryptoflow/stand-ins';

export interface LocalLake {
  readonly s3: LocalS3;
  readonly dynamo: LocalDynamo;
  readonly catalog: RunningCatalog;
  readonly bucket: string;
  /** Config flags that point a collector or the committer at this lake (by endpoint only). */
  readonly flags: readonly string[];
  /** Env the AWS SDK needs to talk to the stand-ins (they accept any credentials). */
  readonly env: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

/**
 * The AWS side on 127.0.0.1: S3 (s3rver), DynamoDB (dynalite), and the local Iceberg REST catalog
 * storing its metadata in that S3 — the same protocols S3, DynamoDB and S3 Tables speak.
 */
export async function startLocalLake(
  options: { dir?: string; bucket?: string; namespace?: string } = {},
): Promise<LocalLake> {
  const bucket = options.bucket ?? 'cryptoflow-lake';
  const s3 = await startS3(options.dir ? { dir: options.dir } : {});
  await createBucket(s3.endpoint, bucket);
  const dynamo = await startDynamo();
  const warehouse = 'arn:aws:s3tables:us-east-1:000000000000:bucket/cryptoflow-local';
  const catalog = await startIcebergCatalog({
    s3: { endpoint: s3.endpoint, bucket, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS },
    warehouse,
  });
  const flags = [
    '--sink.kind=s3',
    `--sink.s3.bucket=${bucket}`,
    `--sink.s3.endpoint=${s3.endpoint}`,
    '--sink.s3.force_path_style=true',
    `--sink.s3.region=${LOCAL_REGION}`,
    '--sink.ledger.table=cryptoflow-ledger',
    `--sink.ledger.endpoint=${dynamo.endpoint}`,
    `--sink.catalog.uri=${catalog.uri}`,
    `--sink.catalog.warehouse=${warehouse}`,
    `--sink.catalog.namespace=${options.namespace ?? 'cryptoflow'}`,
    '--sink.catalog.signer=none',
  ];
  return {
    s3,
    dynamo,
    catalog,
    bucket,
    flags,
    env: {
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_REGION: LOCAL_REGION,
    },
    close: async () => {
      await catalog.close();
      await dynamo.close();
      await s3.close();
    },
  };
}

/**
 * Downloads the data files of a table's current Iceberg snapshot (walking its manifest list and
 * manifests, as Athena does) into `destDir`; returns their local paths for DuckDB.
 */
export async function downloadCurrentFiles(
  lake: LocalLake,
  namespace: string,
  table: string,
  destDir: string,
): Promise<string[]> {
  const s3 = new S3Client({
    endpoint: lake.s3.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
  });
  const store = s3ObjectStore(s3);
  const client = new IcebergRestClient({
    uri: lake.catalog.uri,
    warehouse: lake.catalog.warehouse,
    signer: 'none',
    objects: store,
  });
  const loaded = await client.loadTable({ namespace, name: table });
  const current = currentSnapshot(loaded.metadata);
  if (!current) return [];
  mkdirSync(destDir, { recursive: true });
  const out: string[] = [];
  const listLocation = current['manifest-list'];
  for (const manifest of readManifestList(await store.get(listLocation), listLocation)) {
    for (const entry of readManifest(await store.get(manifest.manifest_path)).entries) {
      if (entry.status === 2) continue; // deleted in this snapshot
      const path = join(destDir, `${out.length}.parquet`);
      writeFileSync(path, await store.get(entry.data_file.file_path));
      out.push(path);
    }
  }
  s3.destroy();
  return out;
}
