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
export { objectKey, fileHash16, loadKeyHasher } from './keys.js';

// S3 stage (src/s3)

// Iceberg (src/iceberg)

// Kafka (src/kafka)
