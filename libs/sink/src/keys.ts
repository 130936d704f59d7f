import xxhash from 'xxhash-wasm';
import type { CanonicalRow, TableSchema } from '@cryptoflow/model';

/**
 * Object keys are derived from the file's content, never from the clock or a counter:
 *
 *   <table>/exchange_ts_hour=<hour>/shard=<NNN>/<table>-<hour>-s<NNN>-<hash16>.parquet
 *
 * NNN is the shard with at least three digits (`007`, `1008`: shards go up to MAX_TOTAL_SHARDS).
 *
 * hash16 = xxhash64 (hex) over the table, schema version, row count and the natural keys of the file's
 * first and last rows. A collector that crashes after storing a file but before recording it replays the
 * same input (from its checkpoint) with the same count-based flush boundaries, produces the same rows,
 * hence the same key and the same bytes: the store sees an idempotent re-put, the ledger sees one file,
 * Iceberg gets it once. A random or time-based name would turn every replay into a duplicate file.
 *
 * First/last natural keys + count identify a file's row range within a (table, hour, shard) stream
 * without hashing every row (hashing 7M rows per file would cost more than it protects: two different
 * files with the same first row, last row and count in one partition cannot come out of one ordered stream).
 */

type Hasher = { h64: (input: string, seed?: bigint) => bigint };
let hasher: Hasher | undefined;
let loading: Promise<Hasher> | undefined;

/** Loads the WASM hasher once; `objectKey` needs it loaded. */
export async function loadKeyHasher(): Promise<void> {
  if (hasher) return;
  loading ??= xxhash().then((h) => (hasher = h));
  await loading;
}

const SEP = '\u001f';

/**
 * A row's natural key as one string (the table's `naturalKey` columns), comparable across writers: from a
 * canonical row, or from a row read back from Parquet (64-bit ints come back as bigint, as numbers here; a
 * column the file predates is absent, as null here).
 */
export function naturalRowKey(schema: TableSchema, row: CanonicalRow | Readonly<Record<string, unknown>>): string {
  const r = row as unknown as Record<string, unknown>;
  let s = '';
  for (let i = 0; i < schema.naturalKey.length; i++) {
    if (i > 0) s += SEP;
    const v = r[schema.naturalKey[i] as string];
    s += String(typeof v === 'bigint' ? Number(v) : v === undefined ? null : v);
  }
  return s;
}

export function pad3(shard: number): string {
  return String(shard).padStart(3, '0');
}

/** The 16-hex-digit content hash that ends an object key. */
export function fileHash16(schema: TableSchema, rows: readonly CanonicalRow[]): string {
  if (!hasher) throw new Error('loadKeyHasher() must resolve before objectKey()');
  const first = rows[0];
  const last = rows[rows.length - 1];
  if (first === undefined || last === undefined) throw new Error('no object key for an empty file');
  const input = ['cf1', schema.table, schema.schemaVersion, rows.length, naturalRowKey(schema, first), naturalRowKey(schema, last)].join('\u001e');
  return hasher.h64(input).toString(16).padStart(16, '0');
}

export function objectKey(schema: TableSchema, hour: string, shard: number, rows: readonly CanonicalRow[]): string {
  const t = schema.table;
  const s = pad3(shard);
  return `${t}/exchange_ts_hour=${hour}/shard=${s}/${t}-${hour}-s${s}-${fileHash16(schema, rows)}.parquet`;
}
