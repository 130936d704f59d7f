import { describe, expect, it } from 'vitest';
import { isCfError } from '@cryptoflow/core';
import { MAX_TOTAL_SHARDS, StaticOwnership, assignSymbols, createShardHasher, ownedSymbols } from '../src/index.js';
import type { ShardOwnership } from '../src/index.js';

const hasher = await createShardHasher();

/** Fixed, reproducible symbol universe: no randomness, so bounds below cannot flake. */
function symbols(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(`SYM${i.toString(36).toUpperCase()}USDT`);
  return out;
}

function expectShardingError(fn: () => unknown, mentions: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(isCfError(thrown, 'CF_SHARDING'), String(thrown)).toBe(true);
  expect((thrown as Error).message).toMatch(mentions);
}

describe('ShardHasher', () => {
  it('implements xxHash64 (reference vectors from the xxHash spec)', () => {
    expect(hasher.hash64('')).toBe(0xef46db3751d8e999n);
    expect(hasher.hash64('a')).toBe(0xd24ec4f1a98c6e5bn);
  });

  it('gives pinned shard ids: stable across processes, machines and releases', () => {
    // Computed once (2026-11-22) and written here. If this fails, every stored file moves shard.
    expect(hasher.hash64('binance|BTCUSDT')).toBe(0xf27bb1f1d2c343ben);
    expect(hasher.shardId('binance', 'BTCUSDT', 16)).toBe(14);
    expect(hasher.shardId('binance', 'BTCUSDT', 1024)).toBe(958);
    expect(hasher.shardId('binance', 'ETHUSDT', 16)).toBe(3);
    expect(hasher.shardId('binance', 'ETHUSDT', 1024)).toBe(307);
    expect(hasher.shardId('binance-usdm', 'BTCUSDT', 16)).toBe(12);
    expect(hasher.shardId('binance-usdm', 'BTCUSDT', 1024)).toBe(332);
    expect(hasher.shardId('binance', 'SOLUSDT', 16)).toBe(11);
    expect(hasher.shardId('binance-usdm', '1000PEPEUSDT', 1024)).toBe(23);
  });

  it('agrees with a second hasher instance and with hash64 % n', async () => {
    const other = await createShardHasher();
    for (const s of symbols(500)) {
      const expected = Number(hasher.hash64(`binance|${s}`) % 97n);
      expect(hasher.shardId('binance', s, 97)).toBe(expected);
      expect(other.shardId('binance', s, 97)).toBe(expected);
    }
  });

  it('spreads 10k symbols roughly uniformly over 1024 shards', () => {
    const shards = 1024;
    const n = 10_000;
    const counts = new Array<number>(shards).fill(0);
    for (const s of symbols(n)) {
      const id = hasher.shardId('binance', s, shards);
      if (!(id >= 0 && id < shards)) throw new Error(`${s}: shard ${id} out of range`);
      counts[id]! += 1;
    }
    const expected = n / shards;
    const chi2 = counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
    // df = 1023: mean 1023, sd ≈ 45. A good hash lands near 1023; 1250 is 5 sd above (p < 1e-6).
    // Inputs are fixed, so the value is fixed: this asserts hash quality, it cannot flake.
    expect(chi2).toBeLessThan(1250);
    expect(chi2).toBeGreaterThan(800); // suspiciously even would mean the inputs are not being hashed
    expect(Math.max(...counts)).toBeLessThan(30);
  });

  it('rejects a bad shard count naming the value', () => {
    expectShardingError(() => hasher.shardId('binance', 'BTCUSDT', 0), /totalShards.*got 0/);
    expectShardingError(() => hasher.shardId('binance', 'BTCUSDT', 2.5), /got 2\.5/);
    expectShardingError(() => hasher.shardId('binance', 'BTCUSDT', MAX_TOTAL_SHARDS + 1), new RegExp(`got ${MAX_TOTAL_SHARDS + 1}`));
    expect(hasher.shardId('binance', 'BTCUSDT', MAX_TOTAL_SHARDS)).toBeLessThan(MAX_TOTAL_SHARDS);
  });
});

describe('StaticOwnership', () => {
  it('partitions every shard exactly once across replicas', () => {
    for (const [total, replicas] of [
      [16, 1],
      [16, 3],
      [1024, 7],
      [5, 5],
    ] as const) {
      const seen = new Array<number>(total).fill(0);
      for (let i = 0; i < replicas; i++) {
        const own = new StaticOwnership({ totalShards: total, replicaIndex: i, replicaCount: replicas });
        for (const s of own.owned()) {
          expect(s % replicas).toBe(i);
          expect(own.owns(s)).toBe(true);
          seen[s]! += 1;
        }
        expect(own.owns(total)).toBe(false);
      }
      expect(seen.every((c) => c === 1)).toBe(true);
    }
  });

  it('describes itself and never notifies', async () => {
    const own = new StaticOwnership({ totalShards: 16, replicaIndex: 1, replicaCount: 4 });
    expect([...own.owned()]).toEqual([1, 5, 9, 13]);
    expect(own.describe()).toEqual({
      mode: 'static',
      totalShards: 16,
      replicaIndex: 1,
      replicaCount: 4,
      ownedCount: 4,
    });
    let calls = 0;
    const off = own.onChange(() => calls++);
    off();
    await own.close();
    expect(calls).toBe(0);
  });

  it('validates its arguments, naming the bad value', () => {
    expectShardingError(
      () => new StaticOwnership({ totalShards: 0, replicaIndex: 0, replicaCount: 1 }),
      /totalShards.*got 0/,
    );
    expectShardingError(
      () => new StaticOwnership({ totalShards: 16, replicaIndex: 0, replicaCount: 0 }),
      /replicaCount.*got 0/,
    );
    expectShardingError(
      () => new StaticOwnership({ totalShards: 16, replicaIndex: 2, replicaCount: 2 }),
      /replicaIndex.*\[0, 1\].*got 2/,
    );
    expectShardingError(
      () => new StaticOwnership({ totalShards: 16, replicaIndex: -1, replicaCount: 2 }),
      /replicaIndex.*got -1/,
    );
    expectShardingError(
      () => new StaticOwnership({ totalShards: 4, replicaIndex: 0, replicaCount: 5 }),
      /replicaCount.*<= totalShards \(4\).*got 5/,
    );
    expectShardingError(
      () => new StaticOwnership({ totalShards: 16, replicaIndex: 0.5, replicaCount: 2 }),
      /replicaIndex.*got 0\.5/,
    );
  });
});

describe('assignSymbols / ownedSymbols', () => {
  const list = symbols(300);

  it('puts each symbol in its shard, keeping input order', () => {
    const byShard = assignSymbols(hasher, 'binance', list, 16);
    const flat = [...byShard.values()].flat();
    expect(flat.sort()).toEqual([...list].sort());
    for (const [shard, syms] of byShard) {
      for (const s of syms) expect(hasher.shardId('binance', s, 16)).toBe(shard);
      const positions = syms.map((s) => list.indexOf(s));
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
    }
  });

  it('keeps only owned shards; replicas together cover every symbol once', () => {
    const covered: string[] = [];
    for (let i = 0; i < 3; i++) {
      const own: ShardOwnership = new StaticOwnership({ totalShards: 16, replicaIndex: i, replicaCount: 3 });
      const mine = ownedSymbols(hasher, 'binance-usdm', list, 16, own);
      for (const shard of mine.keys()) expect(shard % 3).toBe(i);
      covered.push(...[...mine.values()].flat());
    }
    expect(covered.sort()).toEqual([...list].sort());
  });
});
