import { describe, expect, it } from 'vitest';
import type { BookKey, DepthFetchResult, SchedulerTimers } from '../../src/book/index.js';
import { SnapshotScheduler, depthRequestWeight, rateLimitError, venueWeightPerMinute } from '../../src/book/index.js';

/** Deterministic timers: run with `drain`, which advances virtual time timer by timer. */
class FakeTimers implements SchedulerTimers {
  now = 0;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();
  nowMs(): number {
    return this.now;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.now + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.pending.delete(h as number);
  }
  async drain(untilMs: number): Promise<void> {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.pending) if (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[0] < next[0])) next = e;
      if (!next || next[1].at > untilMs) return;
      this.pending.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
    }
  }
}

/**
 * A venue that enforces REQUEST_WEIGHT per fixed minute per IP like Binance: over the limit → 429
 * with Retry-After to the next minute; a request during a Retry-After → 418 ban.
 */
class FakeVenue {
  used = new Map<number, number>();
  bannedUntil = 0;
  retryAfterUntil = 0;
  statuses: number[] = [];
  requestTimes: number[] = [];
  constructor(
    readonly timers: FakeTimers,
    readonly limit: number,
    readonly weight: number,
    readonly externalPerMinute = 0,
  ) {}
  usedNow(): number {
    const minute = Math.floor(this.timers.now / 60_000);
    // other processes on the same IP, spread evenly over the minute
    const external = Math.floor(this.externalPerMinute * ((this.timers.now % 60_000) / 60_000));
    return (this.used.get(minute) ?? 0) + external;
  }
  fetch = (key: BookKey): Promise<DepthFetchResult> => {
    const now = this.timers.now;
    this.requestTimes.push(now);
    return new Promise((resolve, reject) => {
      this.timers.setTimeout(() => {
        if (now < this.bannedUntil || now < this.retryAfterUntil) {
          this.statuses.push(418);
          this.bannedUntil = now + 120_000;
          reject(rateLimitError(418, 120_000));
          return;
        }
        const minute = Math.floor(now / 60_000);
        if (this.usedNow() + this.weight > this.limit) {
          this.statuses.push(429);
          const ra = (minute + 1) * 60_000 - now;
          this.retryAfterUntil = now + ra;
          reject(rateLimitError(429, ra, this.usedNow()));
          return;
        }
        this.used.set(minute, (this.used.get(minute) ?? 0) + this.weight);
        this.statuses.push(200);
        resolve({ snapshot: { lastUpdateId: 1, exchangeTs: null, receivedAt: now * 1000, bids: [], asks: [] }, usedWeight1m: this.usedNow() });
        void key;
      }, 40);
    });
  };
}

function setup(limit: number, weight: number, external = 0, share = 0.5) {
  const timers = new FakeTimers();
  const venue = new FakeVenue(timers, limit, weight, external);
  const got: BookKey[] = [];
  const failed: BookKey[] = [];
  const s = new SnapshotScheduler({
    fetch: venue.fetch,
    onSnapshot: (k) => got.push(k),
    onFailed: (k) => failed.push(k),
    requestWeight: weight,
    weightPerMinute: limit,
    budgetShare: share,
    timers,
    random: () => 0.5,
  });
  return { timers, venue, got, failed, s };
}

describe('SnapshotScheduler', () => {
  it('uses the documented weights', () => {
    expect(depthRequestWeight('binance', 1000)).toBe(50);
    expect(depthRequestWeight('binance', 5000)).toBe(250);
    expect(depthRequestWeight('binance-usdm', 1000)).toBe(20);
    expect(venueWeightPerMinute('binance')).toBe(6000);
    expect(venueWeightPerMinute('binance-usdm')).toBe(2400);
  });

  it('resyncing 500 spot symbols at once never earns a 429, staggered at the budget rate', async () => {
    const { timers, venue, got, s } = setup(6000, 50);
    for (let i = 0; i < 500; i++) s.request(`binance|S${i}`);
    s.request('binance|S0'); // duplicate while queued: ignored
    await timers.drain(20 * 60_000);
    expect(got).toHaveLength(500);
    expect(new Set(got).size).toBe(500);
    expect(venue.statuses.filter((c) => c !== 200)).toEqual([]);
    // 3000 weight/min budget at 50 per request = 60 per minute after a burst of 2
    const perMinute = new Map<number, number>();
    for (const t of venue.requestTimes) perMinute.set(Math.floor(t / 60_000), (perMinute.get(Math.floor(t / 60_000)) ?? 0) + 1);
    expect(Math.max(...perMinute.values())).toBeLessThanOrEqual(62);
    const gaps = venue.requestTimes.slice(3).map((t, i) => t - venue.requestTimes[i + 2]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(999); // evenly spaced, ~1 s apart
  });

  it('with other traffic on the IP, the reported used weight slows it down enough to avoid 429', async () => {
    const { timers, venue, got, s } = setup(6000, 50, 4500, 0.5);
    for (let i = 0; i < 100; i++) s.request(`binance|S${i}`);
    await timers.drain(30 * 60_000);
    expect(got).toHaveLength(100);
    expect(venue.statuses.filter((c) => c === 429 || c === 418)).toEqual([]);
  });

  it('without the feedback the same load does get 429s (the venue model bites)', async () => {
    const { timers, venue, s } = setup(6000, 50, 4500, 0.5);
    // strip the header: the scheduler cannot see the other traffic
    const raw = venue.fetch;
    (s as unknown as { o: { fetch: typeof raw } }).o.fetch = (k) => raw(k).then((r) => ({ ...r, usedWeight1m: null }));
    for (let i = 0; i < 100; i++) s.request(`binance|S${i}`);
    await timers.drain(30 * 60_000);
    expect(venue.statuses.filter((c) => c === 429).length).toBeGreaterThan(0);
    // ...and even then it honours Retry-After: never a 418
    expect(venue.statuses.filter((c) => c === 418)).toEqual([]);
  });

  it('a 429 pauses the whole IP for Retry-After; a 418 for its ban; then resumes', async () => {
    const timers = new FakeTimers();
    const log: [number, string][] = [];
    let n = 0;
    const got: BookKey[] = [];
    const s = new SnapshotScheduler({
      fetch: (key) => {
        log.push([timers.now, key]);
        n++;
        if (n === 1) return Promise.reject(rateLimitError(429, 7_000));
        if (n === 2) return Promise.reject(rateLimitError(418, null));
        return Promise.resolve({ snapshot: { lastUpdateId: 1, exchangeTs: null, receivedAt: 0, bids: [], asks: [] }, usedWeight1m: null });
      },
      onSnapshot: (k) => got.push(k),
      onFailed: () => {},
      requestWeight: 20,
      weightPerMinute: 2400,
      maxConcurrent: 1,
      timers,
    });
    s.request('binance-usdm|A');
    s.request('binance-usdm|B');
    await timers.drain(3_600_000);
    expect(log[0]).toEqual([0, 'binance-usdm|A']);
    expect(log[1]![0]).toBeGreaterThanOrEqual(7_000); // after Retry-After
    expect(log[2]![0]).toBeGreaterThanOrEqual(log[1]![0] + 120_000); // 418 without Retry-After: 2 min
    expect(got).toEqual(['binance-usdm|A', 'binance-usdm|B']);
    expect(s.stats.rateLimited).toBe(1);
    expect(s.stats.banned).toBe(1);
  });

  it('other failures retry the symbol with backoff, then report it failed', async () => {
    const timers = new FakeTimers();
    const failed: BookKey[] = [];
    let calls = 0;
    const s = new SnapshotScheduler({
      fetch: () => {
        calls++;
        return Promise.reject(new Error('ECONNRESET'));
      },
      onSnapshot: () => {},
      onFailed: (k) => failed.push(k),
      requestWeight: 20,
      weightPerMinute: 2400,
      maxAttempts: 3,
      timers,
      random: () => 1,
    });
    s.request('binance-usdm|A');
    await timers.drain(3_600_000);
    expect(calls).toBe(3);
    expect(failed).toEqual(['binance-usdm|A']);
  });
});
