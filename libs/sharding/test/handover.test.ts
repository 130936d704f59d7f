/**
 * The handover state machine on its own: no DynamoDB, no timers. Each replica's view of the fleet is built by
 * hand from what the others would have published, so every step of a handover can be checked in isolation.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ShardHandovers, reconcile } from '../src/handover.js';
import type { FleetView, HandoverParams, Member, ReadyCut, CutAck } from '../src/handover.js';
import {
  createShardHasher,
  rendezvousOwner,
  rendezvousRunnerUp,
  RELEASE_SLACK_US,
  SETTLE_US,
} from '../src/index.js';
import type { ShardHasher } from '../src/index.js';

const TOTAL = 16;
const LEASE_MS = 10_000;
let hasher: ShardHasher;
beforeAll(async () => {
  hasher = await createShardHasher();
});

function params(me: string, standby = false): HandoverParams {
  return { me, totalShards: TOTAL, hasher, leaseMs: LEASE_MS, heartbeatMs: 2_000, standby };
}

function member(
  id: string,
  published: {
    ready?: [number, ReadyCut][];
    acks?: [number, CutAck][];
    taken?: [number, number][];
    leaving?: boolean;
  } = {},
): Member {
  return {
    id,
    leaseExpiresAt: Number.MAX_SAFE_INTEGER,
    ready: new Map(published.ready ?? []),
    acks: new Map(published.acks ?? []),
    taken: new Map(published.taken ?? []),
    leaving: published.leaving ?? false,
  };
}

function view(members: Member[], previous: string[], nowMs = 0): FleetView {
  return { members, previousMembers: new Set(previous), nowMs };
}

/** A shard that `b` owns by rendezvous once it joins `a` (and, with a third id, keeps owning). */
function shardMovingTo(b: string, ids: string[]): number {
  for (let s = 0; s < TOTAL; s++) if (rendezvousOwner(hasher, s, ids) === b) return s;
  throw new Error(`no shard for ${b}`);
}

/** `a` alone owns every shard. */
function soleOwner(a: string): ShardHandovers {
  const { state } = reconcile(new ShardHandovers(), params(a), view([member(a)], []));
  return state;
}

describe('handover state', () => {
  it('a lone replica owns every shard; reconcile never changes its input', () => {
    const empty = new ShardHandovers();
    const { state, events, publish } = reconcile(empty, params('a'), view([member('a')], []));
    expect(state.roles.size).toBe(TOTAL);
    expect(state.roleCounts()).toEqual({ owned: TOTAL, incoming: 0, outgoing: 0 });
    expect(empty.roles.size).toBe(0);
    expect(events).toEqual([]);
    expect(publish).toBe(false);
    // Same inputs, same answer.
    expect(reconcile(empty, params('a'), view([member('a')], [])).state.roles).toEqual(state.roles);
  });

  it('make-before-break: the newcomer collects, proposes a cut, the old owner acknowledges it, each writes its side', () => {
    const shard = shardMovingTo('b', ['a', 'b']);
    // b joins: the shard is incoming from a, which still writes it; b writes nothing yet.
    let b = reconcile(new ShardHandovers(), params('b'), view([member('a'), member('b')], [])).state;
    expect(b.roles.get(shard)).toMatchObject({ kind: 'incoming', from: 'a', cutUs: null });
    expect(b.pendingHandovers()).toContain(shard);
    expect(b.decideAt(shard, 1_000_000)).toBe('skip');
    // b is synced at 1 s: it proposes 3 s (2 s delay) and publishes it; only once.
    expect(b.markSynced(shard, 1_000_000, 2_000_000)).toEqual({
      kind: 'proposed',
      shard,
      from: 'a',
      proposalUs: 3_000_000,
    });
    expect(b.markSynced(shard, 1_500_000, 2_000_000)).toBeUndefined();
    expect(b.published().ready.get(shard)).toEqual({ from: 'a', cutUs: 3_000_000 });
    expect(b.decideAt(shard, 2_999_999)).toBe('skip');
    expect(b.decideAt(shard, 3_000_000)).toBe('hold'); // until a says where the cut really is

    // a wrote up to 2.5 s, then sees the proposal: it acknowledges the proposal unchanged and stops there.
    let a = soleOwner('a');
    expect(a.decideAt(shard, 2_500_000)).toBe('write');
    const r = reconcile(
      a,
      params('a'),
      view(
        [member('a'), member('b', { ready: [[shard, { from: 'a', cutUs: 3_000_000 }]] })],
        ['a', 'b'],
        100,
      ),
    );
    a = r.state;
    expect(r.publish).toBe(true);
    expect(r.events).toContainEqual({
      kind: 'acknowledged',
      shard,
      to: 'b',
      proposalUs: 3_000_000,
      cutUs: 3_000_000,
      writtenUs: 2_500_000,
    });
    expect(a.roles.get(shard)).toMatchObject({ kind: 'outgoing', to: 'b', cutUs: 3_000_000 });
    expect(a.decideAt(shard, 2_999_999)).toBe('write');
    expect(a.decideAt(shard, 3_000_000)).toBe('skip');

    // b reads the acknowledgement: it takes the shard from the cut and confirms it (`taken`).
    const rb = reconcile(
      b,
      params('b'),
      view([member('a', { acks: [[shard, a.acks.get(shard)!]] }), member('b')], ['a', 'b'], 200),
    );
    b = rb.state;
    expect(rb.events).toContainEqual({
      kind: 'taken',
      shard,
      from: 'a',
      proposalUs: 3_000_000,
      cutUs: 3_000_000,
      acknowledged: true,
    });
    expect(b.published().taken.get(shard)).toBe(3_000_000);
    expect(b.decideAt(shard, 2_999_999)).toBe('skip');
    expect(b.decideAt(shard, 3_000_000)).toBe('write');

    // a's stream passes the cut + slack: it lets go, and rows before the cut still queued in its pipeline stay its own.
    a.decideAt(shard, 3_000_000 + RELEASE_SLACK_US);
    const ra = reconcile(
      a,
      params('a'),
      view([member('a'), member('b', { taken: [[shard, 3_000_000]] })], ['a', 'b'], 300),
    );
    expect(ra.events).toContainEqual({ kind: 'released', shard, to: 'b', cutUs: 3_000_000 });
    expect(ra.state.roles.has(shard)).toBe(false);
    expect(ra.state.decideAt(shard, 2_900_000)).toBe('write');
    expect(ra.state.decideAt(shard, 3_000_000)).toBe('skip');

    // b owns it outright once its stream is SETTLE_US past the cut.
    b.decideAt(shard, 3_000_000 + SETTLE_US);
    expect(
      reconcile(b, params('b'), view([member('a'), member('b')], ['a', 'b'], 400)).state.roles.get(shard),
    ).toEqual({ kind: 'owned' });
  });

  it('the old owner ahead of the proposal acknowledges just past its last written row', () => {
    const shard = shardMovingTo('b', ['a', 'b']);
    const a = soleOwner('a');
    a.decideAt(shard, 5_000_000);
    const r = reconcile(
      a,
      params('a'),
      view([member('a'), member('b', { ready: [[shard, { from: 'a', cutUs: 3_000_000 }]] })], ['a', 'b']),
    );
    expect(r.state.acks.get(shard)).toEqual({ to: 'b', proposalUs: 3_000_000, cutUs: 5_000_001 });
    expect(r.state.decideAt(shard, 5_000_000)).toBe('write');
    expect(r.state.decideAt(shard, 5_000_001)).toBe('skip');
  });

  it('a quiet outgoing shard is let go after two leases of wall time', () => {
    const shard = shardMovingTo('b', ['a', 'b']);
    const ready = member('b', { ready: [[shard, { from: 'a', cutUs: 3_000_000 }]] });
    const a = reconcile(soleOwner('a'), params('a'), view([member('a'), ready], ['a', 'b'], 1_000)).state;
    expect(
      reconcile(
        a,
        params('a'),
        view([member('a'), ready], ['a', 'b'], 1_000 + 2 * LEASE_MS - 1),
      ).state.roles.has(shard),
    ).toBe(true);
    expect(
      reconcile(a, params('a'), view([member('a'), ready], ['a', 'b'], 1_000 + 2 * LEASE_MS)).state.roles.has(
        shard,
      ),
    ).toBe(false);
  });

  it('an old owner that dies before acknowledging: the newcomer writes from its own proposal', () => {
    const shard = shardMovingTo('b', ['a', 'b']);
    const b = reconcile(new ShardHandovers(), params('b'), view([member('a'), member('b')], [])).state;
    b.markSynced(shard, 1_000_000, 2_000_000);
    const r = reconcile(b, params('b'), view([member('b')], ['a', 'b']));
    expect(r.events).toContainEqual({
      kind: 'taken',
      shard,
      from: 'a',
      proposalUs: 3_000_000,
      cutUs: 3_000_000,
      acknowledged: false,
    });
    expect(r.state.decideAt(shard, 3_000_000)).toBe('write');
    // Not synced yet when the old owner died: nobody writes the shard, so it is taken outright.
    const other = reconcile(new ShardHandovers(), params('b'), view([member('a'), member('b')], [])).state;
    expect(reconcile(other, params('b'), view([member('b')], ['a', 'b'])).state.roles.get(shard)).toEqual({
      kind: 'owned',
    });
  });

  it('standby: the runner-up buffers a shard and, when its owner dies, holds rows until the takeover is resolved', () => {
    const ids = ['a', 'b', 'c'];
    const shard = [...Array(TOTAL).keys()].find((s) => rendezvousRunnerUp(hasher, s, ids) === 'b')!;
    const owner = rendezvousOwner(hasher, shard, ids)!;
    const all = ids.map((id) => member(id));
    let b = reconcile(new ShardHandovers(), params('b', true), view(all, ids)).state;
    expect(b.standbys.has(shard)).toBe(true);
    expect(b.roles.has(shard)).toBe(false);
    expect(b.decideAt(shard, 1_000_000)).toBe('buffer');
    b = reconcile(
      b,
      params('b', true),
      view(
        all.filter((m) => m.id !== owner),
        ids,
      ),
    ).state;
    expect(b.pendingTakeovers()).toContain(shard);
    expect(b.decideAt(shard, 2_000_000)).toBe('hold');
    b.completeTakeover(shard);
    expect(b.decideAt(shard, 2_000_000)).toBe('write');
  });

  it('a leaving member is no rendezvous candidate: its shards go to the others make-before-break', () => {
    const a = soleOwner('a');
    const r = reconcile(a, params('a'), view([member('a', { leaving: true }), member('b')], ['a', 'b']));
    // Every shard is on its way out; a keeps writing each until its successor's cut.
    expect(r.state.roleCounts()).toEqual({ owned: 0, incoming: 0, outgoing: TOTAL });
    for (const [, role] of r.state.roles)
      expect(role).toMatchObject({ kind: 'outgoing', to: 'b', cutUs: null });
  });

  it('after fencing nothing is held, proposed or acknowledged', () => {
    const shard = shardMovingTo('b', ['a', 'b']);
    const a = reconcile(
      soleOwner('a'),
      params('a'),
      view([member('a'), member('b', { ready: [[shard, { from: 'a', cutUs: 3_000_000 }]] })], ['a', 'b']),
    ).state;
    const f = a.fenced();
    expect(f.roles.size + f.acks.size + f.synced.size + f.taken.size + f.released.size).toBe(0);
    expect(f.decideAt(shard, 1)).toBe('skip');
  });
});
