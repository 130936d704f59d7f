import { DuckDBInstance } from '@duckdb/node-api';

/** Runs SQL in an in-memory DuckDB (parquet reading is built in, works offline) and formats the result as a table. */
export async function queryParquet(sql: string): Promise<string> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    const reader = await conn.runAndReadAll(sql);
    const columns = reader.columnNames();
    const rows = reader
      .getRowsJS()
      .map((r) => r.map((v) => (typeof v === 'bigint' ? v.toString() : v === null ? 'NULL' : String(v))));
    const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells: string[]) => '   ' + cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
    return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
