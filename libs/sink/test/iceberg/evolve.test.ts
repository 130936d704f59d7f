import { describe, expect, it } from 'vitest';
import { isCfError } from '@cryptoflow/core';
import { isAllowedPromotion, planSchemaEvolution } from '../../src/iceberg/index.js';
import type { IcebergSchema, TargetField } from '../../src/iceberg/index.js';

const table = (fields: [number, string, boolean, string][]): IcebergSchema => ({
  type: 'struct',
  'schema-id': 0,
  fields: fields.map(([id, name, required, type]) => ({ id, name, required, type })),
});
const target = (fields: [number, string, boolean, string][]): TargetField[] =>
  fields.map(([id, name, required, type]) => ({ id, name, required, type }));

const V1: [number, string, boolean, string][] = [
  [1, 'exchange', true, 'string'],
  [6, 'trade_id', true, 'long'],
];

function refused(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isCfError(err, 'CF_SCHEMA')) return err.message;
    throw err;
  }
  throw new Error('expected CF_SCHEMA');
}

describe('planSchemaEvolution (Iceberg schema evolution rules)', () => {
  it('nothing to do when the table has the model columns as declared, or more (a newer writer)', () => {
    expect(planSchemaEvolution('t', table(V1), 6, target(V1))).toEqual({ kind: 'current' });
    expect(planSchemaEvolution('t', table([...V1, [7, 'extra', false, 'string']]), 7, target(V1))).toEqual({
      kind: 'current',
    });
  });

  it('adds an optional column with a new id and relaxes a required one', () => {
    const v2 = target([
      [1, 'exchange', true, 'string'],
      [6, 'trade_id', false, 'long'],
      [12, 'trade_id_text', false, 'string'],
    ]);
    expect(planSchemaEvolution('t', table(V1), 11, v2)).toEqual({
      kind: 'evolve',
      added: ['trade_id_text'],
      relaxed: ['trade_id'],
      promoted: [],
    });
  });

  it('promotes int to long, float to double, a decimal to a wider precision; nothing else', () => {
    expect(
      planSchemaEvolution('t', table([[2, 'level', true, 'int']]), 2, target([[2, 'level', true, 'long']])),
    ).toMatchObject({
      kind: 'evolve',
      promoted: ['level'],
    });
    expect(isAllowedPromotion('float', 'double')).toBe(true);
    expect(isAllowedPromotion('decimal(9,2)', 'decimal(18,2)')).toBe(true);
    expect(isAllowedPromotion('decimal(9,2)', 'decimal(18,3)')).toBe(false);
    expect(isAllowedPromotion('long', 'string')).toBe(false);
    expect(isAllowedPromotion('long', 'int')).toBe(false);
  });

  it('refuses a type change, a reused id, a new required column, a tightened or renamed column, naming each', () => {
    expect(
      refused(() =>
        planSchemaEvolution(
          'cf.trades',
          table(V1),
          6,
          target([
            [1, 'exchange', true, 'string'],
            [6, 'trade_id', true, 'string'],
          ]),
        ),
      ),
    ).toBe(
      'cf.trades: the table\'s schema cannot evolve to the model\'s: trade_id: type "long" cannot become string',
    );
    // Id 5 was assigned once (last-column-id 6) and dropped: it must never come back with another meaning.
    expect(
      refused(() =>
        planSchemaEvolution('t', table(V1), 6, target([...V1, [5, 'trade_id_text', false, 'string']])),
      ),
    ).toContain('trade_id_text: field id 5 was assigned before (last-column-id 6); ids are never reused');
    expect(
      refused(() => planSchemaEvolution('t', table(V1), 6, target([...V1, [7, 'venue', true, 'string']]))),
    ).toContain('venue: a new column must be optional');
    expect(
      refused(() =>
        planSchemaEvolution(
          't',
          table([[6, 'trade_id', false, 'long']]),
          6,
          target([[6, 'trade_id', true, 'long']]),
        ),
      ),
    ).toContain('trade_id: an optional column cannot become required');
    expect(
      refused(() => planSchemaEvolution('t', table(V1), 6, target([[1, 'venue', true, 'string'], V1[1]!]))),
    ).toContain('field id 1 is exchange in the table, venue in the model');
  });

  it('refuses to evolve a table that also has columns this model lacks (two model versions writing)', () => {
    const current = table([...V1, [7, 'newer', false, 'string']]);
    expect(
      refused(() =>
        planSchemaEvolution('t', current, 7, target([...V1, [8, 'trade_id_text', false, 'string']])),
      ),
    ).toContain('the table has columns this model lacks (newer)');
  });
});
