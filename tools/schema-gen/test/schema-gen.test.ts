import { describe, expect, it } from 'vitest';
import { TABLE_SCHEMAS, allTableSchemas } from '@cryptoflow/model';
import type { TableSchema } from '@cryptoflow/model';
import { checkCreatableIds, checkGenerated, generatedFiles, hclString, partitionSpecUpdate, renderTableDoc, renderTerraformTables } from '../src/index.js';

describe('schema-gen', () => {
  it('generated Terraform and docs on disk match libs/model (run `npm run -w @cryptoflow/schema-gen gen` when this fails)', () => {
    const report = checkGenerated();
    expect(report.changed, `stale generated files: ${report.changed.join(', ')}`).toEqual([]);
    expect(report.orphaned).toEqual([]);
  });

  it('produces one Terraform resource and one doc per table, plus an index', () => {
    const files = generatedFiles(allTableSchemas());
    const tf = files.get('infra/modules/s3tables_tables/tables.gen.tf') ?? '';
    for (const s of allTableSchemas()) {
      expect(tf).toContain(`resource "aws_s3tables_table" "${s.table}" {`);
      expect(files.has(`docs/data-contracts/${s.table}.md`)).toBe(true);
    }
    expect(files.get('docs/data-contracts/README.md')).toContain('[`trades`](trades.md)');
  });

  it('documents every column with id, type, required flag and doc, the partition spec and the natural key', () => {
    const doc = renderTableDoc(TABLE_SCHEMAS.futures_delta);
    expect(doc).toContain('| 10 | `prev_update_id` | `long` | no (nullable) | Last update id of the previous event');
    expect(doc).toContain('| 1000 | `exchange_ts_hour` | `hour` | `exchange_ts` (3) |');
    expect(doc).toContain('`exchange`, `symbol`, `last_update_id`, `is_snapshot`, `side`, `price`');
  });

  it('refuses a schema whose ids S3 Tables could not reproduce (ids are assigned 1..n in order)', () => {
    const bad: TableSchema = {
      ...TABLE_SCHEMAS.funding,
      columns: [...TABLE_SCHEMAS.funding.columns.slice(0, 4), { ...TABLE_SCHEMAS.funding.columns[5]!, id: 7 }],
    };
    expect(() => checkCreatableIds(bad)).toThrow(/columns\[4\] \(index_price\): field id 7, expected 5/);
    expect(() => renderTerraformTables([bad])).toThrow(/expected 5/);
  });

  it('escapes Terraform string syntax in generated literals', () => {
    expect(hclString('a "b" ${c} %{d} \\')).toBe('"a \\"b\\" $${c} %%{d} \\\\"');
  });

  it('builds the REST update that gives a new table the model partition spec, guarded by uuid and spec id', () => {
    expect(partitionSpecUpdate(TABLE_SCHEMAS.trades, 'u-1')).toEqual({
      requirements: [
        { type: 'assert-table-uuid', uuid: 'u-1' },
        { type: 'assert-default-spec-id', 'default-spec-id': 0 },
      ],
      updates: [
        { action: 'add-spec', spec: { fields: [{ 'source-id': 3, 'field-id': 1000, name: 'exchange_ts_hour', transform: 'hour' }] } },
        { action: 'set-default-spec', 'spec-id': -1 },
      ],
    });
  });
});
