import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ResourceNotFoundException,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CfError, checkTotalShards } from '@cryptoflow/core';
import type { ShardHasher } from './hasher.js';
import type { ShardOwnership } from './ownership.js';
import { rendezvousOwner, rendezvousRunnerUp } from './rendezvous.js';

export interface FleetMembershipOptions {
  readonly client: DynamoDBClient;
  readonly table: string;
  /** Replicas of one app form a group (e.g. `collector-ticks`); groups share the table. */
  readonly group: string;
  readonly totalShards: number;
  readonly hasher: ShardHasher;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  /** Unique per process; a restarted process is a new replica. */
  readonly replicaId?: string;
  /** Wall clock in ms (tests drive it). */
  readonly now?: () => number;
  /**
   * Exchange time after the newcomer's latest row at which the handover cut falls, µs. Default: two
   * heartbeats + 1 s (at least 2 s), the longest the old owner can take to learn the cut.
   */
  readonly handoverDelayMicros?: number;
  readonly onFenced?: (reason: string) => void;
  /** Tests: no heartbeat timer; `tick()` is the only heartbeat. */
  readonly manualHeartbeats?: boolean;
  /**
   * Warm standby: also collect the shards this replica is ranked second for (it owns them if their owner
   * disappears), buffering their rows; on a takeover after the owner died, the collector writes the buffered
   * rows the dead owner had not made durable (`pendingTakeovers`, `completeTakeover`).
   */
  readonly standby?: boolean;
  /** Each handover step, for the log: where every cut came from is what an operator needs after the fact. */
  readonly onHandover?: (event: HandoverEvent) => void;
}

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

/** Cuts are in exchange time (µs), so a handover splits rows the same way live and in a replay. */
type ShardRole =
  /** `takeover`: ours since the owner died while we were its standby; rows held until the collector resolved
   *  which of our buffered rows the dead owner had made durable. */
  | { kind: 'owned'; takeover?: boolean }
  | {
      kind: 'incoming';
      from: string;
      /** The cut we proposed (null: not synced yet, we write nothing). */
      cutUs: number | null;
      /** The cut the old owner acknowledged, >= ours; rows from it on are ours. Null: not acknowledged yet. */
      ackedUs: number | null;
      /** Wall time (ms) the acknowledgement was seen, for settling quiet shards. */
      ackedAtMs: number;
    }
  | {
      kind: 'outgoing';
      to: string;
      /** The acknowledged cut: we write rows before it. Null: no proposal from the successor yet. */
      cutUs: number | null;
      /** The successor's proposal we acknowledged (a new proposal gets a new acknowledgement). */
      proposalUs: number | null;
      seenAtMs: number;
      fromUs: number | null;
      /** Our stream position when we first saw this cut, µs (0: no row seen). */
      maxTsAtSeen: number;
    };

/** The old owner's answer to a proposed cut: the cut both sides use, never before a row it already wrote. */
interface CutAck {
  readonly to: string;
  readonly proposalUs: number;
  readonly cutUs: number;
}

/** Exchange time past the cut after which the old owner lets go (stragglers of other symbols). */
const RELEASE_SLACK_US = 1_000_000;
/** Exchange time past the cut after which the newcomer stops filtering (the old owner is gone by then). */
const SETTLE_US = 60_000_000;
/** Leases of wall time after the acknowledgement at which a quiet incoming shard counts as settled too. */
const SETTLE_LEASES = 4;

interface Member {
  readonly id: string;
  readonly leaseExpiresAt: number;
  /** Shards this member has synced as incoming owner: the handover cut (µs) it proposes, to whom. */
  readonly ready: ReadonlyMap<number, { readonly from: string; readonly cutUs: number }>;
  /** Its acknowledgements of cuts proposed for shards it hands over. */
  readonly acks: ReadonlyMap<number, CutAck>;
  /** Shards it took over, with the acknowledged cut it writes from (tells a leaver it may exit). */
  readonly taken: ReadonlyMap<number, number>;
  /** Draining (planned scale-in): alive and still collecting, but no longer a rendezvous candidate. */
  readonly leaving: boolean;
}

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });

/**
 * Dynamic shard ownership for an elastic fleet:
 * - membership: each replica keeps an item `member#<id>` alive with conditional heartbeats carrying a lease
 *   expiry; expired members are ignored and reaped with a conditional delete (no DynamoDB TTL involved);
 * - assignment: rendezvous hashing of shards over live members, so a scale step moves ~1/N of the shards;
 * - fencing: a replica whose heartbeat could not renew its lease before it expired — paused, partitioned,
 *   reaped — owns nothing from that moment (`owns()` is false, listeners are told) and rejoins under a new id;
 * - make-before-break: a shard changing owner while its old owner lives is held by both; the newcomer
 *   collects it, and once it is synced (`markSynced`) proposes a cut time; the old owner acknowledges it,
 *   moved past every row it already wrote; it writes rows with exchange time before the acknowledged cut,
 *   the newcomer from it on (`decideAt`), holding rows past its proposal until the acknowledgement arrives;
 *   then the old one lets go.
 * - `total_shards` is stored in the group's meta item on first join; a replica configured otherwise fails.
 */
export class FleetMembership implements ShardOwnership {
  private replicaId: string;
  private readonly now: () => number;
  private readonly listeners = new Set<(owned: ReadonlySet<number>) => void>();
  private readonly roles = new Map<number, ShardRole>();
  /** Shards we are ranked second for (standby mode): collected and buffered, not written. */
  private standbys = new Set<number>();
  private readonly synced = new Map<number, number>();
  private readonly maxTs = new Map<number, number>();
  /**
   * Latest exchange time of a row we decided to write, per shard (the floor of any cut we acknowledge). One
   * map update per written row: the price of never acknowledging a cut before a row already written.
   */
  private readonly maxWritten = new Map<number, number>();
  /** Acknowledgements we publish, per shard handed over; kept until the successor confirms or we own it again. */
  private readonly acks = new Map<number, CutAck>();
  /** Acknowledged cuts of the shards we took over, published so the old owner knows we saw its ack. */
  private readonly taken = new Map<number, number>();
  private kickRequested = false;
  /** Set by a refresh that decided something the other side of a handover waits for. */
  private republish = false;
  private timerStarted = false;
  private members: Member[] = [];
  private leaseDeadline = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private fencedCount = 0;
  private beating: Promise<void> | undefined;
  private leaving = false;
  /**
   * Shards handed over: the rows we wrote, `[fromUs, cutUs)`, stay ours, so rows still queued in our
   * pipeline when we let go are written on drain, not dropped. Cleared when the shard gets a role again.
   */
  private readonly released = new Map<number, { fromUs: number | null; cutUs: number }>();

  private constructor(private readonly options: FleetMembershipOptions) {
    checkTotalShards(options.totalShards, 'sharding.total_shards');
    if (options.heartbeatMs * 2 > options.leaseMs) {
      throw new CfError(
        'CF_SHARDING',
        `fleet.heartbeat_ms (${options.heartbeatMs}) must be at most half of fleet.lease_ms (${options.leaseMs})`,
      );
    }
    this.replicaId = options.replicaId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.now = options.now ?? Date.now;
  }

  static async join(options: FleetMembershipOptions): Promise<FleetMembership> {
    const fleet = new FleetMembership(options);
    await fleet.checkMeta();
    await fleet.register();
    await fleet.refresh();
    if (!options.manualHeartbeats) {
      fleet.timerStarted = true;
      fleet.schedule();
    }
    return fleet;
  }

  /** Creates the table where it is missing (local and dev; Terraform owns it in AWS). */
  static async ensureTable(client: DynamoDBClient, table: string): Promise<void> {
    try {
      await client.send(new DescribeTableCommand({ TableName: table }));
      return;
    } catch (err) {
      if (!(err instanceof ResourceNotFoundException)) throw err;
    }
    await client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
  }

  get id(): string {
    return this.replicaId;
  }

  owned(): ReadonlySet<number> {
    if (!this.leaseValid()) return new Set();
    return new Set(this.roles.keys());
  }

  owns(shard: number): boolean {
    return this.leaseValid() && this.roles.has(shard);
  }

  /** Shards this replica stands by for (standby mode): to collect and buffer, not to write. */
  standbyShards(): ReadonlySet<number> {
    if (!this.leaseValid()) return new Set();
    return new Set(this.standbys);
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

  /**
   * What to do with a row of `shard` at exchange time `exchangeTsMicros`. During a handover both owners
   * collect; the acknowledged cut splits the rows between them so none is written twice or skipped. The
   * newcomer holds rows at or past its proposed cut until the old owner's acknowledgement says where the
   * cut really is (the old owner may already have written past the proposal).
   */
  decideAt(shard: number, exchangeTsMicros: number): RowDecision {
    if (!this.leaseValid()) return 'skip';
    const role = this.roles.get(shard);
    if (!role) {
      const r = this.released.get(shard);
      if (r === undefined || exchangeTsMicros >= r.cutUs || (r.fromUs !== null && exchangeTsMicros < r.fromUs))
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

  /** Whether a row is ours to write now (`decideAt` is 'write'). */
  ownsAt(shard: number, exchangeTsMicros: number): boolean {
    return this.decideAt(shard, exchangeTsMicros) === 'write';
  }

  /**
   * The collector calls this once an incoming shard is live (connected; books synced), with the latest
   * exchange time it has seen on the shard. The cut lands a little later in exchange time, so the old
   * owner, still collecting, writes everything before it; it is published with the next heartbeat.
   */
  markSynced(shard: number, latestExchangeTsMicros: number): void {
    const role = this.roles.get(shard);
    if (!role || role.kind !== 'incoming' || this.synced.has(shard)) return;
    const cut = latestExchangeTsMicros + this.handoverDelayMicros();
    this.synced.set(shard, cut);
    this.roles.set(shard, { ...role, cutUs: cut });
    this.options.onHandover?.({ kind: 'proposed', shard, from: role.from, proposalUs: cut });
    this.kick();
  }

  /**
   * How far past our latest row the proposed cut falls. The old owner learns it from our heartbeat and its
   * next refresh (up to two heartbeat periods) and writes everything until then; if its stream is already
   * past the proposal it acknowledges a later cut, and we hold rows until the acknowledgement. A proposal
   * beyond that delay is normally acknowledged unchanged before our stream reaches it: nothing is held.
   */
  private handoverDelayMicros(): number {
    return this.options.handoverDelayMicros ?? Math.max(2_000_000, (2 * this.options.heartbeatMs + 1_000) * 1_000);
  }

  /** Shards collected but not yet written by us (incoming, waiting to be synced and propose a cut). */
  pendingHandovers(): number[] {
    return [...this.roles].filter(([, r]) => r.kind === 'incoming' && r.cutUs === null).map(([s]) => s);
  }

  leaseValid(): boolean {
    return !this.closed && this.now() < this.leaseDeadline;
  }

  /** Shards held by role: `owned` outright, `incoming` (collecting, before or after its cut), `outgoing`. */
  roleCounts(): { owned: number; incoming: number; outgoing: number } {
    const counts = { owned: 0, incoming: 0, outgoing: 0 };
    if (!this.leaseValid()) return counts;
    for (const role of this.roles.values()) counts[role.kind]++;
    return counts;
  }

  /** Live replicas in the last view (this one included). */
  liveReplicas(): number {
    return this.members.length;
  }

  /**
   * Planned scale-in, make-before-break: this replica stays alive (heartbeats go on) but leaves the
   * rendezvous, so every shard it holds goes to its successor as a handover; it keeps collecting each one
   * until the successor has published its cut and our stream has passed it. Resolves when nothing is held
   * any more, or after `timeoutMs` (the successors then take over at lease expiry, as after a crash).
   */
  async leave(timeoutMs: number): Promise<{ released: boolean; heldShards: number[] }> {
    if (this.closed) return { released: true, heldShards: [] };
    this.leaving = true;
    const deadline = this.now() + timeoutMs;
    for (;;) {
      await this.beating;
      await this.heartbeat().catch(() => undefined);
      // Gone only once every successor has seen our acknowledgement: without it, it would write from its own
      // proposal, which may lie before rows we already wrote.
      if (this.roles.size === 0 && this.unconfirmedAcks().length === 0) return { released: true, heldShards: [] };
      if (this.now() >= deadline || this.closed)
        return {
          released: false,
          heldShards: [...new Set([...this.roles.keys(), ...this.unconfirmedAcks()])].sort((a, b) => a - b),
        };
      await new Promise((r) => setTimeout(r, Math.min(this.options.heartbeatMs, 250)));
    }
  }

  /** Shards whose acknowledged cut the live successor has not confirmed yet. */
  private unconfirmedAcks(): number[] {
    const byId = new Map(this.members.map((m) => [m.id, m]));
    const open: number[] = [];
    for (const [shard, ack] of this.acks) {
      const successor = byId.get(ack.to);
      if (successor && successor.taken.get(shard) !== ack.cutUs) open.push(shard);
    }
    return open;
  }

  onChange(listener: (owned: ReadonlySet<number>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  describe(): Record<string, unknown> {
    return {
      mode: 'dynamic',
      replicaId: this.replicaId,
      leaseValid: this.leaseValid(),
      leaving: this.leaving,
      leaseExpiresInMs: Math.max(0, this.leaseDeadline - this.now()),
      liveReplicas: this.members.map((m) => m.id),
      ...(this.options.standby ? { standby: [...this.standbys].sort((a, b) => a - b) } : {}),
      fenced: this.fencedCount,
      shards: Object.fromEntries(
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
      ),
    };
  }

  /** One heartbeat + refresh now (tests; the timer does the same). */
  async tick(): Promise<void> {
    await this.heartbeat();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.beating;
    await this.options.client
      .send(
        new DeleteItemCommand({
          TableName: this.options.table,
          Key: { pk: S(this.options.group), sk: S(`member#${this.replicaId}`) },
        }),
      )
      .catch(() => undefined);
    this.roles.clear();
    this.emit();
  }

  private schedule(delayMs = this.options.heartbeatMs): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.beating = this.heartbeat()
        .catch(() => undefined)
        .finally(() => {
          this.beating = undefined;
          const again = this.kickRequested;
          this.kickRequested = false;
          this.schedule(again ? 0 : this.options.heartbeatMs);
        });
    }, delayMs);
    this.timer.unref();
  }

  /**
   * Publish soon rather than at the next period: a proposed cut or an acknowledgement waits for nobody else.
   * Only the scheduled loop publishes (no overlapping heartbeats); a tick in progress is followed at once.
   */
  private kick(): void {
    if (this.closed || !this.timerStarted) return;
    if (this.beating) {
      this.kickRequested = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.schedule(0);
  }

  private async checkMeta(): Promise<void> {
    const { client, table, group, totalShards } = this.options;
    try {
      await client.send(
        new PutItemCommand({
          TableName: table,
          Item: { pk: S(group), sk: S('meta'), total_shards: N(totalShards), created_at: N(this.now()) },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const got = await client.send(
        new GetItemCommand({ TableName: table, Key: { pk: S(group), sk: S('meta') }, ConsistentRead: true }),
      );
      const stored = Number(got.Item?.['total_shards']?.N);
      if (stored !== totalShards) {
        throw new CfError(
          'CF_SHARDING',
          `sharding.total_shards is ${totalShards} but fleet ${group} was created with ${stored}: changing it would move every symbol; migrate explicitly (docs/operations/scale.md)`,
          { context: { group, configured: totalShards, stored } },
        );
      }
    }
  }

  private async register(): Promise<void> {
    const expires = this.now() + this.options.leaseMs;
    await this.options.client.send(
      new PutItemCommand({
        TableName: this.options.table,
        Item: {
          pk: S(this.options.group),
          sk: S(`member#${this.replicaId}`),
          lease_expires_at: N(expires),
          host: S(hostname()),
          ready: { M: {} },
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    this.leaseDeadline = expires;
  }

  /**
   * Renews the lease with our handover state, then refreshes the view. A refresh that made a handover
   * decision (an acknowledgement, a confirmation) publishes it at once: the other side is waiting for it.
   */
  private async heartbeat(): Promise<void> {
    for (let round = 0; round < 2; round++) {
      if (!(await this.publish())) return;
      this.republish = false;
      await this.refresh();
      if (!this.republish) return;
    }
  }

  /** One conditional lease renewal carrying our state; false when we were fenced instead. */
  private async publish(): Promise<boolean> {
    if (this.closed) return false;
    const sentAt = this.now();
    if (sentAt >= this.leaseDeadline) {
      // We did not renew in time (paused?): others may already own our shards. Fence, then rejoin.
      await this.fence('lease expired before renewal');
      return false;
    }
    const expires = sentAt + this.options.leaseMs;
    const ready: Record<string, AttributeValue> = {};
    for (const [shard, cut] of this.synced) {
      const role = this.roles.get(shard);
      if (role?.kind === 'incoming') ready[String(shard)] = { M: { from: S(role.from), c: N(cut) } };
    }
    const acks: Record<string, AttributeValue> = {};
    for (const [shard, a] of this.acks) acks[String(shard)] = { M: { to: S(a.to), p: N(a.proposalUs), c: N(a.cutUs) } };
    const taken: Record<string, AttributeValue> = {};
    for (const [shard, cut] of this.taken) taken[String(shard)] = N(cut);
    try {
      await this.options.client.send(
        new UpdateItemCommand({
          TableName: this.options.table,
          Key: { pk: S(this.options.group), sk: S(`member#${this.replicaId}`) },
          UpdateExpression:
            'SET lease_expires_at = :exp, ready = :ready, acks = :acks, taken = :taken, leaving = :leaving',
          ConditionExpression: 'attribute_exists(pk) AND lease_expires_at > :now',
          ExpressionAttributeValues: {
            ':exp': N(expires),
            ':now': N(sentAt),
            ':ready': { M: ready },
            ':acks': { M: acks },
            ':taken': { M: taken },
            ':leaving': { BOOL: this.leaving },
          },
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        await this.fence('lease lost (reaped or expired in the table)');
        return false;
      }
      throw err;
    }
    this.leaseDeadline = expires;
    return true;
  }

  private async fence(reason: string): Promise<void> {
    this.fencedCount++;
    this.leaseDeadline = 0;
    this.roles.clear();
    this.standbys = new Set();
    this.synced.clear();
    this.released.clear();
    this.acks.clear();
    this.taken.clear();
    this.maxWritten.clear();
    this.emit();
    this.options.onFenced?.(reason);
    this.replicaId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    await this.register();
    await this.refresh();
  }

  private async refresh(): Promise<void> {
    const now = this.now();
    const out = await this.options.client.send(
      new QueryCommand({
        TableName: this.options.table,
        KeyConditionExpression: 'pk = :g AND begins_with(sk, :m)',
        ExpressionAttributeValues: { ':g': S(this.options.group), ':m': S('member#') },
        ConsistentRead: true,
      }),
    );
    const live: Member[] = [];
    for (const item of out.Items ?? []) {
      const id = (item['sk']?.S ?? '').slice('member#'.length);
      const leaseExpiresAt = Number(item['lease_expires_at']?.N ?? 0);
      if (leaseExpiresAt <= now) {
        await this.reap(id, now);
        continue;
      }
      const ready = new Map<number, { from: string; cutUs: number }>();
      for (const [k, v] of Object.entries(item['ready']?.M ?? {}))
        ready.set(Number(k), { from: v.M?.['from']?.S ?? '', cutUs: Number(v.M?.['c']?.N) });
      const acks = new Map<number, CutAck>();
      for (const [k, v] of Object.entries(item['acks']?.M ?? {})) {
        const m = v.M ?? {};
        acks.set(Number(k), { to: m['to']?.S ?? '', proposalUs: Number(m['p']?.N), cutUs: Number(m['c']?.N) });
      }
      const taken = new Map<number, number>();
      for (const [k, v] of Object.entries(item['taken']?.M ?? {})) taken.set(Number(k), Number(v.N));
      const leaving = id === this.replicaId ? this.leaving : item['leaving']?.BOOL === true;
      live.push({ id, leaseExpiresAt, ready, acks, taken, leaving });
    }
    if (!live.some((m) => m.id === this.replicaId))
      live.push({
        id: this.replicaId,
        leaseExpiresAt: this.leaseDeadline,
        ready: new Map(),
        acks: new Map(),
        taken: new Map(),
        leaving: this.leaving,
      });
    const previousMembers = new Set(this.members.map((m) => m.id));
    this.members = live;
    this.recompute(previousMembers);
  }

  private async reap(id: string, now: number): Promise<void> {
    await this.options.client
      .send(
        new DeleteItemCommand({
          TableName: this.options.table,
          Key: { pk: S(this.options.group), sk: S(`member#${id}`) },
          ConditionExpression: 'lease_expires_at <= :now',
          ExpressionAttributeValues: { ':now': N(now) },
        }),
      )
      .catch(() => undefined);
  }

  private recompute(previousMembers: ReadonlySet<string>): void {
    // Leaving replicas are alive (they still hold their shards until handed over) but own nothing new.
    const ids = this.members.filter((m) => !m.leaving).map((m) => m.id);
    const byId = new Map(this.members.map((m) => [m.id, m]));
    const me = this.replicaId;
    const nowMs = this.now();
    const before = this.owned();
    let publish = false;
    // Who held each shard before this view: rendezvous over the members that were live before and still are.
    // On our first view that is everyone but us (they ran the shards before we joined).
    const previousIds =
      previousMembers.size === 0
        ? this.members.map((m) => m.id).filter((id) => id !== me)
        : [...previousMembers].filter((id) => byId.has(id) || id === me);
    const wasStandby = this.standbys;
    const standbys = new Set<number>();
    for (let shard = 0; shard < this.options.totalShards; shard++) {
      const owner = rendezvousOwner(this.options.hasher, shard, ids);
      const role = this.roles.get(shard);
      const previousOwner = rendezvousOwner(this.options.hasher, shard, previousIds);
      if (this.options.standby && owner !== me && rendezvousRunnerUp(this.options.hasher, shard, ids) === me)
        standbys.add(shard);
      if (owner === me) {
        if (role?.kind === 'owned') continue;
        if (role?.kind === 'incoming') {
          const from = byId.get(role.from);
          if (role.cutUs === null) {
            // Not synced yet and the old owner is gone (crashed): nobody writes the shard, take it outright.
            if (!from) this.roles.set(shard, { kind: 'owned' });
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
              this.roles.set(shard, current);
              this.taken.set(shard, current.ackedUs);
              publish = true;
              this.options.onHandover?.({
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
              (this.maxTs.get(shard) ?? 0) >= current.ackedUs + SETTLE_US ||
              nowMs >= current.ackedAtMs + SETTLE_LEASES * this.options.leaseMs;
            if (settled) this.roles.set(shard, { kind: 'owned' });
          }
          continue;
        }
        if (role?.kind === 'outgoing') {
          // The shard comes back to us. Its successor, if alive (leaving, say), may have taken it and be writing:
          // hand it back make-before-break, as from any live owner. If it is gone, ours outright.
          this.acks.delete(shard);
          this.synced.delete(shard);
          this.roles.set(
            shard,
            byId.has(role.to)
              ? { kind: 'incoming', from: role.to, cutUs: null, ackedUs: null, ackedAtMs: 0 }
              : { kind: 'owned' },
          );
          continue;
        }
        // A live previous owner keeps the shard until we are synced: make before break.
        const from = previousOwner !== undefined && previousOwner !== me && byId.has(previousOwner) ? previousOwner : undefined;
        this.released.delete(shard);
        this.acks.delete(shard);
        this.taken.delete(shard);
        // No live previous owner: a crash takeover. As its standby we hold what we buffered until the
        // collector has sorted out which of it the dead owner had made durable.
        const takeover = !from && this.options.standby === true && wasStandby.has(shard);
        this.roles.set(
          shard,
          from
            ? { kind: 'incoming', from, cutUs: null, ackedUs: null, ackedAtMs: 0 }
            : takeover
              ? { kind: 'owned', takeover: true }
              : { kind: 'owned' },
        );
        if (!from) this.synced.delete(shard);
        continue;
      }
      // The shard is someone else's by rendezvous.
      this.taken.delete(shard);
      const successor = owner === undefined ? undefined : byId.get(owner);
      const proposal = successor?.ready.get(shard);
      // An acknowledgement is published while its successor still proposes that cut (it may not have seen it).
      const ack = this.acks.get(shard);
      if (ack && byId.get(ack.to)?.ready.get(shard)?.cutUs !== ack.proposalUs) this.acks.delete(shard);
      if (!role) {
        // A proposal addressed to us for a shard we no longer (or never) hold: answer it, or its sender holds
        // rows forever. Past every row we wrote and the end of a range we still drain, so nothing is written twice.
        if (successor && proposal && proposal.from === me) {
          const r = this.released.get(shard);
          if (this.acknowledge(shard, successor.id, proposal.cutUs, r?.cutUs ?? undefined)) publish = true;
        }
        continue;
      }
      // Incoming, not acknowledged: we never wrote it, drop it (its previous owner still holds it). Incoming
      // acknowledged: we write from that cut on, so it is handed over like an owned shard, keeping the bound.
      if ((role.kind === 'incoming' && role.ackedUs === null) || !successor) {
        this.roles.delete(shard);
        this.synced.delete(shard);
        continue;
      }
      const fromUs = role.kind === 'incoming' ? role.ackedUs : role.kind === 'outgoing' ? role.fromUs : null;
      const maxNow = this.maxTs.get(shard) ?? 0;
      // A cut once acknowledged stays: the successor it was promised to may already write from it, even if the
      // rendezvous owner changes again (a replica joining during the handover).
      let outgoing: Extract<ShardRole, { kind: 'outgoing' }> =
        role.kind === 'outgoing'
          ? role.to === successor.id
            ? role
            : { ...role, to: successor.id }
          : { kind: 'outgoing', to: successor.id, cutUs: null, proposalUs: null, seenAtMs: nowMs, fromUs, maxTsAtSeen: maxNow };
      if (proposal && outgoing.cutUs === null) {
        // Whoever the successor thinks it takes over from, we stop writing at the cut we acknowledge.
        if (this.acknowledge(shard, successor.id, proposal.cutUs)) publish = true;
        const cutUs = (this.acks.get(shard) as CutAck).cutUs;
        outgoing = { ...outgoing, cutUs, proposalUs: proposal.cutUs, seenAtMs: nowMs, maxTsAtSeen: maxNow };
      } else if (proposal && outgoing.cutUs !== null && proposal.from === me) {
        // A later successor addressing us: our end is fixed, tell it where (never past a row we wrote).
        if (this.acknowledge(shard, successor.id, proposal.cutUs, outgoing.cutUs)) publish = true;
      }
      const cut = outgoing.cutUs;
      // Let go once our stream has passed the cut (every row before it was ours). A quiet shard: once the
      // exchange time still missing to the cut has elapsed in wall time (+ slack and a heartbeat), capped at
      // two leases; with no row ever seen, two leases.
      const quietAfterMs =
        cut !== null && outgoing.maxTsAtSeen > 0
          ? Math.min(
              2 * this.options.leaseMs,
              Math.max(0, Math.ceil((cut - outgoing.maxTsAtSeen) / 1000)) +
                RELEASE_SLACK_US / 1000 +
                this.options.heartbeatMs,
            )
          : 2 * this.options.leaseMs;
      const passed = cut !== null && (maxNow >= cut + RELEASE_SLACK_US || nowMs >= outgoing.seenAtMs + quietAfterMs);
      if (passed) {
        this.roles.delete(shard);
        this.maxTs.delete(shard);
        this.synced.delete(shard);
        this.released.set(shard, { fromUs, cutUs: cut });
        this.options.onHandover?.({ kind: 'released', shard, to: successor.id, cutUs: cut });
      } else {
        this.roles.set(shard, outgoing);
      }
    }
    this.standbys = standbys;
    const after = this.owned();
    const standbyChanged = standbys.size !== wasStandby.size || [...standbys].some((s) => !wasStandby.has(s));
    if (standbyChanged || before.size !== after.size || [...after].some((s) => !before.has(s))) this.emit();
    if (publish) this.republish = true;
  }

  /**
   * Acknowledges a proposed cut: the proposal itself, or just past the latest row we already wrote when our
   * stream is ahead of it. Decided synchronously with the role change, so no row is written after the
   * decision on the wrong side. Returns whether a new acknowledgement was made.
   */
  private acknowledge(shard: number, to: string, proposalUs: number, fixedEndUs?: number | null): boolean {
    const existing = this.acks.get(shard);
    if (existing && existing.to === to && existing.proposalUs === proposalUs) return false;
    const writtenUs = this.maxWritten.get(shard) ?? 0;
    // With a fixed end (a cut promised earlier, rows up to it still being drained) the cut is that end.
    const cutUs =
      fixedEndUs !== undefined && fixedEndUs !== null
        ? Math.max(proposalUs, fixedEndUs, writtenUs + 1)
        : Math.max(proposalUs, writtenUs + 1);
    this.acks.set(shard, { to, proposalUs, cutUs });
    this.options.onHandover?.({ kind: 'acknowledged', shard, to, proposalUs, cutUs, writtenUs });
    return true;
  }

  private emit(): void {
    const owned = this.owned();
    for (const l of this.listeners) l(owned);
  }
}
