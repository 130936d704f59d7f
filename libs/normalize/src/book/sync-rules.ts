/**
 * Binance's documented local-book procedures, one object per venue market. Checked on the real
 * captures (see README): the spot rule fails on every USD-M event, so each market keeps its own.
 * Spot: https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams#how-to-manage-a-local-order-book-correctly
 * USD-M: https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/How-to-manage-a-local-order-book-correctly
 */
import { CfError } from '@cryptoflow/core';
import type { Exchange } from '@cryptoflow/model';
import type { DepthEvent } from './types.js';

export interface SyncRules {
  /** Already reflected in a snapshot with this lastUpdateId: drop while syncing. */
  isStale(e: DepthEvent, lastUpdateId: number): boolean;
  /** May be applied first on top of a snapshot with this lastUpdateId. */
  isFirst(e: DepthEvent, lastUpdateId: number): boolean;
  /** Follows the event whose `u` was `prevU` with nothing in between. */
  follows(e: DepthEvent, prevU: number): boolean;
}

/** Spot: drop `u <= L`; first has `U <= L+1 <= u`; then `U == previous u + 1`. */
export const SPOT_RULES: SyncRules = {
  isStale: (e, L) => e.lastUpdateId <= L,
  isFirst: (e, L) => e.firstUpdateId <= L + 1 && L + 1 <= e.lastUpdateId,
  follows: (e, prevU) => e.firstUpdateId === prevU + 1,
};

/** USD-M: drop `u < L`; first has `U <= L <= u`; then `pu == previous u`. */
export const USDM_RULES: SyncRules = {
  isStale: (e, L) => e.lastUpdateId < L,
  isFirst: (e, L) => e.firstUpdateId <= L && L <= e.lastUpdateId,
  follows: (e, prevU) => e.prevUpdateId === prevU,
};

/** The rules of a venue market; CF_MARKET_UNSUPPORTED for a market without documented rules here (never a default). */
export function syncRules(exchange: Exchange): SyncRules {
  switch (exchange) {
    case 'binance':
      return SPOT_RULES;
    case 'binance-usdm':
      return USDM_RULES;
    default:
      throw new CfError('CF_MARKET_UNSUPPORTED', `no book sync rules for ${exchange}`, { context: { exchange } });
  }
}
