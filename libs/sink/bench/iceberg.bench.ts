/**
 * Iceberg commit latency against the local REST catalog (s3rver-backed): N sequential appendFiles,
 * each adding one data file as one snapshot (manifest + manifest list written, parent list read).
 * Also times manifest encoding alone. `BENCH_ICEBERG_COMMITS` sets N (default 200).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { startIcebergCatalog } from '@cryptoflow/iceberg-catalog';
import { Registry } from '@cryptoflow/metrics';
import { icebergPartitionSpecJson, icebergSchemaJson } from '@cryptoflow/model';
import { IcebergRestClient, encodeBound, s3ObjectStore, writeDataManifest } from '../src/iceberg/index.js';
import type { DataFileInput, IcebergPartitionSpec, IcebergSchema } from '../src/iceberg/index.js';
import { startS3 } from '@cryptoflow/stand-ins';

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function fileFor(i: number): DataFileInput {
  return {
    filePath: `s3://bench-lake/data/trades/${i}.parquet`,
    fileSizeInBytes: 128 * 1024 * 1024,
    recordCount: 1_000_000,
    partition: { exchange_ts_hour: 477000 + Math.floor(i / 10) },
    valueCounts: Object.fromEntries(Array.from({ length: 11 }, (_, c) => [c + 1, 1_000_000])),
    nullValueCounts: Object.fromEntries(Array.from({ length: 11 }, (_, c) => [c + 1, 0])),
    lowerBounds: {
      3: encodeBound('timestamptz', 1_717_200_000_000_000),
      6: encodeBound('long', i * 1_000_000),
    },
    upperBounds: {
      3: encodeBound('timestamptz', 1_717_203_599_999_999),
      6: encodeBound('long', i * 1_000_000 + 999_999),
    },
  };
}

export async function run(): Promise<Record<string, number | string>> {
  const commits = Number(process.env['BENCH_ICEBERG_COMMITS'] ?? '200');
  const creds = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const s3 = await startS3();
  const warehouse = 'arn:aws:s3tables:us-east-1:000000000000:bucket/bench';
  const catalog = await startIcebergCatalog({
    s3: { endpoint: s3.endpoint, bucket: 'bench-lake', region: 'us-east-1', credentials: creds },
    warehouse,
  });
  const s3client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    credentials: creds,
    forcePathStyle: true,
  });
  try {
    const client = new IcebergRestClient({
      uri: catalog.uri,
      warehouse,
      objects: s3ObjectStore(s3client),
      registry: new Registry(),
    });
    await client.ensureNamespace('bench');
    await client.ensureModelTable('bench', 'trades');
    const latencies: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < commits; i++) {
      const start = performance.now();
      await client.appendFiles({ namespace: 'bench', name: 'trades' }, [fileFor(i)], {
        commitId: `bench-${i}`,
      });
      latencies.push(performance.now() - start);
    }
    const total = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);

    const schema = icebergSchemaJson('trades') as unknown as IcebergSchema;
    const spec = icebergPartitionSpecJson('trades') as unknown as IcebergPartitionSpec;
    const files = Array.from({ length: 1000 }, (_, i) => fileFor(i));
    const m0 = performance.now();
    let bytes = 0;
    for (let r = 0; r < 20; r++)
      bytes += writeDataManifest({ snapshotId: BigInt(r + 1), schema, spec, files }).bytes.byteLength;
    const manifestSeconds = (performance.now() - m0) / 1000;

    return {
      'iceberg commits': commits,
      'iceberg commit p50 ms': Number(percentile(latencies, 50).toFixed(2)),
      'iceberg commit p99 ms': Number(percentile(latencies, 99).toFixed(2)),
      'iceberg commit max ms': Number(latencies[latencies.length - 1]!.toFixed(2)),
      'iceberg commits/s (sequential)': Number((commits / total).toFixed(1)),
      'manifest entries encoded/s': Math.round(20_000 / manifestSeconds),
      'manifest bytes per entry': Math.round(bytes / 20_000),
    };
  } finally {
    s3client.destroy();
    await catalog.close();
    await s3.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run().then(
    (figures) => {
      for (const [k, v] of Object.entries(figures)) console.log(`${k}: ${v}`);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
