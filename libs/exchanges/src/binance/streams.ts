// Binance stream names, USD-M path routing and connection planning.
// Spot:  https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams
// USD-M: https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams
//        https://developers.binance.com/docs/products/caas/market-data-streams ("USD-M Futures routes streams by path")
//
// What those pages say (checked 2026-11):
// - Spot base `wss://stream.binance.com:9443`; raw `/ws/<stream>`, combined `/stream?streams=a/b/c`,
//   combined events wrapped `{"stream":"<name>","data":<payload>}`; symbols lower case.
// - USD-M base `wss://fstream.binance.com` is split by path: `/public` carries high-frequency book data
//   (`@depth*`, `@bookTicker`), `/market` carries regular market data (`@aggTrade`, `@markPrice`, `@forceOrder`,
//   klines, tickers). Combined URL: `wss://fstream.binance.com/public/stream?streams=...` and
//   `wss://fstream.binance.com/market/stream?streams=...`. A connection without a routed path only gets
//   `/public` data; a stream on the wrong path is accepted and silently never delivers.
// - 1024 streams per connection (both), 24 h connection lifetime, 300 connections per 5 min per IP.
import { CfError } from '@cryptoflow/core';
import { STREAM_EXCHANGES } from '@cryptoflow/model';
import type { Exchange, Stream } from '@cryptoflow/model';

export type UsdmRoute = 'public' | 'market';

/** Venue maximum; a connection asking for more is refused by Binance. */
export const BINANCE_MAX_STREAMS_PER_CONNECTION = 1024;
/** Our default is well below the venue maximum: a dropped connection then loses fewer streams at once. */
export const DEFAULT_STREAMS_PER_CONNECTION = 200;

/** The Binance markets this adapter speaks (COIN-M has none yet). */
export type BinanceMarket = 'binance' | 'binance-usdm';

/** `exchange` as a market of this adapter; CF_MARKET_UNSUPPORTED for any other venue market, never a default. */
export function binanceMarket(exchange: Exchange): BinanceMarket {
  if (exchange === 'binance' || exchange === 'binance-usdm') return exchange;
  throw new CfError('CF_MARKET_UNSUPPORTED', `the Binance adapter does not serve ${exchange}`, { context: { exchange } });
}

export const BINANCE_WS_BASE_URL: Readonly<Record<BinanceMarket, string>> = {
  binance: 'wss://stream.binance.com:9443',
  'binance-usdm': 'wss://fstream.binance.com',
};

export const BINANCE_REST_BASE_URL: Readonly<Record<BinanceMarket, string>> = {
  binance: 'https://api.binance.com',
  'binance-usdm': 'https://fapi.binance.com',
};

/** Venue limits on messages a client may SEND per connection per second (pings, pongs and JSON requests count). */
export const BINANCE_INBOUND_MESSAGES_PER_SEC: Readonly<Record<BinanceMarket, number>> = {
  binance: 5,
  'binance-usdm': 10,
};

/**
 * The Binance stream names a CryptoFlow stream needs for one symbol.
 * ticks → `<sym>@aggTrade`; liquidations → `<sym>@forceOrder`; funding → `<sym>@markPrice@1s`;
 * spot-ob / spot-delta / futures-ob / futures-delta → `<sym>@depth@100ms` (the book is rebuilt from diffs + REST).
 */
export function binanceStreamName(stream: Stream, exchange: Exchange, symbol: string): string[] {
  if (!STREAM_EXCHANGES[stream]?.includes(exchange)) {
    throw new CfError('CF_CONFIG_INVALID', `stream ${stream} is not available on ${exchange}`, {
      context: { stream, exchange, symbol, allowed: STREAM_EXCHANGES[stream] },
    });
  }
  if (!/^[A-Za-z0-9_-]+$/.test(symbol)) {
    throw new CfError('CF_CONFIG_INVALID', `bad symbol ${JSON.stringify(symbol)} for ${exchange}`, {
      context: { stream, exchange, symbol },
    });
  }
  const sym = symbol.toLowerCase();
  switch (stream) {
    case 'ticks':
      return [`${sym}@aggTrade`];
    case 'liquidations':
      return [`${sym}@forceOrder`];
    case 'funding':
      return [`${sym}@markPrice@1s`];
    case 'spot-ob':
    case 'spot-delta':
    case 'futures-ob':
    case 'futures-delta':
      return [`${sym}@depth@100ms`];
  }
}

/** Event part of a stream name: `btcusdt@depth@100ms` → `depth@100ms`, `!bookTicker` → `!bookTicker`. */
function eventOf(streamName: string): string {
  const at = streamName.indexOf('@');
  return at < 0 ? streamName : streamName.slice(at + 1);
}

/** USD-M path for a stream: book data (`depth*`, `bookTicker`) on `/public`, everything else on `/market`. */
export function usdmRoute(streamName: string): UsdmRoute {
  const event = streamName.startsWith('!') ? streamName.slice(1).split('@')[0]! : eventOf(streamName);
  return event.startsWith('depth') || event.startsWith('bookTicker') ? 'public' : 'market';
}

/** Path (after the base URL) of a combined-stream connection. */
export function combinedStreamPath(
  exchange: Exchange,
  streams: readonly string[],
  route?: UsdmRoute,
): string {
  const prefix = exchange === 'binance-usdm' ? `/${route ?? 'public'}` : '';
  return streams.length === 0 ? `${prefix}/stream` : `${prefix}/stream?streams=${streams.join('/')}`;
}

export interface ConnectionPlan {
  readonly exchange: Exchange;
  /** USD-M only: the path every stream of this connection belongs to. */
  readonly route?: UsdmRoute;
  readonly streams: readonly string[];
  /** Full combined-stream URL (base + path). */
  readonly url: string;
  /** Index of this connection among those of the same exchange/route, from 0. */
  readonly index: number;
}

export interface PlanOptions {
  /** Default 200; the venue refuses more than 1024. */
  readonly maxStreamsPerConnection?: number;
  /** Default: the production endpoint of the exchange. */
  readonly wsBaseUrl?: string;
}

/**
 * Groups stream names into connections: duplicates removed, order kept, at most `maxStreamsPerConnection`
 * each; USD-M streams are first split by route because one connection serves one path.
 */
export function planConnections(
  exchange: Exchange,
  streamNames: readonly string[],
  opts: PlanOptions = {},
): ConnectionPlan[] {
  const max = opts.maxStreamsPerConnection ?? DEFAULT_STREAMS_PER_CONNECTION;
  if (!Number.isInteger(max) || max < 1 || max > BINANCE_MAX_STREAMS_PER_CONNECTION) {
    throw new CfError(
      'CF_CONFIG_INVALID',
      `maxStreamsPerConnection: expected an integer in 1..${BINANCE_MAX_STREAMS_PER_CONNECTION}, got ${max}`,
      {
        context: { exchange, maxStreamsPerConnection: max },
      },
    );
  }
  const base = (opts.wsBaseUrl ?? BINANCE_WS_BASE_URL[binanceMarket(exchange)]).replace(/\/+$/, '');
  const unique = [...new Set(streamNames)];
  const groups: { route?: UsdmRoute; streams: string[] }[] =
    exchange === 'binance-usdm'
      ? (['public', 'market'] as const).map((route) => ({
          route,
          streams: unique.filter((s) => usdmRoute(s) === route),
        }))
      : [{ streams: unique }];
  const plans: ConnectionPlan[] = [];
  for (const group of groups) {
    for (let i = 0, index = 0; i < group.streams.length; i += max, index++) {
      const streams = group.streams.slice(i, i + max);
      const url = base + combinedStreamPath(exchange, streams, group.route);
      plans.push(
        group.route
          ? { exchange, route: group.route, streams, url, index }
          : { exchange, streams, url, index },
      );
    }
  }
  return plans;
}
