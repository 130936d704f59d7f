export { startIcebergCatalog, IcebergCatalog, ROUTES } from './server.js';
export type { IcebergCatalogOptions, RunningCatalog } from './server.js';
export { CatalogFaults } from './faults.js';
export type { CommitFailureStatus, CommitFaultStats } from './faults.js';
export { CatalogError } from './errors.js';
export type { S3Options } from './store.js';
