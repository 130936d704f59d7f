import { z } from 'zod';
import { CfError } from '@cryptoflow/core';
import { TABLE_SCHEMAS } from '@cryptoflow/model';
import type { CanonicalRow, TableName } from '@cryptoflow/model';
import { Dedupe, filter, map } from './operators.js';
import type { Operator } from './operators.js';

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const filterSchema = z.strictObject({
  op: z.literal('filter'),
  column: z.string().min(1),
  cmp: z.enum(['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'not_in']),
  value: z.union([scalar, z.array(scalar).min(1)]),
});
const mapSchema = z.strictObject({
  op: z.literal('map'),
  column: z.string().min(1),
  fn: z.enum(['round', 'scale', 'upper', 'set']),
  decimals: z.number().int().min(0).max(12).optional(),
  factor: z.number().finite().optional(),
  value: scalar.optional(),
});
const dedupeSchema = z.strictObject({
  op: z.literal('dedupe'),
  window: z.number().int().positive().default(4096),
});
export const operatorConfigSchema = z.discriminatedUnion('op', [filterSchema, mapSchema, dedupeSchema]);
export type OperatorConfig = z.infer<typeof operatorConfigSchema>;

/**
 * Operators from config (`normalize.operators`), validated against the stream's table: every problem
 * of every entry is reported at once with its path, before the app starts.
 */
export function buildOperators(
  configs: readonly unknown[],
  table: TableName,
  path = 'normalize.operators',
): Operator<CanonicalRow, CanonicalRow>[] {
  const issues: string[] = [];
  const parsed: OperatorConfig[] = [];
  const schema = TABLE_SCHEMAS[table];
  const columns = new Map(schema.columns.map((c) => [c.name, c]));
  configs.forEach((raw, i) => {
    const r = operatorConfigSchema.safeParse(raw);
    if (!r.success) {
      for (const issue of r.error.issues)
        issues.push(
          `${path}[${i}]${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}`,
        );
      return;
    }
    const op = r.data;
    if (op.op !== 'dedupe') {
      const col = columns.get(op.column);
      if (!col) {
        issues.push(
          `${path}[${i}].column: ${op.column} is not a column of ${table} (${[...columns.keys()].join(', ')})`,
        );
        return;
      }
      if (op.op === 'map') {
        const numeric = col.type === 'double' || col.type === 'long' || col.type === 'int';
        if ((op.fn === 'round' || op.fn === 'scale') && col.type !== 'double')
          issues.push(`${path}[${i}].fn: ${op.fn} needs a double column, ${op.column} is ${col.type}`);
        if (op.fn === 'upper' && col.type !== 'string')
          issues.push(`${path}[${i}].fn: upper needs a string column, ${op.column} is ${col.type}`);
        if (op.fn === 'round' && op.decimals === undefined)
          issues.push(`${path}[${i}].decimals: required for fn round`);
        if (op.fn === 'scale' && op.factor === undefined)
          issues.push(`${path}[${i}].factor: required for fn scale`);
        if (
          op.fn === 'set' &&
          (op.value === undefined || (numeric ? typeof op.value !== 'number' : typeof op.value !== 'string'))
        ) {
          issues.push(`${path}[${i}].value: expected a ${numeric ? 'number' : 'string'} for ${op.column}`);
        }
        if (schema.naturalKey.includes(op.column))
          issues.push(`${path}[${i}].column: ${op.column} is part of the natural key and cannot be mapped`);
      }
    }
    parsed.push(op);
  });
  if (issues.length > 0)
    throw new CfError('CF_CONFIG_INVALID', `invalid config:\n  - ${issues.join('\n  - ')}`, {
      context: { issues },
    });
  return parsed.map((op, i) => toOperator(op, table, `${op.op}[${i}]`));
}

function toOperator(
  op: OperatorConfig,
  table: TableName,
  name: string,
): Operator<CanonicalRow, CanonicalRow> {
  switch (op.op) {
    case 'filter': {
      const { column, cmp, value } = op;
      const set = Array.isArray(value) ? new Set<unknown>(value) : undefined;
      const get = (row: CanonicalRow): unknown => (row as unknown as Record<string, unknown>)[column];
      const preds: Record<typeof cmp, (row: CanonicalRow) => boolean> = {
        eq: (r) => get(r) === value,
        ne: (r) => get(r) !== value,
        gt: (r) => (get(r) as number) > (value as number),
        gte: (r) => (get(r) as number) >= (value as number),
        lt: (r) => (get(r) as number) < (value as number),
        lte: (r) => (get(r) as number) <= (value as number),
        in: (r) => (set ?? new Set([value])).has(get(r)),
        not_in: (r) => !(set ?? new Set([value])).has(get(r)),
      };
      return filter(name, preds[cmp]);
    }
    case 'map': {
      const { column, fn } = op;
      const pow = 10 ** (op.decimals ?? 0);
      const apply = (v: unknown): unknown => {
        if (v === null) return null;
        switch (fn) {
          case 'round':
            return Math.round((v as number) * pow) / pow;
          case 'scale':
            return (v as number) * (op.factor as number);
          case 'upper':
            return (v as string).toUpperCase();
          case 'set':
            return op.value;
        }
      };
      return map(
        name,
        (row) =>
          ({ ...row, [column]: apply((row as unknown as Record<string, unknown>)[column]) }) as CanonicalRow,
      );
    }
    case 'dedupe':
      return new Dedupe<CanonicalRow>(naturalKeyOf(table), op.window, undefined, name);
  }
}

/** Natural key of a row without exchange/symbol (dedupe buckets by those): a number where one column suffices. */
export function naturalKeyOf(table: TableName): (row: CanonicalRow) => string | number {
  const cols = TABLE_SCHEMAS[table].naturalKey.filter((c) => c !== 'exchange' && c !== 'symbol');
  if (cols.length === 1) {
    const c = cols[0] as string;
    return (row) => (row as unknown as Record<string, number>)[c] as number;
  }
  return (row) => {
    const r = row as unknown as Record<string, unknown>;
    let k = '';
    for (let i = 0; i < cols.length; i++) k += (i ? '|' : '') + String(r[cols[i] as string]);
    return k;
  };
}
