export {
  IcebergRestClient,
  DEFAULT_TABLE_PROPERTIES,
  COMMIT_ID_KEY,
  currentSnapshot,
  findCommit,
} from './client.js';
export type { IcebergRestClientOptions, CreateTableOptions, AppendOptions, AppendResult } from './client.js';
export { snapshotIdForCommit } from './snapshot-id.js';
export { planSchemaEvolution, isAllowedPromotion } from './evolve.js';
export type { EvolutionPlan, TargetField } from './evolve.js';
export { encodeBound, decodeBound, hourTransform } from './bounds.js';
export type { BoundValue } from './bounds.js';
export { writeAvroContainer, readAvroContainer } from './avro.js';
export type { AvroSchemaJson, AvroContainer, AvroWriteOptions } from './avro.js';
export {
  manifestEntrySchema,
  partitionRecordSchema,
  MANIFEST_FILE_SCHEMA,
  writeDataManifest,
  writeManifestList,
  readManifestList,
  readManifest,
} from './manifest.js';
export type { ManifestFileRecord, ManifestEntryRecord, FieldSummary, WrittenManifest } from './manifest.js';
export { sigV4Signer } from './sigv4.js';
export type { RequestSigner, RequestToSign, CredentialsInput } from './sigv4.js';
export { s3ObjectStore, parseS3Uri } from './s3-object-store.js';
export { parseJson, stringifyJson, toBigIntId, sameId } from './json.js';
export type {
  DataFileInput,
  ObjectWriter,
  ObjectReader,
  ObjectStore,
  TableIdent,
  LoadedTable,
  IcebergTableMetadata,
  IcebergSnapshot,
  IcebergSchema,
  IcebergPartitionSpec,
  IcebergField,
  IcebergPartitionField,
  IcebergSnapshotRef,
} from './types.js';
