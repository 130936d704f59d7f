import type { TableName } from './enums.js';
import { TABLES } from './enums.js';
import type { Venue } from './venues.js';

/** Iceberg primitive types used by canonical tables (Iceberg spec, "Primitive Types"). */
export type ColumnType = 'string' | 'int' | 'long' | 'double' | 'boolean' | 'timestamptz';

export interface ColumnDef {
  /** Iceberg field id: never reused, never renumbered. Parquet files carry it as `field_id`. */
  readonly id: number;
  readonly name: string;
  readonly type: ColumnType;
  readonly required: boolean;
  /** What the value means, venue-neutral (it is the column doc in Iceberg). Where it comes from goes in `sources`. */
  readonly doc: string;
  /** Per venue: the field (or rule) the value is taken from. Rendered in docs/data-contracts. */
  readonly sources?: Readonly<Partial<Record<Venue, string>>>;
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
  /** What a row is, venue-neutral. */
  readonly doc: string;
  /** Per venue: which stream feeds the table and what a consumer must know about it. */
  readonly venueNotes?: Readonly<Partial<Record<Venue, string>>>;
  readonly columns: readonly ColumnDef[];
  readonly partitionSpec: readonly PartitionFieldDef[];
  /** Columns that identify one event: two rows with equal keys are the same event (dedupe, golden diffs). */
  readonly naturalKey: readonly string[];
  /** Rows of one (exchange, symbol) in a file are written in this order. */
  readonly sortOrder: readonly string[];
}

const COMMON: readonly ColumnDef[] = [
  {
    id: 1,
    name: 'exchange',
    type: 'string',
    required: true,
    doc: "Venue market id: the bare venue name is the venue's spot market, a suffix names a derivatives market. Symbols are unique within a market. Every id: docs/data-contracts/README.md.",
  },
  { id: 2, name: 'symbol', type: 'string', required: true, doc: 'Venue-native instrument symbol, upper case, as the venue lists it.', sources: { binance: '`s` (BTCUSDT)' } },
  { id: 3, name: 'exchange_ts', type: 'timestamptz', required: true, doc: 'Event time stamped by the venue, microseconds UTC.', sources: { binance: '`E` (event time)' } },
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
  {
    id: 8,
    name: 'first_update_id',
    type: 'long',
    required: true,
    doc: "First book update id the event covers; on snapshot rows the snapshot's update id.",
    sources: { binance: '`U`; snapshot rows: `lastUpdateId`' },
  },
  {
    id: 9,
    name: 'last_update_id',
    type: 'long',
    required: true,
    doc: "Last book update id the event covers; on snapshot rows the snapshot's update id. The book after this row's event reflects this id.",
    sources: { binance: '`u`; snapshot rows: `lastUpdateId`' },
  },
  {
    id: 10,
    name: 'prev_update_id',
    type: 'long',
    required: false,
    doc: 'Last update id of the previous event, where the venue chains events this way (then `prev_update_id` equals the previous row event\'s `last_update_id`); null where it does not, and on snapshot rows.',
    sources: {
      binance:
        table === 'futures_delta'
          ? '`pu` (USD-M)'
          : 'not sent on spot (always null; continuity is `first_update_id` = previous `last_update_id` + 1)',
    },
  },
  {
    id: 11,
    name: 'is_snapshot',
    type: 'boolean',
    required: true,
    doc: 'True for rows of the depth snapshot a sync starts from. A consumer clears its book when a snapshot begins (a new `last_update_id` with `is_snapshot`) and applies every row in order.',
    sources: { binance: 'REST depth snapshot (`/api/v3/depth` spot, `/fapi/v1/depth` USD-M)' },
  },
];

const bookColumns: readonly ColumnDef[] = [
  ...COMMON,
  { id: 5, name: 'snapshot_ts', type: 'timestamptz', required: true, doc: 'Time the snapshot was taken, on the snapshot interval grid of the receive clock, microseconds UTC.' },
  { id: 6, name: 'update_id', type: 'long', required: true, doc: 'Last update id applied to the book when the snapshot was taken.', sources: { binance: '`u` of the last applied diff, or the snapshot `lastUpdateId`' } },
  { id: 7, name: 'snapshot_kind', type: 'string', required: true, doc: '`top` (the N best levels, every snapshot interval) or `full` (every kept level, every checkpoint interval).' },
  { id: 8, name: 'side', type: 'string', required: true, doc: '`bid` or `ask`.' },
  { id: 9, name: 'level', type: 'int', required: true, doc: '0 is the best level of the side, then outward.' },
  { id: 10, name: 'price', type: 'double', required: true, doc: 'Price level.' },
  { id: 11, name: 'qty', type: 'double', required: true, doc: 'Total quantity at the level.' },
];

const BOOK_DIFFS = 'diff stream `<symbol>@depth@100ms` and a REST depth snapshot per sync';

export const TABLE_SCHEMAS: Readonly<Record<TableName, TableSchema>> = {
  trades: {
    table: 'trades',
    // 2: trade_id optional, trade_id_text added (docs/adrs/0003-trade-ids.md).
    schemaVersion: 2,
    doc: 'Every trade of every venue market, one row per trade as the venue publishes it; where the venue aggregates trades, first/last trade ids give the individual trades a row covers.',
    venueNotes: { binance: 'Aggregate-trade stream `<symbol>@aggTrade` (spot and USD-M): one row per aggregate trade.' },
    columns: [
      ...COMMON,
      { id: 5, name: 'trade_ts', type: 'timestamptz', required: true, doc: 'Time the trade executed, microseconds UTC.', sources: { binance: '`T`' } },
      {
        id: 6,
        name: 'trade_id',
        type: 'long',
        required: false,
        doc: 'Venue trade id, when the venue market publishes integer ids (below 2^53); null when `trade_id_text` holds the id. Unique per (exchange, symbol).',
        sources: { binance: '`a` (aggregate trade id)' },
      },
      { id: 7, name: 'first_trade_id', type: 'long', required: false, doc: 'First individual trade id a row covers where the venue aggregates trades; null otherwise.', sources: { binance: '`f`' } },
      { id: 8, name: 'last_trade_id', type: 'long', required: false, doc: 'Last individual trade id a row covers where the venue aggregates trades; null otherwise.', sources: { binance: '`l`' } },
      { id: 9, name: 'price', type: 'double', required: true, doc: 'Trade price.', sources: { binance: '`p`' } },
      { id: 10, name: 'qty', type: 'double', required: true, doc: 'Trade quantity in base asset.', sources: { binance: '`q`' } },
      { id: 11, name: 'side', type: 'string', required: true, doc: 'Taker side: `buy` or `sell`.', sources: { binance: '`m` (buyer is maker): true → `sell`, false → `buy`' } },
      {
        id: 12,
        name: 'trade_id_text',
        type: 'string',
        required: false,
        doc: 'Venue trade id as the venue writes it, when the venue market publishes ids that are not integers below 2^53 (UUIDs, larger numbers); null when `trade_id` holds the id. Exactly one of the two is set, the same one for every row of a venue market. Unique per (exchange, symbol).',
        sources: { binance: 'never (Binance ids are integers: `trade_id`)' },
      },
    ],
    partitionSpec: HOURLY,
    naturalKey: ['exchange', 'symbol', 'trade_id', 'trade_id_text'],
    sortOrder: ['exchange', 'symbol', 'trade_ts'],
  },
  liquidations: {
    table: 'liquidations',
    schemaVersion: 1,
    doc: 'Liquidation orders of derivatives markets, one row per liquidation order update the venue publishes.',
    venueNotes: {
      binance:
        'Stream `<symbol>@forceOrder` (USD-M). A sample, not every liquidation: Binance pushes at most one liquidation per symbol per 1000 ms (the latest in that window).',
    },
    columns: [
      ...COMMON,
      { id: 5, name: 'trade_ts', type: 'timestamptz', required: true, doc: 'Time of the liquidation order update, microseconds UTC.', sources: { binance: '`o.T`' } },
      { id: 6, name: 'side', type: 'string', required: true, doc: 'Side of the liquidation order: `buy` (a short position was liquidated) or `sell` (a long one).', sources: { binance: '`o.S`' } },
      { id: 7, name: 'order_type', type: 'string', required: true, doc: 'Order type as the venue names it (e.g. LIMIT).', sources: { binance: '`o.o`' } },
      { id: 8, name: 'time_in_force', type: 'string', required: true, doc: 'Time in force as the venue names it (e.g. IOC).', sources: { binance: '`o.f`' } },
      { id: 9, name: 'orig_qty', type: 'double', required: true, doc: 'Original order quantity.', sources: { binance: '`o.q`' } },
      { id: 10, name: 'price', type: 'double', required: true, doc: 'Order price.', sources: { binance: '`o.p`' } },
      { id: 11, name: 'avg_price', type: 'double', required: true, doc: 'Average fill price.', sources: { binance: '`o.ap`' } },
      { id: 12, name: 'order_status', type: 'string', required: true, doc: 'Order status as the venue names it (e.g. FILLED).', sources: { binance: '`o.X`' } },
      { id: 13, name: 'last_filled_qty', type: 'double', required: true, doc: 'Quantity filled by the last trade.', sources: { binance: '`o.l`' } },
      { id: 14, name: 'filled_qty', type: 'double', required: true, doc: 'Accumulated filled quantity.', sources: { binance: '`o.z`' } },
    ],
    partitionSpec: HOURLY,
    naturalKey: ['exchange', 'symbol', 'trade_ts', 'side', 'price', 'orig_qty', 'filled_qty'],
    sortOrder: ['exchange', 'symbol', 'trade_ts'],
  },
  funding: {
    table: 'funding',
    schemaVersion: 1,
    doc: 'Mark price, index price and funding of derivatives markets, one row per symbol per venue update.',
    venueNotes: { binance: 'Stream `<symbol>@markPrice@1s` (USD-M): one row per symbol per second.' },
    columns: [
      ...COMMON,
      { id: 5, name: 'mark_price', type: 'double', required: true, doc: 'Mark price.', sources: { binance: '`p`' } },
      { id: 6, name: 'index_price', type: 'double', required: false, doc: 'Index price.', sources: { binance: '`i`' } },
      { id: 7, name: 'est_settle_price', type: 'double', required: false, doc: 'Estimated settlement price, meaningful in the last hour before settlement.', sources: { binance: '`P`' } },
      { id: 8, name: 'funding_rate', type: 'double', required: false, doc: 'Current funding rate; null for delivery contracts, which have none.', sources: { binance: '`r`' } },
      { id: 9, name: 'next_funding_ts', type: 'timestamptz', required: false, doc: 'Next funding time, microseconds UTC; null when there is none.', sources: { binance: '`T`; 0 → null' } },
    ],
    partitionSpec: HOURLY,
    naturalKey: ['exchange', 'symbol', 'exchange_ts'],
    sortOrder: ['exchange', 'symbol', 'exchange_ts'],
  },
  spot_delta: {
    table: 'spot_delta',
    schemaVersion: 1,
    doc: 'Order-book diffs of spot markets, one row per changed level, plus the snapshot each sync starts from (`is_snapshot`). The book can be rebuilt from this table alone.',
    venueNotes: { binance: `Spot ${BOOK_DIFFS}.` },
    columns: deltaColumns('spot_delta'),
    partitionSpec: HOURLY,
    naturalKey: ['exchange', 'symbol', 'last_update_id', 'is_snapshot', 'side', 'price'],
    sortOrder: ['exchange', 'symbol', 'last_update_id'],
  },
  futures_delta: {
    table: 'futures_delta',
    schemaVersion: 1,
    doc: 'Order-book diffs of derivatives markets, one row per changed level, plus the snapshot each sync starts from (`is_snapshot`). The book can be rebuilt from this table alone.',
    venueNotes: { binance: `USD-M ${BOOK_DIFFS}.` },
    columns: deltaColumns('futures_delta'),
    partitionSpec: HOURLY,
    naturalKey: ['exchange', 'symbol', 'last_update_id', 'is_snapshot', 'side', 'price'],
    sortOrder: ['exchange', 'symbol', 'last_update_id'],
  },
  spot_ob: {
    table: 'spot_ob',
    schemaVersion: 1,
    doc: 'Order-book snapshots of spot markets: the top N levels every snapshot interval and full depth every checkpoint interval, one row per level.',
    venueNotes: { binance: `Books rebuilt from the spot ${BOOK_DIFFS}.` },
    columns: bookColumns,
    partitionSpec: HOURLY,
    naturalKey: ['exchange', 'symbol', 'snapshot_ts', 'snapshot_kind', 'side', 'level'],
    sortOrder: ['exchange', 'symbol', 'snapshot_ts'],
  },
  futures_ob: {
    table: 'futures_ob',
    schemaVersion: 1,
    doc: 'Order-book snapshots of derivatives markets: the top N levels every snapshot interval and full depth every checkpoint interval, one row per level.',
    venueNotes: { binance: `Books rebuilt from the USD-M ${BOOK_DIFFS}.` },
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
