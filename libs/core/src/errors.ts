/**
 * One base error for the whole fleet. Retry logic reads only `retriable`; `code` is stable and
 * greppable in logs and alerts; `context` carries what a reader needs to find the cause
 * (exchange, symbol, config path, first bytes of a frame...).
 */
export type ErrorCode =
  | 'CF_CONFIG_INVALID'
  | 'CF_FRAME_MALFORMED'
  | 'CF_FRAME_OVERSIZED'
  | 'CF_FRAME_UNKNOWN_SYMBOL'
  | 'CF_FRAME_FIELD'
  | 'CF_FRAME_UNSUPPORTED'
  | 'CF_CONNECTION'
  | 'CF_RATE_LIMITED'
  | 'CF_IP_BANNED'
  | 'CF_HTTP'
  | 'CF_SEQ_GAP'
  | 'CF_BOOK_CROSSED'
  | 'CF_CHANNEL_CLOSED'
  | 'CF_CHANNEL_FULL'
  | 'CF_SPILL_IO'
  | 'CF_SHARDING'
  | 'CF_EGRESS'
  | 'CF_SINK_IO'
  | 'CF_S3'
  | 'CF_LEDGER'
  | 'CF_CATALOG'
  | 'CF_CATALOG_CONFLICT'
  | 'CF_CATALOG_STATE_UNKNOWN'
  | 'CF_CIRCUIT_OPEN'
  | 'CF_SCHEMA'
  | 'CF_MARKET_UNSUPPORTED'
  | 'CF_FENCED'
  | 'CF_INTERNAL';

export interface CfErrorOptions {
  readonly retriable?: boolean;
  readonly cause?: unknown;
  readonly context?: Readonly<Record<string, unknown>>;
}

export class CfError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: CfErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CfError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.context = options.context ?? {};
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, retriable: this.retriable, context: this.context };
  }
}

export function isCfError(err: unknown, code?: ErrorCode): err is CfError {
  return err instanceof CfError && (code === undefined || err.code === code);
}

/** True when retrying the operation that threw `err` may succeed. Unknown errors are not retried. */
export function isRetriable(err: unknown): boolean {
  return err instanceof CfError && err.retriable;
}

/** First bytes of a frame for logs and error context: bounded so a 10 MB frame never floods a log line. */
export function framePreview(frame: string | Uint8Array, max = 160): string {
  const text = typeof frame === 'string' ? frame.slice(0, max) : Buffer.from(frame.subarray(0, max)).toString('utf8');
  const size = typeof frame === 'string' ? frame.length : frame.byteLength;
  return size > max ? `${text}…(+${size - max})` : text;
}
