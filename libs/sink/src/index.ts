// Buffers → Parquet → FileStore (this folder)
export { RowSink, PARQUET_CONTENT_TYPE } from './row-sink.js';
export type { RowSinkOptions, FlushedFile } from './row-sink.js';
export { FileBuffer, RowSizeEstimator } from './buffer.js';
export type { FlushPolicy, FlushReason } from './buffer.js';
export {
  ParquetEncoder,
  yieldToEventLoop,
  PARQUET_META_ICEBERG_SCHEMA,
  PARQUET_META_SCHEMA_VERSION,
  PARQUET_META_TABLE,
} from './parquet.js';
export type { ParquetEncoderOptions } from './parquet.js';
export { LocalFileStore, sha256Base64 } from './store.js';
export type { FileStore, FilePut, StoredFile, LocalFileStoreOptions } from './store.js';
export { objectKey, fileHash16, loadKeyHasher, naturalRowKey } from './keys.js';

// S3 stage (src/s3)
export {
  S3FileStore,
  META_SHA256,
  S3ObjectWriter,
  CircuitBreaker,
  CIRCUIT_STATE_VALUE,
  withS3Retries,
  DEFAULT_S3_RETRY,
  isRetriableS3Error,
  readDurableRows,
} from './s3/index.js';
export type {
  DurableRowsQuery,
  DurableRows,
  RecordedFile,
  S3FileStoreOptions,
  S3ObjectWriterOptions,
  CircuitBreakerOptions,
  CircuitState,
  RetryPolicy,
  RetryContext,
  CommonS3Options,
} from './s3/index.js';

// Iceberg (src/iceberg)
export {
  IcebergRestClient,
  DEFAULT_TABLE_PROPERTIES,
  COMMIT_ID_KEY,
  currentSnapshot,
  findCommit,
  snapshotIdForCommit,
  encodeBound,
  decodeBound,
  hourTransform,
  writeAvroContainer,
  readAvroContainer,
  manifestEntrySchema,
  partitionRecordSchema,
  MANIFEST_FILE_SCHEMA,
  writeDataManifest,
  writeManifestList,
  readManifestList,
  readManifest,
  sigV4Signer,
  s3ObjectStore,
  parseS3Uri,
  parseJson,
  stringifyJson,
  toBigIntId,
  sameId,
} from './iceberg/index.js';
export type {
  IcebergRestClientOptions,
  CreateTableOptions,
  AppendOptions,
  AppendResult,
  BoundValue,
  DataFileInput,
  ObjectWriter,
  ObjectReader,
  ObjectStore,
  TableIdent,
  LoadedTable,
  IcebergTableMetadata,
  IcebergSnapshot,
} from './iceberg/index.js';

// Kafka (src/kafka)
export { KafkaRowSink } from './kafka/index.js';
export type { KafkaRowSinkOptions } from './kafka/index.js';
