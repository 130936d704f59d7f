import { CfError } from './errors.js';

/**
 * The one limit on `sharding.total_shards`, checked by the config, the hasher, the partitioner and the fleet.
 *
 * The hash itself works for any count (xxHash64 mod n). What bounds it is the dynamic fleet: a replica
 * publishes one handover entry per moving shard in its DynamoDB member item, which may hold 400 KB, and a
 * 1 → 2 replica step moves half the shards at once. Measured on the local DynamoDB: with 43-character replica
 * ids 8192 shards fit and 16384 fail ("Item size to update has exceeded the maximum allowed size"); with the
 * longest ids (63-character host names) 8192 fail and 4096 fit, which libs/sharding/test/fleet.test.ts checks.
 * Object keys label shards with at least three digits (`shard=007`, `shard=1008`).
 */
export const MAX_TOTAL_SHARDS = 4096;

/** Throws CF_SHARDING naming `where` unless `totalShards` is an integer in [1, MAX_TOTAL_SHARDS]. */
export function checkTotalShards(totalShards: number, where = 'totalShards'): void {
  if (!Number.isInteger(totalShards) || totalShards < 1 || totalShards > MAX_TOTAL_SHARDS) {
    throw new CfError(
      'CF_SHARDING',
      `${where}: expected an integer in [1, ${MAX_TOTAL_SHARDS}], got ${String(totalShards)}`,
      {
        context: { [where]: totalShards },
      },
    );
  }
}
