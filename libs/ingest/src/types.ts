import type { Exchange } from '@cryptoflow/model';

/** Venue channels the decoder recognises (Binance event types). */
export type VenueChannel =
  'aggTrade' | 'trade' | 'depthUpdate' | 'forceOrder' | 'markPriceUpdate' | 'bookTicker' | 'kline';

/**
 * A decoded venue message, stamped. The decoder reuses one instance per decoder (no allocation per
 * frame): a consumer must use it before the next `decode` call and never keep it.
 */
export interface VenueMessage {
  readonly exchange: Exchange;
  /** Upper case, as the venue lists it. */
  readonly symbol: string;
  readonly channel: VenueChannel;
  /** Venue event time (`E`), µs. */
  readonly exchangeTs: number;
  /** Local receive time of the frame, µs. */
  readonly ingestTs: number;
  /** Per-decoder counter in receive order. */
  readonly seq: number;
  /** The venue's event object (`data` of a combined-stream frame), parsed. */
  readonly payload: Readonly<Record<string, unknown>>;
}

export type DecodeErrorReason =
  | 'malformed_json'
  | 'missing_field'
  | 'mistyped_field'
  | 'unknown_symbol'
  | 'oversized'
  | 'unknown_channel'
  | 'unsafe_integer';

export const DECODE_ERROR_REASONS: readonly DecodeErrorReason[] = [
  'malformed_json',
  'missing_field',
  'mistyped_field',
  'unknown_symbol',
  'oversized',
  'unknown_channel',
  'unsafe_integer',
];
