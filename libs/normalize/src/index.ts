// Operators and the pipeline that chains them
export {
  filter,
  map,
  flatten,
  dedupe,
  Dedupe,
  watermark,
  Watermark,
  tumblingWindow,
  TumblingWindow,
  ohlcvWindow,
  Pipeline,
} from './operators.js';
export type {
  Operator,
  Emit,
  MarketKeyed,
  OperatorMetrics,
  DedupeOptions,
  WatermarkOptions,
  TumblingWindowSpec,
  OhlcvBar,
  OhlcvInput,
  PipelineOptions,
} from './operators.js';
export { buildOperators, naturalKeyOf, operatorConfigSchema } from './config-operators.js';
export type { OperatorConfig, BuildOperatorsOptions } from './config-operators.js';
// Keyed workers: per-key order, a paused key holds back only its lane
export { KeyedWorkerPool } from './pool.js';
export type { KeyedWorkerPoolOptions, PoolStats } from './pool.js';
// Venue mappers and the non-book normalizer
export { FieldReader } from './fields.js';
export { mapAggTrade, mapForceOrder, mapMarkPrice } from './binance-mappers.js';
export { createNormalizer, ROW_STREAMS } from './normalizer.js';
export type { Normalizer, NormalizerOptions } from './normalizer.js';

// order books (src/book)
export {
  bookKey,
  parseBookKey,
  RESYNC_REASONS,
  depthEventFromPayload,
  depthSnapshotFromBody,
  SPOT_RULES,
  USDM_RULES,
  syncRules,
  OrderBook,
  BookSideLevels,
  BookSequencer,
  BookState,
  DEFAULT_BOOK_CONFIG,
  resolveBookConfig,
  BookOperator,
  createBookMetrics,
  noopBookMetrics,
  emptyCounters,
  decodeBookFixture,
  parseFixtureJsonl,
  replayBook,
  SnapshotScheduler,
  depthRequestWeight,
  venueWeightPerMinute,
  rateLimitError,
  realTimers,
} from './book/index.js';
export type {
  DepthEvent,
  DepthSnapshot,
  BookKey,
  SyncState,
  ResyncReason,
  SyncRules,
  SequencerTarget,
  BookSequencerOptions,
  BookConfig,
  BookRow,
  BookOperatorOptions,
  BookMetricsSink,
  BookCounters,
  BookMetricLabels,
  BookFixtureRecord,
  ReplayItem,
  ReplayResult,
  DepthFetchResult,
  SchedulerTimers,
  SnapshotSchedulerOptions,
  SchedulerStats,
} from './book/index.js';
