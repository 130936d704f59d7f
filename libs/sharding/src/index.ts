export { createShardHasher, shardKey, checkTotalShards, MAX_TOTAL_SHARDS } from './hasher.js';
export type { ShardHasher } from './hasher.js';
export { StaticOwnership, assignSymbols, ownedSymbols } from './ownership.js';
export type { ShardOwnership, StaticOwnershipOptions } from './ownership.js';
export { rendezvousOwner, rendezvousRunnerUp, rendezvousAssignment, movedShards } from './rendezvous.js';
export { FleetMembership } from './fleet.js';
export type { FleetMembershipOptions, HandoverEvent, RowDecision } from './fleet.js';
