import { createHash } from 'node:crypto';
import { CfError } from '@cryptoflow/core';
import { counter, gauge, histogram, LATENCY_BUCKETS_SECONDS } from '@cryptoflow/metrics';
import type { Counter, Gauge, Histogram, Registry } from '@cryptoflow/metrics';
import type { Logger } from '@cryptoflow/logger';
import { CIRCUIT_STATE_VALUE, CircuitBreaker } from './circuit-breaker.js';
import { DEFAULT_S3_RETRY } from './retry.js';
import type { RetryContext, RetryPolicy } from './retry.js';

export interface S3Metrics {
  readonly retries: Counter<string>;
  readonly bytes: Counter<string>;
  readonly duration: Histogram<string>;
  readonly dedup: Counter<string>;
  readonly errors: Counter<string>;
  readonly circuit: Gauge<'circuit'>;
}

const UPLOAD_BUCKETS = [...LATENCY_BUCKETS_SECONDS, 60, 120, 300];

/** Metric label names are the sorted keys of `labels`; every store on one registry must use the same keys. */
export function s3Metrics(registry: Registry, labels: Readonly<Record<string, string>>): S3Metrics {
  const names = Object.keys(labels).sort();
  return {
    retries: counter(registry, 's3_upload_retries_total', 'S3 requests retried after a retriable failure.', [...names, 'op']),
    bytes: counter(registry, 's3_upload_bytes_total', 'Bytes uploaded to S3 (objects newly written, not deduplicated ones).', names),
    duration: histogram(registry, 's3_upload_duration_seconds', 'Time to store one object: HEAD, upload, verify, tag.', names, UPLOAD_BUCKETS),
    dedup: counter(registry, 's3_upload_dedup_total', 'Puts that found the same object already stored and skipped the upload.', names),
    errors: counter(registry, 's3_upload_errors_total', 'Puts that failed (after retries).', [...names, 'retriable']),
    circuit: gauge(registry, 's3_circuit_state', 'S3 circuit breaker state: 0 closed, 1 open, 2 half-open.', ['circuit']),
  };
}

export interface CommonS3Options {
  readonly registry: Registry;
  readonly logger: Logger;
  /** Constant labels on the s3_* metrics, e.g. `{ app: 'collector-ticks' }`. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly retries?: Partial<RetryPolicy>;
  /**
   * A breaker shared by everything talking to one S3 endpoint (pass the same instance to the file
   * store and the object writer), `false` for none; default: a new one named `s3:<bucket>`.
   */
  readonly circuitBreaker?: CircuitBreaker | false;
  /** Bound on one request attempt; uploads get another second per MiB on top (default 30 s). */
  readonly attemptTimeoutMs?: number;
}

export function buildRetryContext(
  options: CommonS3Options,
  metrics: S3Metrics,
  bucket: string,
  logger: Logger,
): { ctx: (bytes: number) => RetryContext; breaker: CircuitBreaker | undefined } {
  const labels = options.labels ?? {};
  const breaker =
    options.circuitBreaker === false
      ? undefined
      : (options.circuitBreaker ?? new CircuitBreaker({ name: `s3:${bucket}` }));
  if (breaker) {
    metrics.circuit.set({ circuit: breaker.name }, CIRCUIT_STATE_VALUE[breaker.state]);
    breaker.onStateChange((state, previous) => {
      metrics.circuit.set({ circuit: breaker.name }, CIRCUIT_STATE_VALUE[state]);
      logger.warn({ circuit: breaker.name, state, previous }, 'S3 circuit breaker changed state');
    });
  }
  const policy: RetryPolicy = {
    attempts: options.retries?.attempts ?? DEFAULT_S3_RETRY.attempts,
    backoff: options.retries?.backoff ?? DEFAULT_S3_RETRY.backoff,
  };
  if (!Number.isInteger(policy.attempts) || policy.attempts < 1) {
    throw new CfError('CF_CONFIG_INVALID', `s3 retries.attempts: expected a positive integer, got ${policy.attempts}`);
  }
  const base = options.attemptTimeoutMs ?? 30_000;
  const onRetry = (op: string, attempt: number, err: CfError): void => {
    metrics.retries.inc({ ...labels, op });
    logger.warn({ op, attempt, code: err.code, err: err.message, context: err.context }, 'S3 request retried');
  };
  return {
    breaker,
    ctx: (bytes: number) => ({ policy, breaker, onRetry, attemptTimeoutMs: base + Math.ceil(bytes / 1_048_576) * 1_000 }),
  };
}

export function md5Hex(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

export function sha256Raw(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** `s3://bucket/key` */
export function s3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

export function parseS3Location(location: string): { bucket: string; key: string } | undefined {
  const m = /^s3a?:\/\/([^/]+)\/(.+)$/.exec(location);
  return m ? { bucket: m[1] ?? '', key: m[2] ?? '' } : undefined;
}

export function joinKey(prefix: string | undefined, key: string): string {
  if (!prefix) return key;
  return `${prefix.replace(/^\/+|\/+$/g, '')}/${key}`;
}

/** S3 accepts nearly any key, but ours are paths: no empty segments, no `.`/`..`, no leading slash. */
export function validateKey(key: string): void {
  if (key.length === 0 || key.length > 1024 || key.startsWith('/') || key.includes('\0') || key.includes('\\') || key.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new CfError('CF_S3', `invalid object key ${JSON.stringify(key.slice(0, 200))}`, { context: { key: key.slice(0, 200) } });
  }
}

/** `k1=v1&k2=v2`, the x-amz-tagging header form. */
export function taggingHeader(tags: Readonly<Record<string, string>>): string {
  return new URLSearchParams(Object.entries(tags)).toString();
}
