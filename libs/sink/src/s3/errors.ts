import { CfError } from '@cryptoflow/core';

const RETRIABLE_CODES = new Set([
  'InternalError',
  'ServiceUnavailable',
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'RequestTimeoutException',
  'OperationAborted',
  'ConditionalRequestConflict',
  'TimeoutError',
  'AbortError',
]);
const RETRIABLE_NET = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET']);

interface AwsErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

export function httpStatusOf(err: unknown): number | undefined {
  return (err as AwsErrorShape | null)?.$metadata?.httpStatusCode;
}

/** Throttling, 5xx, timeouts and network failures: the request may not have happened, trying again may work. */
export function isRetriableS3Error(err: unknown): boolean {
  if (err instanceof CfError) return err.retriable;
  const e = err as AwsErrorShape | null;
  if (!e) return false;
  if (e.name && RETRIABLE_CODES.has(e.name)) return true;
  if (e.Code && RETRIABLE_CODES.has(e.Code)) return true;
  if (e.code && RETRIABLE_NET.has(e.code)) return true;
  const status = httpStatusOf(err);
  if (status !== undefined) return status >= 500 || status === 429 || status === 408;
  // No HTTP answer at all: a reset, a refused connection or a socket timeout.
  return /socket hang up|ECONNRESET|ECONNREFUSED|EPIPE|network|timed? ?out|aborted/i.test(String(e.message));
}

export function s3Error(op: string, err: unknown, context: Record<string, unknown>): CfError {
  if (err instanceof CfError) return err;
  const e = err as AwsErrorShape;
  return new CfError('CF_S3', `S3 ${op} failed: ${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`, {
    retriable: isRetriableS3Error(err),
    cause: err,
    context: { ...context, op, awsError: e?.name, httpStatus: httpStatusOf(err) },
  });
}

export function isNotFound(err: unknown): boolean {
  const e = err as AwsErrorShape | null;
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || httpStatusOf(err) === 404;
}

export function isPreconditionFailed(err: unknown): boolean {
  const e = err as AwsErrorShape | null;
  return e?.name === 'PreconditionFailed' || httpStatusOf(err) === 412;
}
