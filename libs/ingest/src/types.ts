import type { Exchange } from '@cryptoflow/model';

/**
 * One frame as the socket delivered it (docs/architecture.md). Structurally identical to the one
 * libs/exchanges exports, declared here too so ingest depends on the contract, not on the adapters.
 */
export interface RawFrame {
  readonly exchange: Exchange;
  /** Stable per connection attempt, e.g. 'binance/ticks/s3/c1'. */
  readonly connId: string;
  /** Local receive time, µs (nowMicros()). */
  readonly receivedAt: number;
  /** The frame text exactly as received. */
  readonly data: string;
}

/** Venue channels the decoder recognises (Binance event types). */
export type VenueChannel =
  | 'aggTrade'
  | 'trade'
  | 'depthUpdate'
  | 'forceOrder'
  | 'markPriceUpdate'
  /** REST depth snapshots (the book operator builds these itself; the WebSocket decoder never emits one). */
  | 'depthSnapshot'
  | 'bookTicker'
  | 'kline';

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
