/**
 * CLI: start the local Iceberg REST catalog and print `{"uri": ..., "warehouse": ...}` as one JSON line.
 * Env: CATALOG_S3_ENDPOINT (required), CATALOG_S3_BUCKET (default cryptoflow-lake), CATALOG_S3_REGION
 * (default us-east-1), CATALOG_WAREHOUSE (default arn:aws:s3tables:us-east-1:000000000000:bucket/cryptoflow-local),
 * CATALOG_LOCATION (default s3://<bucket>/warehouse), CATALOG_PORT (default 0), CATALOG_HOST (default 127.0.0.1),
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (default S3RVER / S3RVER).
 */
import { startIcebergCatalog } from './server.js';

async function main(): Promise<void> {
  const env = process.env;
  const errors: string[] = [];
  const endpoint = env['CATALOG_S3_ENDPOINT'];
  if (!endpoint) errors.push('CATALOG_S3_ENDPOINT: required (e.g. http://127.0.0.1:4568)');
  const port = Number(env['CATALOG_PORT'] ?? '0');
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    errors.push(`CATALOG_PORT: expected 0..65535, got ${env['CATALOG_PORT']}`);
  if (errors.length > 0) {
    process.stderr.write(`iceberg-catalog: invalid configuration:\n  ${errors.join('\n  ')}\n`);
    process.exit(2);
  }
  const bucket = env['CATALOG_S3_BUCKET'] ?? 'cryptoflow-lake';
  const catalog = await startIcebergCatalog({
    s3: {
      endpoint: endpoint!,
      bucket,
      region: env['CATALOG_S3_REGION'] ?? 'us-east-1',
      credentials: {
        accessKeyId: env['AWS_ACCESS_KEY_ID'] ?? 'S3RVER',
        secretAccessKey: env['AWS_SECRET_ACCESS_KEY'] ?? 'S3RVER',
      },
    },
    warehouse: env['CATALOG_WAREHOUSE'] ?? 'arn:aws:s3tables:us-east-1:000000000000:bucket/cryptoflow-local',
    ...(env['CATALOG_LOCATION'] ? { location: env['CATALOG_LOCATION'] } : {}),
    port,
    host: env['CATALOG_HOST'] ?? '127.0.0.1',
  });
  process.stdout.write(`${JSON.stringify({ uri: catalog.uri, warehouse: catalog.warehouse })}\n`);
  const stop = (): void => {
    catalog.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`iceberg-catalog: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
