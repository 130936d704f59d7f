export type { RawFrame, FrameSink } from './types.js';
export {
  binanceStreamName,
  binanceMarket,
  usdmRoute,
  planConnections,
  combinedStreamPath,
  BINANCE_WS_BASE_URL,
  BINANCE_REST_BASE_URL,
  BINANCE_MAX_STREAMS_PER_CONNECTION,
  BINANCE_INBOUND_MESSAGES_PER_SEC,
  DEFAULT_STREAMS_PER_CONNECTION,
} from './binance/streams.js';
export type { BinanceMarket, ConnectionPlan, PlanOptions, UsdmRoute } from './binance/streams.js';
export { BinanceStreamConnection } from './binance/connection.js';
export type {
  BinanceStreamConnectionOptions,
  ConnectionEvents,
  ConnectionLabels,
  ConnectionState,
  ReconnectReason,
} from './binance/connection.js';
export { DepthSnapshotClient } from './binance/rest.js';
export type { DepthSnapshot, DepthSnapshotClientOptions } from './binance/rest.js';
