/**
 * A tiny Parquet writer for tests: columns from libs/model with Iceberg field ids, via hyparquet-writer.
 * (The production encoder lives elsewhere in libs/sink; this exists so Iceberg tests do not depend on it.)
 */
import { TABLE_SCHEMAS } from '@cryptoflow/model';
import type { ColumnDef, TableName } from '@cryptoflow/model';
import { ByteWriter, parquetWrite } from 'hyparquet-writer';
import { encodeBound, hourTransform } from '../../src/iceberg/index.js';
import type { DataFileInput } from '../../src/iceberg/index.js';

type Row = Record<string, unknown>;

const PARQUET_TYPE = {
  string: { type: 'BYTE_ARRAY', converted_type: 'UTF8' },
  int: { type: 'INT32' },
  long: { type: 'INT64' },
  double: { type: 'DOUBLE' },
  boolean: { type: 'BOOLEAN' },
  timestamptz: { type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } },
} as const;

/** `columns`: the table's columns by default; fewer to write a file as a writer of an older schema did. */
export function writeFixtureParquet(
  table: TableName,
  rows: readonly Row[],
  columns: readonly ColumnDef[] = TABLE_SCHEMAS[table].columns,
): { bytes: Uint8Array; stats: Omit<DataFileInput, 'filePath'> } {
  const schema = { columns };
  const columnData = schema.columns.map((c) => ({
    name: c.name,
    data: rows.map((r) => {
      const v = r[c.name];
      if (v === null || v === undefined) return null;
      return c.type === 'long' || c.type === 'timestamptz' ? BigInt(v as number) : v;
    }),
  }));
  const writer = new ByteWriter();
  parquetWrite({
    writer,
    columnData,
    schema: [
      { name: 'root', num_children: schema.columns.length },
      ...schema.columns.map((c) => ({ name: c.name, ...PARQUET_TYPE[c.type], repetition_type: c.required ? 'REQUIRED' : 'OPTIONAL', field_id: c.id })),
    ] as never,
  });
  const bytes = new Uint8Array(writer.getBuffer());
  const hours = new Set(rows.map((r) => hourTransform(r['exchange_ts'] as number)));
  if (hours.size !== 1) throw new Error('fixture rows must share one exchange_ts hour');
  const lower: Record<number, Uint8Array> = {};
  const upper: Record<number, Uint8Array> = {};
  const nulls: Record<number, number> = {};
  const values: Record<number, number> = {};
  for (const c of schema.columns) {
    const present = rows.map((r) => r[c.name]).filter((v) => v !== null && v !== undefined) as (number | string | boolean)[];
    values[c.id] = rows.length;
    nulls[c.id] = rows.length - present.length;
    if (present.length === 0 || c.type === 'boolean') continue;
    const sorted = [...present].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    lower[c.id] = encodeBound(c.type, sorted[0]!);
    upper[c.id] = encodeBound(c.type, sorted[sorted.length - 1]!);
  }
  return {
    bytes,
    stats: {
      fileSizeInBytes: bytes.byteLength,
      recordCount: rows.length,
      partition: { exchange_ts_hour: [...hours][0]! },
      valueCounts: values,
      nullValueCounts: nulls,
      lowerBounds: lower,
      upperBounds: upper,
    },
  };
}

const HOUR = 3_600_000_000;
export const BASE_TS = 1_717_200_000_000_000; // 2024-06-01T00:00:00Z in µs

/** Trade rows with distinct trade ids, all in the hour `hourOffset` after BASE_TS. */
export function tradeRows(firstId: number, n: number, hourOffset = 0): Row[] {
  return Array.from({ length: n }, (_, i) => {
    const ts = BASE_TS + hourOffset * HOUR + (firstId + i) * 1000;
    return {
      exchange: i % 2 === 0 ? 'binance' : 'binance-usdm',
      symbol: 'BTCUSDT',
      exchange_ts: ts,
      ingest_ts: ts + 250,
      trade_ts: ts - 10,
      trade_id: 9_000_000_000 + firstId + i,
      first_trade_id: i % 3 === 0 ? null : 100 + firstId + i,
      last_trade_id: i % 3 === 0 ? null : 101 + firstId + i,
      price: 67_000.5 + i,
      qty: 0.001 * (i + 1),
      side: i % 2 === 0 ? 'buy' : 'sell',
    };
  });
}
