import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { HeadObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';
import { CfError } from '@cryptoflow/core';
import type { Logger } from '@cryptoflow/logger';
import { sha256Base64 } from '../store.js';
import type { FilePut, FileStore, StoredFile } from '../store.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { isNotFound, isPreconditionFailed } from './errors.js';
import { withS3Retries } from './retry.js';
import type { RetryContext } from './retry.js';
import { buildRetryContext, joinKey, md5Hex, s3Metrics, s3Uri, sha256Raw, taggingHeader, validateKey } from './shared.js';
import type { CommonS3Options, S3Metrics } from './shared.js';

/** User metadata key carrying the object's base64 SHA-256 (`x-amz-meta-cf-sha256`): the idempotency check works on any S3. */
export const META_SHA256 = 'cf-sha256';

const MIN_PART = 5 * 1024 * 1024;
const MAX_PARTS = 10_000;

export interface S3FileStoreOptions extends CommonS3Options {
  readonly client: S3Client;
  readonly bucket: string;
  /** Prepended to every key with a `/` (e.g. `raw/v1`). */
  readonly prefix?: string;
  /** Object tags (applied with PutObjectTagging; also sent as the `x-amz-tagging` header). */
  readonly tags?: Readonly<Record<string, string>>;
  /** Multipart part size (default 16 MiB, at least 5 MiB). */
  readonly partSizeBytes?: number;
  /** Objects at or above this size go multipart (default: the part size). */
  readonly multipartThresholdBytes?: number;
  /** Parts uploaded at once (default 4). */
  readonly partConcurrency?: number;
  /**
   * After upload, also compare the ETag with the MD5 we expect (whole-object MD5, or AWS's MD5-of-part-MD5s
   * `-N` form). True by default; turn off for SSE-KMS buckets, where the ETag is not an MD5.
   */
  readonly verifyEtag?: boolean;
}

interface Digest {
  readonly sha256: string;
  readonly md5: string;
  /** Expected ETags: whole-object MD5 and, for multipart, the MD5 of part MD5s with `-N`. */
  readonly etags: readonly string[];
  /** Expected ChecksumSHA256 from HEAD: whole-object for single puts, composite `-N` for multipart. */
  readonly checksums: readonly string[];
}

/**
 * The S3 stage of the sink: a FileStore over S3 (and anything speaking its protocol).
 *
 * Why our own CreateMultipartUpload/UploadPart/Complete instead of lib-storage `Upload`: the file is
 * already one Uint8Array in memory (no stream to chunk), and owning the calls gives per-part retries
 * under our jitter policy and circuit breaker (lib-storage restarts nothing and leans on SDK retries),
 * a SHA-256 checksum on every part, create-only completion (`If-None-Match: *`), an explicit abort of
 * the upload on failure (no orphaned parts billing silently), and one error type.
 *
 * put() is idempotent and never overwrites: HEAD first — same key with the same SHA-256 → success
 * without upload; a different SHA-256 → CF_S3, not retriable. Uploads carry `If-None-Match: *` so two
 * racing writers cannot overwrite each other on AWS (s3rver ignores it; the pre-HEAD covers replays there).
 * After upload a HEAD verifies size, our SHA-256 metadata, the server's ChecksumSHA256 when it returns one
 * (AWS; s3rver does not) and the ETag against the MD5 we computed (s3rver and AWS without KMS).
 */
export class S3FileStore implements FileStore {
  readonly bucket: string;
  readonly breaker: CircuitBreaker | undefined;
  private readonly client: S3Client;
  private readonly prefix: string | undefined;
  private readonly tags: Readonly<Record<string, string>>;
  private readonly partSize: number;
  private readonly threshold: number;
  private readonly partConcurrency: number;
  private readonly verifyEtag: boolean;
  private readonly logger: Logger;
  private readonly labels: Readonly<Record<string, string>>;
  private readonly metrics: S3Metrics;
  private readonly retryCtx: (bytes: number) => RetryContext;

  constructor(options: S3FileStoreOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix;
    this.tags = options.tags ?? {};
    this.partSize = options.partSizeBytes ?? 16 * 1024 * 1024;
    if (!Number.isInteger(this.partSize) || this.partSize < MIN_PART) {
      throw new CfError('CF_CONFIG_INVALID', `s3 partSizeBytes: expected an integer ≥ ${MIN_PART} (S3's minimum part), got ${options.partSizeBytes}`);
    }
    this.threshold = options.multipartThresholdBytes ?? this.partSize;
    this.partConcurrency = options.partConcurrency ?? 4;
    this.verifyEtag = options.verifyEtag ?? true;
    this.labels = options.labels ?? {};
    this.logger = options.logger.child({ component: 's3-store', bucket: this.bucket });
    this.metrics = s3Metrics(options.registry, this.labels);
    const built = buildRetryContext(options, this.metrics, this.bucket, this.logger);
    this.breaker = built.breaker;
    this.retryCtx = built.ctx;
  }

  async put(file: FilePut): Promise<StoredFile> {
    const key = joinKey(this.prefix, file.key);
    validateKey(key);
    const stop = this.metrics.duration.startTimer(this.labels);
    try {
      const stored = await this.putOnce(key, file);
      stop();
      return stored;
    } catch (err) {
      const retriable = err instanceof CfError ? err.retriable : false;
      this.metrics.errors.inc({ ...this.labels, retriable: String(retriable) });
      throw err;
    }
  }

  private async putOnce(key: string, file: FilePut): Promise<StoredFile> {
    const bytes = file.bytes;
    const multipart = bytes.byteLength >= this.threshold && bytes.byteLength > 0;
    const partSize = multipart ? this.partSizeFor(bytes.byteLength) : bytes.byteLength;
    const digest = this.digest(bytes, multipart ? partSize : 0);
    const stored: StoredFile = { key, uri: s3Uri(this.bucket, key), bytes: bytes.byteLength, checksumSha256: digest.sha256 };
    const ctx = { bucket: this.bucket, key, bytes: bytes.byteLength };

    const existing = await this.head(key, 0);
    if (existing) {
      this.assertSame(key, existing, digest, bytes.byteLength);
      await this.applyTags(key);
      this.metrics.dedup.inc(this.labels);
      this.logger.debug(ctx, 'object already stored with the same checksum: upload skipped');
      return stored;
    }

    const metadata = { ...file.metadata, [META_SHA256]: digest.sha256 };
    let raced = false;
    try {
      if (multipart) await this.uploadMultipart(key, file, metadata, partSize);
      else await this.uploadSingle(key, file, metadata, digest);
    } catch (err) {
      if (!isPreconditionFailed(err)) throw err;
      raced = true; // another writer created the key between our HEAD and our write
    }

    const after = await this.head(key, 0);
    if (!after) {
      throw new CfError('CF_S3', `S3 object ${key} missing right after upload`, { retriable: true, context: ctx });
    }
    try {
      this.assertSame(key, after, digest, bytes.byteLength);
    } catch (err) {
      if (raced) throw err; // someone else's different object: never delete it
      // Our own write stored other bytes than we sent: remove it so a retry can write it again.
      await withS3Retries('delete', this.retryCtx(0), ctx, (signal) =>
        this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal }),
      ).catch(() => undefined);
      throw new CfError('CF_S3', `S3 object ${key} failed verification after upload: ${(err as Error).message}`, { retriable: true, cause: err, context: ctx });
    }
    await this.applyTags(key);
    if (!raced) this.metrics.bytes.inc(this.labels, bytes.byteLength);
    return stored;
  }

  /** Grows the part size when the file would need more than 10,000 parts. */
  private partSizeFor(size: number): number {
    const needed = Math.ceil(size / MAX_PARTS);
    return Math.max(this.partSize, Math.ceil(needed / 1_048_576) * 1_048_576);
  }

  private digest(bytes: Uint8Array, partSize: number): Digest {
    const sha256 = sha256Base64(bytes);
    const md5 = md5Hex(bytes);
    if (partSize === 0) return { sha256, md5, etags: [md5], checksums: [sha256] };
    const partMd5s: Buffer[] = [];
    const partShas: Buffer[] = [];
    for (let off = 0; off < bytes.byteLength; off += partSize) {
      const part = bytes.subarray(off, Math.min(off + partSize, bytes.byteLength));
      partMd5s.push(Buffer.from(md5Hex(part), 'hex'));
      partShas.push(sha256Raw(part));
    }
    const n = partMd5s.length;
    return {
      sha256,
      md5,
      etags: [md5, `${md5Hex(Buffer.concat(partMd5s))}-${n}`],
      checksums: [sha256, `${sha256Raw(Buffer.concat(partShas)).toString('base64')}-${n}`, sha256Raw(Buffer.concat(partShas)).toString('base64')],
    };
  }

  private assertSame(key: string, head: HeadObjectCommandOutput, digest: Digest, size: number): void {
    const storedSha = head.Metadata?.[META_SHA256];
    const serverSha = head.ChecksumSHA256;
    const etag = head.ETag?.replace(/"/g, '');
    const problems: string[] = [];
    if (head.ContentLength !== undefined && head.ContentLength !== size) problems.push(`size ${head.ContentLength} ≠ ${size}`);
    if (storedSha !== undefined && storedSha !== digest.sha256) problems.push(`sha256 ${storedSha} ≠ ${digest.sha256}`);
    if (serverSha !== undefined && !digest.checksums.includes(serverSha)) problems.push(`server ChecksumSHA256 ${serverSha} ≠ ${digest.sha256}`);
    const etagChecked = this.verifyEtag && etag !== undefined;
    if (etagChecked && !digest.etags.includes(etag)) problems.push(`ETag ${etag} ∉ {${digest.etags.join(', ')}}`);
    if (storedSha === undefined && serverSha === undefined && !etagChecked) problems.push('no checksum to compare (foreign object?)');
    if (problems.length > 0) {
      throw new CfError('CF_S3', `S3 object ${key} already exists with different content: ${problems.join('; ')}`, {
        retriable: false,
        context: { bucket: this.bucket, key, storedSha256: storedSha, offeredSha256: digest.sha256, etag },
      });
    }
  }

  private async head(key: string, bytes: number): Promise<HeadObjectCommandOutput | undefined> {
    try {
      return await withS3Retries(
        'head',
        this.retryCtx(bytes),
        { bucket: this.bucket, key },
        (signal) => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key, ChecksumMode: 'ENABLED' }), { abortSignal: signal }),
        isNotFound,
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async uploadSingle(key: string, file: FilePut, metadata: Record<string, string>, digest: Digest): Promise<void> {
    await withS3Retries(
      'put',
      this.retryCtx(file.bytes.byteLength),
      { bucket: this.bucket, key },
      (signal) =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Body: file.bytes,
            ContentLength: file.bytes.byteLength,
            ContentType: file.contentType,
            ContentMD5: Buffer.from(digest.md5, 'hex').toString('base64'),
            ChecksumAlgorithm: 'SHA256',
            ChecksumSHA256: digest.sha256,
            Metadata: metadata,
            IfNoneMatch: '*',
            ...(Object.keys(this.tags).length > 0 ? { Tagging: taggingHeader(this.tags) } : {}),
          }),
          { abortSignal: signal },
        ),
      isPreconditionFailed,
    );
  }

  private async uploadMultipart(key: string, file: FilePut, metadata: Record<string, string>, partSize: number): Promise<void> {
    const ctx = { bucket: this.bucket, key };
    const created = await withS3Retries('create_multipart', this.retryCtx(0), ctx, (signal) =>
      this.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          ContentType: file.contentType,
          ChecksumAlgorithm: 'SHA256',
          Metadata: metadata,
          ...(Object.keys(this.tags).length > 0 ? { Tagging: taggingHeader(this.tags) } : {}),
        }),
        { abortSignal: signal },
      ),
    );
    const uploadId = created.UploadId;
    if (!uploadId) throw new CfError('CF_S3', `S3 CreateMultipartUpload for ${key} returned no UploadId`, { retriable: true, context: ctx });

    const bytes = file.bytes;
    const count = Math.ceil(bytes.byteLength / partSize);
    const parts: { PartNumber: number; ETag: string; ChecksumSHA256: string }[] = new Array(count);
    try {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < count) {
          const index = next++;
          const body = bytes.subarray(index * partSize, Math.min((index + 1) * partSize, bytes.byteLength));
          const sha = sha256Base64(body);
          const out = await withS3Retries('upload_part', this.retryCtx(body.byteLength), { ...ctx, part: index + 1 }, (signal) =>
            this.client.send(
              new UploadPartCommand({
                Bucket: this.bucket,
                Key: key,
                UploadId: uploadId,
                PartNumber: index + 1,
                Body: body,
                ContentLength: body.byteLength,
                ContentMD5: Buffer.from(md5Hex(body), 'hex').toString('base64'),
                ChecksumAlgorithm: 'SHA256',
                ChecksumSHA256: sha,
              }),
              { abortSignal: signal },
            ),
          );
          if (!out.ETag) throw new CfError('CF_S3', `S3 UploadPart ${index + 1} of ${key} returned no ETag`, { retriable: true, context: ctx });
          parts[index] = { PartNumber: index + 1, ETag: out.ETag, ChecksumSHA256: out.ChecksumSHA256 ?? sha };
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.partConcurrency, count) }, worker));
      // A Complete whose answer was lost may have landed: before each retry, look for our object first
      // (AWS then answers NoSuchUpload, s3rver a 500; neither tells us the upload is done).
      let attempted = false;
      await withS3Retries(
        'complete_multipart',
        this.retryCtx(0),
        ctx,
        async (signal) => {
          if (attempted && (await this.isOurs(key, file.bytes.byteLength, metadata[META_SHA256] ?? '', signal))) return;
          attempted = true;
          try {
            await this.client.send(
              new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts }, IfNoneMatch: '*' }),
              { abortSignal: signal },
            );
          } catch (err) {
            if ((err as { name?: string }).name === 'NoSuchUpload' && (await this.isOurs(key, file.bytes.byteLength, metadata[META_SHA256] ?? '', signal))) return;
            throw err;
          }
        },
        isPreconditionFailed,
      );
    } catch (err) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }), { abortSignal: AbortSignal.timeout(10_000) }).catch((abortErr: unknown) => {
        this.logger.warn({ key, uploadId, err: (abortErr as Error).message }, 'AbortMultipartUpload failed; a bucket lifecycle rule must clean the parts');
      });
      throw err;
    }
  }

  /** True when `key` holds an object of this size whose cf-sha256 metadata is ours. */
  private async isOurs(key: string, size: number, sha256: string, signal: AbortSignal): Promise<boolean> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
      return head.ContentLength === size && head.Metadata?.[META_SHA256] === sha256;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** s3rver ignores the tagging header, so tags are (re)applied explicitly; idempotent. */
  private async applyTags(key: string): Promise<void> {
    const entries = Object.entries(this.tags);
    if (entries.length === 0) return;
    await withS3Retries('put_tagging', this.retryCtx(0), { bucket: this.bucket, key }, (signal) =>
      this.client.send(
        new PutObjectTaggingCommand({ Bucket: this.bucket, Key: key, Tagging: { TagSet: entries.map(([Key, Value]) => ({ Key, Value })) } }),
        { abortSignal: signal },
      ),
    );
  }
}
