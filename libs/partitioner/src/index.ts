export { Partitioner } from './partitioner.js';
export type { PartitionKey, PartitionerOptions } from './partitioner.js';
