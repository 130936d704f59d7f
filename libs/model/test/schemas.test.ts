import { describe, expect, it } from 'vitest';
import { TABLES, TABLE_SCHEMAS, VENUES, icebergPartitionSpecJson, icebergSchemaJson } from '../src/index.js';

describe('table schemas', () => {
  it('defines every table with unique, positive field ids and names', () => {
    for (const table of TABLES) {
      const s = TABLE_SCHEMAS[table];
      expect(s.table).toBe(table);
      const ids = s.columns.map((c) => c.id);
      const names = s.columns.map((c) => c.name);
      expect(new Set(ids).size, `${table} duplicate field id`).toBe(ids.length);
      expect(new Set(names).size, `${table} duplicate column`).toBe(names.length);
      for (const c of s.columns) {
        expect(c.id).toBeGreaterThan(0);
        expect(c.doc.length, `${table}.${c.name} undocumented`).toBeGreaterThan(3);
      }
    }
  });

  it('keys, sort orders and partition sources name real columns', () => {
    for (const table of TABLES) {
      const s = TABLE_SCHEMAS[table];
      const names = new Set(s.columns.map((c) => c.name));
      for (const k of [...s.naturalKey, ...s.sortOrder, ...s.partitionSpec.map((p) => p.sourceColumn)]) {
        expect(names.has(k), `${table}: ${k}`).toBe(true);
      }
    }
  });

  it('every table carries both timestamps and partitions by exchange hour', () => {
    for (const table of TABLES) {
      const json = icebergSchemaJson(table);
      expect(json.fields.find((f) => f.name === 'exchange_ts')).toMatchObject({ id: 3, type: 'timestamptz', required: true });
      expect(json.fields.find((f) => f.name === 'ingest_ts')).toMatchObject({ id: 4, type: 'timestamptz', required: true });
      expect(icebergPartitionSpecJson(table).fields).toEqual([
        { 'source-id': 3, 'field-id': 1000, name: 'exchange_ts_hour', transform: 'hour' },
      ]);
    }
  });

  it('docs say what a value means without naming a venue; where it comes from is per venue', () => {
    const venue = new RegExp(`\\b(${VENUES.join('|')})\\b`, 'i');
    for (const table of TABLES) {
      const s = TABLE_SCHEMAS[table];
      expect(s.doc, table).not.toMatch(venue);
      for (const c of s.columns) expect(c.doc, `${table}.${c.name}`).not.toMatch(venue);
    }
  });
});
