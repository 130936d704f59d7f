/** Taker side of a trade, or the side of a liquidation order. */
export const TRADE_SIDES = ['buy', 'sell'] as const;
export type TradeSide = (typeof TRADE_SIDES)[number];

export const BOOK_SIDES = ['bid', 'ask'] as const;
export type BookSide = (typeof BOOK_SIDES)[number];

/** `top`: the N best levels taken on the snapshot interval; `full`: every kept level, on the checkpoint interval. */
export const SNAPSHOT_KINDS = ['top', 'full'] as const;
export type SnapshotKind = (typeof SNAPSHOT_KINDS)[number];

/** The streams a collector app can run; each writes one table. */
export const STREAMS = ['ticks', 'spot-ob', 'spot-delta', 'futures-ob', 'futures-delta', 'liquidations', 'funding'] as const;
export type Stream = (typeof STREAMS)[number];

export const TABLES = ['trades', 'spot_ob', 'spot_delta', 'futures_ob', 'futures_delta', 'liquidations', 'funding'] as const;
export type TableName = (typeof TABLES)[number];

export const STREAM_TABLE: Readonly<Record<Stream, TableName>> = {
  ticks: 'trades',
  'spot-ob': 'spot_ob',
  'spot-delta': 'spot_delta',
  'futures-ob': 'futures_ob',
  'futures-delta': 'futures_delta',
  liquidations: 'liquidations',
  funding: 'funding',
};

export function isStream(value: string): value is Stream {
  return (STREAMS as readonly string[]).includes(value);
}

export function isTableName(value: string): value is TableName {
  return (TABLES as readonly string[]).includes(value);
}
