import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCfError } from '@cryptoflow/core';
import { localDynamoClient, startDynamo } from '@cryptoflow/stand-ins';
import type { LocalDynamo } from '@cryptoflow/stand-ins';
import { MAX_TOTAL_SHARDS, createShardHasher, FleetMembership, movedShards, rendezvousAssignment } from '../src/index.js';
import type { ShardHasher } from '../src/index.js';

let dynamo: LocalDynamo;
let hasher: ShardHasher;
const TABLE = 'cf-fleet-test';
const TOTAL = 64;

beforeAll(async () => {
  dynamo = await startDynamo();
  hasher = await createShardHasher();
  await FleetMembership.ensureTable(localDynamoClient(dynamo.endpoint), TABLE);
});
afterAll(async () => dynamo.close());

/** A shared fake wall clock: the fleet's timing is driven explicitly, no sleeps. */
function clock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

async function join(
  group: string,
  id: string,
  now: () => number,
  totalShards = TOTAL,
  standby = false,
): Promise<FleetMembership> {
  return FleetMembership.join({
    client: localDynamoClient(dynamo.endpoint),
    table: TABLE,
    group,
    totalShards,
    hasher,
    leaseMs: 10_000,
    heartbeatMs: 2_000,
    replicaId: id,
    now,
    handoverDelayMicros: 2_000_000,
    manualHeartbeats: true,
    standby,
  });
}

async function tickAll(replicas: FleetMembership[]): Promise<void> {
  for (let round = 0; round < 2; round++) for (const r of replicas) await r.tick();
}

/**
 * Finishes the handovers of replicas that joined together: every newcomer proposes a cut at 2 s (synced at 0),
 * every stream reaches 5 s (the old owners acknowledge past it), then 7 s (past cut + slack: they let go).
 */
async function settleHandovers(replicas: FleetMembership[]): Promise<void> {
  for (const r of replicas) for (const s of r.pendingHandovers()) r.markSynced(s, 0);
  for (const r of replicas) for (let s = 0; s < TOTAL; s++) r.ownsAt(s, 5_000_000);
  await tickAll(replicas);
  for (const r of replicas) for (let s = 0; s < TOTAL; s++) r.ownsAt(s, 7_000_000);
  await tickAll(replicas);
}

describe('rendezvous assignment', () => {
  it('moves about 1/N of shards when the N-th replica joins, far fewer than modulo', () => {
    const ids = Array.from({ length: 8 }, (_, i) => `replica-${i}`);
    for (let n = 2; n <= 8; n++) {
      const moved = movedShards(
        rendezvousAssignment(hasher, 1024, ids.slice(0, n - 1)),
        rendezvousAssignment(hasher, 1024, ids.slice(0, n)),
      );
      expect(moved).toBeGreaterThan(1024 / n / 2);
      expect(moved).toBeLessThan((1024 / n) * 1.6);
      let moduloMoved = 0;
      for (let s = 0; s < 1024; s++) if (s % (n - 1) !== s % n) moduloMoved++;
      if (n >= 3) expect(moved).toBeLessThan(moduloMoved); // 1→2 halves either way
    }
  });
});

describe('fleet membership', () => {
  it('partitions every shard across live replicas and hands over make-before-break on scale-out', async () => {
    const c = clock();
    const a = await join('g1', 'a', c.now);
    const b = await join('g1', 'b', c.now);
    await tickAll([a, b]);
    // Exactly one writer per shard at any exchange time, even while b takes over its share from a.
    const writers = (rs: FleetMembership[], ts: number) =>
      Array.from({ length: TOTAL }, (_, s) => rs.filter((r) => r.ownsAt(s, ts)).length);
    expect(writers([a, b], 1).every((n) => n === 1)).toBe(true);
    const moving = b.pendingHandovers();
    for (const s of moving) b.markSynced(s, 0); // proposes a cut at 2 s
    for (let s = 0; s < TOTAL; s++) a.ownsAt(s, 5_000_000); // a wrote up to 5 s before it learned the proposal
    await tickAll([a, b]);
    expect(b.pendingHandovers()).toEqual([]);
    // a acknowledged a cut just past its latest written row, not b's proposal: nothing written twice.
    for (const ts of [5_000_000, 5_000_001, 10_000_000])
      expect(writers([a, b], ts).every((n) => n === 1)).toBe(true);
    expect(b.ownsAt(moving[0] as number, 5_000_000)).toBe(false);
    expect(b.ownsAt(moving[0] as number, 5_000_001)).toBe(true);
    for (let s = 0; s < TOTAL; s++) a.ownsAt(s, 7_000_000); // a's stream passes the cut: it lets go
    await tickAll([a, b]);
    expect([...a.owned()].filter((s) => b.owns(s))).toEqual([]);

    const d = await join('g1', 'd', c.now);
    await tickAll([a, b, d]);
    const incoming = d.pendingHandovers();
    expect(incoming.length).toBeGreaterThan(TOTAL / 3 / 2);
    // During the handover the old owner writes everything and the newcomer nothing.
    const shard = incoming[0] as number;
    const old = [a, b].find((r) => r.owns(shard)) as FleetMembership;
    expect(old.ownsAt(shard, 5_000_000)).toBe(true);
    expect(d.ownsAt(shard, 5_000_000)).toBe(false);
    // Newcomer synced at exchange time 10 s: the cut is 12 s; rows split exactly at it.
    for (const s of incoming) d.markSynced(s, 10_000_000);
    await tickAll([a, b, d]);
    for (const ts of [11_999_999, 12_000_000]) {
      const writers = [a, b, d].filter((r) => r.ownsAt(shard, ts));
      expect(writers.map((r) => r.id)).toEqual([ts < 12_000_000 ? old.id : 'd']);
    }
    // The old owner lets go once its own stream is past the cut.
    old.ownsAt(shard, 13_500_000);
    await tickAll([a, b, d]);
    expect(old.owns(shard)).toBe(false);
    await Promise.all([a.close(), b.close(), d.close()]);
  });

  it("a dead replica's shards move once its lease expires; a paused one is fenced", async () => {
    const c = clock();
    const a = await join('g2', 'a', c.now);
    const b = await join('g2', 'b', c.now);
    await tickAll([a, b]);
    const bShards = [...b.owned()];
    expect(bShards.length).toBeGreaterThan(0);
    // b stops heartbeating (SIGKILL or pause); a keeps going past b's lease.
    for (let i = 0; i < 6; i++) {
      c.advance(2_000);
      await a.tick();
    }
    expect(bShards.every((s) => a.owns(s))).toBe(true);
    // b wakes up: its lease is over by its own clock, so it owns nothing before it even talks to the table.
    expect(b.owned().size).toBe(0);
    expect(b.ownsAt(bShards[0] as number, 1)).toBe(false);
    let fencedReason = '';
    (b as unknown as { options: { onFenced: (r: string) => void } }).options.onFenced = (r) =>
      (fencedReason = r);
    await b.tick();
    expect(fencedReason).toMatch(/lease expired/);
    expect(b.id).not.toBe('b');
    await Promise.all([a.close(), b.close()]);
  });

  it('a leaving replica hands every shard over make-before-break before it lets go', async () => {
    const c = clock();
    const a = await join('g4', 'a', c.now);
    const b = await join('g4', 'b', c.now);
    await tickAll([a, b]);
    await settleHandovers([a, b]);
    const bShards = [...b.owned()].sort((x, y) => x - y);
    expect(bShards.length).toBeGreaterThan(0);
    expect(b.pendingHandovers()).toEqual([]);

    const left = b.leave(60_000);
    await tickAll([a]);
    // a takes b's shards as incoming: b keeps writing everything until a is synced.
    expect(a.pendingHandovers().sort((x, y) => x - y)).toEqual(bShards);
    const shard = bShards[0] as number;
    expect(b.ownsAt(shard, 19_000_000)).toBe(true);
    expect(a.ownsAt(shard, 19_000_000)).toBe(false);
    for (const s of bShards) a.markSynced(s, 20_000_000); // proposes 22 s
    await a.tick(); // publishes the proposal
    // Until b acknowledges, a holds rows at or past its proposal: b may be writing them.
    expect(a.decideAt(shard, 22_000_000)).toBe('hold');
    expect(a.decideAt(shard, 21_999_999)).toBe('skip');
    await b.tick(); // b acknowledges 22 s (its stream is at 19 s)
    // b's stream passes the cut and b lets go of every shard before a has seen the acknowledgements: b must
    // not exit yet, or a would never learn where the cut is.
    for (const s of bShards) b.ownsAt(s, 23_500_000);
    let done = false;
    void left.then(() => (done = true));
    await b.tick();
    expect(b.owned().size).toBe(0);
    await new Promise((r) => setTimeout(r, 600)); // leave() polls every 250 ms
    expect(done).toBe(false);
    await a.tick(); // a sees the acknowledgements and confirms them at once
    for (const ts of [21_999_999, 22_000_000]) {
      expect([a, b].filter((r) => r.ownsAt(shard, ts)).map((r) => r.id)).toEqual([ts < 22_000_000 ? 'b' : 'a']);
    }
    expect(await left).toEqual({ released: true, heldShards: [] });
    expect(b.owned().size).toBe(0);
    // Rows still queued in b's pipeline when it let go are b's if before the cut (drained, not dropped).
    expect(b.ownsAt(shard, 21_999_999)).toBe(true);
    expect(b.ownsAt(shard, 22_000_000)).toBe(false);
    await b.close();
    await a.tick();
    expect(a.owned().size).toBe(TOTAL);
    // Taken shards keep skipping rows from before the cut for a while (stragglers b wrote), then settle.
    expect(a.decideAt(shard, 21_999_999)).toBe('skip');
    for (let i = 0; i < 21; i++) {
      c.advance(2_000);
      await a.tick();
    }
    expect(a.roleCounts()).toEqual({ owned: TOTAL, incoming: 0, outgoing: 0 });
    await a.close();
  });

  it('puts the default cut past the time the old owner needs to learn it (two heartbeats)', async () => {
    const c = clock();
    const a = await join('g5', 'a', c.now);
    const b = await FleetMembership.join({
      client: localDynamoClient(dynamo.endpoint),
      table: TABLE,
      group: 'g5',
      totalShards: TOTAL,
      hasher,
      leaseMs: 10_000,
      heartbeatMs: 2_000,
      replicaId: 'b',
      now: c.now,
      manualHeartbeats: true,
    });
    await tickAll([a, b]);
    const shard = b.pendingHandovers()[0] as number;
    b.markSynced(shard, 100_000_000);
    expect(b.decideAt(shard, 104_999_999)).toBe('skip'); // 2 × 2 s heartbeat + 1 s = 5 s
    expect(b.decideAt(shard, 105_000_000)).toBe('hold');
    await tickAll([b, a]);
    await b.tick();
    // a had written nothing of the shard past the proposal: the cut stands as proposed.
    expect(b.decideAt(shard, 105_000_000)).toBe('write');
    expect(a.ownsAt(shard, 104_999_999)).toBe(true);
    expect(a.ownsAt(shard, 105_000_000)).toBe(false);
    await Promise.all([a.close(), b.close()]);
  });

  it('splits every row exactly once when the old owner is ahead of the proposal, rows held meanwhile', async () => {
    const c = clock();
    const a = await join('g6', 'a', c.now);
    await a.tick();
    // a owns everything and writes a stream up to 8 s of exchange time.
    const shards = [...a.owned()];
    const b = await join('g6', 'b', c.now);
    await a.tick();
    await b.tick();
    const moving = b.pendingHandovers();
    expect(moving.length).toBeGreaterThan(0);
    const shard = moving[0] as number;
    const written: Record<string, number[]> = { a: [], b: [], held: [] };
    b.markSynced(shard, 1_000_000); // b's view lags: proposes 3 s
    await b.tick();
    for (let ts = 0; ts <= 8_000_000; ts += 500_000) {
      if (a.ownsAt(shard, ts)) written['a']?.push(ts);
      const d = b.decideAt(shard, ts);
      if (d === 'write') written['b']?.push(ts);
      if (d === 'hold') written['held']?.push(ts);
    }
    expect(written['b']).toEqual([]);
    expect(written['held']?.[0]).toBe(3_000_000);
    await a.tick(); // acknowledges 8 s + 1 µs
    await b.tick();
    // The held rows are decided now: those a already wrote are skipped, none is written by both.
    const heldWrittenByB = (written['held'] ?? []).filter((ts) => b.ownsAt(shard, ts));
    expect(heldWrittenByB).toEqual([]);
    for (let ts = 8_000_001; ts <= 12_000_001; ts += 1_000_000) {
      expect([a, b].filter((r) => r.ownsAt(shard, ts)).map((r) => r.id)).toEqual(['b']);
    }
    expect(shards).toContain(shard);
    await Promise.all([a.close(), b.close()]);
  });

  it('a newcomer whose old owner dies before acknowledging writes from its own proposal', async () => {
    const c = clock();
    const a = await join('g7', 'a', c.now);
    const b = await join('g7', 'b', c.now);
    await tickAll([a, b]);
    const shard = b.pendingHandovers()[0] as number;
    b.markSynced(shard, 1_000_000); // proposes 3 s
    await b.tick();
    expect(b.decideAt(shard, 3_000_000)).toBe('hold');
    // a dies (no more heartbeats); its lease runs out.
    for (let i = 0; i < 6; i++) {
      c.advance(2_000);
      await b.tick();
    }
    expect(b.decideAt(shard, 2_999_999)).toBe('skip');
    expect(b.decideAt(shard, 3_000_000)).toBe('write');
    await b.close();
  });

  it('a shard coming back to its old owner while the successor that took it leaves is handed back, not grabbed', async () => {
    const c = clock();
    const a = await join('g9', 'a', c.now);
    const b = await join('g9', 'b', c.now);
    await tickAll([a, b]);
    const moved = b.pendingHandovers();
    for (const s of moved) b.markSynced(s, 0); // proposes 2 s
    for (const s of moved) a.ownsAt(s, 1_000_000); // a's stream is before the cut: it keeps the shard as outgoing
    await tickAll([a, b]);
    const shard = moved[0] as number;
    expect(b.ownsAt(shard, 2_000_000)).toBe(true); // b took it from the acknowledged cut
    expect(a.roleCounts().outgoing).toBe(moved.length);

    const left = b.leave(60_000);
    await a.tick();
    // The shard is a's again by rendezvous, but b writes it: a takes it back make-before-break.
    expect(a.pendingHandovers().sort((x, y) => x - y)).toEqual([...moved].sort((x, y) => x - y));
    expect(a.decideAt(shard, 5_000_000)).toBe('skip');
    expect(b.ownsAt(shard, 5_000_000)).toBe(true);
    for (const s of moved) a.markSynced(s, 10_000_000); // proposes 12 s
    await a.tick();
    await b.tick(); // b acknowledges past what it wrote (5 s): 12 s
    await a.tick();
    for (const ts of [11_999_999, 12_000_000])
      expect([a, b].filter((r) => r.ownsAt(shard, ts)).map((r) => r.id)).toEqual([ts < 12_000_000 ? 'b' : 'a']);
    for (const s of moved) b.ownsAt(s, 13_500_000);
    await b.tick();
    await a.tick();
    expect(await left).toEqual({ released: true, heldShards: [] });
    await Promise.all([a.close(), b.close()]);
  });

  it('standby: each shard is buffered by its runner-up, which takes it over with rows held when the owner dies', async () => {
    const c = clock();
    const a = await join('g8', 'a', c.now, TOTAL, true);
    const b = await join('g8', 'b', c.now, TOTAL, true);
    const d = await join('g8', 'd', c.now, TOTAL, true);
    const all = [a, b, d];
    await tickAll(all);
    await settleHandovers(all);
    // Every shard: one owner, one standby (the rendezvous runner-up), and the third replica does nothing.
    for (let s = 0; s < TOTAL; s++) {
      expect(all.filter((r) => r.owns(s))).toHaveLength(1);
      expect(all.filter((r) => r.standbyShards().has(s))).toHaveLength(1);
      expect(all.filter((r) => r.owns(s) && r.standbyShards().has(s))).toHaveLength(0);
    }
    const bShards = [...b.owned()];
    const standbyOfB = new Map(bShards.map((s) => [s, all.find((r) => r.standbyShards().has(s))!]));
    for (const [s, r] of standbyOfB) expect(r.decideAt(s, 8_000_000)).toBe('buffer');
    // b dies; a and d see its lease expire.
    for (let i = 0; i < 6; i++) {
      c.advance(2_000);
      await a.tick();
      await d.tick();
    }
    for (const [s, r] of standbyOfB) {
      expect(r.owns(s)).toBe(true);
      expect(r.pendingTakeovers()).toContain(s);
      expect(r.decideAt(s, 9_000_000)).toBe('hold'); // until the collector has read what b made durable
      r.completeTakeover(s);
      expect(r.decideAt(s, 9_000_000)).toBe('write');
    }
    await Promise.all([a.close(), b.close(), d.close()]);
  });

  it("refuses a replica whose total_shards differs from the fleet's", async () => {
    const c = clock();
    const a = await join('g3', 'a', c.now, 32);
    const err = await join('g3', 'x', c.now, 64).catch((e: unknown) => e);
    expect(isCfError(err, 'CF_SHARDING')).toBe(true);
    expect((err as Error).message).toMatch(/total_shards is 64 but fleet g3 was created with 32/);
    await a.close();
  });

  it('hands over half of MAX_TOTAL_SHARDS at once (a 1 -> 2 step) with the longest replica ids DynamoDB items must hold', async () => {
    const c = clock();
    // A replica id is `${hostname()}-${pid}-${uuid8}`; host names go up to 63 characters.
    const id = (tag: string): string => `${tag.repeat(63)}-4194304-0123abcd`;
    const a = await join('g-max', id('a'), c.now, MAX_TOTAL_SHARDS);
    const b = await join('g-max', id('b'), c.now, MAX_TOTAL_SHARDS);
    await tickAll([a, b]);
    const moving = b.pendingHandovers();
    expect(moving.length).toBeGreaterThan(MAX_TOTAL_SHARDS / 3);
    for (const s of moving) b.markSynced(s, 0); // b publishes one cut per moving shard
    for (let s = 0; s < MAX_TOTAL_SHARDS; s++) a.ownsAt(s, 5_000_000);
    await tickAll([a, b]); // a publishes one acknowledgement per moving shard
    for (let s = 0; s < MAX_TOTAL_SHARDS; s++) a.ownsAt(s, 7_000_000);
    await tickAll([a, b]);
    expect(a.leaseValid() && b.leaseValid()).toBe(true);
    expect(a.roleCounts().outgoing).toBe(0); // every cut acknowledged and passed: a let go
    for (let s = 0; s < MAX_TOTAL_SHARDS; s++) {
      const writers = [a, b].filter((r) => r.decideAt(s, 8_000_000) === 'write');
      expect(writers, `shard ${s}`).toHaveLength(1);
    }
    await Promise.all([a.close(), b.close()]);
  }, 60_000);
});
