import { avroMetadata } from 'icebird/src/avro/avro.metadata.js';
import { avroRead } from 'icebird/src/avro/avro.read.js';
import { describe, expect, it } from 'vitest';
import {
  MANIFEST_FILE_SCHEMA,
  decodeBound,
  encodeBound,
  hourTransform,
  readAvroContainer,
  readManifest,
  readManifestList,
  snapshotIdForCommit,
  writeAvroContainer,
  writeDataManifest,
  writeManifestList,
} from '../../src/iceberg/index.js';
import type { IcebergPartitionSpec, IcebergSchema, ManifestFileRecord } from '../../src/iceberg/index.js';
import { icebergPartitionSpecJson, icebergSchemaJson } from '@cryptoflow/model';

/** Decode with icebird's own Avro reader: an implementation that shares no code with ours. */
async function icebirdDecode(bytes: Uint8Array): Promise<{ metadata: Record<string, unknown>; records: Record<string, unknown>[] }> {
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
  const { metadata, syncMarker } = await avroMetadata(reader);
  return { metadata, records: await avroRead({ reader, metadata, syncMarker }) };
}

const schema = icebergSchemaJson('trades') as unknown as IcebergSchema;
const spec = icebergPartitionSpecJson('trades') as unknown as IcebergPartitionSpec;

describe('Avro object containers', () => {
  const recordSchema = {
    type: 'record',
    name: 'r',
    fields: [
      { name: 'id', type: 'long', 'field-id': 1 },
      { name: 'maybe', type: ['null', 'string'], default: null, 'field-id': 2 },
    ],
  };

  for (const codec of ['null', 'deflate'] as const) {
    it(`keeps field ids in the header and 63-bit longs exact (${codec})`, async () => {
      const big = (1n << 62n) + 12345n;
      const records = Array.from({ length: 10_000 }, (_, i) => ({ id: big + BigInt(i), maybe: i % 2 ? `v${i}` : null }));
      const bytes = writeAvroContainer(recordSchema, records, { codec, blockSize: 1000, metadata: { hello: 'world' } });
      const back = readAvroContainer(bytes);
      expect(back.metadata['hello']).toBe('world');
      expect(JSON.parse(back.metadata['avro.schema']!)).toEqual(recordSchema);
      expect(back.records).toHaveLength(10_000);
      expect(back.records[9_999]).toEqual({ id: big + 9_999n, maybe: 'v9999' });
      if (codec === 'null') {
        // icebird's Avro `deflate` path uses a gzip inflater that breaks on small blocks; compare on null only.
        const other = await icebirdDecode(bytes);
        expect(other.records[1]).toEqual({ id: big + 1n, maybe: 'v1' });
      }
    });
  }

  it('is deterministic for a fixed sync seed and detects a corrupt block', () => {
    const a = writeAvroContainer(recordSchema, [{ id: 1n, maybe: null }], { syncSeed: 's' });
    const b = writeAvroContainer(recordSchema, [{ id: 1n, maybe: null }], { syncSeed: 's' });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    const bad = Buffer.from(a);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    expect(() => readAvroContainer(bad)).toThrow(/sync marker/);
    expect(() => readAvroContainer(Uint8Array.of(1, 2, 3, 4))).toThrow(/magic/);
  });
});

describe('manifests', () => {
  const files = [
    { filePath: 's3://b/a.parquet', fileSizeInBytes: 100, recordCount: 10, partition: { exchange_ts_hour: 477000 }, valueCounts: { 1: 10 }, lowerBounds: { 6: encodeBound('long', 5n) } },
    { filePath: 's3://b/c.parquet', fileSizeInBytes: 200, recordCount: 20, partition: { exchange_ts_hour: 477003 }, splitOffsets: [4] },
  ];

  it('writes v2 data_file entries that icebird decodes, with field ids on every field', async () => {
    const id = snapshotIdForCommit('x');
    const m = writeDataManifest({ snapshotId: id, schema, spec, files });
    const back = readManifest(m.bytes);
    const df = (back.schema as { fields: { name: string; 'field-id': number; type: { fields?: { name: string; 'field-id': number }[] } }[] }).fields;
    expect(df.map((f) => [f.name, f['field-id']])).toEqual([
      ['status', 0],
      ['snapshot_id', 1],
      ['sequence_number', 3],
      ['file_sequence_number', 4],
      ['data_file', 2],
    ]);
    const dataFileFields = df[4]!.type.fields!;
    expect(dataFileFields.find((f) => f.name === 'partition')!['field-id']).toBe(102);
    expect(dataFileFields.find((f) => f.name === 'upper_bounds')!['field-id']).toBe(128);
    expect(back.metadata).toMatchObject({ 'format-version': '2', content: 'data', 'schema-id': String(schema['schema-id']), 'partition-spec-id': '0' });
    expect(JSON.parse(back.metadata['schema']!).fields).toHaveLength(schema.fields.length);
    const other = await icebirdDecode(m.bytes);
    const entry = other.records[0] as { snapshot_id: bigint; data_file: { record_count: bigint; partition: Record<string, number>; lower_bounds: { key: number; value: Uint8Array }[] } };
    expect(entry.snapshot_id).toBe(id);
    expect(entry.data_file.record_count).toBe(10n);
    expect(entry.data_file.partition).toEqual({ exchange_ts_hour: 477000 });
    expect(decodeBound('long', entry.data_file.lower_bounds[0]!.value)).toBe(5n);
    expect(m.summary).toMatchObject({ added_files_count: 2, added_rows_count: 30n, existing_files_count: 0 });
    expect(m.summary.partitions![0]!.lower_bound!.readInt32LE(0)).toBe(477000);
    expect(m.summary.partitions![0]!.upper_bound!.readInt32LE(0)).toBe(477003);
  });

  it('rejects a file without the partition value', () => {
    expect(() => writeDataManifest({ snapshotId: 1n, schema, spec, files: [{ filePath: 's3://b/x', fileSizeInBytes: 1, recordCount: 1, partition: {} }] })).toThrow(/exchange_ts_hour missing/);
  });

  it('reads manifest lists from other writers by field id, and refuses missing counts', () => {
    // Older Java writers named 504-506 `added_data_files_count` etc.; the ids are what matter.
    const renamed = structuredClone(MANIFEST_FILE_SCHEMA) as unknown as { fields: { name: string; 'field-id': number }[] };
    for (const f of renamed.fields) if (f['field-id'] >= 504 && f['field-id'] <= 506) f.name = f.name.replace('_files_count', '_data_files_count');
    const row = {
      manifest_path: 's3://b/m.avro', manifest_length: 10n, partition_spec_id: 0, content: 0, sequence_number: 3n, min_sequence_number: 2n,
      added_snapshot_id: 99n, added_data_files_count: 1, existing_data_files_count: 2, deleted_data_files_count: 0,
      added_rows_count: 5n, existing_rows_count: 6n, deleted_rows_count: 0n, partitions: null, key_metadata: null,
    };
    const list = readManifestList(writeAvroContainer(renamed, [row]), 'x');
    expect(list[0]).toMatchObject({ added_files_count: 1, existing_files_count: 2, sequence_number: 3n, min_sequence_number: 2n });

    const noCounts = { type: 'record', name: 'manifest_file', fields: [
      { name: 'manifest_path', type: 'string', 'field-id': 500 },
      { name: 'manifest_length', type: 'long', 'field-id': 501 },
      { name: 'partition_spec_id', type: 'int', 'field-id': 502 },
      { name: 'added_snapshot_id', type: 'long', 'field-id': 503 },
    ] };
    expect(() => readManifestList(writeAvroContainer(noCounts, [{ manifest_path: 'p', manifest_length: 1n, partition_spec_id: 0, added_snapshot_id: 1n }]), 'x')).toThrow(/added_files_count is missing/);
  });

  it('manifest list round-trips through icebird with sequence numbers', async () => {
    const rec: ManifestFileRecord = {
      manifest_path: 's3://b/m.avro', manifest_length: 10n, partition_spec_id: 0, content: 0, sequence_number: 7n, min_sequence_number: 7n,
      added_snapshot_id: 1n << 62n, added_files_count: 1, existing_files_count: 0, deleted_files_count: 0,
      added_rows_count: 5n, existing_rows_count: 0n, deleted_rows_count: 0n,
      partitions: [{ contains_null: false, contains_nan: null, lower_bound: Buffer.from(encodeBound('int', 1)), upper_bound: Buffer.from(encodeBound('int', 2)) }],
      key_metadata: null,
    };
    const bytes = writeManifestList({ snapshotId: 1n << 62n, parentSnapshotId: null, sequenceNumber: 7n, attempt: 1, manifests: [rec] });
    const other = await icebirdDecode(bytes);
    expect(other.records[0]).toMatchObject({ sequence_number: 7n, added_snapshot_id: 1n << 62n });
    const hexed = (r: ManifestFileRecord): unknown => ({
      ...r,
      partitions: r.partitions!.map((p) => ({ ...p, lower_bound: p.lower_bound!.toString('hex'), upper_bound: p.upper_bound!.toString('hex') })),
    });
    const back = readManifestList(bytes, 'x');
    expect(back).toHaveLength(1);
    expect(hexed(back[0]!)).toEqual(hexed(rec));
  });
});

describe('ids and bounds', () => {
  it('derives a stable positive 63-bit snapshot id per commit id', () => {
    const a = snapshotIdForCommit('trades/2024-06-01T00/batch-17');
    expect(a).toBe(snapshotIdForCommit('trades/2024-06-01T00/batch-17'));
    expect(a).not.toBe(snapshotIdForCommit('trades/2024-06-01T00/batch-18'));
    for (let i = 0; i < 1000; i++) {
      const id = snapshotIdForCommit(`c${i}`);
      expect(id > 0n && id < 1n << 63n).toBe(true);
    }
    expect(() => snapshotIdForCommit('')).toThrow();
  });

  it('serializes bounds per Appendix D and computes the hour transform', () => {
    expect([...encodeBound('int', 1)]).toEqual([1, 0, 0, 0]);
    expect([...encodeBound('long', -2n)]).toEqual([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(decodeBound('double', encodeBound('double', 67000.5))).toBe(67000.5);
    expect(decodeBound('string', encodeBound('string', 'BTCUSDT'))).toBe('BTCUSDT');
    expect(decodeBound('timestamptz', encodeBound('timestamptz', 1_717_200_000_000_001))).toBe(1_717_200_000_000_001n);
    expect(hourTransform(1_717_200_000_000_000)).toBe(477000);
    expect(hourTransform(-1)).toBe(-1);
    expect(hourTransform(-1n)).toBe(-1);
  });
});
