/** The parts of Iceberg table metadata (spec v2, Appendix C) this client reads. Ids are bigint-safe. */

export interface IcebergField {
  readonly id: number;
  readonly name: string;
  readonly required: boolean;
  readonly type: unknown;
  readonly doc?: string;
}

export interface IcebergSchema {
  readonly type: 'struct';
  readonly 'schema-id': number;
  readonly fields: readonly IcebergField[];
  readonly 'identifier-field-ids'?: readonly number[];
}

export interface IcebergPartitionField {
  readonly 'source-id': number;
  readonly 'field-id': number;
  readonly name: string;
  readonly transform: string;
}

export interface IcebergPartitionSpec {
  readonly 'spec-id': number;
  readonly fields: readonly IcebergPartitionField[];
}

export interface IcebergSnapshot {
  readonly 'snapshot-id': bigint | number;
  readonly 'parent-snapshot-id'?: bigint | number;
  readonly 'sequence-number'?: bigint | number;
  readonly 'timestamp-ms': number | bigint;
  readonly 'manifest-list': string;
  readonly summary: Readonly<Record<string, string>>;
  readonly 'schema-id'?: number;
}

export interface IcebergSnapshotRef {
  readonly 'snapshot-id': bigint | number;
  readonly type: 'branch' | 'tag';
}

export interface IcebergTableMetadata {
  readonly 'format-version': number;
  readonly 'table-uuid': string;
  readonly location: string;
  readonly 'last-sequence-number'?: bigint | number;
  readonly 'last-updated-ms': number | bigint;
  readonly 'last-column-id': number;
  readonly schemas: readonly IcebergSchema[];
  readonly 'current-schema-id': number;
  readonly 'partition-specs': readonly IcebergPartitionSpec[];
  readonly 'default-spec-id': number;
  readonly 'last-partition-id': number;
  readonly properties?: Readonly<Record<string, string>>;
  readonly 'current-snapshot-id'?: bigint | number | null;
  readonly snapshots?: readonly IcebergSnapshot[];
  readonly refs?: Readonly<Record<string, IcebergSnapshotRef>>;
  readonly 'snapshot-log'?: readonly { 'snapshot-id': bigint | number; 'timestamp-ms': number | bigint }[];
  readonly 'metadata-log'?: readonly { 'metadata-file': string; 'timestamp-ms': number | bigint }[];
  readonly 'sort-orders'?: readonly unknown[];
  readonly 'default-sort-order-id'?: number;
}

export interface TableIdent {
  readonly namespace: string;
  readonly name: string;
}

export interface LoadedTable {
  readonly ident: TableIdent;
  readonly metadataLocation: string | null;
  readonly metadata: IcebergTableMetadata;
  readonly config: Readonly<Record<string, string>>;
}

/** Uploads manifests and manifest lists. `key` is the full object location (`s3://bucket/path`), derived from the table location. */
export interface ObjectWriter {
  put(key: string, bytes: Uint8Array): Promise<string>;
}

/** Reads the parent snapshot's manifest list (written by us or by S3 Tables maintenance) to carry its manifests over. */
export interface ObjectReader {
  get(key: string): Promise<Uint8Array>;
}

export type ObjectStore = ObjectWriter & ObjectReader;

/** One Parquet data file to add. Metric maps are keyed by Iceberg column field id. */
export interface DataFileInput {
  /** Full URI with scheme, e.g. `s3://bucket/trades/2024-01-31T13/....parquet`. */
  readonly filePath: string;
  readonly fileSizeInBytes: number;
  readonly recordCount: number;
  /** Partition tuple by partition field name, e.g. `{ exchange_ts_hour: 473125 }` (hours since epoch). */
  readonly partition: Readonly<Record<string, number | string | bigint | boolean | null>>;
  readonly columnSizes?: Readonly<Record<number, number | bigint>>;
  readonly valueCounts?: Readonly<Record<number, number | bigint>>;
  readonly nullValueCounts?: Readonly<Record<number, number | bigint>>;
  readonly nanValueCounts?: Readonly<Record<number, number | bigint>>;
  /** Bounds serialized per Iceberg Appendix D (see `encodeBound`). */
  readonly lowerBounds?: Readonly<Record<number, Uint8Array>>;
  readonly upperBounds?: Readonly<Record<number, Uint8Array>>;
  /** Row-group start offsets, ascending. */
  readonly splitOffsets?: readonly (number | bigint)[];
  readonly sortOrderId?: number;
}
