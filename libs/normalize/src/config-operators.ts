import { z } from 'zod';
import { CfError } from '@cryptoflow/core';
import { TABLE_SCHEMAS } from '@cryptoflow/model';
import type { CanonicalRow, ColumnDef, TableName } from '@cryptoflow/model';
import { Dedupe, filter, map } from './operators.js';
import type { Operator, OperatorMetrics } from './operators.js';

const CMPS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'not_in'] as const;
type Cmp = (typeof CMPS)[number];
const scalar = z.union([z.string(), z.number(), z.boolean()]);
const filterSchema = z.strictObject({
  op: z.literal('filter'),
  column: z.string().min(1),
  cmp: z.enum(CMPS),
  value: z.union([scalar, z.array(scalar).min(1)]),
});
const mapSchema = z.strictObject({
  op: z.literal('map'),
  column: z.string().min(1),
  fn: z.enum(['round', 'scale', 'upper', 'set']),
  /** fn round: decimals kept. */
  decimals: z.number().int().min(0).max(12).optional(),
  /** fn scale: multiplier. */
  factor: z.number().finite().optional(),
  /** fn set: the new value (null clears an optional column). */
  value: z.union([scalar, z.null()]).optional(),
});
const dedupeSchema = z.strictObject({
  op: z.literal('dedupe'),
  window: z.number().int().positive().default(4096),
});
export const operatorConfigSchema = z.discriminatedUnion('op', [filterSchema, mapSchema, dedupeSchema]);
export type OperatorConfig = z.infer<typeof operatorConfigSchema>;

export interface BuildOperatorsOptions {
  /** The stream's table: columns and value types are checked against TABLE_SCHEMAS[table]. */
  readonly table?: TableName;
  /** Config path used in error messages (default `normalize.operators`). */
  readonly path?: string;
  /** Where config-built dedupe operators count their drops. */
  readonly metrics?: OperatorMetrics;
}

type Row = Record<string, unknown>;

/**
 * Operators from config (`normalize.operators`). Every problem of every entry is reported at once,
 * each with its path (`normalize.operators[1].cmp: expected one of "eq"|...`), in one CfError
 * 'CF_CONFIG_INVALID' whose `context.issues` lists them — before the app starts.
 *
 * `map` operators rewrite the column in place: rows reaching configured operators are fresh objects
 * owned by the pipeline (built by a mapper for this message), so no copy is made per row.
 */
export function buildOperators(
  configs: readonly unknown[],
  tableOrOptions?: TableName | BuildOperatorsOptions,
  path?: string,
): Operator<CanonicalRow, CanonicalRow>[] {
  const o: BuildOperatorsOptions =
    typeof tableOrOptions === 'string'
      ? { table: tableOrOptions, path }
      : { ...tableOrOptions, path: path ?? tableOrOptions?.path };
  const base = o.path ?? 'normalize.operators';
  const issues: string[] = [];
  const parsed: OperatorConfig[] = [];
  const schema = o.table ? TABLE_SCHEMAS[o.table] : undefined;
  const columns = new Map<string, ColumnDef>(schema?.columns.map((c) => [c.name, c]) ?? []);
  if (!Array.isArray(configs)) {
    throw new CfError('CF_CONFIG_INVALID', `invalid config:\n  - ${base}: expected a list`, {
      context: { issues: [`${base}: expected a list`] },
    });
  }
  configs.forEach((raw, i) => {
    const at = `${base}[${i}]`;
    const r = operatorConfigSchema.safeParse(raw);
    if (!r.success) {
      for (const issue of r.error.issues)
        issues.push(`${at}${pathText(issue.path)}: ${cleanMessage(issue.message)}`);
      return;
    }
    const op = r.data;
    const before = issues.length;
    if (op.op === 'filter') checkFilter(op, at, issues);
    if (op.op === 'map') checkMap(op, at, issues);
    if (op.op !== 'dedupe' && schema) {
      const col = columns.get(op.column);
      if (!col) {
        issues.push(
          `${at}.column: ${op.column} is not a column of ${schema.table} (${[...columns.keys()].join(', ')})`,
        );
      } else if (op.op === 'filter') {
        const values = Array.isArray(op.value) ? op.value : [op.value];
        const want = jsType(col);
        if (values.some((v) => typeof v !== want))
          issues.push(`${at}.value: expected ${want} value(s) for ${col.type} column ${col.name}`);
      } else {
        const want = jsType(col);
        if ((op.fn === 'round' || op.fn === 'scale') && col.type !== 'double')
          issues.push(`${at}.fn: ${op.fn} needs a double column, ${op.column} is ${col.type}`);
        if (op.fn === 'upper' && col.type !== 'string')
          issues.push(`${at}.fn: upper needs a string column, ${op.column} is ${col.type}`);
        if (
          op.fn === 'set' &&
          op.value !== undefined &&
          !(op.value === null ? !col.required : typeof op.value === want)
        )
          issues.push(
            `${at}.value: expected a ${want}${col.required ? '' : ' or null'} for ${col.type} column ${op.column}`,
          );
        if (schema.naturalKey.includes(op.column) || op.column === 'table')
          issues.push(`${at}.column: ${op.column} is part of the natural key and cannot be mapped`);
      }
    } else if (
      op.op === 'map' &&
      (op.column === 'exchange' || op.column === 'symbol' || op.column === 'table')
    ) {
      issues.push(`${at}.column: ${op.column} identifies the row and cannot be mapped`);
    }
    if (issues.length === before) parsed.push(op);
  });
  if (issues.length > 0)
    throw new CfError('CF_CONFIG_INVALID', `invalid config:\n  - ${issues.join('\n  - ')}`, {
      context: { issues },
    });
  return parsed.map((op, i) => toOperator(op, o.table, `${op.op}[${i}]`, o.metrics));
}

function checkFilter(op: z.infer<typeof filterSchema>, at: string, issues: string[]): void {
  const list = op.cmp === 'in' || op.cmp === 'not_in';
  if (list !== Array.isArray(op.value))
    issues.push(`${at}.value: ${op.cmp} needs ${list ? 'a list of values' : 'a single value'}`);
  if (
    (op.cmp === 'gt' || op.cmp === 'gte' || op.cmp === 'lt' || op.cmp === 'lte') &&
    typeof op.value !== 'number'
  )
    issues.push(`${at}.value: ${op.cmp} needs a number`);
}

function checkMap(op: z.infer<typeof mapSchema>, at: string, issues: string[]): void {
  if (op.fn === 'round' && op.decimals === undefined) issues.push(`${at}.decimals: required for fn round`);
  if (op.fn === 'scale' && op.factor === undefined) issues.push(`${at}.factor: required for fn scale`);
  if (op.fn === 'set' && op.value === undefined) issues.push(`${at}.value: required for fn set`);
}

function jsType(col: ColumnDef): 'number' | 'string' | 'boolean' {
  return col.type === 'string' ? 'string' : col.type === 'boolean' ? 'boolean' : 'number';
}

function pathText(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
}

function cleanMessage(message: string): string {
  return message
    .replace(/^Invalid (option|input): /, '')
    .replace(/^Invalid discriminator value\. Expected /, 'expected one of ');
}

function toOperator(
  op: OperatorConfig,
  table: TableName | undefined,
  name: string,
  metrics: OperatorMetrics | undefined,
): Operator<CanonicalRow, CanonicalRow> {
  switch (op.op) {
    case 'filter':
      return filter<CanonicalRow>(predicate(op.column, op.cmp, op.value), name);
    case 'map': {
      const { column } = op;
      switch (op.fn) {
        case 'round': {
          const pow = 10 ** (op.decimals ?? 0);
          return map<CanonicalRow, CanonicalRow>((row) => {
            const v = (row as unknown as Row)[column];
            if (typeof v === 'number') (row as unknown as Row)[column] = Math.round(v * pow) / pow;
            return row;
          }, name);
        }
        case 'scale': {
          const factor = op.factor ?? 1;
          return map<CanonicalRow, CanonicalRow>((row) => {
            const v = (row as unknown as Row)[column];
            if (typeof v === 'number') (row as unknown as Row)[column] = v * factor;
            return row;
          }, name);
        }
        case 'upper':
          return map<CanonicalRow, CanonicalRow>((row) => {
            const v = (row as unknown as Row)[column];
            if (typeof v === 'string') (row as unknown as Row)[column] = v.toUpperCase();
            return row;
          }, name);
        case 'set': {
          const value = op.value ?? null;
          return map<CanonicalRow, CanonicalRow>((row) => {
            // Only columns the row has: without a table, a row of another table passes unchanged.
            if (column in row) (row as unknown as Row)[column] = value;
            return row;
          }, name);
        }
      }
      // exhaustive above; keeps noImplicitReturns satisfied
      throw new Error(`unreachable map fn`);
    }
    case 'dedupe':
      return new Dedupe<CanonicalRow>({
        key: table ? naturalKeyOf(table) : naturalKeyOfRow,
        window: op.window,
        name,
        metrics,
      });
  }
}

function predicate(column: string, cmp: Cmp, value: unknown): (row: CanonicalRow) => boolean {
  const set = new Set<unknown>(Array.isArray(value) ? value : [value]);
  switch (cmp) {
    case 'eq':
      return (r) => (r as unknown as Row)[column] === value;
    case 'ne':
      return (r) => (r as unknown as Row)[column] !== value;
    case 'gt':
      return (r) => {
        const v = (r as unknown as Row)[column];
        return typeof v === 'number' && v > (value as number); // null never compares
      };
    case 'gte':
      return (r) => {
        const v = (r as unknown as Row)[column];
        return typeof v === 'number' && v >= (value as number); // null never compares
      };
    case 'lt':
      return (r) => {
        const v = (r as unknown as Row)[column];
        return typeof v === 'number' && v < (value as number); // null never compares
      };
    case 'lte':
      return (r) => {
        const v = (r as unknown as Row)[column];
        return typeof v === 'number' && v <= (value as number); // null never compares
      };
    case 'in':
      return (r) => set.has((r as unknown as Row)[column]);
    case 'not_in':
      return (r) => !set.has((r as unknown as Row)[column]);
  }
}

/** Natural key of a row without exchange/symbol (dedupe buckets by those): a number where one column suffices. */
export function naturalKeyOf(table: TableName): (row: CanonicalRow) => string | number {
  const cols = TABLE_SCHEMAS[table].naturalKey.filter((c) => c !== 'exchange' && c !== 'symbol');
  if (cols.length === 1) {
    const c = cols[0] as string;
    return (row) => (row as unknown as Record<string, number>)[c] as number;
  }
  const types = cols.map((c) => TABLE_SCHEMAS[table].columns.find((d) => d.name === c)?.type);
  if (cols.length === 2 && types[0] !== types[1]) {
    // Two columns of different types where a row usually sets one (trades: trade_id or trade_id_text): the set
    // value is the key, with no string built per row; a number and a string never meet as Map keys.
    const [a, b] = cols as [string, string];
    return (row) => {
      const r = row as unknown as Row;
      const va = r[a];
      const vb = r[b];
      if (vb === null) return va as string | number;
      if (va === null) return vb as string | number;
      return `\u0000${String(va)}|${String(vb)}`;
    };
  }
  return (row) => {
    const r = row as unknown as Row;
    let k = '';
    for (let i = 0; i < cols.length; i++) k += (i ? '|' : '') + String(r[cols[i] as string]);
    return k;
  };
}

const KEY_BY_TABLE = new Map<string, (row: CanonicalRow) => string | number>();

/** Natural key looked up by the row's own table (config dedupe built without a table). */
function naturalKeyOfRow(row: CanonicalRow): string | number {
  let f = KEY_BY_TABLE.get(row.table);
  if (f === undefined) KEY_BY_TABLE.set(row.table, (f = naturalKeyOf(row.table)));
  // Rows of different tables share a market's key window: prefix keeps their keys apart.
  return row.table + '|' + String(f(row));
}
