export { createLogger, connectionLogger, OnceLogger, REDACT_PATHS } from './logger.js';
export type { Logger, CreateLoggerOptions, ConnectionBindings } from './logger.js';
