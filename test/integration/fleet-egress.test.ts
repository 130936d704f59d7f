/**
 * Pinned egress across a fleet: three collector replicas on one machine (static ownership, replica i of 3),
 * each with its own pair of source addresses out of 127.0.0.2–127.0.0.7, against one fake spot venue that
 * records the source address of every WebSocket upgrade and REST request. A book stream (spot-delta), so
 * shards also fetch REST depth snapshots.
 *
 * - every shard's WebSocket and REST traffic comes only from its assigned address (round-robin over its
 *   replica's pool);
 * - a 429 on one address moves that address's shards: the venue then sees those shards' sockets and
 *   snapshot requests arrive from the replica's other address; after the venue's Retry-After they move home;
 * - the moves are make-before-break: no row is written twice (natural key) across replicas and moves.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCollectorConfig } from '@cryptoflow/config';
import { FakeExchange } from '@cryptoflow/fake-exchange';
import { createLogger } from '@cryptoflow/logger';
import { createRegistry } from '@cryptoflow/metrics';
import type { Registry } from '@cryptoflow/metrics';
import { TABLE_SCHEMAS } from '@cryptoflow/model';
import { startCollector } from '@cryptoflow/runtime';
import type { Collector } from '@cryptoflow/runtime';
import { createShardHasher } from '@cryptoflow/sharding';
import { ROOT, readTableRows, waitFor } from './helpers.js';

const CAPTURES = join(ROOT, 'test', 'fixtures', 'captures');
const SYMBOLS = ['NKNUSDT', 'BLZETH', 'LRCBTC', 'RUNEEUR'];
const REPLICAS = 3;
const POOLS = [
  ['127.0.0.2', '127.0.0.3'],
  ['127.0.0.4', '127.0.0.5'],
  ['127.0.0.6', '127.0.0.7'],
];

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function metricSum(registry: Registry, name: string, match: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  let sum = 0;
  for (const v of m?.values ?? [])
    if (Object.entries(match).every(([k, want]) => String(v.labels[k]) === want)) sum += v.value;
  return sum;
}

describe('pinned egress in a three-replica fleet', () => {
  it('every shard talks only from its address; a 429 moves its shards to another address and back', async () => {
    const hasher = await createShardHasher();
    // Smallest shard count that gives every replica at least one shard with symbols (deterministic hash).
    let totalShards = 0;
    for (let n = 3; n <= 64 && totalShards === 0; n++) {
      const replicas = new Set(SYMBOLS.map((s) => hasher.shardId('binance', s, n) % REPLICAS));
      if (replicas.size === REPLICAS) totalShards = n;
    }
    expect(totalShards).toBeGreaterThan(0);
    const shardOf = (symbol: string): number => hasher.shardId('binance', symbol.toUpperCase(), totalShards);
    const replicaOf = (shard: number): number => shard % REPLICAS;
    const homeIp = (shard: number): string => POOLS[replicaOf(shard)]![shard % 2]!;
    const otherIp = (shard: number): string => POOLS[replicaOf(shard)]![(shard + 1) % 2]!;

    const fake = new FakeExchange({
      venue: 'binance',
      captures: [join(CAPTURES, 'BINANCE.ws.1.0'), join(CAPTURES, 'BINANCE.http.0.0')],
      speed: 1,
      startOn: 'manual',
    });
    const { wsUrl, restUrl } = await fake.listen();
    cleanups.push(() => fake.close());

    const replicas: { collector: Collector; registry: Registry; dir: string }[] = [];
    for (let i = 0; i < REPLICAS; i++) {
      const dir = mkdtempSync(join(tmpdir(), `fleet-egress-${i}-`));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const config = loadCollectorConfig({
        value: {
          app: 'collector-spot-delta',
          stream: 'spot-delta',
          exchanges: { binance: { symbols: SYMBOLS, ws_url: wsUrl, rest_url: restUrl } },
          channels: { defaults: { spill_dir: join(dir, 'spill') } },
          sharding: { total_shards: totalShards, replica_index: i, replica_count: REPLICAS },
          egress: { ips: POOLS[i] },
          book: { snapshot_limit: 100 },
          sink: { kind: 'local', dir: join(dir, 'lake'), flush_interval_ms: 60_000 },
          health: { host: '127.0.0.1', port: 0 },
          log: { level: 'error' },
        },
      });
      const registry = createRegistry({ app: config.app });
      const collector = await startCollector(config, {
        app: config.app,
        logger: createLogger({ app: `${config.app}-${i}`, level: 'error' }),
        registry,
        version: { app: config.app, version: 'test', gitSha: 'test' },
        emf: false,
      });
      cleanups.push(() => collector.stop());
      replicas.push({ collector, registry, dir });
    }
    for (const r of replicas) {
      await waitFor('replica connected', async () => {
        const body = (await (await fetch(`${r.collector.health.url}/ready`)).json()) as {
          checks: { name: string; ok: boolean }[];
        };
        return body.checks.find((k) => k.name === 'connected')?.ok === true;
      });
    }
    // /ready shows each shard's address.
    const status = (await (await fetch(`${replicas[0]!.collector.health.url}/ready`)).json()) as {
      shards: { shard: number; ip: string }[];
    };
    expect(status.shards.length).toBeGreaterThan(0);
    for (const s of status.shards) expect(s.ip).toBe(homeIp(s.shard));

    // The first snapshot request of the run is answered 429 with Retry-After: 2 s, whoever sends it.
    fake.faults.rateLimitRest(1, 2);
    fake.start();
    await waitFor('the 429', () => fake.log.restRequests.some((r) => r.status === 429), 20_000);
    const limited = fake.log.restRequests.find((r) => r.status === 429)!;
    const limitedShard = shardOf(/symbol=([A-Z0-9]+)/.exec(limited.path)![1]!);
    expect(limited.remoteAddress).toBe(homeIp(limitedShard));
    const movedShards = new Set(
      SYMBOLS.map(shardOf).filter((s) => replicaOf(s) === replicaOf(limitedShard) && homeIp(s) === limited.remoteAddress),
    );
    const alt = otherIp(limitedShard);
    const shardsOfPath = (path: string): number[] => {
      const streams = /streams=([^&]+)/.exec(path)?.[1]?.split('/') ?? [];
      return [...new Set(streams.map((st) => shardOf(st.slice(0, st.indexOf('@')))))];
    };
    // The venue sees the moved shards arrive from the other address: sockets and snapshot requests.
    await waitFor(
      'moved shards from the other address',
      () =>
        fake.log.wsConnections.some(
          (c) => c.remoteAddress === alt && c.at > limited.at && shardsOfPath(c.path).some((s) => movedShards.has(s)),
        ) &&
        fake.log.restRequests.some(
          (r) =>
            r.remoteAddress === alt &&
            r.status === 200 &&
            r.at > limited.at &&
            movedShards.has(shardOf(/symbol=([A-Z0-9]+)/.exec(r.path)![1]!)),
        ),
      15_000,
    );
    // After Retry-After they come home again, make-before-break: a new socket from the home address.
    await waitFor(
      'moved shards back home',
      () =>
        fake.log.wsConnections.some(
          (c) =>
            c.remoteAddress === limited.remoteAddress &&
            c.at > limited.at + 2_000_000 &&
            shardsOfPath(c.path).some((s) => movedShards.has(s)),
        ),
      20_000,
    );
    // Make-before-break while it comes home: the replacement at home either synced and the one at the other
    // address retired, or (the fake venue only serves its recorded, older snapshots mid-run, so a book started
    // late may not sync before the next recorded one) it is still syncing and the other address keeps writing.
    const limitedReplica = replicas[replicaOf(limitedShard)]!;
    await new Promise((r) => setTimeout(r, 3_000));
    const body = (await (await fetch(`${limitedReplica.collector.health.url}/ready`)).json()) as {
      shards: { shard: number; ip: string; syncing?: boolean; replacing?: string }[];
      retiring: { shard: number; ip: string }[];
    };
    for (const shard of movedShards) {
      const unit = body.shards.find((s) => s.shard === shard)!;
      expect(unit.ip).toBe(limited.remoteAddress);
      const settled = !unit.syncing && !body.retiring.some((r) => r.shard === shard);
      const holding = unit.syncing === true && unit.replacing === alt;
      const retiringAlt = !unit.syncing && body.retiring.some((r) => r.shard === shard && r.ip === alt);
      expect(settled || holding || retiringAlt, JSON.stringify(body)).toBe(true);
    }
    expect(fake.stats().finished).toBe(false);
    await fake.whenFinished();
    const summaries = [];
    for (const r of replicas) summaries.push(await r.collector.stop());

    // Every WebSocket and REST request of every shard came from its replica's pool, from its home address,
    // except the moved shards from the other address after the 429.
    const allowed = (shard: number, at: number): string[] =>
      movedShards.has(shard) && at > limited.at ? [homeIp(shard), alt] : [homeIp(shard)];
    expect(fake.log.wsConnections.length).toBeGreaterThanOrEqual(REPLICAS);
    for (const c of fake.log.wsConnections) {
      const shards = shardsOfPath(c.path);
      expect(shards).toHaveLength(1); // one socket per shard here (4 symbols)
      expect(allowed(shards[0]!, c.at), `${c.path} from ${c.remoteAddress}`).toContain(c.remoteAddress);
    }
    expect(fake.log.restRequests.length).toBeGreaterThan(SYMBOLS.length);
    for (const r of fake.log.restRequests) {
      const shard = shardOf(/symbol=([A-Z0-9]+)/.exec(r.path)![1]!);
      expect(allowed(shard, r.at), `${r.path} from ${r.remoteAddress}`).toContain(r.remoteAddress);
    }
    const altSockets = fake.log.wsConnections.filter((c) => c.remoteAddress === alt).length;
    const altRest = fake.log.restRequests.filter((r) => r.remoteAddress === alt).length;
    console.log(
      `fleet-egress: ${totalShards} shards, 429 on ${limited.remoteAddress} moved shard(s) ${[...movedShards].join(',')} to ${alt}: ` +
        `${altSockets} socket(s) and ${altRest} REST request(s) from ${alt}; ` +
        `${fake.log.wsConnections.length} sockets, ${fake.log.restRequests.length} REST requests in all`,
    );
    expect(await metricSum(limitedReplica.registry, 'egress_ip_rate_limited_total', { ip: limited.remoteAddress })).toBe(1);
    expect(await metricSum(limitedReplica.registry, 'egress_shard_moves_total', { reason: 'rate_limited' })).toBeGreaterThanOrEqual(1);
    expect(await metricSum(limitedReplica.registry, 'egress_shard_moves_total', { reason: 'cooldown_over' })).toBeGreaterThanOrEqual(1);

    // No row twice across the replicas and the moves (natural key), and every symbol has rows.
    const table = 'spot_delta';
    const key = TABLE_SCHEMAS[table].naturalKey;
    const seen = new Map<string, number>();
    const symbols = new Set<string>();
    for (const r of replicas) {
      for (const row of await readTableRows(join(r.dir, 'lake'), table)) {
        const k = key.map((c) => String(row[c])).join('|');
        seen.set(k, (seen.get(k) ?? 0) + 1);
        symbols.add(String(row['symbol']));
      }
    }
    const dupes = [...seen].filter(([, n]) => n > 1);
    expect(dupes.slice(0, 5)).toEqual([]);
    expect(seen.size).toBe(summaries.reduce((n, s) => n + s.rows, 0));
    expect([...symbols].sort()).toEqual([...SYMBOLS].sort());
  }, 90_000);
});
