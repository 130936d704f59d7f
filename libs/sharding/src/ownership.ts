import { CfError, checkTotalShards } from '@cryptoflow/core';
import type { ShardHasher } from './hasher.js';

/**
 * Which shards this process collects. Everything that decides what to subscribe to asks this
 * interface, never the config directly, so ownership can change at run time: `StaticOwnership`
 * never changes; a dynamic implementation (fleet membership through leases, rendezvous hashing)
 * calls the `onChange` listeners when shards move and fences the ones it lost.
 */
export interface ShardOwnership {
  /** The shards owned now. The set is a snapshot: it does not change after it is returned. */
  owned(): ReadonlySet<number>;
  owns(shard: number): boolean;
  /** Called with the new owned set each time it changes. Returns an unsubscribe function. */
  onChange(listener: (owned: ReadonlySet<number>) => void): () => void;
  /** Gives the shards up (a dynamic implementation releases its leases) and stops notifying. */
  close(): Promise<void>;
  /** For /status pages and startup logs. */
  describe(): Record<string, unknown>;
}

export interface StaticOwnershipOptions {
  readonly totalShards: number;
  readonly replicaIndex: number;
  readonly replicaCount: number;
}

/** Replica `i` of `n` owns every shard `s` with `s % n === i`: a fixed partition from config. */
export class StaticOwnership implements ShardOwnership {
  readonly totalShards: number;
  readonly replicaIndex: number;
  readonly replicaCount: number;
  private readonly set: ReadonlySet<number>;

  constructor(opts: StaticOwnershipOptions) {
    checkTotalShards(opts.totalShards, 'totalShards');
    if (!Number.isInteger(opts.replicaCount) || opts.replicaCount < 1) {
      throw new CfError(
        'CF_SHARDING',
        `replicaCount: expected a positive integer, got ${String(opts.replicaCount)}`,
        {
          context: { replicaCount: opts.replicaCount },
        },
      );
    }
    if (opts.replicaCount > opts.totalShards) {
      throw new CfError(
        'CF_SHARDING',
        `replicaCount: expected <= totalShards (${opts.totalShards}), got ${opts.replicaCount}: some replicas would own no shard`,
        { context: { replicaCount: opts.replicaCount, totalShards: opts.totalShards } },
      );
    }
    if (
      !Number.isInteger(opts.replicaIndex) ||
      opts.replicaIndex < 0 ||
      opts.replicaIndex >= opts.replicaCount
    ) {
      throw new CfError(
        'CF_SHARDING',
        `replicaIndex: expected an integer in [0, ${opts.replicaCount - 1}] (replicaCount ${opts.replicaCount}), got ${String(opts.replicaIndex)}`,
        { context: { replicaIndex: opts.replicaIndex, replicaCount: opts.replicaCount } },
      );
    }
    this.totalShards = opts.totalShards;
    this.replicaIndex = opts.replicaIndex;
    this.replicaCount = opts.replicaCount;
    const owned = new Set<number>();
    for (let s = opts.replicaIndex; s < opts.totalShards; s += opts.replicaCount) owned.add(s);
    this.set = owned;
  }

  owned(): ReadonlySet<number> {
    return this.set;
  }

  owns(shard: number): boolean {
    return this.set.has(shard);
  }

  /** Static ownership never changes, so the listener is never called. */
  onChange(_listener: (owned: ReadonlySet<number>) => void): () => void {
    return () => {};
  }

  async close(): Promise<void> {}

  describe(): Record<string, unknown> {
    return {
      mode: 'static',
      totalShards: this.totalShards,
      replicaIndex: this.replicaIndex,
      replicaCount: this.replicaCount,
      ownedCount: this.set.size,
    };
  }
}

/** shard -> symbols of that shard, each list in input order. Shards with no symbol are absent. */
export function assignSymbols(
  hasher: ShardHasher,
  exchange: string,
  symbols: readonly string[],
  totalShards: number,
): Map<number, string[]> {
  checkTotalShards(totalShards);
  const out = new Map<number, string[]>();
  for (const symbol of symbols) {
    const shard = hasher.shardId(exchange, symbol, totalShards);
    const list = out.get(shard);
    if (list) list.push(symbol);
    else out.set(shard, [symbol]);
  }
  return out;
}

/** `assignSymbols` restricted to the shards `ownership` owns now. */
export function ownedSymbols(
  hasher: ShardHasher,
  exchange: string,
  symbols: readonly string[],
  totalShards: number,
  ownership: ShardOwnership,
): Map<number, string[]> {
  const all = assignSymbols(hasher, exchange, symbols, totalShards);
  for (const shard of [...all.keys()]) if (!ownership.owns(shard)) all.delete(shard);
  return all;
}
