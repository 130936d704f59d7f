import type { BookSide, SnapshotKind, TableName, TradeSide } from './enums.js';
import type { Exchange } from './venues.js';

/**
 * Canonical rows: plain readonly objects tagged with their table. Property names are the table's
 * column names, so writers read `row[column.name]` with no mapping layer.
 *
 * Timestamps are integer microseconds since the epoch (a JS number is exact to year 2255).
 * 64-bit ids (integer trade ids, book update ids) are JS numbers below 2^53, and decoders reject a larger
 * one rather than round it (see libs/normalize). Trade ids that are not such integers (UUIDs) are kept as
 * text in `trade_id_text` (docs/adrs/0003-trade-ids.md).
 * Absent optional values are `null`, never `undefined`, so every row of a table has the same shape
 * (one V8 hidden class per table on the hot path).
 */
interface RowBase {
  readonly exchange: Exchange;
  /** Venue-native symbol, upper case, as the venue lists it (BTCUSDT). */
  readonly symbol: string;
  /** Event time stamped by the venue (µs). */
  readonly exchange_ts: number;
  /** Local receive time of the frame that carried the event (µs). */
  readonly ingest_ts: number;
}

export interface TradeRow extends RowBase {
  readonly table: 'trades';
  readonly trade_ts: number;
  /** The venue's trade id when it is an integer below 2^53; null when `trade_id_text` holds it. */
  readonly trade_id: number | null;
  /** The venue's trade id as text when it is not such an integer (UUIDs); null when `trade_id` holds it. */
  readonly trade_id_text: string | null;
  readonly first_trade_id: number | null;
  readonly last_trade_id: number | null;
  readonly price: number;
  readonly qty: number;
  readonly side: TradeSide;
}

export interface LiquidationRow extends RowBase {
  readonly table: 'liquidations';
  readonly trade_ts: number;
  readonly side: TradeSide;
  readonly order_type: string;
  readonly time_in_force: string;
  readonly orig_qty: number;
  readonly price: number;
  readonly avg_price: number;
  readonly order_status: string;
  readonly last_filled_qty: number;
  readonly filled_qty: number;
}

export interface FundingRow extends RowBase {
  readonly table: 'funding';
  readonly mark_price: number;
  readonly index_price: number | null;
  readonly est_settle_price: number | null;
  readonly funding_rate: number | null;
  readonly next_funding_ts: number | null;
}

interface DeltaRowBase extends RowBase {
  readonly side: BookSide;
  readonly price: number;
  /** New total quantity at the level; 0 removes the level. */
  readonly qty: number;
  readonly first_update_id: number;
  readonly last_update_id: number;
  readonly prev_update_id: number | null;
  readonly is_snapshot: boolean;
}

export interface SpotDeltaRow extends DeltaRowBase {
  readonly table: 'spot_delta';
}

export interface FuturesDeltaRow extends DeltaRowBase {
  readonly table: 'futures_delta';
}

interface BookLevelRowBase extends RowBase {
  readonly snapshot_ts: number;
  readonly update_id: number;
  readonly snapshot_kind: SnapshotKind;
  readonly side: BookSide;
  readonly level: number;
  readonly price: number;
  readonly qty: number;
}

export interface SpotBookRow extends BookLevelRowBase {
  readonly table: 'spot_ob';
}

export interface FuturesBookRow extends BookLevelRowBase {
  readonly table: 'futures_ob';
}

export interface RowByTable {
  trades: TradeRow;
  liquidations: LiquidationRow;
  funding: FundingRow;
  spot_delta: SpotDeltaRow;
  futures_delta: FuturesDeltaRow;
  spot_ob: SpotBookRow;
  futures_ob: FuturesBookRow;
}

export type CanonicalRow = RowByTable[TableName];
export type RowOf<T extends TableName> = RowByTable[T];
export type DeltaRow = SpotDeltaRow | FuturesDeltaRow;
export type BookLevelRow = SpotBookRow | FuturesBookRow;
