import type { Exchange } from '@cryptoflow/model';

/**
 * One venue depth diff (Binance `depthUpdate`), already decoded. Levels are flat number arrays
 * `[price0, qty0, price1, qty1, ...]` so an event costs two arrays, not one tuple per level.
 * Prices are the venue strings parsed as doubles; equal doubles are the same level.
 */
export interface DepthEvent {
  readonly exchange: Exchange;
  /** Venue-native symbol, upper case. */
  readonly symbol: string;
  /** Venue event time (`E`), µs. */
  readonly exchangeTs: number;
  /** Local receive time of the frame, µs. Drives the snapshot grid. */
  readonly ingestTs: number;
  /** `U` */
  readonly firstUpdateId: number;
  /** `u` */
  readonly lastUpdateId: number;
  /** `pu` (USD-M only); null on spot. */
  readonly prevUpdateId: number | null;
  readonly bids: readonly number[];
  readonly asks: readonly number[];
}

/** A REST depth snapshot (`/api/v3/depth`, `/fapi/v1/depth`). */
export interface DepthSnapshot {
  readonly lastUpdateId: number;
  /** Venue time of the snapshot (USD-M `E`), µs; null on spot, which sends none. */
  readonly exchangeTs: number | null;
  /** Local time the response was received, µs. */
  readonly receivedAt: number;
  readonly bids: readonly number[];
  readonly asks: readonly number[];
}

/** `exchange|SYMBOL` — the unit of ordering, sequencing and resync. */
export type BookKey = string;

export function bookKey(exchange: Exchange, symbol: string): BookKey {
  return `${exchange}|${symbol}`;
}

export function parseBookKey(key: BookKey): { exchange: Exchange; symbol: string } {
  const bar = key.indexOf('|');
  return { exchange: key.slice(0, bar) as Exchange, symbol: key.slice(bar + 1) };
}

export type SyncState = 'syncing' | 'live' | 'resyncing';

/** Why a key left `live` (label of `book_resyncs_total`). */
export type ResyncReason = 'gap' | 'crossed' | 'stale_snapshot' | 'buffer_overflow' | 'reconnect';

export const RESYNC_REASONS: readonly ResyncReason[] = ['gap', 'crossed', 'stale_snapshot', 'buffer_overflow', 'reconnect'];
