import { CfError, backoffDelayMs, sleep } from '@cryptoflow/core';
import type { BackoffPolicy, ErrorCode } from '@cryptoflow/core';
import type { Counter, Histogram } from '@cryptoflow/metrics';
import { toCfError } from './dynamo-errors.js';

export interface CallPolicy {
  /** Total attempts per call, first included. */
  readonly attempts: number;
  readonly backoff: BackoffPolicy;
}

export const DEFAULT_CALL_POLICY: CallPolicy = { attempts: 5, backoff: { baseMs: 50, maxMs: 2_000, factor: 2 } };

export interface CallMetrics {
  readonly duration: Histogram<'op'>;
  readonly errors: Counter<'op' | 'retriable'>;
}

/**
 * Runs one DynamoDB request with full-jitter retries on retriable failures (throttling, 5xx,
 * timeouts, resets). Anything else — a failed condition above all — is returned to the caller at once,
 * because a failed condition is an answer, not a fault.
 */
export async function callWithRetries<T>(
  op: string,
  code: ErrorCode,
  policy: CallPolicy,
  metrics: CallMetrics,
  fn: () => Promise<T>,
  isAnswer: (err: unknown) => boolean,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const stop = metrics.duration.startTimer({ op });
    try {
      const result = await fn();
      stop();
      return result;
    } catch (err) {
      stop();
      if (isAnswer(err)) throw err;
      const cf = toCfError(code, `DynamoDB ${op} failed`, err, { op, attempt: attempt + 1 });
      metrics.errors.inc({ op, retriable: String(cf.retriable) });
      if (!cf.retriable || attempt + 1 >= policy.attempts) {
        throw attempt > 0 && cf.retriable
          ? new CfError(code, `DynamoDB ${op} failed after ${attempt + 1} attempts: ${cf.message}`, { retriable: true, cause: cf, context: cf.context })
          : cf;
      }
      await sleep(backoffDelayMs(attempt, policy.backoff));
    }
  }
}
