import type { ShardHasher } from './hasher.js';

/**
 * Rendezvous (highest-random-weight) hashing: shard `s` belongs to the replica with the largest
 * hash64(`${s}|${replicaId}`). Adding the N-th replica takes about 1/N of the shards (only those where the
 * newcomer's weight is the new maximum) and moves nothing between the others; removing one moves only
 * its own shards. The modulo rule `s % n` instead moves about (n-1)/n of all shards at every step.
 */
export function rendezvousOwner(
  hasher: ShardHasher,
  shard: number,
  replicaIds: readonly string[],
): string | undefined {
  let best: string | undefined;
  let bestWeight = -1n;
  for (const id of replicaIds) {
    const w = hasher.hash64(`${shard}|${id}`);
    if (w > bestWeight || (w === bestWeight && best !== undefined && id < best)) {
      best = id;
      bestWeight = w;
    }
  }
  return best;
}

/**
 * The replica ranked second for `shard` (the one that owns it if the owner disappears): a warm standby.
 * Undefined with fewer than two replicas.
 */
export function rendezvousRunnerUp(
  hasher: ShardHasher,
  shard: number,
  replicaIds: readonly string[],
): string | undefined {
  const owner = rendezvousOwner(hasher, shard, replicaIds);
  return owner === undefined ? undefined : rendezvousOwner(hasher, shard, replicaIds.filter((id) => id !== owner));
}

/** Owner of every shard for a set of live replicas. */
export function rendezvousAssignment(
  hasher: ShardHasher,
  totalShards: number,
  replicaIds: readonly string[],
): string[] {
  const owners = new Array<string>(totalShards);
  for (let s = 0; s < totalShards; s++) owners[s] = rendezvousOwner(hasher, s, replicaIds) ?? '';
  return owners;
}

/** Shards whose owner differs between two assignments (the cost of a scale step). */
export function movedShards(before: readonly string[], after: readonly string[]): number {
  let moved = 0;
  for (let s = 0; s < before.length; s++) if (before[s] !== after[s]) moved++;
  return moved;
}
