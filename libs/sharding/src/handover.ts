import type { ShardHasher } from './hasher.js';
import { rendezvousOwner, rendezvousRunnerUp } from './rendezvous.js';
import { RELEASE_SLACK_US, SETTLE_LEASES, SETTLE_US } from './timings.js';

/**
 * The handover state machine of one replica, with no I/O and no clock: every input is an argument.
 *
 * `ShardHandovers` is what this replica knows about each shard (its role, the cuts it proposed, acknowledged
 * or took, the latest rows it saw and wrote); rows ask it what to do (`decideAt`, the hot path). `reconcile`
 * takes it and the fleet as last read (every live member's published state) and returns the next state, the
 * events to log and whether a decision must be published at once. The coordinator (fleet.ts) reads and
 * writes DynamoDB (fleet-store.ts) and runs the timers around it.
 *
 * Cuts are in exchange time (µs), so a handover splits rows the same way live and in a replay.
 */

export type HandoverEvent =
  | { readonly kind: 'proposed'; readonly shard: number; readonly from: string; readonly proposalUs: number }
  | {
      readonly kind: 'acknowledged';
      readonly shard: number;
      readonly to: string;
      readonly proposalUs: number;
      readonly cutUs: number;
      /** Our latest written row of the shard when we acknowledged (0: none). */
      readonly writtenUs: number;
    }
  | {
      readonly kind: 'taken';
      readonly shard: number;
      readonly from: string;
      readonly proposalUs: number;
      readonly cutUs: number;
      /** False: the old owner died before acknowledging; we write from our proposal. */
      readonly acknowledged: boolean;
    }
  | { readonly kind: 'released'; readonly shard: number; readonly to: string; readonly cutUs: number | null };

/**
 * What a replica does with one row of a shard: write it, skip it (another replica writes it), hold it until
 * a handover cut is acknowledged or a takeover resolved (then it is written or skipped, in order), or buffer
 * it as a standby (kept for a while in case the owner dies, then dropped).
 */
export type RowDecision = 'write' | 'skip' | 'hold' | 'buffer';

export type ShardRole =
  /** `takeover`: ours since the owner died while we were its standby; rows held until the collector resolved
   *  which of our buffered rows the dead owner had made durable. */
  | { readonly kind: 'owned'; readonly takeover?: boolean }
  | {
      readonly kind: 'incoming';
      readonly from: string;
      /** The cut we proposed (null: not synced yet, we write nothing). */
      readonly cutUs: number | null;
      /** The cut the old owner acknowledged, >= ours; rows from it on are ours. Null: not acknowledged yet. */
      readonly ackedUs: number | null;
      /** Wall time (ms) the acknowledgement was seen, for settling quiet shards. */
      readonly ackedAtMs: number;
    }
  | {
      readonly kind: 'outgoing';
      readonly to: string;
      /** The acknowledged cut: we write rows before it. Null: no proposal from the successor yet. */
      readonly cutUs: number | null;
      /** The successor's proposal we acknowledged (a new proposal gets a new acknowledgement). */
      readonly proposalUs: number | null;
      readonly seenAtMs: number;
      readonly fromUs: number | null;
      /** Our stream position when we first saw this cut, µs (0: no row seen). */
      readonly maxTsAtSeen: number;
    };

/** The old owner's answer to a proposed cut: the cut both sides use, never before a row it already wrote. */
export interface CutAck {
  readonly to: string;
  readonly proposalUs: number;
  readonly cutUs: number;
}

/** A proposed cut, published by the incoming owner: rows from `cutUs` on are its, once acknowledged. */
export interface ReadyCut {
  readonly from: string;
  readonly cutUs: number;
}

/** One live replica as it published itself. */
export interface Member {
  readonly id: string;
  readonly leaseExpiresAt: number;
  /** Shards this member has synced as incoming owner: the handover cut (µs) it proposes, to whom. */
  readonly ready: ReadonlyMap<number, ReadyCut>;
  /** Its acknowledgements of cuts proposed for shards it hands over. */
  readonly acks: ReadonlyMap<number, CutAck>;
  /** Shards it took over, with the acknowledged cut it writes from (tells a leaver it may exit). */
  readonly taken: ReadonlyMap<number, number>;
  /** Draining (planned scale-in): alive and still collecting, but no longer a rendezvous candidate. */
  readonly leaving: boolean;
}

/** The handover state this replica publishes with every heartbeat (its `Member` as others read it). */
export interface PublishedHandovers {
  readonly ready: ReadonlyMap<number, ReadyCut>;
  readonly acks: ReadonlyMap<number, CutAck>;
  readonly taken: ReadonlyMap<number, number>;
}

/** Rows of a shard handed over that stay ours: `[fromUs, cutUs)`. */
interface Released {
  readonly fromUs: number | null;
  readonly cutUs: number;
}

export class ShardHandovers {
  readonly roles = new Map<number, ShardRole>();
  /** Shards we are ranked second for (standby mode): collected and buffered, not written. */
  standbys: ReadonlySet<number> = new Set();
  /** Cuts we proposed as incoming owner. */
  readonly synced = new Map<number, number>();
  /** Latest exchange time of a row seen on a shard in handover, µs. */
  readonly maxTs = new Map<number, number>();
  /**
   * Latest exchange time of a row we decided to write, per shard (the floor of any cut we acknowledge). One
   * map update per written row: the price of never acknowledging a cut before a row already written.
   */
  readonly maxWritten = new Map<number, number>();
  /** Acknowledgements we publish, per shard handed over; kept until the successor confirms or we own it again. */
  readonly acks = new Map<number, CutAck>();
  /** Acknowledged cuts of the shards we took over, published so the old owner knows we saw its ack. */
  readonly taken = new Map<number, number>();
  /**
   * Shards handed over: the rows we wrote, `[fromUs, cutUs)`, stay ours, so rows still queued in our
   * pipeline when we let go are written on drain, not dropped. Cleared when the shard gets a role again.
   */
  readonly released = new Map<number, Released>();

  /** An independent copy (`reconcile` never changes its input). */
  clone(): ShardHandovers {
    const c = new ShardHandovers();
    for (const [k, v] of this.roles) c.roles.set(k, v);
    c.standbys = this.standbys;
    for (const [k, v] of this.synced) c.synced.set(k, v);
    for (const [k, v] of this.maxTs) c.maxTs.set(k, v);
    for (const [k, v] of this.maxWritten) c.maxWritten.set(k, v);
    for (const [k, v] of this.acks) c.acks.set(k, v);
    for (const [k, v] of this.taken) c.taken.set(k, v);
    for (const [k, v] of this.released) c.released.set(k, v);
    return c;
  }

  /**
   * The state after this replica was fenced: it holds, proposed and acknowledged nothing any more. Only the
   * stream positions (`maxTs`) carry over to the replica's next id; they only ever grow.
   */
  fenced(): ShardHandovers {
    const c = new ShardHandovers();
    for (const [k, v] of this.maxTs) c.maxTs.set(k, v);
    return c;
  }

  /**
   * What to do with a row of `shard` at exchange time `exchangeTsMicros`. During a handover both owners
   * collect; the acknowledged cut splits the rows between them so none is written twice or skipped. The
   * newcomer holds rows at or past its proposed cut until the old owner's acknowledgement says where the
   * cut really is (the old owner may already have written past the proposal).
   */
  decideAt(shard: number, exchangeTsMicros: number): RowDecision {
    const role = this.roles.get(shard);
    if (!role) {
      const r = this.released.get(shard);
      if (
        r === undefined ||
        exchangeTsMicros >= r.cutUs ||
        (r.fromUs !== null && exchangeTsMicros < r.fromUs)
      )
        return this.standbys.has(shard) ? 'buffer' : 'skip';
      this.noteWritten(shard, exchangeTsMicros);
      return 'write';
    }
    if (role.kind === 'owned') {
      if (role.takeover) return 'hold';
      this.noteWritten(shard, exchangeTsMicros);
      return 'write';
    }
    if (exchangeTsMicros > (this.maxTs.get(shard) ?? 0)) this.maxTs.set(shard, exchangeTsMicros);
    if (role.kind === 'outgoing') {
      // A shard handed on while its own incoming cut still applies keeps that lower bound.
      if (role.fromUs !== null && exchangeTsMicros < role.fromUs) return 'skip';
      if (role.cutUs !== null && exchangeTsMicros >= role.cutUs) return 'skip';
      this.noteWritten(shard, exchangeTsMicros);
      return 'write';
    }
    if (role.ackedUs !== null) {
      if (exchangeTsMicros < role.ackedUs) return 'skip';
      this.noteWritten(shard, exchangeTsMicros);
      return 'write';
    }
    if (role.cutUs === null || exchangeTsMicros < role.cutUs) return 'skip';
    return 'hold';
  }

  /** The floor of any cut we acknowledge for this shard later: the latest row we wrote. */
  private noteWritten(shard: number, exchangeTsMicros: number): void {
    if (exchangeTsMicros > (this.maxWritten.get(shard) ?? 0)) this.maxWritten.set(shard, exchangeTsMicros);
  }

  /**
   * An incoming shard is live: propose a cut `delayUs` past the latest exchange time seen on it, so the old
   * owner, still collecting, writes everything before it. Once per handover; undefined when nothing changed.
   */
  markSynced(shard: number, latestExchangeTsMicros: number, delayUs: number): HandoverEvent | undefined {
    const role = this.roles.get(shard);
    if (!role || role.kind !== 'incoming' || this.synced.has(shard)) return undefined;
    const cut = latestExchangeTsMicros + delayUs;
    this.synced.set(shard, cut);
    this.roles.set(shard, { ...role, cutUs: cut });
    return { kind: 'proposed', shard, from: role.from, proposalUs: cut };
  }

  /** Shards taken over from a dead owner whose buffered rows wait for the collector to resolve them. */
  pendingTakeovers(): number[] {
    return [...this.roles].filter(([, r]) => r.kind === 'owned' && r.takeover === true).map(([s]) => s);
  }

  /** The collector decided which buffered rows to write: the shard is owned outright from now on. */
  completeTakeover(shard: number): void {
    const role = this.roles.get(shard);
    if (role?.kind === 'owned' && role.takeover) this.roles.set(shard, { kind: 'owned' });
  }

  /** Shards collected but not yet written by us (incoming, waiting to be synced and propose a cut). */
  pendingHandovers(): number[] {
    return [...this.roles].filter(([, r]) => r.kind === 'incoming' && r.cutUs === null).map(([s]) => s);
  }

  roleCounts(): { owned: number; incoming: number; outgoing: number } {
    const counts = { owned: 0, incoming: 0, outgoing: 0 };
    for (const role of this.roles.values()) counts[role.kind]++;
    return counts;
  }

  /** What this replica publishes: proposed cuts of incoming shards, acknowledgements, cuts taken. */
  published(): PublishedHandovers {
    const ready = new Map<number, ReadyCut>();
    for (const [shard, cut] of this.synced) {
      const role = this.roles.get(shard);
      if (role?.kind === 'incoming') ready.set(shard, { from: role.from, cutUs: cut });
    }
    return { ready, acks: this.acks, taken: this.taken };
  }

  /** Shards whose acknowledged cut the live successor has not confirmed yet. */
  unconfirmedAcks(members: readonly Member[]): number[] {
    const byId = new Map(members.map((m) => [m.id, m]));
    const open: number[] = [];
    for (const [shard, ack] of this.acks) {
      const successor = byId.get(ack.to);
      if (successor && successor.taken.get(shard) !== ack.cutUs) open.push(shard);
    }
    return open;
  }

  /** Each held shard's role, for /ready and the log. */
  describeShards(): Record<number, string> {
    return Object.fromEntries(
      [...this.roles]
        .sort((a, b) => a[0] - b[0])
        .map(([s, r]) => [
          s,
          r.kind === 'owned'
            ? r.takeover
              ? 'owned (taking over)'
              : 'owned'
            : r.kind === 'incoming'
              ? `incoming${r.ackedUs !== null ? ' (acknowledged)' : r.cutUs !== null ? ' (cut proposed)' : ''}`
              : `outgoing${r.cutUs !== null ? ' (cut acknowledged)' : ''}`,
        ]),
    );
  }
}

export interface HandoverParams {
  /** This replica's id. */
  readonly me: string;
  readonly totalShards: number;
  readonly hasher: ShardHasher;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  /** Warm standby: also collect (buffer) the shards we are ranked second for. */
  readonly standby: boolean;
}

/** The fleet as last read. */
export interface FleetView {
  /** Live members, this replica included. */
  readonly members: readonly Member[];
  /** Ids of the previous view's members (empty on the first view). */
  readonly previousMembers: ReadonlySet<string>;
  /** Wall clock, ms. */
  readonly nowMs: number;
}

export interface ReconcileResult {
  readonly state: ShardHandovers;
  /** Each handover step taken, in order, for the log. */
  readonly events: readonly HandoverEvent[];
  /** A decision the other side of a handover waits for (an acknowledgement, a confirmation): publish now. */
  readonly publish: boolean;
}

/**
 * The next state of every shard for a view of the fleet: shards go to live non-leaving members by rendezvous
 * hashing; a shard changing owner while its old owner lives is held by both (make-before-break) until the
 * newcomer's proposed cut is acknowledged and the old owner's stream has passed it; a shard whose owner died
 * is taken outright (as its standby, with rows held until the collector resolved what the dead owner wrote).
 * Never changes `before`.
 */
export function reconcile(before: ShardHandovers, params: HandoverParams, view: FleetView): ReconcileResult {
  const state = before.clone();
  const events: HandoverEvent[] = [];
  const { me, hasher, leaseMs } = params;
  const nowMs = view.nowMs;
  // Leaving replicas are alive (they still hold their shards until handed over) but own nothing new.
  const ids = view.members.filter((m) => !m.leaving).map((m) => m.id);
  const byId = new Map(view.members.map((m) => [m.id, m]));
  let publish = false;
  // Who held each shard before this view: rendezvous over the members that were live before and still are.
  // On our first view that is everyone but us (they ran the shards before we joined).
  const previousIds =
    view.previousMembers.size === 0
      ? view.members.map((m) => m.id).filter((id) => id !== me)
      : [...view.previousMembers].filter((id) => byId.has(id) || id === me);
  const wasStandby = before.standbys;
  const standbys = new Set<number>();
  for (let shard = 0; shard < params.totalShards; shard++) {
    const owner = rendezvousOwner(hasher, shard, ids);
    const role = state.roles.get(shard);
    const previousOwner = rendezvousOwner(hasher, shard, previousIds);
    if (params.standby && owner !== me && rendezvousRunnerUp(hasher, shard, ids) === me) standbys.add(shard);
    if (owner === me) {
      if (role?.kind === 'owned') continue;
      if (role?.kind === 'incoming') {
        const from = byId.get(role.from);
        if (role.cutUs === null) {
          // Not synced yet and the old owner is gone (crashed): nobody writes the shard, take it outright.
          if (!from) state.roles.set(shard, { kind: 'owned' });
          continue;
        }
        let current = role;
        if (role.ackedUs === null) {
          const ack = from?.acks.get(shard);
          if (ack && ack.to === me && ack.proposalUs === role.cutUs) {
            current = { ...role, ackedUs: ack.cutUs, ackedAtMs: nowMs };
          } else if (!from) {
            // The old owner died before acknowledging (a planned leaver waits for our confirmation, so this
            // is a crash): it wrote nothing after its death, write from our proposal.
            current = { ...role, ackedUs: role.cutUs, ackedAtMs: nowMs };
          }
          if (current.ackedUs !== null) {
            state.roles.set(shard, current);
            state.taken.set(shard, current.ackedUs);
            publish = true;
            events.push({
              kind: 'taken',
              shard,
              from: role.from,
              proposalUs: role.cutUs,
              cutUs: current.ackedUs,
              acknowledged: from !== undefined,
            });
          }
        }
        if (current.ackedUs !== null) {
          // Rows before the cut may still straggle in (other symbols of the shard); keep skipping them for a
          // while, then own the shard outright.
          const settled =
            (state.maxTs.get(shard) ?? 0) >= current.ackedUs + SETTLE_US ||
            nowMs >= current.ackedAtMs + SETTLE_LEASES * leaseMs;
          if (settled) state.roles.set(shard, { kind: 'owned' });
        }
        continue;
      }
      if (role?.kind === 'outgoing') {
        // The shard comes back to us. Its successor, if alive (leaving, say), may have taken it and be writing:
        // hand it back make-before-break, as from any live owner. If it is gone, ours outright.
        state.acks.delete(shard);
        state.synced.delete(shard);
        state.roles.set(
          shard,
          byId.has(role.to)
            ? { kind: 'incoming', from: role.to, cutUs: null, ackedUs: null, ackedAtMs: 0 }
            : { kind: 'owned' },
        );
        continue;
      }
      // A live previous owner keeps the shard until we are synced: make before break.
      const from =
        previousOwner !== undefined && previousOwner !== me && byId.has(previousOwner)
          ? previousOwner
          : undefined;
      state.released.delete(shard);
      state.acks.delete(shard);
      state.taken.delete(shard);
      // No live previous owner: a crash takeover. As its standby we hold what we buffered until the
      // collector has sorted out which of it the dead owner had made durable.
      const takeover = !from && params.standby && wasStandby.has(shard);
      state.roles.set(
        shard,
        from
          ? { kind: 'incoming', from, cutUs: null, ackedUs: null, ackedAtMs: 0 }
          : takeover
            ? { kind: 'owned', takeover: true }
            : { kind: 'owned' },
      );
      if (!from) state.synced.delete(shard);
      continue;
    }
    // The shard is someone else's by rendezvous.
    state.taken.delete(shard);
    const successor = owner === undefined ? undefined : byId.get(owner);
    const proposal = successor?.ready.get(shard);
    // An acknowledgement is published while its successor still proposes that cut (it may not have seen it).
    const ack = state.acks.get(shard);
    if (ack && byId.get(ack.to)?.ready.get(shard)?.cutUs !== ack.proposalUs) state.acks.delete(shard);
    if (!role) {
      // A proposal addressed to us for a shard we no longer (or never) hold: answer it, or its sender holds
      // rows forever. Past every row we wrote and the end of a range we still drain, so nothing is written twice.
      if (successor && proposal && proposal.from === me) {
        const r = state.released.get(shard);
        if (acknowledge(state, events, shard, successor.id, proposal.cutUs, r?.cutUs ?? undefined))
          publish = true;
      }
      continue;
    }
    // Incoming, not acknowledged: we never wrote it, drop it (its previous owner still holds it). Incoming
    // acknowledged: we write from that cut on, so it is handed over like an owned shard, keeping the bound.
    if ((role.kind === 'incoming' && role.ackedUs === null) || !successor) {
      state.roles.delete(shard);
      state.synced.delete(shard);
      continue;
    }
    const fromUs = role.kind === 'incoming' ? role.ackedUs : role.kind === 'outgoing' ? role.fromUs : null;
    const maxNow = state.maxTs.get(shard) ?? 0;
    // A cut once acknowledged stays: the successor it was promised to may already write from it, even if the
    // rendezvous owner changes again (a replica joining during the handover).
    let outgoing: Extract<ShardRole, { kind: 'outgoing' }> =
      role.kind === 'outgoing'
        ? role.to === successor.id
          ? role
          : { ...role, to: successor.id }
        : {
            kind: 'outgoing',
            to: successor.id,
            cutUs: null,
            proposalUs: null,
            seenAtMs: nowMs,
            fromUs,
            maxTsAtSeen: maxNow,
          };
    if (proposal && outgoing.cutUs === null) {
      // Whoever the successor thinks it takes over from, we stop writing at the cut we acknowledge.
      if (acknowledge(state, events, shard, successor.id, proposal.cutUs)) publish = true;
      const cutUs = (state.acks.get(shard) as CutAck).cutUs;
      outgoing = { ...outgoing, cutUs, proposalUs: proposal.cutUs, seenAtMs: nowMs, maxTsAtSeen: maxNow };
    } else if (proposal && outgoing.cutUs !== null && proposal.from === me) {
      // A later successor addressing us: our end is fixed, tell it where (never past a row we wrote).
      if (acknowledge(state, events, shard, successor.id, proposal.cutUs, outgoing.cutUs)) publish = true;
    }
    const cut = outgoing.cutUs;
    // Let go once our stream has passed the cut (every row before it was ours). A quiet shard: once the
    // exchange time still missing to the cut has elapsed in wall time (+ slack and a heartbeat), capped at
    // two leases; with no row ever seen, two leases.
    const quietAfterMs =
      cut !== null && outgoing.maxTsAtSeen > 0
        ? Math.min(
            2 * leaseMs,
            Math.max(0, Math.ceil((cut - outgoing.maxTsAtSeen) / 1000)) +
              RELEASE_SLACK_US / 1000 +
              params.heartbeatMs,
          )
        : 2 * leaseMs;
    const passed =
      cut !== null && (maxNow >= cut + RELEASE_SLACK_US || nowMs >= outgoing.seenAtMs + quietAfterMs);
    if (passed) {
      state.roles.delete(shard);
      state.maxTs.delete(shard);
      state.synced.delete(shard);
      state.released.set(shard, { fromUs, cutUs: cut });
      events.push({ kind: 'released', shard, to: successor.id, cutUs: cut });
    } else {
      state.roles.set(shard, outgoing);
    }
  }
  state.standbys = standbys;
  return { state, events, publish };
}

/**
 * Acknowledges a proposed cut: the proposal itself, or just past the latest row we already wrote when our
 * stream is ahead of it. Decided synchronously with the role change, so no row is written after the
 * decision on the wrong side. Returns whether a new acknowledgement was made.
 */
function acknowledge(
  state: ShardHandovers,
  events: HandoverEvent[],
  shard: number,
  to: string,
  proposalUs: number,
  fixedEndUs?: number | null,
): boolean {
  const existing = state.acks.get(shard);
  if (existing && existing.to === to && existing.proposalUs === proposalUs) return false;
  const writtenUs = state.maxWritten.get(shard) ?? 0;
  // With a fixed end (a cut promised earlier, rows up to it still being drained) the cut is that end.
  const cutUs =
    fixedEndUs !== undefined && fixedEndUs !== null
      ? Math.max(proposalUs, fixedEndUs, writtenUs + 1)
      : Math.max(proposalUs, writtenUs + 1);
  state.acks.set(shard, { to, proposalUs, cutUs });
  events.push({ kind: 'acknowledged', shard, to, proposalUs, cutUs, writtenUs });
  return true;
}
