export {
  EXCHANGES,
  TRADE_SIDES,
  BOOK_SIDES,
  SNAPSHOT_KINDS,
  STREAMS,
  TABLES,
  STREAM_TABLE,
  STREAM_EXCHANGES,
  isExchange,
  isStream,
  isTableName,
} from './enums.js';
export type { Exchange, TradeSide, BookSide, SnapshotKind, Stream, TableName } from './enums.js';
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
