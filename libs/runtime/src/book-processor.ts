import type { CollectorConfig } from '@cryptoflow/config';
import { CfError, isCfError } from '@cryptoflow/core';
import type { EgressPool } from '@cryptoflow/egress';
import { DepthSnapshotClient } from '@cryptoflow/exchanges';
import type { RawFrame } from '@cryptoflow/exchanges';
import type { BinanceDecoder, BadInputReporter } from '@cryptoflow/ingest';
import type { Logger } from '@cryptoflow/logger';
import type { Registry } from '@cryptoflow/metrics';
import type { CanonicalRow, Exchange, Stream } from '@cryptoflow/model';
import {
  BookOperator,
  SnapshotScheduler,
  bookKey,
  createBookMetrics,
  depthEventFromPayload,
  depthRequestWeight,
  depthSnapshotFromBody,
  parseBookKey,
  rateLimitError,
  venueWeightPerMinute,
} from '@cryptoflow/normalize';
import type { BookKey, DepthFetchResult, DepthSnapshot } from '@cryptoflow/normalize';
import type { Dispatcher } from 'undici';
import type { FrameProcessor } from './pipeline.js';

/** connId prefix of recorded REST answers replayed through the raw channel (see replay.ts). */
export const REST_CONN_PREFIX = 'rest:';

/**
 * connId prefix of a marker frame `{ connId: CONN_LOST_PREFIX + connName, data: '' }` a collector may
 * push through the raw channel when a socket of a book stream closes: it lands after the last frame of
 * that socket, so the books it carried go dark at once instead of when the new socket's first frame
 * arrives (see `onReconnect`).
 */
export const CONN_LOST_PREFIX = 'conn-lost:';

/** `binance/spot-delta/s3/ws0#2` → `binance/spot-delta/s3/ws0` (the connection; `#n` is the socket attempt). */
function connNameOf(connId: string): string {
  const hash = connId.lastIndexOf('#');
  return hash < 0 ? connId : connId.slice(0, hash);
}

/** Where a book gets its REST snapshots: the venue (live) or the recorded answers (replay). */
export interface SnapshotSource {
  request(key: BookKey): void;
  /** Resolves when no request is in flight or queued (or after `timeoutMs`). */
  idle(timeoutMs: number): Promise<void>;
  stop(): void;
}

export interface BookProcessorOptions {
  readonly config: CollectorConfig;
  readonly stream: Stream;
  readonly exchange: Exchange;
  readonly shard: number;
  readonly decoder: BinanceDecoder;
  readonly reporter: BadInputReporter;
  readonly emit: (row: CanonicalRow) => void;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Live: snapshots from the venue through undici (bound to the shard's egress IP). */
  readonly live?: { restUrl: string; dispatcher?: Dispatcher; egress?: EgressPool };
}

/**
 * Book streams: decoded depth diffs → sequencer (gap/duplicate/out-of-order, per-key resync) → book
 * state → delta rows (`*-delta`) or level snapshots (`*-ob`). Snapshots are fetched through a weight
 * budget per source IP; a key waiting for one pauses alone, every other symbol keeps flowing.
 */
export class BookProcessor implements FrameProcessor {
  readonly operator: BookOperator;
  private source: SnapshotSource | undefined;
  private readonly isDelta: boolean;
  /** Per connection name: the socket attempt now delivering, and the keys it has carried. */
  private readonly conns = new Map<string, { attempts: string[]; keys: Set<BookKey> }>();
  /** Replays: the next grid boundary (µs of the recording's receive clock) to tick at; -1 before the first frame. */
  private nextReplayTick = -1;
  private readonly replayTickUs: number;

  constructor(private readonly o: BookProcessorOptions) {
    const book = o.config.book;
    this.isDelta = o.stream === 'spot-delta' || o.stream === 'futures-delta';
    this.operator = new BookOperator({
      config: {
        depthCap: book.depth_cap,
        topN: book.top_n,
        snapshotIntervalMs: book.snapshot_interval_ms,
        checkpointIntervalMs: book.checkpoint_interval_ms,
        maxBufferedEvents: book.max_buffered_events,
        emitDeltas: this.isDelta,
        emitSnapshots: !this.isDelta,
      },
      emit: o.emit,
      requestSnapshot: (key) => this.source?.request(key),
      metrics: createBookMetrics(o.registry, { stream: o.stream, shard: String(o.shard) }),
    });
    if (o.live) this.source = this.liveSource(o.live);
    this.replayTickUs = book.snapshot_interval_ms * 1000;
  }

  /** Replays plug in the recorded snapshots. */
  useSource(source: SnapshotSource): void {
    this.source = source;
  }

  process(frame: RawFrame): void {
    // A live collector ticks every 100 ms on the wall clock (idle books still get their grid snapshots).
    // A replay has no wall clock: it ticks at every grid boundary the recording's receive clock passes,
    // so a replay emits the books a live run would have, and the output depends on the recording alone.
    if (!this.o.live) this.replayTicks(frame.receivedAt);
    if (frame.connId.startsWith(REST_CONN_PREFIX)) {
      this.recordedSnapshot(frame);
      return;
    }
    if (frame.connId.startsWith(CONN_LOST_PREFIX)) {
      this.connectionLost(frame.connId.slice(CONN_LOST_PREFIX.length));
      return;
    }
    const msg = this.o.decoder.decode(frame);
    if (msg === null || msg.channel !== 'depthUpdate') return;
    try {
      const event = depthEventFromPayload(this.o.exchange, msg.payload, msg.ingestTs);
      this.trackConnection(frame.connId, event.exchange, event.symbol);
      this.operator.onEvent(event);
    } catch (err) {
      if (!isCfError(err)) throw err;
      this.o.reporter.report('mistyped_field', frame.data, err.message);
    }
  }

  /**
   * The socket carrying these keys dropped (or was replaced): diffs may have been lost. Each live key
   * keeps its book but emits nothing until its next diff; a diff that continues the chain resumes it
   * with no REST call, one that breaks it resyncs (`book_resyncs_total{reason="reconnect"}`). Without
   * `keys`: every key of this processor.
   */
  onReconnect(keys?: Iterable<BookKey>): void {
    this.operator.onReconnect(keys);
  }

  /**
   * Frames name their socket attempt (`<connName>#<n>`). A new attempt of a known connection means the
   * previous socket is gone: the keys it carried are checked as after a reconnect. Detected in frame
   * order, so no diff of the old socket is mistaken for one of the new. A make-before-break rollover
   * also lands here; its overlap only delivers duplicates, which the check tolerates.
   */
  private trackConnection(connId: string, exchange: Exchange, symbol: string): void {
    const name = connNameOf(connId);
    let c = this.conns.get(name);
    if (!c) {
      c = { attempts: [connId], keys: new Set() };
      this.conns.set(name, c);
    } else if (c.attempts[c.attempts.length - 1] !== connId && !c.attempts.includes(connId)) {
      // A socket never seen before (a late frame of a retiring one is not a new socket).
      c.attempts.push(connId);
      if (c.attempts.length > 4) c.attempts.shift();
      if (c.keys.size > 0) this.onReconnect(c.keys);
    }
    c.keys.add(bookKey(exchange, symbol));
  }

  private connectionLost(connName: string): void {
    const c = this.conns.get(connName);
    if (c && c.keys.size > 0) this.onReconnect(c.keys);
  }

  /** A recorded REST depth answer, in stream order (replays): applied if the key is waiting for one. */
  private recordedSnapshot(frame: RawFrame): void {
    const symbol = /[?&]symbol=([A-Z0-9_-]+)/.exec(frame.connId)?.[1];
    if (!symbol) return;
    try {
      this.operator.onSnapshot(
        bookKey(this.o.exchange, symbol),
        depthSnapshotFromBody(this.o.exchange, JSON.parse(frame.data), frame.receivedAt),
      );
    } catch (err) {
      if (!isCfError(err) && !(err instanceof SyntaxError)) throw err;
      this.o.reporter.report(
        'malformed_json',
        frame.data,
        `recorded snapshot for ${symbol}: ${(err as Error).message}`,
      );
    }
  }

  tick(nowMicros: number): void {
    this.operator.tick(nowMicros);
  }

  private replayTicks(t: number): void {
    const step = this.replayTickUs;
    if (this.nextReplayTick < 0) {
      this.nextReplayTick = Math.floor(t / step) * step + step;
      return;
    }
    // Bounded: a recording with a long silence ticks once per boundary, which is what live would do.
    while (t >= this.nextReplayTick) {
      this.operator.tick(this.nextReplayTick);
      this.nextReplayTick += step;
    }
  }

  ready(): { ok: boolean; detail?: unknown } {
    const notLive = this.operator.summary().filter((k) => k.state !== 'live');
    return {
      ok: notLive.length === 0,
      detail: notLive.length ? { syncing: notLive.map((k) => k.key) } : undefined,
    };
  }

  async finish(): Promise<void> {
    // Diffs buffered behind an in-flight snapshot become rows once it lands: give it a bounded wait.
    await this.source?.idle(10_000);
    this.source?.stop();
  }

  private liveSource(live: NonNullable<BookProcessorOptions['live']>): SnapshotSource {
    const { exchange, shard, logger, registry } = this.o;
    const limit = this.o.config.book.snapshot_limit;
    const client = new DepthSnapshotClient({
      exchange,
      restBaseUrl: live.restUrl,
      dispatcher: live.dispatcher,
      logger,
      registry,
      labels: { exchange, stream: this.o.stream, shard: String(shard) },
    });
    const ip = live.egress?.ipFor(shard);
    const pending = new Set<BookKey>();
    let idleWaiters: (() => void)[] = [];
    const settle = (key: BookKey): void => {
      pending.delete(key);
      if (pending.size === 0) {
        for (const w of idleWaiters) w();
        idleWaiters = [];
      }
    };
    const owner: BudgetOwner = {
      fetch: async (key) => {
        const { symbol } = parseBookKey(key);
        try {
          const res = await client.fetchDepth(symbol, limit);
          if (ip && res.usedWeight !== undefined) live.egress?.observeUsedWeight(ip, res.usedWeight);
          return {
            snapshot: depthSnapshotFromBody(exchange, res, res.receivedAt),
            usedWeight1m: res.usedWeight ?? null,
          };
        } catch (err) {
          if (isCfError(err, 'CF_RATE_LIMITED') || isCfError(err, 'CF_IP_BANNED')) {
            const status = err.code === 'CF_RATE_LIMITED' ? 429 : 418;
            const retryAfterMs =
              typeof err.context['retryAfterMs'] === 'number' ? err.context['retryAfterMs'] : null;
            // The shard moves to another IP for the cool-down; this request is retried by the scheduler.
            if (ip) live.egress?.reportRateLimited(ip, status, retryAfterMs ?? 60_000);
            throw rateLimitError(
              status,
              retryAfterMs,
              typeof err.context['usedWeight'] === 'number' ? err.context['usedWeight'] : null,
            );
          }
          throw err;
        }
      },
      onSnapshot: (key, snapshot) => {
        this.operator.onSnapshot(key, snapshot);
        settle(key);
      },
      onFailed: (key, err) => {
        logger.warn(
          { key, err: err instanceof CfError ? err.toJSON() : String(err) },
          'depth snapshot failed: the key stays resyncing and retries',
        );
        this.operator.onSnapshotFailed(key);
        settle(key);
      },
    };
    const share = this.o.config.book.rest_budget_share;
    const budget = acquireBudget(`${exchange} ${live.restUrl} ${ip ?? 'default'} ${limit} ${share}`, exchange, limit, share);
    let stopped = false;
    return {
      request: (key) => {
        if (stopped) return;
        pending.add(key);
        budget.request(key, owner);
      },
      idle: (timeoutMs) =>
        pending.size === 0
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              const t = setTimeout(resolve, timeoutMs);
              t.unref();
              idleWaiters.push(() => {
                clearTimeout(t);
                resolve();
              });
            }),
      stop: () => {
        if (stopped) return;
        stopped = true;
        budget.release(owner);
      },
    };
  }
}

/** What one BookProcessor plugs into a shared snapshot budget. */
interface BudgetOwner {
  fetch(key: BookKey): Promise<DepthFetchResult>;
  onSnapshot(key: BookKey, snapshot: DepthSnapshot): void;
  onFailed(key: BookKey, err: unknown): void;
}

interface SharedBudget {
  request(key: BookKey, owner: BudgetOwner): void;
  release(owner: BudgetOwner): void;
}

interface BudgetEntry {
  readonly scheduler: SnapshotScheduler;
  /** Scheduler key `<owner id>|<book key>` → owner: two collectors of one IP may both want a symbol. */
  readonly waiting: Map<string, { owner: BudgetOwner; key: BookKey }>;
  readonly ids: Map<BudgetOwner, number>;
}

/**
 * The venue limits REST weight per source IP, and a 429 or 418 stops the whole IP: so every book
 * processor of the process that fetches through the same IP (same venue, REST URL and depth limit)
 * shares one SnapshotScheduler — one token bucket, one Retry-After pause. Each answer goes back to
 * the processor that asked; a request whose processor stopped meanwhile fails without an HTTP call.
 */
const budgets = new Map<string, BudgetEntry>();
let nextOwnerId = 1;

function acquireBudget(id: string, exchange: Exchange, limit: number, budgetShare: number): SharedBudget {
  let b = budgets.get(id);
  if (!b) {
    const waiting: BudgetEntry['waiting'] = new Map();
    const take = (k: string): { owner: BudgetOwner; key: BookKey } | undefined => {
      const w = waiting.get(k);
      waiting.delete(k);
      return w;
    };
    const scheduler = new SnapshotScheduler({
      requestWeight: depthRequestWeight(exchange, limit),
      weightPerMinute: venueWeightPerMinute(exchange),
      budgetShare,
      fetch: (k) => {
        const w = waiting.get(k);
        return w
          ? w.owner.fetch(w.key)
          : Promise.reject(
              new CfError('CF_INTERNAL', `no book processor waits for ${k} any more (its shard stopped)`),
            );
      },
      onSnapshot: (k, snapshot) => {
        const w = take(k);
        w?.owner.onSnapshot(w.key, snapshot);
      },
      onFailed: (k, err) => {
        const w = take(k);
        w?.owner.onFailed(w.key, err);
      },
    });
    b = { scheduler, waiting, ids: new Map() };
    budgets.set(id, b);
  }
  const entry = b;
  return {
    request: (key, owner) => {
      let oid = entry.ids.get(owner);
      if (oid === undefined) entry.ids.set(owner, (oid = nextOwnerId++));
      const k = `${oid}|${key}`;
      entry.waiting.set(k, { owner, key });
      entry.scheduler.request(k);
    },
    release: (owner) => {
      entry.ids.delete(owner);
      for (const [k, w] of entry.waiting) if (w.owner === owner) entry.waiting.delete(k);
      if (entry.ids.size === 0) {
        entry.scheduler.stop();
        budgets.delete(id);
      }
    },
  };
}
