/**
 * Parquet writer candidates on realistic rows: 200k trades and 200k spot book deltas, snappy, statistics on.
 * Each candidate does the whole job the sink needs, from canonical row objects to Parquet bytes (column
 * building and any Arrow/IPC hop included). Figures: rows/s, output MB/s, output bytes, whether the file
 * carries Iceberg field ids. Also the longest single event-loop stall of the chosen writer's async path.
 *
 * Run: npx tsx libs/sink/bench/parquet.bench.ts   (env BENCH_ROWS to change the row count)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TABLE_SCHEMAS } from '@cryptoflow/model';
import type { CanonicalRow, ColumnDef, TableSchema } from '@cryptoflow/model';
import { parquetMetadata } from 'hyparquet';
import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm';
import { ParquetEncoder } from '../src/parquet.js';
import { rowsFor } from '../test/fixtures.js';

const require = createRequire(import.meta.url);

interface ParquetJsLite {
  ParquetSchema: new (fields: Record<string, { type: string; optional?: boolean; compression?: string }>) => unknown;
  ParquetWriter: {
    openFile(schema: unknown, path: string, opts?: Record<string, unknown>): Promise<{ appendRow(row: Record<string, unknown>): Promise<void>; close(): Promise<void>; setRowGroupSize(n: number): void }>;
  };
}

type Writer = (schema: TableSchema, rows: readonly CanonicalRow[]) => Promise<Uint8Array>;

const hyparquet: Writer = async (schema, rows) => new ParquetEncoder(schema).encode(rows);

const PJ_TYPES: Record<ColumnDef['type'], string> = {
  string: 'UTF8', long: 'INT64', int: 'INT32', double: 'DOUBLE', boolean: 'BOOLEAN', timestamptz: 'TIMESTAMP_MICROS',
};
const tmp = mkdtempSync(join(tmpdir(), 'cf-bench-'));
let seq = 0;
const parquetjsLite: Writer = async (schema, rows) => {
  const parquet = require('parquetjs-lite') as ParquetJsLite;
  const fields: Record<string, { type: string; optional?: boolean; compression?: string }> = {};
  for (const c of schema.columns) fields[c.name] = { type: PJ_TYPES[c.type], optional: !c.required, compression: 'SNAPPY' };
  const path = join(tmp, `pj-${seq++}.parquet`);
  const w = await parquet.ParquetWriter.openFile(new parquet.ParquetSchema(fields), path);
  w.setRowGroupSize(32_768);
  for (const r of rows) {
    // parquetjs-lite skips keys it is given as null only when absent: drop nulls
    const o: Record<string, unknown> = {};
    for (const c of schema.columns) {
      const v = (r as unknown as Record<string, unknown>)[c.name];
      if (v !== null) o[c.name] = v;
    }
    await w.appendRow(o);
  }
  await w.close();
  const out = new Uint8Array(readFileSync(path));
  rmSync(path);
  return out;
};

function arrowType(c: ColumnDef): arrow.DataType {
  switch (c.type) {
    case 'string':
      return new arrow.Utf8();
    case 'long':
      return new arrow.Int64();
    case 'int':
      return new arrow.Int32();
    case 'double':
      return new arrow.Float64();
    case 'boolean':
      return new arrow.Bool();
    case 'timestamptz':
      return new arrow.TimestampMicrosecond('UTC');
  }
}

const parquetWasm: Writer = async (schema, rows) => {
  const fields = schema.columns.map(
    (c) => new arrow.Field(c.name, arrowType(c), !c.required, new Map([['PARQUET:field_id', String(c.id)]])),
  );
  const n = rows.length;
  const src = rows as unknown as readonly Record<string, unknown>[];
  const children = schema.columns.map((c): arrow.Data => {
    const type = arrowType(c);
    if (c.type === 'string' || c.type === 'boolean') {
      return arrow.vectorFromArray(src.map((r) => r[c.name]), type).data[0] as arrow.Data;
    }
    // Fixed-width columns straight into typed arrays (Arrow's builders take timestamps in ms).
    const values = c.type === 'double' ? new Float64Array(n) : c.type === 'int' ? new Int32Array(n) : new BigInt64Array(n);
    const bitmap = new Uint8Array((n + 7) >> 3);
    let nulls = 0;
    for (let i = 0; i < n; i++) {
      const v = (src[i] as Record<string, unknown>)[c.name];
      if (v === null) {
        nulls++;
        continue;
      }
      bitmap[i >> 3] = (bitmap[i >> 3] as number) | (1 << (i & 7));
      if (values instanceof BigInt64Array) values[i] = BigInt(v as number);
      else values[i] = v as number;
    }
    return arrow.makeData({ type, length: n, nullCount: nulls, data: values, nullBitmap: nulls > 0 ? bitmap : undefined } as never);
  });
  const struct = new arrow.Struct(fields);
  const batch = new arrow.RecordBatch(new arrow.Schema(fields), arrow.makeData({ type: struct, length: rows.length, nullCount: 0, children }));
  const table = new arrow.Table([batch]);
  const wasmTable = pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream'));
  const props = new pw.WriterPropertiesBuilder()
    .setCompression(pw.Compression.SNAPPY)
    .setMaxRowGroupSize(32_768)
    .build();
  return pw.writeParquet(wasmTable, props);
};

function hasFieldIds(bytes: Uint8Array): string {
  const meta = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  const leaves = meta.schema.slice(1);
  return leaves.every((e) => typeof e.field_id === 'number') ? 'yes' : 'no';
}

async function measure(write: Writer, schema: TableSchema, rows: readonly CanonicalRow[], runs: number): Promise<{ rowsPerSec: number; mbPerSec: number; bytes: number; fieldIds: string }> {
  await write(schema, rows.slice(0, Math.min(rows.length, 20_000))); // warm-up (JIT, WASM init)
  let best = Number.POSITIVE_INFINITY;
  let out: Uint8Array = new Uint8Array();
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    out = await write(schema, rows);
    best = Math.min(best, performance.now() - t0);
  }
  const s = best / 1000;
  return { rowsPerSec: Math.round(rows.length / s), mbPerSec: Math.round((out.byteLength / 1e6 / s) * 10) / 10, bytes: out.byteLength, fieldIds: hasFieldIds(out) };
}

/** Longest synchronous slice of ParquetEncoder.encodeAsync (what a socket waits, worst case) for one file. */
async function maxStallMs(schema: TableSchema, rows: readonly CanonicalRow[]): Promise<number> {
  const enc = new ParquetEncoder(schema);
  let last = performance.now();
  let worst = 0;
  await enc.encodeAsync(rows, async () => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    await new Promise((r) => setImmediate(r));
    last = performance.now();
  });
  return Math.round(Math.max(worst, performance.now() - last) * 10) / 10;
}

export async function run(): Promise<Record<string, number | string>> {
  const n = Number(process.env['BENCH_ROWS'] ?? 200_000);
  const runs = Number(process.env['BENCH_RUNS'] ?? 3);
  const sets: [string, TableSchema, CanonicalRow[]][] = [
    ['trades', TABLE_SCHEMAS.trades, rowsFor('trades', n, { stepMicros: 15 })],
    ['spot_delta', TABLE_SCHEMAS.spot_delta, rowsFor('spot_delta', n, { stepMicros: 15 })],
  ];
  const writers: [string, Writer, number][] = [
    ['hyparquet-writer', hyparquet, runs],
    ['parquet-wasm+arrow', parquetWasm, runs],
    ['parquetjs-lite', parquetjsLite, 1],
  ];
  const figures: Record<string, number | string> = {};
  for (const [label, schema, rows] of sets) {
    for (const [name, write, r] of writers) {
      const m = await measure(write, schema, rows, r);
      figures[`${name} ${label} rows/s`] = m.rowsPerSec;
      figures[`${name} ${label} MB/s`] = m.mbPerSec;
      figures[`${name} ${label} bytes`] = m.bytes;
      figures[`${name} ${label} field ids`] = m.fieldIds;
    }
    figures[`hyparquet-writer ${label} max event-loop stall ms (row group 32768)`] = await maxStallMs(schema, rows);
  }
  rmSync(tmp, { recursive: true, force: true });
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await run();
  for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(72)} ${v}`);
}
