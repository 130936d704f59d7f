import type { TableName } from './enums.js';
import { TABLES } from './enums.js';

/** Iceberg primitive types used by canonical tables (Iceberg spec, "Primitive Types"). */
export type ColumnType = 'string' | 'int' | 'long' | 'double' | 'boolean' | 'timestamptz';

export interface ColumnDef {
  /** Iceberg field id: never reused, never renumbered. Parquet files carry it as `field_id`. */
  readonly id: number;
  readonly name: string;
  readonly type: ColumnType;
  readonly required: boolean;
  readonly doc: string;
}

export interface PartitionFieldDef {
  readonly sourceColumn: string;
  readonly transform: 'hour' | 'identity';
  /** Partition field ids start at 1000 by Iceberg convention. */
  readonly fieldId: number;
  readonly name: string;
}

export interface TableSchema {
  readonly table: TableName;
  /** Iceberg schema-id. Bump when columns are added; never remove or renumber a column. */
  readonly schemaVersion: number;
  readonly doc: string;
  readonly columns: readonly ColumnDef[];
  readonly partitionSpec: readonly PartitionFieldDef[];
  /** Columns that identify one event: two rows with equal keys are the same event (dedupe, golden diffs). */
  readonly naturalKey: readonly string[];
  /** Rows of one (exchange, symbol) in a file are written in this order. */
  readonly sortOrder: readonly string[];
}

const COMMON: readonly ColumnDef[] = [
  { id: 1, name: 'exchange', type: 'string', required: true, doc: 'Venue market id (`binance` spot, `binance-usdm` USD-M futures, ...; the bare venue name is its spot market). Symbols are unique within it. Every id: docs/data-contracts/README.md.' },
  { id: 2, name: 'symbol', type: 'string', required: true, doc: 'Venue-native symbol, upper case (BTCUSDT).' },
  { id: 3, name: 'exchange_ts', type: 'timestamptz', required: true, doc: 'Event time stamped by the venue (Binance `E`), microseconds UTC.' },
  { id: 4, name: 'ingest_ts', type: 'timestamptz', required: true, doc: 'Local receive time of the frame that carried the event, microseconds UTC.' },
];

const HOURLY: readonly PartitionFieldDef[] = [
  { sourceColumn: 'exchange_ts', transform: 'hour', fieldId: 1000, name: 'exchange_ts_hour' },
];

const deltaColumns = (table: 'spot_delta' | 'futures_delta'): readonly ColumnDef[] => [
  ...COMMON,
  { id: 5, name: 'side', type: 'string', required: true, doc: '`bid` or `ask`.' },
  { id: 6, name: 'price', type: 'double', required: true, doc: 'Price level.' },
  { id: 7, name: 'qty', type: 'double', required: true, doc: 'New total quantity at the level; 0 removes the level.' },
  { id: 8, name: 'first_update_id', type: 'long', required: true, doc: 'First update id in the event (Binance `U`); the snapshot `lastUpdateId` on snapshot rows.' },
  { id: 9, name: 'last_update_id', type: 'long', required: true, doc: 'Last update id in the event (Binance `u`); the snapshot `lastUpdateId` on snapshot rows. The book after this row\'s event reflects this id.' },
  {
    id: 10,
    name: 'prev_update_id',
    type: 'long',
    required: false,
    doc: table === 'futures_delta' ? 'Last update id of the previous event (Binance USD-M `pu`); null on snapshot rows.' : 'Always null on spot (the venue sends no `pu`; continuity is `first_update_id == previous last_update_id + 1`).',
  },
  { id: 11, name: 'is_snapshot', type: 'boolean', required: true, doc: 'True for rows taken from a REST depth snapshot. A consumer clears its book when a snapshot begins (a new `last_update_id` with `is_snapshot`) and applies every row in order.' },
];

const bookColumns: readonly ColumnDef[] = [
  ...COMMON,
  { id: 5, name: 'snapshot_ts', type: 'timestamptz', required: true, doc: 'Time the snapshot was taken, on the snapshot interval grid of the receive clock, microseconds UTC.' },
  { id: 6, name: 'update_id', type: 'long', required: true, doc: 'Last update id applied to the book when the snapshot was taken.' },
  { id: 7, name: 'snapshot_kind', type: 'string', required: true, doc: '`top` (the N best levels, every snapshot interval) or `full` (every kept level, every checkpoint interval).' },
  { id: 8, name: 'side', type: 'string', required: true, doc: '`bid` or `ask`.' },
  { id: 9, name: 'level', type: 'int', required: true, doc: '0 is the best level of the side, then outward.' },
  { id: 10, name: 'price', type: 'double', required: true, doc: 'Price level.' },
  { id: 11, name: 'qty', type: 'double', required: true, doc: 'Total quantity at the level.' },
];

export const TABLE_SCHEMAS: Readonly<Record<TableName, TableSchema>> = {
  trades: {
    table: 'trades',
    schemaVersion: 1,
    doc: 'Every trade, spot and USD-M, from the venue aggregate-trade streams (one row per aggregate; first/last trade ids give the individual trades it covers).',
    columns: [
      ...COMMON,
      { id: 5, name: 'trade_ts', type: 'timestamptz', required: true, doc: 'Trade time (Binance `T`), microseconds UTC.' },
      { id: 6, name: 'trade_id', type: 'long', required: true, doc: 'Venue trade id (Binance aggregate trade id `a`). Unique per (exchange, symbol).' },
      { id: 7, name: 'first_trade_id', type: 'long', required: false, doc: 'First individual trade id in the aggregate (Binance `f`).' },
      { id: 8, name: 'last_trade_id', type: 'long', required: false, doc: 'Last individual trade id in the aggregate (Binance `l`).' },
      { id: 9, name: 'price', type: 'double', required: true, doc: 'Trade price.' },
      { id: 10, name: 'qty', type: 'double', required: true, doc: 'Trade quantity in base asset.' },
      { id: 11, name: 'side', type: 'string', required: true, doc: 'Taker side: `buy` or `sell` (Binance `m` = buyer is maker → `sell`).' },
    ],
    partitionSpec: HOURLY,
    naturalKey: ['exchange', 'symbol', 'trade_id'],
    sortOrder: ['exchange', 'symbol', 'trade_id'],
  },
  liquidations: {
    table: 'liquidations',
    schemaVersion: 1,
    doc: 'USD-M liquidation orders (Binance `forceOrder`).',
    columns: [
      ...COMMON,
      { id: 5, name: 'trade_ts', type: 'timestamptz', required: true, doc: 'Order trade time (Binance `o.T`), microseconds UTC.' },
      { id: 6, name: 'side', type: 'string', required: true, doc: 'Side of the liquidation order: `buy` or `sell`.' },
      { id: 7, name: 'order_type', type: 'string', required: true, doc: 'Order type (Binance `o.o`, e.g. LIMIT).' },
      { id: 8, name: 'time_in_force', type: 'string', required: true, doc: 'Time in force (Binance `o.f`, e.g. IOC).' },
      { id: 9, name: 'orig_qty', type: 'double', required: true, doc: 'Original quantity (`o.q`).' },
      { id: 10, name: 'price', type: 'double', required: true, doc: 'Order price (`o.p`).' },
      { id: 11, name: 'avg_price', type: 'double', required: true, doc: 'Average fill price (`o.ap`).' },
      { id: 12, name: 'order_status', type: 'string', required: true, doc: 'Order status (`o.X`, e.g. FILLED).' },
      { id: 13, name: 'last_filled_qty', type: 'double', required: true, doc: 'Quantity filled by the last trade (`o.l`).' },
      { id: 14, name: 'filled_qty', type: 'double', required: true, doc: 'Accumulated filled quantity (`o.z`).' },
    ],
    partitionSpec: HOURLY,
    naturalKey: ['exchange', 'symbol', 'trade_ts', 'side', 'price', 'orig_qty', 'filled_qty'],
    sortOrder: ['exchange', 'symbol', 'trade_ts'],
  },
  funding: {
    table: 'funding',
    schemaVersion: 1,
    doc: 'USD-M mark price and funding (Binance `markPrice@1s`): one row per symbol per second.',
    columns: [
      ...COMMON,
      { id: 5, name: 'mark_price', type: 'double', required: true, doc: 'Mark price (`p`).' },
      { id: 6, name: 'index_price', type: 'double', required: false, doc: 'Index price (`i`).' },
      { id: 7, name: 'est_settle_price', type: 'double', required: false, doc: 'Estimated settle price (`P`), meaningful in the last hour before settlement.' },
      { id: 8, name: 'funding_rate', type: 'double', required: false, doc: 'Current funding rate (`r`); null for delivery contracts, which have none.' },
      { id: 9, name: 'next_funding_ts', type: 'timestamptz', required: false, doc: 'Next funding time (`T`), microseconds UTC; null when the venue sends 0.' },
    ],
    partitionSpec: HOURLY,
    naturalKey: ['exchange', 'symbol', 'exchange_ts'],
    sortOrder: ['exchange', 'symbol', 'exchange_ts'],
  },
  spot_delta: {
    table: 'spot_delta',
    schemaVersion: 1,
    doc: 'Binance spot order-book diffs, one row per changed level, plus the REST snapshot each sync starts from (`is_snapshot`). The book can be rebuilt from this table alone.',
    columns: deltaColumns('spot_delta'),
    partitionSpec: HOURLY,
    naturalKey: ['exchange', 'symbol', 'last_update_id', 'is_snapshot', 'side', 'price'],
    sortOrder: ['exchange', 'symbol', 'last_update_id'],
  },
  futures_delta: {
    table: 'futures_delta',
    schemaVersion: 1,
    doc: 'Binance USD-M order-book diffs, one row per changed level, plus the REST snapshot each sync starts from (`is_snapshot`). The book can be rebuilt from this table alone.',
    columns: deltaColumns('futures_delta'),
    partitionSpec: HOURLY,
    naturalKey: ['exchange', 'symbol', 'last_update_id', 'is_snapshot', 'side', 'price'],
    sortOrder: ['exchange', 'symbol', 'last_update_id'],
  },
  spot_ob: {
    table: 'spot_ob',
    schemaVersion: 1,
    doc: 'Binance spot order-book snapshots: the top N levels every snapshot interval and full depth every checkpoint interval, one row per level.',
    columns: bookColumns,
    partitionSpec: HOURLY,
    naturalKey: ['exchange', 'symbol', 'snapshot_ts', 'snapshot_kind', 'side', 'level'],
    sortOrder: ['exchange', 'symbol', 'snapshot_ts'],
  },
  futures_ob: {
    table: 'futures_ob',
    schemaVersion: 1,
    doc: 'Binance USD-M order-book snapshots: the top N levels every snapshot interval and full depth every checkpoint interval, one row per level.',
    columns: bookColumns,
    partitionSpec: HOURLY,
    naturalKey: ['exchange', 'symbol', 'snapshot_ts', 'snapshot_kind', 'side', 'level'],
    sortOrder: ['exchange', 'symbol', 'snapshot_ts'],
  },
};

export function tableSchema(table: TableName): TableSchema {
  return TABLE_SCHEMAS[table];
}

export function allTableSchemas(): readonly TableSchema[] {
  return TABLES.map((t) => TABLE_SCHEMAS[t]);
}

/** Iceberg JSON for the schema (REST catalog create-table body, table metadata). */
export function icebergSchemaJson(table: TableName): {
  type: 'struct';
  'schema-id': number;
  fields: { id: number; name: string; required: boolean; type: string; doc: string }[];
} {
  const s = TABLE_SCHEMAS[table];
  return {
    type: 'struct',
    'schema-id': s.schemaVersion - 1,
    fields: s.columns.map((c) => ({ id: c.id, name: c.name, required: c.required, type: c.type, doc: c.doc })),
  };
}

/** Iceberg JSON for the partition spec (spec-id 0). */
export function icebergPartitionSpecJson(table: TableName): {
  'spec-id': number;
  fields: { 'source-id': number; 'field-id': number; name: string; transform: string }[];
} {
  const s = TABLE_SCHEMAS[table];
  return {
    'spec-id': 0,
    fields: s.partitionSpec.map((p) => {
      const source = s.columns.find((c) => c.name === p.sourceColumn);
      if (!source) throw new Error(`partition source column ${p.sourceColumn} missing from ${table}`);
      return { 'source-id': source.id, 'field-id': p.fieldId, name: p.name, transform: p.transform };
    }),
  };
}
