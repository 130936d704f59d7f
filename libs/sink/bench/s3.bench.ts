/**
 * Upload throughput of the S3 stage (S3FileStore: HEAD, single PUT or multipart with 4 parts in
 * flight, HEAD to verify checksum and ETag, tagging) against the local S3 (s3rver, a child process
 * writing to disk), for 1, 32 and 128 MiB files. s3rver is far slower than S3 itself: the figures
 * compare our stage between runs, not with AWS. `BENCH_S3_TOTAL_MIB` bounds the bytes per size
 * (default 256).
 */
import { randomFillSync } from 'node:crypto';
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import { createBucket, localS3Client, startS3 } from '@cryptoflow/stand-ins';
import { S3FileStore } from '../src/s3/index.js';

const MiB = 1024 * 1024;

export async function run(): Promise<Record<string, number | string>> {
  const totalMiB = Number(process.env['BENCH_S3_TOTAL_MIB'] ?? '256');
  const s3 = await startS3();
  const client = localS3Client(s3.endpoint, { maxAttempts: 3 });
  const out: Record<string, number | string> = {};
  try {
    await createBucket(s3.endpoint, 'bench-upload');
    const store = new S3FileStore({
      client,
      bucket: 'bench-upload',
      prefix: 'bench',
      tags: { app: 'bench' },
      partSizeBytes: 16 * MiB,
      registry: new Registry(),
      logger: createLogger({ app: 'bench', level: 'error' }),
    });
    for (const sizeMiB of [1, 32, 128]) {
      const files = Math.max(2, Math.floor(totalMiB / sizeMiB));
      const bytes = randomFillSync(new Uint8Array(sizeMiB * MiB));
      // Warm-up (connection, first multipart) outside the timing.
      await store.put({ key: `warm/${sizeMiB}.bin`, bytes, contentType: 'application/octet-stream', metadata: {} });
      const started = performance.now();
      for (let i = 0; i < files; i++) {
        bytes[0] = i & 0xff; // distinct content per key
        bytes[1] = (i >> 8) & 0xff;
        await store.put({ key: `s${sizeMiB}/${i}.bin`, bytes, contentType: 'application/octet-stream', metadata: {} });
      }
      const seconds = (performance.now() - started) / 1000;
      out[`upload ${sizeMiB} MiB files MB/s`] = Number(((files * sizeMiB * MiB) / 1e6 / seconds).toFixed(1));
      out[`upload ${sizeMiB} MiB files/s`] = Number((files / seconds).toFixed(2));
    }
    out['s3 endpoint'] = 's3rver 3.7.1 (local disk)';
    return out;
  } finally {
    client.destroy();
    await s3.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const figures = await run();
  for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(32)} ${v}`);
}
