export interface BackoffPolicy {
  /** First delay in ms. */
  readonly baseMs: number;
  /** Cap on any single delay in ms. */
  readonly maxMs: number;
  /** Multiplier per attempt. */
  readonly factor: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 30_000, factor: 2 };

/**
 * "Full jitter" exponential backoff: a uniform delay in [0, min(max, base·factor^attempt)].
 * Spreading reconnects uniformly keeps a fleet that lost the venue at once from returning at once.
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * Math.pow(policy.factor, Math.max(0, attempt)));
  return Math.floor(random() * ceiling);
}
