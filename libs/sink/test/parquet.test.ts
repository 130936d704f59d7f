import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { TABLES, TABLE_SCHEMAS, icebergSchemaJson } from '@cryptoflow/model';
import type { CanonicalRow, TableSchema } from '@cryptoflow/model';
import { ParquetEncoder, PARQUET_META_ICEBERG_SCHEMA, PARQUET_META_SCHEMA_VERSION } from '../src/index.js';
import { rowsFor } from './fixtures.js';

let dir: string;
let con: DuckDBConnection;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cf-parquet-'));
  con = await (await DuckDBInstance.create(':memory:')).connect();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A row as a plain object with numbers (what the encoder was given), for comparing read-backs. */
function normalizeBack(schema: TableSchema, obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { table: schema.table };
  for (const c of schema.columns) {
    const v = obj[c.name];
    out[c.name] = typeof v === 'bigint' ? Number(v) : v === undefined ? null : v;
  }
  return out;
}

async function readWithHyparquet(bytes: Uint8Array): Promise<Record<string, unknown>[]> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return (await parquetReadObjects({
    file,
    parsers: { timestampFromMicroseconds: (v: bigint) => Number(v) } as never,
  })) as Record<string, unknown>[];
}

describe('ParquetEncoder', () => {
  for (const table of TABLES) {
    const schema = TABLE_SCHEMAS[table];
    // 2 500 rows over a 1 000-row group size: three row groups, last one short
    const rows = rowsFor(table, 2500, { seed: table.length });
    const encoder = new ParquetEncoder(schema, { rowGroupRows: 1000 });
    const bytes = encoder.encode(rows);
    const path = join(tmpdir(), `cf-${table}-${process.pid}.parquet`);

    it(`${table}: hyparquet reads back exactly the rows written (nulls included)`, async () => {
      const back = await readWithHyparquet(bytes);
      expect(back.length).toBe(rows.length);
      expect(back.map((r) => normalizeBack(schema, r))).toEqual(rows);
      const optional = schema.columns.filter((c) => !c.required).map((c) => c.name);
      for (const col of optional) expect(rows.some((r) => (r as unknown as Record<string, unknown>)[col] === null)).toBe(true);
    });

    it(`${table}: DuckDB sees Iceberg field ids, types, repetition and the same rows`, async () => {
      writeFileSync(path, bytes);
      const s = (await con.runAndReadAll(`SELECT name, type, repetition_type, field_id, converted_type, logical_type FROM parquet_schema('${path}') WHERE name <> 'table'`)).getRowObjectsJson();
      expect(s.map((r) => [r['name'], Number(r['field_id'])])).toEqual(schema.columns.map((c) => [c.name, c.id]));
      for (const c of schema.columns) {
        const el = s.find((r) => r['name'] === c.name) as Record<string, unknown>;
        expect(el['repetition_type']).toBe(c.required ? 'REQUIRED' : 'OPTIONAL');
        const want = { string: 'BYTE_ARRAY', long: 'INT64', int: 'INT32', double: 'DOUBLE', boolean: 'BOOLEAN', timestamptz: 'INT64' }[c.type];
        expect(el['type']).toBe(want);
        if (c.type === 'timestamptz') expect(String(el['logical_type'])).toMatch(/TimestampType\(isAdjustedToUTC=1.*MICROS=MicroSeconds\(\)/);
        if (c.type === 'string') expect(String(el['logical_type'])).toBe('StringType()');
      }
      // read_parquet: timestamps as epoch µs, longs as numbers → equal to the input
      const cols = schema.columns.map((c) => (c.type === 'timestamptz' ? `epoch_us("${c.name}")::BIGINT AS "${c.name}"` : `"${c.name}"`)).join(', ');
      const back = (await con.runAndReadAll(`SELECT ${cols} FROM read_parquet('${path}')`)).getRowObjects();
      expect(back.map((r) => normalizeBack(schema, r as Record<string, unknown>))).toEqual(rows);
      rmSync(path);
    });

    it(`${table}: footer carries the Iceberg schema and schema version; stats and snappy on every column chunk`, () => {
      const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      const meta = parquetMetadata(ab);
      const kv = new Map((meta.key_value_metadata ?? []).map((e) => [e.key, e.value]));
      expect(JSON.parse(kv.get(PARQUET_META_ICEBERG_SCHEMA) ?? '{}')).toEqual(icebergSchemaJson(table));
      expect(kv.get(PARQUET_META_SCHEMA_VERSION)).toBe(String(schema.schemaVersion));
      expect(meta.row_groups.map((g) => Number(g.num_rows))).toEqual([1000, 1000, 500]);
      for (const g of meta.row_groups) {
        for (const c of g.columns) {
          expect(c.meta_data?.codec).toBe('SNAPPY');
          expect(c.meta_data?.statistics?.null_count).toBeDefined();
        }
      }
    });
  }

  it('dictionary-encodes low-cardinality strings and leaves unique values plain', async () => {
    const rows = rowsFor('trades', 5000);
    const path = join(dir, 'dict.parquet');
    writeFileSync(path, new ParquetEncoder(TABLE_SCHEMAS.trades).encode(rows));
    const m = (await con.runAndReadAll(`SELECT path_in_schema AS p, encodings AS e FROM parquet_metadata('${path}')`)).getRowObjectsJson();
    const enc = new Map(m.map((r) => [String(r['p']), String(r['e'])]));
    for (const c of ['exchange', 'symbol', 'side']) expect(enc.get(c)).toContain('RLE_DICTIONARY');
    for (const c of ['trade_id', 'exchange_ts']) expect(enc.get(c)).not.toContain('RLE_DICTIONARY');
  });

  it('same rows → identical bytes (sync and async paths alike)', async () => {
    const rows = rowsFor('spot_delta', 3000);
    const a = new ParquetEncoder(TABLE_SCHEMAS.spot_delta, { rowGroupRows: 1000 });
    const b = new ParquetEncoder(TABLE_SCHEMAS.spot_delta, { rowGroupRows: 1000 });
    const x = a.encode(rows);
    const y = await b.encodeAsync(rows);
    expect(Buffer.compare(Buffer.from(x), Buffer.from(y))).toBe(0);
    const z = a.encode(rows.slice(0, 2999));
    expect(Buffer.compare(Buffer.from(x), Buffer.from(z))).not.toBe(0);
  });

  it('yields to the event loop between row groups in encodeAsync', async () => {
    let yields = 0;
    const enc = new ParquetEncoder(TABLE_SCHEMAS.trades, { rowGroupRows: 100 });
    await enc.encodeAsync(rowsFor('trades', 450), async () => {
      yields++;
    });
    expect(yields).toBe(4);
  });

  it('validate() rejects rows that do not fit the table, naming the column', () => {
    const enc = new ParquetEncoder(TABLE_SCHEMAS.trades);
    const good = rowsFor('trades', 1)[0] as CanonicalRow;
    expect(() => enc.validate(good)).not.toThrow();
    expect(() => enc.validate({ ...good, price: null } as never)).toThrow(/trades\.price: required column is null/);
    expect(() => enc.validate({ ...good, trade_id: 1.5 } as never)).toThrow(/trades\.trade_id: expected safe integer/);
    expect(() => enc.validate({ ...good, side: 1 } as never)).toThrow(/trades\.side: expected string/);
    expect(() => enc.validate({ ...good, first_trade_id: null } as never)).not.toThrow();
    expect(() => enc.validate(rowsFor('funding', 1)[0] as CanonicalRow)).toThrow(/given to the trades encoder/);
    const ob = new ParquetEncoder(TABLE_SCHEMAS.spot_ob);
    expect(() => ob.validate({ ...(rowsFor('spot_ob', 1)[0] as CanonicalRow), level: 2 ** 31 } as never)).toThrow(/32-bit/);
  });

  it('refuses to encode an empty file', () => {
    expect(() => new ParquetEncoder(TABLE_SCHEMAS.trades).encode([])).toThrow(/empty/);
  });
});
