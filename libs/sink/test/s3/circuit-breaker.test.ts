import { describe, expect, it } from 'vitest';
import { CfError, isCfError } from '@cryptoflow/core';
import { CircuitBreaker } from '../../src/s3/index.js';
import type { CircuitState } from '../../src/s3/index.js';

const retriable = (): Promise<never> => Promise.reject(new CfError('CF_S3', 'boom', { retriable: true }));
const fatal = (): Promise<never> => Promise.reject(new CfError('CF_S3', 'denied', { retriable: false }));

describe('CircuitBreaker', () => {
  it('opens after N consecutive retriable failures, fails fast while open, probes once after the cool-down', async () => {
    let now = 0;
    const changes: CircuitState[] = [];
    const b = new CircuitBreaker({ name: 't', failureThreshold: 3, coolDownMs: 1_000, nowMs: () => now, onStateChange: (s) => changes.push(s) });
    for (let i = 0; i < 2; i++) await expect(b.run(retriable)).rejects.toThrow('boom');
    expect(b.state).toBe('closed');
    await expect(b.run(retriable)).rejects.toThrow('boom');
    expect(b.state).toBe('open');

    let called = 0;
    const err = await b.run(async () => ++called).catch((e: unknown) => e);
    expect(isCfError(err, 'CF_CIRCUIT_OPEN')).toBe(true);
    expect((err as CfError).retriable).toBe(true);
    expect(called).toBe(0);

    now = 1_000;
    expect(b.state).toBe('half-open');
    // One probe at a time: a second caller during the probe is refused.
    let release!: () => void;
    const probe = b.run(() => new Promise<string>((r) => (release = () => r('ok'))));
    await expect(b.run(async () => 'second')).rejects.toMatchObject({ code: 'CF_CIRCUIT_OPEN' });
    release();
    expect(await probe).toBe('ok');
    expect(b.state).toBe('closed');
    expect(changes).toEqual(['open', 'half-open', 'closed']);
  });

  it('a failed probe opens the circuit for another cool-down', async () => {
    let now = 0;
    const b = new CircuitBreaker({ name: 't', failureThreshold: 1, coolDownMs: 100, nowMs: () => now });
    await expect(b.run(retriable)).rejects.toThrow();
    now = 100;
    await expect(b.run(retriable)).rejects.toThrow('boom');
    expect(b.state).toBe('open');
    now = 150;
    await expect(b.run(async () => 1)).rejects.toMatchObject({ code: 'CF_CIRCUIT_OPEN' });
    now = 200;
    expect(await b.run(async () => 1)).toBe(1);
  });

  it('non-retriable failures and successes reset nothing toward opening', async () => {
    const b = new CircuitBreaker({ name: 't', failureThreshold: 2 });
    await expect(b.run(retriable)).rejects.toThrow();
    await expect(b.run(fatal)).rejects.toThrow('denied');
    expect(b.consecutiveFailures).toBe(1);
    await b.run(async () => undefined);
    expect(b.consecutiveFailures).toBe(0);
    await expect(b.run(retriable)).rejects.toThrow();
    expect(b.state).toBe('closed');
  });

  it('rejects bad config', () => {
    expect(() => new CircuitBreaker({ name: 'x', failureThreshold: 0 })).toThrow(/failureThreshold/);
  });
});
