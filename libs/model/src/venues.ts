import { CfError } from '@cryptoflow/core';
import { STREAMS } from './enums.js';
import type { Stream } from './enums.js';

/**
 * Venues, their markets, and which streams each market can feed.
 *
 * A venue is a company's API (Binance, Bybit, ...). A venue *market* is one of its order-matching
 * universes with its own symbols, endpoints and book rules (Binance spot, Binance USD-M futures, ...).
 * A symbol is unique only within a market (BTCUSDT spot and BTCUSDT perpetual are different books), so
 * every row names its market: the `exchange` column holds a venue-market id from `EXCHANGES`.
 *
 * Ids: the bare venue name is the venue's spot market (`binance`, `bybit`, `okx`, `coinbase`, `kraken`);
 * a derivatives market adds its name as the venue documents it (`binance-usdm`, `bybit-linear`, `okx-swap`).
 * Prior art: tardis-dev names the same markets `binance-futures`, `binance-delivery`, `bybit-spot`, `bybit`
 * (its Bybit derivatives), `okex`, `okex-swap`, `okex-futures`; we keep the column values the lake already
 * holds (`binance`, `binance-usdm`) and follow one rule for the rest.
 *
 * Tables follow the market kind, never the venue: spot books go to `spot_*`, derivative books to
 * `futures_*`; trades come from any market; liquidations and funding only from derivatives markets.
 */

export const VENUES = ['binance', 'bybit', 'okx', 'coinbase', 'kraken'] as const;
export type Venue = (typeof VENUES)[number];

/**
 * What the instruments of a market are (options are out of scope). Linear contracts are margined and
 * settled in the quote currency (USDT, USDC); inverse ones in the base coin (BTC for BTCUSD).
 */
export const MARKET_TYPES = [
  'spot',
  'linear-perpetual',
  'linear-future',
  'inverse-perpetual',
  'inverse-future',
] as const;
export type MarketType = (typeof MARKET_TYPES)[number];

/** Spot or derivatives: decides the book tables and which streams a market can feed. */
export const MARKET_KINDS = ['spot', 'derivatives'] as const;
export type MarketKind = (typeof MARKET_KINDS)[number];

/** Venue-market ids, the values of every table's `exchange` column. */
export const EXCHANGES = [
  'binance',
  'binance-usdm',
  'binance-coinm',
  'bybit',
  'bybit-linear',
  'bybit-inverse',
  'okx',
  'okx-swap',
  'okx-futures',
  'coinbase',
  'kraken',
] as const;
export type Exchange = (typeof EXCHANGES)[number];

export interface ExchangeDef {
  readonly id: Exchange;
  readonly venue: Venue;
  readonly kind: MarketKind;
  /** The instrument types listed in this market (an OKX swap market lists linear and inverse perpetuals). */
  readonly marketTypes: readonly MarketType[];
  /** For people: docs, error messages. */
  readonly name: string;
  /**
   * The streams a venue adapter implements for this market. Empty: no adapter yet, and config refuses the
   * market for every stream. A new adapter adds its streams here (one registry line per market); every
   * stream listed must be one the market kind can feed (`STREAM_MARKET_KINDS`), which a test checks.
   */
  readonly supported: readonly Stream[];
}

const SPOT: readonly MarketType[] = ['spot'];
const LINEAR: readonly MarketType[] = ['linear-perpetual', 'linear-future'];
const INVERSE: readonly MarketType[] = ['inverse-perpetual', 'inverse-future'];

export const EXCHANGE_DEFS: Readonly<Record<Exchange, ExchangeDef>> = {
  binance: {
    id: 'binance',
    venue: 'binance',
    kind: 'spot',
    marketTypes: SPOT,
    name: 'Binance spot',
    supported: ['ticks', 'spot-ob', 'spot-delta'],
  },
  'binance-usdm': {
    id: 'binance-usdm',
    venue: 'binance',
    kind: 'derivatives',
    marketTypes: LINEAR,
    name: 'Binance USD-M futures (linear perpetuals and quarterlies)',
    supported: ['ticks', 'futures-ob', 'futures-delta', 'liquidations', 'funding'],
  },
  'binance-coinm': {
    id: 'binance-coinm',
    venue: 'binance',
    kind: 'derivatives',
    marketTypes: INVERSE,
    name: 'Binance COIN-M futures (inverse perpetuals and quarterlies)',
    supported: [],
  },
  bybit: { id: 'bybit', venue: 'bybit', kind: 'spot', marketTypes: SPOT, name: 'Bybit spot', supported: [] },
  'bybit-linear': {
    id: 'bybit-linear',
    venue: 'bybit',
    kind: 'derivatives',
    marketTypes: LINEAR,
    name: 'Bybit linear (USDT and USDC perpetuals and futures)',
    supported: [],
  },
  'bybit-inverse': {
    id: 'bybit-inverse',
    venue: 'bybit',
    kind: 'derivatives',
    marketTypes: INVERSE,
    name: 'Bybit inverse (coin-margined perpetuals and futures)',
    supported: [],
  },
  okx: { id: 'okx', venue: 'okx', kind: 'spot', marketTypes: SPOT, name: 'OKX spot', supported: [] },
  'okx-swap': {
    id: 'okx-swap',
    venue: 'okx',
    kind: 'derivatives',
    marketTypes: ['linear-perpetual', 'inverse-perpetual'],
    name: 'OKX perpetual swaps (USDT-, USDC- and coin-margined)',
    supported: [],
  },
  'okx-futures': {
    id: 'okx-futures',
    venue: 'okx',
    kind: 'derivatives',
    marketTypes: ['linear-future', 'inverse-future'],
    name: 'OKX expiry futures (USDT- and coin-margined)',
    supported: [],
  },
  coinbase: {
    id: 'coinbase',
    venue: 'coinbase',
    kind: 'spot',
    marketTypes: SPOT,
    name: 'Coinbase Advanced Trade spot',
    supported: [],
  },
  kraken: {
    id: 'kraken',
    venue: 'kraken',
    kind: 'spot',
    marketTypes: SPOT,
    name: 'Kraken spot',
    supported: [],
  },
};

/** The market kinds whose rows each stream's table takes. */
export const STREAM_MARKET_KINDS: Readonly<Record<Stream, readonly MarketKind[]>> = {
  ticks: ['spot', 'derivatives'],
  'spot-ob': ['spot'],
  'spot-delta': ['spot'],
  'futures-ob': ['derivatives'],
  'futures-delta': ['derivatives'],
  liquidations: ['derivatives'],
  funding: ['derivatives'],
};

/** Which venue markets feed each stream today: the market kind fits and an adapter implements it. */
export const STREAM_EXCHANGES: Readonly<Record<Stream, readonly Exchange[]>> = streamExchanges();

function streamExchanges(): Record<Stream, readonly Exchange[]> {
  const out = {} as Record<Stream, readonly Exchange[]>;
  for (const stream of STREAMS)
    out[stream] = EXCHANGES.filter((e) => EXCHANGE_DEFS[e].supported.includes(stream));
  return out;
}

export function isExchange(value: string): value is Exchange {
  return (EXCHANGES as readonly string[]).includes(value);
}

/** The registry entry of a venue-market id; CF_MARKET_UNSUPPORTED for an id the model does not know. */
export function exchangeDef(exchange: string): ExchangeDef {
  if (!isExchange(exchange)) {
    throw new CfError(
      'CF_MARKET_UNSUPPORTED',
      `unknown venue market ${JSON.stringify(exchange)} (known: ${EXCHANGES.join(', ')})`,
      {
        context: { exchange },
      },
    );
  }
  return EXCHANGE_DEFS[exchange];
}

/** Whether the market's kind can feed the stream's table at all (an adapter may still be missing). */
export function marketCanFeed(exchange: Exchange, stream: Stream): boolean {
  return STREAM_MARKET_KINDS[stream].includes(EXCHANGE_DEFS[exchange].kind);
}

/**
 * Why `exchange` cannot serve `stream`, naming both, or undefined when it can. Config validation reports
 * this; `requireStream` throws it.
 */
export function streamProblem(exchange: Exchange, stream: Stream): string | undefined {
  const def = EXCHANGE_DEFS[exchange];
  if (!marketCanFeed(exchange, stream)) {
    const kinds = STREAM_MARKET_KINDS[stream].join(' or ');
    return `stream ${stream} takes ${kinds} markets; ${exchange} (${def.name}, venue ${def.venue}) is a ${def.kind} market`;
  }
  if (!def.supported.includes(stream)) {
    const available = STREAM_EXCHANGES[stream];
    return (
      `venue ${def.venue} has no adapter for stream ${stream} on ${exchange} (${def.name}) yet` +
      ` (available for ${stream}: ${available.length > 0 ? available.join(', ') : 'none'})`
    );
  }
  return undefined;
}

/** Throws CF_MARKET_UNSUPPORTED unless an adapter serves `stream` on `exchange`. */
export function requireStream(exchange: string, stream: Stream): ExchangeDef {
  const def = exchangeDef(exchange);
  const problem = streamProblem(def.id, stream);
  if (problem !== undefined) {
    throw new CfError('CF_MARKET_UNSUPPORTED', problem, { context: { exchange, venue: def.venue, stream } });
  }
  return def;
}

/** The book tables of a market: spot books to `spot_*`, derivative books to `futures_*`, for every venue. */
export function bookTables(exchange: string): {
  readonly delta: 'spot_delta' | 'futures_delta';
  readonly ob: 'spot_ob' | 'futures_ob';
} {
  return exchangeDef(exchange).kind === 'spot' ? SPOT_BOOK_TABLES : FUTURES_BOOK_TABLES;
}

const SPOT_BOOK_TABLES = { delta: 'spot_delta', ob: 'spot_ob' } as const;
const FUTURES_BOOK_TABLES = { delta: 'futures_delta', ob: 'futures_ob' } as const;
