// Binance WebSocket streams: https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams
// USD-M futures streams: https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams
import type { Logger } from '@cryptoflow/logger';
import type { Registry } from '@cryptoflow/metrics';
import type { Exchange } from '@cryptoflow/model';
import { BadInputReporter } from './bad-input.js';
import type { DecodeErrorReason, RawFrame, VenueChannel, VenueMessage } from './types.js';

export interface BinanceDecoderOptions {
  readonly exchange: Exchange;
  /** Upper-case symbols this decoder accepts; others count as `unknown_symbol`. */
  readonly symbols: ReadonlySet<string>;
  /** Frames larger than this many UTF-8 bytes are `oversized` (checked before parsing). Default 1 MiB. */
  readonly maxFrameBytes?: number;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly labels: { exchange: string; stream: string; shard: string };
  /** Share one reporter between the decoder and the mappers after it. */
  readonly reporter?: BadInputReporter;
  /**
   * true (default): `decode` returns the same message object every time (no allocation per frame), so
   * the caller must finish with it before the next `decode`. false: a fresh object per frame, for
   * callers that queue messages (e.g. into a KeyedWorkerPool).
   */
  readonly reuseMessage?: boolean;
}

interface MutableMessage {
  exchange: Exchange;
  symbol: string;
  channel: VenueChannel;
  exchangeTs: number;
  ingestTs: number;
  seq: number;
  payload: Record<string, unknown>;
}

const CHANNEL_BY_EVENT: Readonly<Record<string, VenueChannel>> = {
  aggTrade: 'aggTrade',
  trade: 'trade',
  depthUpdate: 'depthUpdate',
  forceOrder: 'forceOrder',
  markPriceUpdate: 'markPriceUpdate',
  bookTicker: 'bookTicker',
  kline: 'kline',
};

/**
 * Raw frame → stamped venue message. One JSON.parse per frame and no other allocation: the returned
 * message object is reused unless `reuseMessage: false` (see VenueMessage). Returns null for control frames (subscription acks)
 * and for bad input, which is reported (counted, logged once) and skipped.
 */
export class BinanceDecoder {
  readonly reporter: BadInputReporter;
  private readonly maxFrameBytes: number;
  private readonly msg: MutableMessage;
  private readonly reuse: boolean;
  private seq = 0;

  constructor(private readonly options: BinanceDecoderOptions) {
    this.maxFrameBytes = options.maxFrameBytes ?? 1_048_576;
    this.reporter = options.reporter ?? new BadInputReporter(options);
    this.reuse = options.reuseMessage ?? true;
    this.msg = {
      exchange: options.exchange,
      symbol: '',
      channel: 'aggTrade',
      exchangeTs: 0,
      ingestTs: 0,
      seq: 0,
      payload: {},
    };
  }

  get errors(): Readonly<Record<DecodeErrorReason, number>> {
    return this.reporter.counts;
  }

  decode(frame: RawFrame): VenueMessage | null {
    const text = frame.data;
    if (typeof text !== 'string') return this.bad('malformed_json', String(text), 'frame data is not text');
    // A UTF-16 unit is 1..3 UTF-8 bytes: count bytes only when the length alone cannot decide.
    const len = text.length;
    if (
      len > this.maxFrameBytes ||
      (len * 3 > this.maxFrameBytes && Buffer.byteLength(text) > this.maxFrameBytes)
    )
      return this.bad('oversized', text, `frame larger than ${this.maxFrameBytes} bytes`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return this.bad('malformed_json', text, (err as Error).message);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      return this.bad('malformed_json', text, 'expected a JSON object');
    let data = parsed as Record<string, unknown>;
    // Combined-stream envelope: {"stream": "...", "data": {...}}
    if (typeof data['stream'] === 'string' && 'data' in data) {
      const inner = data['data'];
      if (inner === null || typeof inner !== 'object' || Array.isArray(inner))
        return this.bad('mistyped_field', text, 'data: expected an object');
      data = inner as Record<string, unknown>;
    } else if ('result' in data && 'id' in data) {
      return null; // answer to SUBSCRIBE / LIST_SUBSCRIPTIONS: control, not data
    }
    const e = data['e'];
    let channel: VenueChannel | undefined;
    if (typeof e === 'string') channel = CHANNEL_BY_EVENT[e];
    else if (e === undefined && typeof data['b'] === 'string' && typeof data['a'] === 'string' && 'u' in data)
      channel = 'bookTicker';
    else if (e !== undefined) return this.bad('mistyped_field', text, 'e: expected a string');
    if (channel === undefined)
      return this.bad(
        e === undefined ? 'missing_field' : 'unknown_channel',
        text,
        e === undefined ? 'e: missing event type' : `e: ${String(e)}`,
      );

    const holder = channel === 'forceOrder' ? data['o'] : data;
    if (holder === null || typeof holder !== 'object')
      return this.bad(
        holder === undefined ? 'missing_field' : 'mistyped_field',
        text,
        'o: expected the order object',
      );
    const symbol = (holder as Record<string, unknown>)['s'];
    if (symbol === undefined) return this.bad('missing_field', text, 's: missing symbol');
    if (typeof symbol !== 'string') return this.bad('mistyped_field', text, 's: expected a string');
    if (!this.options.symbols.has(symbol))
      return this.bad('unknown_symbol', text, `s: ${symbol} is not subscribed on ${this.options.exchange}`);

    const eventTime = data['E'];
    let exchangeTs: number;
    if (eventTime === undefined) {
      // Spot bookTicker carries no event time; every other channel must.
      if (channel !== 'bookTicker') return this.bad('missing_field', text, 'E: missing event time');
      exchangeTs = frame.receivedAt;
    } else if (typeof eventTime !== 'number' || !Number.isInteger(eventTime) || eventTime <= 0) {
      return this.bad('mistyped_field', text, 'E: expected epoch milliseconds');
    } else if (!Number.isSafeInteger(eventTime * 1000)) {
      // JSON.parse already rounded it, or the µs value would be: refuse rather than store a wrong time.
      return this.bad('unsafe_integer', text, 'E: event time beyond 2^53 µs');
    } else {
      exchangeTs = eventTime * 1000;
    }
    const msg: MutableMessage = this.reuse
      ? this.msg
      : {
          exchange: this.options.exchange,
          symbol: '',
          channel: 'aggTrade',
          exchangeTs: 0,
          ingestTs: 0,
          seq: 0,
          payload: data,
        };
    msg.symbol = symbol;
    msg.channel = channel;
    msg.exchangeTs = exchangeTs;
    msg.ingestTs = frame.receivedAt;
    msg.seq = ++this.seq;
    msg.payload = data;
    return msg;
  }

  private bad(reason: DecodeErrorReason, text: string, detail: string): null {
    this.reporter.report(reason, text, detail);
    return null;
  }
}
