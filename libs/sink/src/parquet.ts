import { CfError } from '@cryptoflow/core';
import { icebergSchemaJson } from '@cryptoflow/model';
import type { CanonicalRow, ColumnDef, TableSchema } from '@cryptoflow/model';
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import type { ColumnSource } from 'hyparquet-writer';
import type { SchemaElement } from 'hyparquet';

/**
 * Canonical rows → Parquet bytes that Iceberg readers (Athena/Trino, Spark, DuckDB) accept as data files:
 * every column carries its Iceberg `field_id`, types follow the Iceberg spec's Parquet mapping, and the
 * Iceberg schema JSON travels in the footer (`iceberg.schema`), as Iceberg's own writers do.
 *
 * Writer choice (hyparquet-writer) and figures: docs/adrs/0001-parquet-writer.md.
 *
 * Output is a pure function of (schema, rows, options): no write time, no random ids, so a replay of the
 * same rows yields the same bytes and the same object key (see keys.ts).
 */

/** Footer key-value metadata keys. */
export const PARQUET_META_ICEBERG_SCHEMA = 'iceberg.schema';
export const PARQUET_META_SCHEMA_VERSION = 'cryptoflow.schema_version';
export const PARQUET_META_TABLE = 'cryptoflow.table';

export interface ParquetEncoderOptions {
  /**
   * Rows per row group, also the unit of work between event-loop yields in `encodeAsync`, so it bounds the
   * longest stall a flush imposes on sockets. 32768 trades ≈ 1 MB encoded; the bench prints the stall.
   * (S3 Tables compaction rewrites files into 512 MB ones, so small groups do not persist.)
   */
  readonly rowGroupRows?: number;
  /** Written as the footer's `created_by`. Keep it constant: it is part of the bytes. */
  readonly createdBy?: string;
}

const enum Kind {
  String,
  Long,
  Int,
  Double,
  Boolean,
  Timestamp,
}

interface ColumnPlan {
  readonly def: ColumnDef;
  readonly name: string;
  readonly kind: Kind;
  readonly required: boolean;
  readonly element: SchemaElement;
}

function kindOf(type: ColumnDef['type']): Kind {
  switch (type) {
    case 'string':
      return Kind.String;
    case 'long':
      return Kind.Long;
    case 'int':
      return Kind.Int;
    case 'double':
      return Kind.Double;
    case 'boolean':
      return Kind.Boolean;
    case 'timestamptz':
      return Kind.Timestamp;
  }
}

/** Iceberg spec, "Parquet" type mapping. */
function schemaElement(c: ColumnDef): SchemaElement {
  const base = { name: c.name, field_id: c.id, repetition_type: c.required ? 'REQUIRED' : 'OPTIONAL' } as const;
  switch (c.type) {
    case 'string':
      return { ...base, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } };
    case 'long':
      return { ...base, type: 'INT64' };
    case 'int':
      return { ...base, type: 'INT32' };
    case 'double':
      return { ...base, type: 'DOUBLE' };
    case 'boolean':
      return { ...base, type: 'BOOLEAN' };
    case 'timestamptz':
      return {
        ...base,
        type: 'INT64',
        converted_type: 'TIMESTAMP_MICROS',
        logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
      };
  }
}

export class ParquetEncoder {
  readonly schema: TableSchema;
  private readonly plans: readonly ColumnPlan[];
  private readonly parquetSchema: SchemaElement[];
  private readonly kvMetadata: { key: string; value: string }[];
  private readonly rowGroupRows: number;
  private readonly createdBy: string;

  constructor(schema: TableSchema, options: ParquetEncoderOptions = {}) {
    this.schema = schema;
    this.plans = schema.columns.map((def) => ({
      def,
      name: def.name,
      kind: kindOf(def.type),
      required: def.required,
      element: schemaElement(def),
    }));
    this.parquetSchema = [{ name: 'table', num_children: this.plans.length }, ...this.plans.map((p) => p.element)];
    this.kvMetadata = [
      { key: PARQUET_META_ICEBERG_SCHEMA, value: JSON.stringify(icebergSchemaJson(schema.table)) },
      { key: PARQUET_META_SCHEMA_VERSION, value: String(schema.schemaVersion) },
      { key: PARQUET_META_TABLE, value: schema.table },
    ];
    this.rowGroupRows = options.rowGroupRows ?? 32_768;
    if (!Number.isInteger(this.rowGroupRows) || this.rowGroupRows < 1) {
      throw new CfError('CF_CONFIG_INVALID', `sink.parquet.row_group_rows: expected positive integer, got ${this.rowGroupRows}`);
    }
    this.createdBy = options.createdBy ?? 'cryptoflow (hyparquet-writer 0.17)';
  }

  /** The Parquet schema written (root + one element per column, with field ids). */
  parquetSchemaElements(): readonly SchemaElement[] {
    return this.parquetSchema;
  }

  /**
   * Throws CF_SCHEMA when a row does not fit the table: wrong table tag, a required column null/absent,
   * or a value of the wrong JS type. Cheap enough for the write path (one typeof per column).
   */
  validate(row: CanonicalRow): void {
    const r = row as unknown as Record<string, unknown>;
    if (row.table !== this.schema.table) {
      throw new CfError('CF_SCHEMA', `row for ${String(row.table)} given to the ${this.schema.table} encoder`, {
        context: { table: this.schema.table, rowTable: row.table },
      });
    }
    for (let i = 0; i < this.plans.length; i++) {
      const p = this.plans[i] as ColumnPlan;
      const v = r[p.name];
      if (v === null || v === undefined) {
        if (p.required) throw this.badValue(row, p, v, 'required column is null');
        continue;
      }
      switch (p.kind) {
        case Kind.String:
          if (typeof v !== 'string') throw this.badValue(row, p, v, 'expected string');
          break;
        case Kind.Boolean:
          if (typeof v !== 'boolean') throw this.badValue(row, p, v, 'expected boolean');
          break;
        case Kind.Double:
          if (typeof v !== 'number') throw this.badValue(row, p, v, 'expected number');
          break;
        case Kind.Int:
          if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
            throw this.badValue(row, p, v, 'expected 32-bit integer');
          }
          break;
        case Kind.Long:
        case Kind.Timestamp:
          if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw this.badValue(row, p, v, 'expected safe integer');
          break;
      }
    }
  }

  private badValue(row: CanonicalRow, p: ColumnPlan, v: unknown, why: string): CfError {
    return new CfError('CF_SCHEMA', `${this.schema.table}.${p.name}: ${why}, got ${String(v)}`, {
      context: { table: this.schema.table, column: p.name, exchange: row.exchange, symbol: row.symbol, value: String(v) },
    });
  }

  /** Rows → Parquet bytes in one synchronous call (tests, benchmarks, small files). */
  encode(rows: readonly CanonicalRow[]): Uint8Array {
    const { writer, pw } = this.begin(rows);
    for (let start = 0; start < rows.length; start += this.rowGroupRows) {
      this.writeGroup(pw, rows, start, Math.min(rows.length, start + this.rowGroupRows));
    }
    return this.end(writer, pw);
  }

  /**
   * Same bytes as `encode`, but awaits `yieldFn` between row groups so a large file does not hold the
   * event loop for its whole encode (sockets keep being read; one group is the longest stall).
   */
  async encodeAsync(rows: readonly CanonicalRow[], yieldFn: () => Promise<void> = yieldToEventLoop): Promise<Uint8Array> {
    const { writer, pw } = this.begin(rows);
    for (let start = 0; start < rows.length; start += this.rowGroupRows) {
      if (start > 0) await yieldFn();
      this.writeGroup(pw, rows, start, Math.min(rows.length, start + this.rowGroupRows));
    }
    return this.end(writer, pw);
  }

  private begin(rows: readonly CanonicalRow[]): { writer: ByteWriter; pw: ParquetWriter } {
    if (rows.length === 0) throw new CfError('CF_INTERNAL', `refusing to encode an empty ${this.schema.table} file`);
    // Start near the final size to avoid most doublings (~20 bytes/row is typical after compression).
    const writer = new ByteWriter(Math.min(256 * 1024 * 1024, Math.max(64 * 1024, rows.length * 24)));
    const pw = new ParquetWriter({
      writer,
      schema: this.parquetSchema,
      codec: 'SNAPPY',
      statistics: true,
      kvMetadata: this.kvMetadata,
      createdBy: this.createdBy,
    });
    return { writer, pw };
  }

  private end(writer: ByteWriter, pw: ParquetWriter): Uint8Array {
    void pw.finish();
    // Copy out of the (over-allocated) growth buffer so the result owns exactly its bytes.
    return new Uint8Array(writer.getBuffer());
  }

  private writeGroup(pw: ParquetWriter, rows: readonly CanonicalRow[], start: number, end: number): void {
    const n = end - start;
    const columnData: ColumnSource[] = new Array(this.plans.length);
    for (let c = 0; c < this.plans.length; c++) {
      const p = this.plans[c] as ColumnPlan;
      columnData[c] = { name: p.name, data: this.column(p, rows, start, n), nullable: !p.required };
    }
    // rowGroupSize = n: one row group per call, so groups are exactly rowGroupRows (last one shorter).
    void pw.write({ columnData, rowGroupSize: n });
  }

  private column(p: ColumnPlan, rows: readonly CanonicalRow[], start: number, n: number): ColumnSource['data'] {
    const name = p.name;
    const src = rows as unknown as readonly Record<string, unknown>[];
    if (p.required) {
      switch (p.kind) {
        case Kind.Double: {
          const out = new Float64Array(n);
          for (let i = 0; i < n; i++) out[i] = (src[start + i] as Record<string, number>)[name] as number;
          return out;
        }
        case Kind.Int: {
          const out = new Int32Array(n);
          for (let i = 0; i < n; i++) out[i] = (src[start + i] as Record<string, number>)[name] as number;
          return out;
        }
        case Kind.Timestamp: {
          // Numbers, not bigints: hyparquet's TIMESTAMP unconvert does BigInt(v) itself, and every BigInt is
          // a heap object — converting here too doubled the allocations (GC was the top profile entry).
          const out = new Float64Array(n);
          for (let i = 0; i < n; i++) out[i] = (src[start + i] as Record<string, number>)[name] as number;
          return out;
        }
        case Kind.Long: {
          const out = new BigInt64Array(n);
          for (let i = 0; i < n; i++) out[i] = BigInt((src[start + i] as Record<string, number>)[name] as number);
          return out;
        }
        default:
          break;
      }
    }
    const out: unknown[] = new Array(n);
    if (p.kind === Kind.Long) {
      for (let i = 0; i < n; i++) {
        const v = (src[start + i] as Record<string, unknown>)[name];
        out[i] = v === null || v === undefined ? null : BigInt(v as number);
      }
    } else {
      for (let i = 0; i < n; i++) {
        const v = (src[start + i] as Record<string, unknown>)[name];
        out[i] = v === undefined ? null : v;
      }
    }
    return out;
  }
}

export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
