import { CfError } from '@cryptoflow/core';

export type CircuitState = 'closed' | 'open' | 'half-open';

/** Gauge values for `s3_circuit_state`. */
export const CIRCUIT_STATE_VALUE: Readonly<Record<CircuitState, number>> = { closed: 0, open: 1, 'half-open': 2 };

export interface CircuitBreakerOptions {
  /** Name for errors, logs and the state gauge, e.g. `s3:lake`. */
  readonly name: string;
  /** Consecutive failures that open the circuit (default 5). */
  readonly failureThreshold?: number;
  /** How long the circuit stays open before one probe is let through (default 30 s). */
  readonly coolDownMs?: number;
  readonly nowMs?: () => number;
  readonly onStateChange?: (state: CircuitState, previous: CircuitState) => void;
}

/**
 * Stops hammering a dependency that is down. Closed: calls pass, consecutive failures are counted.
 * After `failureThreshold` of them: open — calls fail at once with CF_CIRCUIT_OPEN (retriable: the
 * caller keeps its data and tries later) until `coolDownMs` has passed. Then half-open: exactly one
 * probe call passes; its success closes the circuit, its failure opens it for another cool-down.
 *
 * Only failures the caller reports (`run`'s `isFailure`, default: retriable CfErrors) count, so a
 * 403 or a checksum conflict does not open the circuit for everyone.
 */
export class CircuitBreaker {
  readonly name: string;
  private readonly threshold: number;
  private readonly coolDownMs: number;
  private readonly nowMs: () => number;
  private readonly listeners: ((state: CircuitState, previous: CircuitState) => void)[] = [];
  private stateNow: CircuitState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private probing = false;

  constructor(options: CircuitBreakerOptions) {
    this.name = options.name;
    this.threshold = options.failureThreshold ?? 5;
    this.coolDownMs = options.coolDownMs ?? 30_000;
    if (!Number.isInteger(this.threshold) || this.threshold < 1) {
      throw new CfError('CF_CONFIG_INVALID', `circuit ${this.name} failureThreshold: expected a positive integer, got ${options.failureThreshold}`);
    }
    if (!(this.coolDownMs >= 0)) throw new CfError('CF_CONFIG_INVALID', `circuit ${this.name} coolDownMs: expected ≥ 0, got ${options.coolDownMs}`);
    this.nowMs = options.nowMs ?? Date.now;
    if (options.onStateChange) this.listeners.push(options.onStateChange);
  }

  get state(): CircuitState {
    if (this.stateNow === 'open' && this.nowMs() - this.openedAt >= this.coolDownMs) this.transition('half-open');
    return this.stateNow;
  }

  /** Also called for every later state change (e.g. to drive a gauge). */
  onStateChange(listener: (state: CircuitState, previous: CircuitState) => void): void {
    this.listeners.push(listener);
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Throws CF_CIRCUIT_OPEN when no call may pass now; otherwise marks a probe as taken in half-open. */
  private admit(): void {
    const state = this.state;
    if (state === 'closed') return;
    if (state === 'half-open' && !this.probing) {
      this.probing = true;
      return;
    }
    const retryInMs = state === 'open' ? Math.max(0, this.coolDownMs - (this.nowMs() - this.openedAt)) : this.coolDownMs;
    throw new CfError('CF_CIRCUIT_OPEN', `circuit ${this.name} is ${state} after ${this.failures} consecutive failures; retry in ${retryInMs} ms`, {
      retriable: true,
      context: { circuit: this.name, state, failures: this.failures, retryInMs },
    });
  }

  recordSuccess(): void {
    this.failures = 0;
    this.probing = false;
    if (this.stateNow !== 'closed') this.transition('closed');
  }

  recordFailure(): void {
    this.failures += 1;
    const wasProbe = this.probing;
    this.probing = false;
    if (wasProbe || (this.stateNow === 'closed' && this.failures >= this.threshold)) {
      this.openedAt = this.nowMs();
      this.transition('open');
    }
  }

  async run<T>(fn: () => Promise<T>, isFailure: (err: unknown) => boolean = (err) => err instanceof CfError && err.retriable): Promise<T> {
    this.admit();
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      if (isFailure(err)) this.recordFailure();
      else if (this.probing) {
        // The probe reached the service and got a definite answer: the service is up.
        this.recordSuccess();
      }
      throw err;
    }
    this.recordSuccess();
    return result;
  }

  private transition(next: CircuitState): void {
    const previous = this.stateNow;
    if (previous === next) return;
    this.stateNow = next;
    for (const listener of this.listeners) listener(next, previous);
  }
}
