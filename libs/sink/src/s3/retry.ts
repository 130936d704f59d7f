import { CfError, backoffDelayMs, sleep } from '@cryptoflow/core';
import type { BackoffPolicy } from '@cryptoflow/core';
import type { CircuitBreaker } from './circuit-breaker.js';
import { s3Error } from './errors.js';

export interface RetryPolicy {
  /** Attempts per request, the first included (default 6). */
  readonly attempts: number;
  /** Full-jitter exponential backoff between attempts. */
  readonly backoff: BackoffPolicy;
}

export const DEFAULT_S3_RETRY: RetryPolicy = { attempts: 6, backoff: { baseMs: 100, maxMs: 10_000, factor: 2 } };

export interface RetryContext {
  readonly policy: RetryPolicy;
  readonly breaker: CircuitBreaker | undefined;
  /** Called before each retry (not before the first attempt). */
  readonly onRetry: (op: string, attempt: number, err: CfError) => void;
  /** Bound on one attempt; the SDK request is aborted when it passes. */
  readonly attemptTimeoutMs: number;
}

/**
 * One S3 request with per-attempt timeout, full-jitter retries on retriable failures and the circuit
 * breaker around every attempt. `answers` lets the caller treat some failures (404 on HEAD, 412 on a
 * create-only put) as results: they are rethrown untouched, never retried and never count as faults.
 * An open circuit ends the retries at once: the caller keeps its data and comes back later.
 */
export async function withS3Retries<T>(
  op: string,
  ctx: RetryContext,
  context: Record<string, unknown>,
  fn: (signal: AbortSignal) => Promise<T>,
  answers: (err: unknown) => boolean = () => false,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const attemptFn = async (): Promise<T> => {
        const signal = AbortSignal.timeout(ctx.attemptTimeoutMs);
        try {
          return await fn(signal);
        } catch (err) {
          if (answers(err)) throw err;
          if (signal.aborted) {
            throw new CfError('CF_S3', `S3 ${op} timed out after ${ctx.attemptTimeoutMs} ms`, { retriable: true, cause: err, context: { ...context, op } });
          }
          throw s3Error(op, err, context);
        }
      };
      return ctx.breaker
        ? await ctx.breaker.run(attemptFn, (err) => !answers(err) && err instanceof CfError && err.retriable)
        : await attemptFn();
    } catch (err) {
      if (answers(err)) throw err;
      const cf = err instanceof CfError ? err : s3Error(op, err, context);
      if (!cf.retriable || cf.code === 'CF_CIRCUIT_OPEN') throw cf;
      if (attempt + 1 >= ctx.policy.attempts) {
        throw new CfError('CF_S3', `S3 ${op} failed after ${attempt + 1} attempts: ${cf.message}`, {
          retriable: true,
          cause: cf,
          context: { ...cf.context, attempts: attempt + 1 },
        });
      }
      ctx.onRetry(op, attempt + 1, cf);
      await sleep(backoffDelayMs(attempt, ctx.policy.backoff));
    }
  }
}
