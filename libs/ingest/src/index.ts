export { BinanceDecoder } from './binance-decoder.js';
export type { BinanceDecoderOptions } from './binance-decoder.js';
export { BadInputReporter } from './bad-input.js';
export { DECODE_ERROR_REASONS } from './types.js';
export type { VenueMessage, VenueChannel, DecodeErrorReason } from './types.js';
export { parseCapture, splitCombined, formatCaptureTime } from './capture.js';
export type { CaptureRecord } from './capture.js';
export { readRecordings, exchangeOfUrl } from './replay-source.js';
export type { RecordedItem } from './replay-source.js';
