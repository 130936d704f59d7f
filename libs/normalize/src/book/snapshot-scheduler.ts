/**
 * SnapshotScheduler: REST depth snapshots for one source IP, paced so that resyncing hundreds of
 * symbols at once never earns a 429.
 *
 * Venue limits (per IP, request weight per minute; `exchangeInfo.rateLimits` REQUEST_WEIGHT):
 *  - spot: 6000/min; `GET /api/v3/depth` weighs 5 (limit 1–100), 25 (101–500), 50 (501–1000), 250 (1001–5000)
 *    https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits ,
 *    https://developers.binance.com/docs/binance-spot-api-docs/rest-api/market-data-endpoints#order-book
 *  - USD-M: 2400/min; `GET /fapi/v1/depth` weighs 2 (limit 5–50), 5 (100), 10 (500), 20 (1000)
 *    https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Order-Book
 *  - a 429 carries Retry-After (seconds); repeating after it earns a 418 IP ban (2 min up to 3 days),
 *    also with Retry-After. `X-MBX-USED-WEIGHT-1M` reports the IP's weight used in the current minute.
 *
 * Mechanism: a token bucket over weight, refilled at `budgetShare × limit / 60 s` with room for a
 * small burst, so after the burst requests start evenly spaced (staggered). The venue's reported
 * used weight caps the bucket (other processes on the same IP count too). A 429 or 418 pauses the
 * whole IP for Retry-After (418 without one: 2 min, doubling while bans repeat). Other failures
 * retry the symbol with full-jitter backoff, then report it failed (the sequencer asks again).
 * Clock, timers and fetch are injected: tests drive it deterministically.
 */
import type { BackoffPolicy } from '@cryptoflow/core';
import { CfError, backoffDelayMs, isCfError } from '@cryptoflow/core';
import type { Exchange } from '@cryptoflow/model';
import type { BookKey, DepthSnapshot } from './types.js';

/** Request weight of one depth snapshot at `limit` levels. */
export function depthRequestWeight(exchange: Exchange, limit: number): number {
  switch (exchange) {
    case 'binance-usdm':
      if (limit <= 50) return 2;
      if (limit <= 100) return 5;
      if (limit <= 500) return 10;
      return 20;
    case 'binance':
      if (limit <= 100) return 5;
      if (limit <= 500) return 25;
      if (limit <= 1000) return 50;
      return 250;
    default:
      throw unknownWeights(exchange);
  }
}

/** Published REQUEST_WEIGHT per minute per IP. */
export function venueWeightPerMinute(exchange: Exchange): number {
  switch (exchange) {
    case 'binance-usdm':
      return 2400;
    case 'binance':
      return 6000;
    default:
      throw unknownWeights(exchange);
  }
}

function unknownWeights(exchange: Exchange): CfError {
  return new CfError('CF_MARKET_UNSUPPORTED', `no REST weights for ${exchange}`, { context: { exchange } });
}

export interface DepthFetchResult {
  readonly snapshot: DepthSnapshot;
  /** `X-MBX-USED-WEIGHT-1M` of the response, when present. */
  readonly usedWeight1m: number | null;
}

/**
 * What `fetch` throws on an HTTP refusal: a CfError with code CF_RATE_LIMITED (429) or CF_IP_BANNED
 * (418) and `context.retryAfterMs` (from Retry-After) and `context.usedWeight1m` when known.
 */
export function rateLimitError(status: 429 | 418, retryAfterMs: number | null, usedWeight1m: number | null = null): CfError {
  return new CfError(status === 429 ? 'CF_RATE_LIMITED' : 'CF_IP_BANNED', `depth snapshot refused with HTTP ${status}`, {
    retriable: true,
    context: { status, retryAfterMs, usedWeight1m },
  });
}

export interface SchedulerTimers {
  nowMs(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: SchedulerTimers = {
  nowMs: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface SnapshotSchedulerOptions {
  readonly fetch: (key: BookKey) => Promise<DepthFetchResult>;
  readonly onSnapshot: (key: BookKey, snapshot: DepthSnapshot) => void;
  readonly onFailed: (key: BookKey, err: unknown) => void;
  /** Weight of one request (`depthRequestWeight`). */
  readonly requestWeight: number;
  /** The venue's REQUEST_WEIGHT per minute for this IP (`venueWeightPerMinute`). */
  readonly weightPerMinute: number;
  /** Share of the IP's limit snapshots may use (other REST traffic shares the IP). Default 0.5. */
  readonly budgetShare?: number;
  /** Requests that may start back to back before pacing kicks in. Default 2. */
  readonly burst?: number;
  /** Requests in flight at once. Default 4. */
  readonly maxConcurrent?: number;
  /** Attempts per symbol for non-rate-limit failures before `onFailed`. Default 5. */
  readonly maxAttempts?: number;
  readonly backoff?: BackoffPolicy;
  readonly timers?: SchedulerTimers;
  readonly random?: () => number;
}

const MINUTE_MS = 60_000;
const DEFAULT_BAN_MS = 120_000;
const MAX_BAN_MS = 3 * 24 * 3600 * 1000;

export interface SchedulerStats {
  requests: number;
  ok: number;
  rateLimited: number;
  banned: number;
  errors: number;
  failed: number;
  pausedMs: number;
}

export class SnapshotScheduler {
  private readonly queue: BookKey[] = [];
  private readonly queued = new Set<BookKey>();
  private readonly attempts = new Map<BookKey, number>();
  private inFlight = 0;
  private tokens: number;
  private readonly capacity: number;
  private readonly refillPerMs: number;
  private lastRefill: number;
  private pausedUntil = 0;
  private consecutiveBans = 0;
  private timer: unknown = null;
  private timerAt = Infinity;
  private stopped = false;
  private readonly t: SchedulerTimers;
  readonly stats: SchedulerStats = { requests: 0, ok: 0, rateLimited: 0, banned: 0, errors: 0, failed: 0, pausedMs: 0 };

  constructor(private readonly o: SnapshotSchedulerOptions) {
    this.t = o.timers ?? realTimers;
    const budget = o.weightPerMinute * (o.budgetShare ?? 0.5);
    if (!(o.requestWeight > 0) || !(budget >= o.requestWeight)) {
      throw new RangeError(`snapshot budget ${budget}/min cannot fit one request of weight ${o.requestWeight}`);
    }
    this.refillPerMs = budget / MINUTE_MS;
    this.capacity = o.requestWeight * Math.max(1, o.burst ?? 2);
    this.tokens = this.capacity;
    this.lastRefill = this.t.nowMs();
  }

  /** Queue a snapshot for `key` (idempotent while it is queued or in flight). */
  request(key: BookKey): void {
    if (this.stopped || this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  get pending(): number {
    return this.queue.length;
  }

  get pausedUntilMs(): number {
    return this.pausedUntil;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.t.clearTimeout(this.timer);
    this.timer = null;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.lastRefill) * this.refillPerMs);
    this.lastRefill = now;
  }

  private wakeAt(at: number): void {
    if (this.timer !== null && this.timerAt <= at) return;
    if (this.timer !== null) this.t.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.t.setTimeout(
      () => {
        this.timer = null;
        this.timerAt = Infinity;
        this.pump();
      },
      Math.max(0, at - this.t.nowMs()),
    );
  }

  private pump(): void {
    if (this.stopped) return;
    const w = this.o.requestWeight;
    while (this.queue.length > 0 && this.inFlight < (this.o.maxConcurrent ?? 4)) {
      const now = this.t.nowMs();
      if (now < this.pausedUntil) {
        this.wakeAt(this.pausedUntil);
        return;
      }
      this.refill(now);
      if (this.tokens < w) {
        this.wakeAt(now + Math.ceil((w - this.tokens) / this.refillPerMs));
        return;
      }
      this.tokens -= w;
      const key = this.queue.shift()!;
      this.start(key);
    }
  }

  private start(key: BookKey): void {
    this.inFlight++;
    this.stats.requests++;
    this.o.fetch(key).then(
      (res) => {
        this.inFlight--;
        this.queued.delete(key);
        this.attempts.delete(key);
        this.consecutiveBans = 0;
        this.stats.ok++;
        this.observeUsed(res.usedWeight1m);
        this.o.onSnapshot(key, res.snapshot);
        this.pump();
      },
      (err: unknown) => {
        this.inFlight--;
        this.onError(key, err);
        this.pump();
      },
    );
  }

  /** The venue's count for this minute caps what we may still spend in it. */
  private observeUsed(used: number | null | undefined): void {
    if (used === null || used === undefined || !Number.isFinite(used)) return;
    const allowed = this.o.weightPerMinute * (this.o.budgetShare ?? 0.5);
    const left = allowed - used;
    if (left < this.tokens) this.tokens = left; // may go negative: refill must pay it back first
  }

  private onError(key: BookKey, err: unknown): void {
    const now = this.t.nowMs();
    if (isCfError(err, 'CF_RATE_LIMITED') || isCfError(err, 'CF_IP_BANNED')) {
      const banned = err.code === 'CF_IP_BANNED';
      const ra = err.context.retryAfterMs;
      let pauseMs: number;
      if (banned) {
        this.stats.banned++;
        this.consecutiveBans++;
        const fallback = Math.min(MAX_BAN_MS, DEFAULT_BAN_MS * 2 ** (this.consecutiveBans - 1));
        pauseMs = typeof ra === 'number' && ra > 0 ? ra : fallback;
      } else {
        this.stats.rateLimited++;
        pauseMs = typeof ra === 'number' && ra > 0 ? ra : MINUTE_MS;
      }
      this.pausedUntil = Math.max(this.pausedUntil, now + pauseMs);
      this.stats.pausedMs += pauseMs;
      this.tokens = Math.min(this.tokens, 0);
      this.lastRefill = this.pausedUntil; // nothing accrues while we are told to stay away
      this.observeUsed(err.context.usedWeight1m as number | null | undefined);
      // Not the symbol's fault: it goes back to the front, attempts unchanged.
      this.queue.unshift(key);
      return;
    }
    this.stats.errors++;
    const attempt = (this.attempts.get(key) ?? 0) + 1;
    if (attempt >= (this.o.maxAttempts ?? 5)) {
      this.attempts.delete(key);
      this.queued.delete(key);
      this.stats.failed++;
      this.o.onFailed(key, err);
      return;
    }
    this.attempts.set(key, attempt);
    const delay = backoffDelayMs(attempt, this.o.backoff, this.o.random);
    this.t.setTimeout(() => {
      if (this.stopped) return;
      this.queue.push(key);
      this.pump();
    }, delay);
  }
}
