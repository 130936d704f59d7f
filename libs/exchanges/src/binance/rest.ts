// Binance REST order-book snapshots and exchange info, over undici.
// Spot:  https://developers.binance.com/docs/binance-spot-api-docs/rest-api/market-data-endpoints#order-book
//        weight by limit: 1-100 → 5, 101-500 → 25, 501-1000 → 50, 1001-5000 → 250 (older docs said 1/5/10/50)
// USD-M: https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Order-Book
//        weight by limit: 5,10,20,50 → 2; 100 → 5; 500 → 10; 1000 → 20. The answer carries `E` and `T`.
// Limits: https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits
//        every answer carries `X-MBX-USED-WEIGHT-1M`; over the limit → 429 with `Retry-After` (seconds);
//        repeating after 429s earns an IP ban → 418 with `Retry-After`.
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import { CfError, framePreview, nowMicros } from '@cryptoflow/core';
import { connectionLogger } from '@cryptoflow/logger';
import type { Logger } from '@cryptoflow/logger';
import { counter, gauge, histogram } from '@cryptoflow/metrics';
import type { Counter, Gauge, Histogram, Registry } from '@cryptoflow/metrics';
import type { Exchange } from '@cryptoflow/model';
import type { ConnectionLabels } from './connection.js';
import { binanceMarket } from './streams.js';
import type { BinanceMarket } from './streams.js';

export interface DepthSnapshot {
  readonly lastUpdateId: number;
  readonly bids: [string, string][];
  readonly asks: [string, string][];
  /** Local receive time of the answer, µs. */
  readonly receivedAt: number;
  /** `X-MBX-USED-WEIGHT-1M` of this answer. */
  readonly usedWeight?: number;
  /** USD-M only: the message output time `E` (ms). */
  readonly eventTime?: number;
}

export interface DepthSnapshotClientOptions {
  readonly exchange: Exchange;
  /** e.g. `https://api.binance.com` or `https://fapi.binance.com` (no path). */
  readonly restBaseUrl: string;
  /** `new Agent({ localAddress })` binds the source IP (pinned egress). `connect: { localAddress }` is ignored by undici. */
  readonly dispatcher?: Dispatcher;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly labels: ConnectionLabels;
  /** Per request; default 10 s. */
  readonly timeoutMs?: number;
}

const PATHS: Readonly<Record<BinanceMarket, { depth: string; exchangeInfo: string }>> = {
  binance: { depth: '/api/v3/depth', exchangeInfo: '/api/v3/exchangeInfo' },
  'binance-usdm': { depth: '/fapi/v1/depth', exchangeInfo: '/fapi/v1/exchangeInfo' },
};

type Endpoint = 'depth' | 'exchangeInfo';

export class DepthSnapshotClient {
  private readonly opts: DepthSnapshotClientOptions;
  private readonly base: string;
  private readonly log: Logger;
  private readonly mRequests: Counter<'exchange' | 'stream' | 'shard' | 'endpoint' | 'status'>;
  private readonly mWeight: Gauge<'exchange' | 'stream' | 'shard'>;
  private readonly mLimited: Counter<'exchange' | 'stream' | 'shard' | 'status'>;
  private readonly mDuration: Histogram<'exchange' | 'stream' | 'shard' | 'endpoint'>;
  private _usedWeight: number | undefined;

  constructor(opts: DepthSnapshotClientOptions) {
    this.opts = opts;
    this.base = opts.restBaseUrl.replace(/\/+$/, '');
    const shard = Number(opts.labels.shard);
    this.log = connectionLogger(opts.logger, {
      exchange: opts.labels.exchange,
      stream: opts.labels.stream,
      shard: Number.isFinite(shard) ? shard : -1,
      conn: 'rest',
    });
    const l = ['exchange', 'stream', 'shard'] as const;
    this.mRequests = counter(
      opts.registry,
      'rest_requests_total',
      'REST requests by endpoint and HTTP status (status "error" = no answer).',
      [...l, 'endpoint', 'status'],
    );
    this.mWeight = gauge(
      opts.registry,
      'rest_used_weight',
      'Last X-MBX-USED-WEIGHT-1M the venue reported for our source IP.',
      l,
    );
    this.mLimited = counter(
      opts.registry,
      'rest_rate_limited_total',
      'REST answers 429 (rate limited) and 418 (IP banned).',
      [...l, 'status'],
    );
    this.mDuration = histogram(opts.registry, 'rest_request_duration_seconds', 'REST request latency.', [
      ...l,
      'endpoint',
    ]);
  }

  /** Last `X-MBX-USED-WEIGHT-1M` seen (the venue counts per source IP). */
  get usedWeight(): number | undefined {
    return this._usedWeight;
  }

  async fetchDepth(symbol: string, limit: number, signal?: AbortSignal): Promise<DepthSnapshot> {
    const query = `?symbol=${encodeURIComponent(symbol.toUpperCase())}&limit=${limit}`;
    const { body, receivedAt, usedWeight } = await this.get(
      'depth',
      PATHS[binanceMarket(this.opts.exchange)].depth + query,
      { symbol },
      signal,
    );
    const parsed = body as { lastUpdateId?: unknown; bids?: unknown; asks?: unknown; E?: unknown };
    if (
      typeof parsed?.lastUpdateId !== 'number' ||
      !Array.isArray(parsed.bids) ||
      !Array.isArray(parsed.asks)
    ) {
      throw new CfError(
        'CF_HTTP',
        `depth answer for ${symbol} on ${this.opts.exchange} lacks lastUpdateId/bids/asks`,
        {
          context: { exchange: this.opts.exchange, symbol, preview: framePreview(JSON.stringify(body)) },
        },
      );
    }
    return {
      lastUpdateId: parsed.lastUpdateId,
      bids: parsed.bids as [string, string][],
      asks: parsed.asks as [string, string][],
      receivedAt,
      ...(usedWeight === undefined ? {} : { usedWeight }),
      ...(typeof parsed.E === 'number' ? { eventTime: parsed.E } : {}),
    };
  }

  async fetchExchangeInfo(signal?: AbortSignal): Promise<unknown> {
    return (await this.get('exchangeInfo', PATHS[binanceMarket(this.opts.exchange)].exchangeInfo, {}, signal)).body;
  }

  private async get(
    endpoint: Endpoint,
    path: string,
    ctx: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<{ body: unknown; receivedAt: number; usedWeight?: number }> {
    const url = this.base + path;
    const labels = this.opts.labels;
    const context = { exchange: this.opts.exchange, endpoint, url, ...ctx };
    const started = performance.now();
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 10_000);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: 'GET',
        signal: combined,
        headers: { accept: 'application/json' },
        ...(this.opts.dispatcher ? { dispatcher: this.opts.dispatcher } : {}),
      });
    } catch (err) {
      this.mRequests.inc({ ...labels, endpoint, status: 'error' });
      if (signal?.aborted) throw err; // the caller's own cancellation stays what it is
      throw new CfError('CF_CONNECTION', `GET ${url} failed: ${(err as Error).message}`, {
        retriable: true,
        cause: err,
        context,
      });
    }
    const receivedAt = nowMicros();
    const text = await res.body.text();
    this.mDuration.observe({ ...labels, endpoint }, (performance.now() - started) / 1000);
    const status = res.statusCode;
    this.mRequests.inc({ ...labels, endpoint, status: String(status) });
    const usedWeight = headerNumber(res.headers['x-mbx-used-weight-1m']);
    if (usedWeight !== undefined) {
      this._usedWeight = usedWeight;
      this.mWeight.set(labels, usedWeight);
    }
    if (status === 429 || status === 418) {
      this.mLimited.inc({ ...labels, status: String(status) });
      const retryAfterSec = headerNumber(res.headers['retry-after']);
      const retryAfterMs = retryAfterSec === undefined ? undefined : retryAfterSec * 1000;
      const code = status === 429 ? 'CF_RATE_LIMITED' : 'CF_IP_BANNED';
      this.log.warn(
        { status, retryAfterMs, usedWeight, ...ctx, venue: framePreview(text) },
        status === 429 ? 'rate limited' : 'IP banned',
      );
      throw new CfError(
        code,
        `GET ${url} answered ${status}${retryAfterSec === undefined ? '' : `, retry after ${retryAfterSec}s`}`,
        {
          retriable: true,
          context: { ...context, status, retryAfterMs, usedWeight, venue: framePreview(text) },
        },
      );
    }
    if (status < 200 || status >= 300) {
      throw new CfError('CF_HTTP', `GET ${url} answered ${status}: ${framePreview(text)}`, {
        retriable: status >= 500,
        context: { ...context, status, usedWeight, venue: framePreview(text) },
      });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new CfError('CF_HTTP', `GET ${url} answered ${status} with invalid JSON`, {
        cause: err,
        context: { ...context, preview: framePreview(text) },
      });
    }
    return usedWeight === undefined ? { body, receivedAt } : { body, receivedAt, usedWeight };
  }
}

function headerNumber(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}
