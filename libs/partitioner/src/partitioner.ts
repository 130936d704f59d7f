import { MICROS_PER_HOUR, hourLabel } from '@cryptoflow/core';
import type { CanonicalRow, TableName } from '@cryptoflow/model';
import { CfError, checkTotalShards } from '@cryptoflow/core';

/** Where a row goes: one file buffer per key. */
export interface PartitionKey {
  readonly table: TableName;
  /** `hourLabel(row.exchange_ts)`, e.g. `2021-10-12T00` (UTC). */
  readonly hour: string;
  readonly shard: number;
  /** `${table}/${hour}/${shard}`: stable, used as a map key and in logs. */
  readonly id: string;
}

export interface PartitionerOptions {
  readonly totalShards: number;
  /** Usually `(e, s) => shardId(e, s, totalShards)` from libs/sharding. */
  readonly shardOf: (exchange: string, symbol: string) => number;
  /**
   * Hours of keys kept per table. Rows arrive in near time order, so only the last few hours are hot;
   * an older hour is rebuilt on demand (one allocation) when a late row shows up.
   */
  readonly maxCachedHours?: number;
}

interface TableCache {
  /** hourFloor(µs) → keys indexed by shard. */
  readonly hours: Map<number, (PartitionKey | undefined)[]>;
  lastFloor: number;
  lastKeys: (PartitionKey | undefined)[] | undefined;
}

/**
 * Maps a canonical row to its `(table, hour, shard)` buffer key.
 *
 * Hot path: once warm, `keyOf` allocates nothing — the shard is cached per (exchange, symbol) in
 * nested maps (no concatenated string), the hour is compared as an integer floor, and key objects
 * are cached per (table, hour, shard) so the same object comes back for every row of a buffer.
 */
export class Partitioner {
  private readonly totalShards: number;
  private readonly shardOf: (exchange: string, symbol: string) => number;
  private readonly maxCachedHours: number;
  private readonly shards = new Map<string, Map<string, number>>();
  private readonly tables = new Map<TableName, TableCache>();

  constructor(opts: PartitionerOptions) {
    checkTotalShards(opts.totalShards, 'partitioner.totalShards');
    this.totalShards = opts.totalShards;
    this.shardOf = opts.shardOf;
    this.maxCachedHours = Math.max(1, opts.maxCachedHours ?? 48);
  }

  keyOf(row: CanonicalRow): PartitionKey {
    const shard = this.shardFor(row.exchange, row.symbol);
    let cache = this.tables.get(row.table);
    if (cache === undefined) {
      cache = { hours: new Map(), lastFloor: Number.NaN, lastKeys: undefined };
      this.tables.set(row.table, cache);
    }
    const ts = row.exchange_ts;
    const floor = Math.floor(ts / MICROS_PER_HOUR) * MICROS_PER_HOUR;
    let keys: (PartitionKey | undefined)[] | undefined;
    if (floor === cache.lastFloor) {
      keys = cache.lastKeys;
    } else {
      if (!Number.isFinite(floor)) {
        throw new CfError('CF_SCHEMA', `row of ${row.table} has a non-finite exchange_ts`, {
          context: { table: row.table, exchange: row.exchange, symbol: row.symbol, exchange_ts: ts },
        });
      }
      keys = cache.hours.get(floor);
      if (keys === undefined) {
        // Filled as shards show up: a process writes few of up to MAX_TOTAL_SHARDS shards.
        keys = [];
        cache.hours.set(floor, keys);
        if (cache.hours.size > this.maxCachedHours) {
          // Map keeps insertion order: the first entry is the hour seen longest ago.
          const oldest = cache.hours.keys().next().value;
          if (oldest !== undefined) cache.hours.delete(oldest);
        }
      }
      cache.lastFloor = floor;
      cache.lastKeys = keys;
    }
    const arr = keys as (PartitionKey | undefined)[];
    let key = arr[shard];
    if (key === undefined) {
      const hour = hourLabel(floor);
      key = Object.freeze({ table: row.table, hour, shard, id: `${row.table}/${hour}/${shard}` });
      arr[shard] = key;
    }
    return key;
  }

  /** Shard of an (exchange, symbol), cached. Throws CF_SHARDING when `shardOf` answers out of range. */
  shardFor(exchange: string, symbol: string): number {
    let bySymbol = this.shards.get(exchange);
    if (bySymbol === undefined) {
      bySymbol = new Map();
      this.shards.set(exchange, bySymbol);
    }
    let shard = bySymbol.get(symbol);
    if (shard === undefined) {
      shard = this.shardOf(exchange, symbol);
      if (!Number.isInteger(shard) || shard < 0 || shard >= this.totalShards) {
        throw new CfError('CF_SHARDING', `shardOf(${exchange}, ${symbol}) = ${shard}, outside 0..${this.totalShards - 1}`, {
          context: { exchange, symbol, shard, totalShards: this.totalShards },
        });
      }
      bySymbol.set(symbol, shard);
    }
    return shard;
  }
}
