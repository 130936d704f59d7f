export {
  Registry,
  counter,
  gauge,
  histogram,
  createRegistry,
  LATENCY_BUCKETS_SECONDS,
  SIZE_BUCKETS_BYTES,
} from './registry.js';
export type { Counter, Gauge, Histogram, ProcessRegistryOptions } from './registry.js';
