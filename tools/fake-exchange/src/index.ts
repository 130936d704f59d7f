export { FakeExchange } from './server.js';
export type { FakeExchangeOptions, FakeExchangeLog, FakeExchangeFaults, Venue } from './server.js';
export { parseCapture, splitCombined, formatCaptureTime } from './capture.js';
export type { CaptureRecord } from './capture.js';
