import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { CfError } from '@cryptoflow/core';
import type { Logger } from '@cryptoflow/logger';
import { sha256Base64 } from '../store.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { withS3Retries } from './retry.js';
import type { RetryContext } from './retry.js';
import { buildRetryContext, joinKey, parseS3Location, s3Metrics, s3Uri, validateKey } from './shared.js';
import type { CommonS3Options, S3Metrics } from './shared.js';

export interface S3ObjectWriterOptions extends CommonS3Options {
  readonly client: S3Client;
  /** Bucket for bare keys; `s3://bucket/key` locations name their own bucket. */
  readonly bucket: string;
  /** Prepended to bare keys only. */
  readonly prefix?: string;
  readonly contentType?: string;
}

/**
 * Small whole objects (Iceberg manifests and manifest lists) with the same retries and breaker as the
 * file store. Unlike data files these are written under fresh names per commit attempt, so a plain
 * PutObject (with a SHA-256 checksum) is enough: a retried put of the same bytes is harmless.
 * `put(key, bytes)` accepts `s3://bucket/key` or a key relative to bucket/prefix and returns the `s3://` URI.
 */
export class S3ObjectWriter {
  readonly breaker: CircuitBreaker | undefined;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string | undefined;
  private readonly contentType: string;
  private readonly labels: Readonly<Record<string, string>>;
  private readonly metrics: S3Metrics;
  private readonly retryCtx: (bytes: number) => RetryContext;

  constructor(options: S3ObjectWriterOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix;
    this.contentType = options.contentType ?? 'application/octet-stream';
    this.labels = options.labels ?? {};
    this.metrics = s3Metrics(options.registry, this.labels);
    const logger: Logger = options.logger.child({ component: 's3-object-writer', bucket: this.bucket });
    const built = buildRetryContext(options, this.metrics, this.bucket, logger);
    this.breaker = built.breaker;
    this.retryCtx = built.ctx;
  }

  private locate(location: string): { bucket: string; key: string } {
    const parsed = parseS3Location(location) ?? { bucket: this.bucket, key: joinKey(this.prefix, location) };
    validateKey(parsed.key);
    return parsed;
  }

  async put(location: string, bytes: Uint8Array): Promise<string> {
    const { bucket, key } = this.locate(location);
    const stop = this.metrics.duration.startTimer(this.labels);
    const sha = sha256Base64(bytes);
    try {
      await withS3Retries('put', this.retryCtx(bytes.byteLength), { bucket, key }, (signal) =>
        this.client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: bytes,
            ContentLength: bytes.byteLength,
            ContentType: this.contentType,
            ChecksumAlgorithm: 'SHA256',
            ChecksumSHA256: sha,
          }),
          { abortSignal: signal },
        ),
      );
    } catch (err) {
      this.metrics.errors.inc({ ...this.labels, retriable: String(err instanceof CfError && err.retriable) });
      throw err;
    }
    stop();
    this.metrics.bytes.inc(this.labels, bytes.byteLength);
    return s3Uri(bucket, key);
  }

  async get(location: string): Promise<Uint8Array> {
    const { bucket, key } = this.locate(location);
    return withS3Retries('get', this.retryCtx(0), { bucket, key }, async (signal) => {
      const res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
      if (!res.Body) throw new CfError('CF_S3', `S3 GET ${s3Uri(bucket, key)} returned no body`, { retriable: true });
      return res.Body.transformToByteArray();
    });
  }
}
