import { CfError } from '@cryptoflow/core';
import type { ErrorCode } from '@cryptoflow/core';

const RETRIABLE_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'InternalServerErrorException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'LimitExceededException',
  'TransactionConflictException',
  'TimeoutError',
  'AbortError',
  'RequestTimeout',
  'RequestTimeoutException',
]);
const RETRIABLE_NET = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET', 'ECONNABORTED']);

export function isConditionalCheckFailed(err: unknown): boolean {
  return (err as { name?: string } | null)?.name === 'ConditionalCheckFailedException';
}

/** True for throttling, 5xx, timeouts and network failures: the request may not have been applied. */
export function isRetriableAwsError(err: unknown): boolean {
  if (err instanceof CfError) return err.retriable;
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown } | null;
  if (!e) return false;
  if (e.name && RETRIABLE_NAMES.has(e.name)) return true;
  if (e.code && RETRIABLE_NET.has(e.code)) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (e.$retryable) return true;
  // A socket hang-up without a response carries no status at all.
  return status === undefined && /socket hang up|ECONNRESET|EPIPE|network|timed? ?out/i.test(String((err as Error).message));
}

export function toCfError(code: ErrorCode, what: string, err: unknown, context: Record<string, unknown> = {}): CfError {
  if (err instanceof CfError) return err;
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  return new CfError(code, `${what}: ${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`, {
    retriable: isRetriableAwsError(err),
    cause: err,
    context: { ...context, awsError: e?.name, httpStatus: e?.$metadata?.httpStatusCode },
  });
}
