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
import type { BookKey, DepthSnapshot } from '@cryptoflow/normalize';
import type { Dispatcher } from 'undici';
import type { FrameProcessor } from './pipeline.js';

/** connId prefix of recorded REST answers replayed through the raw channel (see replay.ts). */
export const REST_CONN_PREFIX = 'rest:';

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
  }

  /** Replays plug in the recorded snapshots. */
  useSource(source: SnapshotSource): void {
    this.source = source;
  }

  process(frame: RawFrame): void {
    if (frame.connId.startsWith(REST_CONN_PREFIX)) {
      this.recordedSnapshot(frame);
      return;
    }
    const msg = this.o.decoder.decode(frame);
    if (msg === null || msg.channel !== 'depthUpdate') return;
    try {
      this.operator.onEvent(depthEventFromPayload(this.o.exchange, msg.payload, msg.ingestTs));
    } catch (err) {
      if (!isCfError(err)) throw err;
      this.o.reporter.report('mistyped_field', frame.data, err.message);
    }
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
    const pending = new Set<BookKey>();
    let idleWaiters: (() => void)[] = [];
    const settle = (key: BookKey): void => {
      pending.delete(key);
      if (pending.size === 0) {
        for (const w of idleWaiters) w();
        idleWaiters = [];
      }
    };
    const scheduler = new SnapshotScheduler({
      requestWeight: depthRequestWeight(exchange, limit),
      weightPerMinute: venueWeightPerMinute(exchange),
      fetch: async (key) => {
        const { symbol } = parseBookKey(key);
        const ip = live.egress?.ipFor(shard);
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
      onSnapshot: (key, snapshot: DepthSnapshot) => {
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
    });
    return {
      request: (key) => {
        pending.add(key);
        scheduler.request(key);
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
      stop: () => scheduler.stop(),
    };
  }
}
