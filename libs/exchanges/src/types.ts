import type { Exchange } from '@cryptoflow/model';

/** One WebSocket message exactly as received, stamped on arrival. */
export interface RawFrame {
  readonly exchange: Exchange;
  /** Stable per connection attempt, e.g. `binance/ticks/s3/c1#2` — lets downstream tell rollover twins apart. */
  readonly connId: string;
  /** Local receive time in µs (`nowMicros()`), taken in the socket's message handler. */
  readonly receivedAt: number;
  /** The frame text exactly as received. */
  readonly data: string;
}

/**
 * Called synchronously from the socket's message handler. Returning `false` means "downstream full":
 * the connection pauses reading its socket until `resume()` is called.
 */
export type FrameSink = (frame: RawFrame) => boolean;
