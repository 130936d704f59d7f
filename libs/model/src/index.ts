export { TRADE_SIDES, BOOK_SIDES, SNAPSHOT_KINDS, STREAMS, TABLES, STREAM_TABLE, isStream, isTableName } from './enums.js';
export type { TradeSide, BookSide, SnapshotKind, Stream, TableName } from './enums.js';
export {
  VENUES,
  MARKET_TYPES,
  MARKET_KINDS,
  EXCHANGES,
  EXCHANGE_DEFS,
  STREAM_MARKET_KINDS,
  STREAM_EXCHANGES,
  isExchange,
  exchangeDef,
  marketCanFeed,
  streamProblem,
  requireStream,
  bookTables,
} from './venues.js';
export type { Venue, MarketType, MarketKind, Exchange, ExchangeDef } from './venues.js';
export type {
  TradeRow,
  LiquidationRow,
  FundingRow,
  SpotDeltaRow,
  FuturesDeltaRow,
  SpotBookRow,
  FuturesBookRow,
  RowByTable,
  CanonicalRow,
  RowOf,
  DeltaRow,
  BookLevelRow,
} from './rows.js';
export { TABLE_SCHEMAS, tableSchema, allTableSchemas, icebergSchemaJson, icebergPartitionSpecJson } from './schemas.js';
export type { ColumnType, ColumnDef, PartitionFieldDef, TableSchema } from './schemas.js';
