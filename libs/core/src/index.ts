export { CfError, isCfError, isRetriable, framePreview } from './errors.js';
export type { ErrorCode, CfErrorOptions } from './errors.js';
export { nowMicros, msToMicros, secondsToMicros, hourFloor, hourLabel, sleep, systemClock, MICROS_PER_HOUR } from './time.js';
export type { Micros, Clock } from './time.js';
export { backoffDelayMs, DEFAULT_BACKOFF } from './backoff.js';
export type { BackoffPolicy } from './backoff.js';
export { MAX_TOTAL_SHARDS, checkTotalShards } from './shards.js';
