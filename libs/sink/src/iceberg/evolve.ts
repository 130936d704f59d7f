/**
 * Schema evolution of a live table to the libs/model schema, following the Iceberg spec ("Schema Evolution"):
 * columns are matched by field id, never by name or position; a column may be added only as optional and
 * only with an id never assigned before (greater than the table's `last-column-id`); a required column may
 * become optional; a type may change only by an allowed promotion (int → long, float → double, decimal
 * precision widened). Anything else is refused with CF_SCHEMA: a model that needs it is a bug, and a writer
 * must not rewrite a table's meaning under data already written.
 */
import { CfError } from '@cryptoflow/core';
import type { IcebergField, IcebergSchema } from './types.js';

/** A column as the model declares it (libs/model `icebergSchemaJson(table).fields`). */
export interface TargetField {
  readonly id: number;
  readonly name: string;
  readonly required: boolean;
  readonly type: string;
  readonly doc?: string;
}

export type EvolutionPlan =
  /** The table already has every model column as the model declares it (it may have more: a newer writer). */
  | { readonly kind: 'current' }
  /** Commit `add-schema` with the model's fields, then `set-current-schema`. */
  | {
      readonly kind: 'evolve';
      readonly added: readonly string[];
      readonly relaxed: readonly string[];
      readonly promoted: readonly string[];
    };

/** Iceberg's allowed primitive promotions (spec, "Schema Evolution"). */
export function isAllowedPromotion(from: unknown, to: string): boolean {
  if (from === to) return true;
  if (from === 'int' && to === 'long') return true;
  if (from === 'float' && to === 'double') return true;
  const d = (t: unknown): [number, number] | undefined => {
    const m = typeof t === 'string' ? /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(t) : null;
    return m ? [Number(m[1]), Number(m[2])] : undefined;
  };
  const a = d(from);
  const b = d(to);
  return a !== undefined && b !== undefined && a[1] === b[1] && b[0] >= a[0];
}

/**
 * What it takes to bring `current` (the table's current schema, whose highest assigned id is `lastColumnId`)
 * to `target`. Throws CF_SCHEMA naming the table and every column that cannot evolve that way.
 */
export function planSchemaEvolution(
  table: string,
  current: IcebergSchema,
  lastColumnId: number,
  target: readonly TargetField[],
): EvolutionPlan {
  const byId = new Map<number, IcebergField>(current.fields.map((f) => [Number(f.id), f]));
  const targetIds = new Set(target.map((f) => f.id));
  const problems: string[] = [];
  const added: string[] = [];
  const relaxed: string[] = [];
  const promoted: string[] = [];
  for (const t of target) {
    const have = byId.get(t.id);
    if (!have) {
      if (t.id <= lastColumnId)
        problems.push(
          `${t.name}: field id ${t.id} was assigned before (last-column-id ${lastColumnId}); ids are never reused`,
        );
      else if (t.required)
        problems.push(`${t.name}: a new column must be optional (files already written lack it)`);
      else added.push(t.name);
      continue;
    }
    if (have.name !== t.name)
      problems.push(`field id ${t.id} is ${have.name} in the table, ${t.name} in the model`);
    if (!isAllowedPromotion(have.type, t.type))
      problems.push(`${t.name}: type ${JSON.stringify(have.type)} cannot become ${t.type}`);
    else if (have.type !== t.type) promoted.push(t.name);
    if (!have.required && t.required) problems.push(`${t.name}: an optional column cannot become required`);
    else if (have.required && !t.required) relaxed.push(t.name);
  }
  const unknown = current.fields.filter((f) => !targetIds.has(Number(f.id)));
  if (problems.length > 0) {
    throw new CfError(
      'CF_SCHEMA',
      `${table}: the table's schema cannot evolve to the model's: ${problems.join('; ')}`,
      {
        context: { table, problems },
      },
    );
  }
  if (added.length + relaxed.length + promoted.length === 0) return { kind: 'current' };
  if (unknown.length > 0) {
    // The table has columns this model does not know (a newer writer) and lacks some it does: two writers
    // disagree about the table. Evolving would drop the newer columns from the current schema.
    throw new CfError(
      'CF_SCHEMA',
      `${table}: the table has columns this model lacks (${unknown.map((f) => f.name).join(', ')}) and lacks ${[...added, ...relaxed, ...promoted].join(', ')}: deploy one model version`,
      { context: { table } },
    );
  }
  return { kind: 'evolve', added, relaxed, promoted };
}
