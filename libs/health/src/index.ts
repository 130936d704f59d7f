export { startHealthServer, resolveVersion } from './server.js';
export type { HealthServer, HealthServerOptions, ReadinessCheck, VersionInfo } from './server.js';
