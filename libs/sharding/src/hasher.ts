import xxhash from 'xxhash-wasm';
import { checkTotalShards } from '@cryptoflow/core';

/**
 * Shard ids come from xxHash64 of `${exchange}|${symbol}` (seed 0). The function is fixed by the
 * xxHash spec, so a shard id is the same in every process, on every machine and after every
 * restart; files and ledger rows keyed by shard stay where they are. Changing the key format or
 * the seed moves every symbol: it is a data migration, not a refactor.
 */
export interface ShardHasher {
  /** Shard in `[0, totalShards)` of one (exchange, symbol). */
  shardId(exchange: string, symbol: string, totalShards: number): number;
  /** xxHash64 (seed 0) of a UTF-8 string, as an unsigned 64-bit bigint. */
  hash64(key: string): bigint;
}

/** The key hashed for an (exchange, symbol). Exported so other languages/tools can reproduce it. */
export function shardKey(exchange: string, symbol: string): string {
  return `${exchange}|${symbol}`;
}

export async function createShardHasher(): Promise<ShardHasher> {
  const { h64 } = await xxhash();
  // The divisor of the last call is cached: callers use one totalShards per process.
  let lastTotal = 0;
  let lastDivisor = 0n;
  return {
    hash64: (key: string): bigint => h64(key),
    shardId(exchange: string, symbol: string, totalShards: number): number {
      if (totalShards !== lastTotal) {
        checkTotalShards(totalShards);
        lastTotal = totalShards;
        lastDivisor = BigInt(totalShards);
      }
      return Number(h64(`${exchange}|${symbol}`) % lastDivisor);
    },
  };
}
