export { createShardHasher, shardKey } from './hasher.js';
/** The shard limit lives in libs/core (config and partitioner check it too); re-exported where callers look for it. */
export { checkTotalShards, MAX_TOTAL_SHARDS } from '@cryptoflow/core';
export type { ShardHasher } from './hasher.js';
export { StaticOwnership, assignSymbols, ownedSymbols } from './ownership.js';
export type { ShardOwnership, StaticOwnershipOptions } from './ownership.js';
export { rendezvousOwner, rendezvousRunnerUp, rendezvousAssignment, movedShards } from './rendezvous.js';
export { FleetMembership } from './fleet.js';
export type { FleetMembershipOptions } from './fleet.js';
export type { HandoverEvent, RowDecision } from './handover.js';
export {
  HANDOVER_DELAY_US,
  RELEASE_SLACK_US,
  RELEASE_AFTER_MS,
  SETTLE_US,
  SETTLE_LEASES,
  fleetHandoverDelayUs,
} from './timings.js';
