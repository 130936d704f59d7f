export { discoverEgressIps } from './discover.js';
export type { DiscoverOptions, DiscoveryMode } from './discover.js';
export { EgressPool, BINANCE_SPOT_LIMITS, BINANCE_USDM_LIMITS } from './pool.js';
export type { EgressPoolOptions, VenueLimits, ShardMove } from './pool.js';
