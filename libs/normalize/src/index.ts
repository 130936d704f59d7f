// Operators and chains
export {
  filter,
  map,
  flatten,
  Dedupe,
  Watermark,
  TumblingWindow,
  ohlcvWindow,
  OperatorChain,
} from './operators.js';
export type { Operator, Emit, TumblingWindowSpec, OhlcvBar } from './operators.js';
export { buildOperators, naturalKeyOf, operatorConfigSchema } from './config-operators.js';
export type { OperatorConfig } from './config-operators.js';
// Venue mappers and the non-book normalizer
export { FieldReader } from './fields.js';
export { mapAggTrade, mapForceOrder, mapMarkPrice } from './binance-mappers.js';
export { createNormalizer } from './normalizer.js';
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
