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
import { CfError } from '@cryptoflow/core';
import { checkTotalShards } from './hasher.js';
import type { ShardHasher } from './hasher.js';
import type { ShardOwnership } from './ownership.js';
import { rendezvousOwner } from './rendezvous.js';

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
}

/** Cuts are in exchange time (µs), so a handover splits rows the same way live and in a replay. */
type ShardRole =
  | { kind: 'owned' }
  | { kind: 'incoming'; from: string; cutUs: number | null }
  | {
      kind: 'outgoing';
      to: string;
      cutUs: number | null;
      seenAtMs: number;
      fromUs: number | null;
      /** Our stream position when we first saw this cut, µs (0: no row seen). */
      maxTsAtSeen: number;
    };

/** Exchange time past the cut after which the old owner lets go (stragglers of other symbols). */
const RELEASE_SLACK_US = 1_000_000;
/** Exchange time past the cut after which the newcomer stops filtering (the old owner is gone by then). */
const SETTLE_US = 60_000_000;

interface Member {
  readonly id: string;
  readonly leaseExpiresAt: number;
  /** Shards this member has synced as incoming owner, with the handover cut (µs) it chose. */
  readonly ready: ReadonlyMap<number, number>;
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
 *   collects it, and once it is synced (`markSynced`) publishes a cut time; the old owner writes rows with
 *   exchange time before the cut, the new one from the cut on (`ownsAt`), then the old one lets go.
 * - `total_shards` is stored in the group's meta item on first join; a replica configured otherwise fails.
 */
export class FleetMembership implements ShardOwnership {
  private replicaId: string;
  private readonly now: () => number;
  private readonly listeners = new Set<(owned: ReadonlySet<number>) => void>();
  private readonly roles = new Map<number, ShardRole>();
  private readonly synced = new Map<number, number>();
  private readonly maxTs = new Map<number, number>();
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
    fleet.schedule();
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

  /**
   * Whether rows of `shard` with exchange time `exchangeTsMicros` are ours to write. During a handover
   * both owners collect; the cut splits the rows between them so none is written twice or skipped.
   */
  ownsAt(shard: number, exchangeTsMicros: number): boolean {
    if (!this.leaseValid()) return false;
    const role = this.roles.get(shard);
    if (!role) {
      const r = this.released.get(shard);
      return r !== undefined && exchangeTsMicros < r.cutUs && (r.fromUs === null || exchangeTsMicros >= r.fromUs);
    }
    if (role.kind === 'owned') return true;
    if (exchangeTsMicros > (this.maxTs.get(shard) ?? 0)) this.maxTs.set(shard, exchangeTsMicros);
    if (role.kind === 'outgoing') {
      // A shard handed on while its own incoming cut still applies keeps that lower bound.
      if (role.fromUs !== null && exchangeTsMicros < role.fromUs) return false;
      return role.cutUs === null || exchangeTsMicros < role.cutUs;
    }
    return role.cutUs !== null && exchangeTsMicros >= role.cutUs;
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
  }

  /**
   * How far past our latest row the cut falls. The old owner learns the cut from our next heartbeat and
   * its next refresh (up to two heartbeat periods), and writes everything until then: the cut must lie
   * beyond that, or rows between it and the moment the old owner learns it would be written twice.
   */
  private handoverDelayMicros(): number {
    return this.options.handoverDelayMicros ?? Math.max(2_000_000, (2 * this.options.heartbeatMs + 1_000) * 1_000);
  }

  /** Shards collected but not yet written by us (incoming, waiting for a cut). */
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
      if (this.roles.size === 0) return { released: true, heldShards: [] };
      if (this.now() >= deadline || this.closed)
        return { released: false, heldShards: [...this.roles.keys()].sort((a, b) => a - b) };
      await new Promise((r) => setTimeout(r, Math.min(this.options.heartbeatMs, 250)));
    }
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
      fenced: this.fencedCount,
      shards: Object.fromEntries(
        [...this.roles]
          .sort((a, b) => a[0] - b[0])
          .map(([s, r]) => [s, r.kind === 'owned' ? 'owned' : `${r.kind}`]),
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

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.beating = this.heartbeat()
        .catch(() => undefined)
        .finally(() => this.schedule());
    }, this.options.heartbeatMs);
    this.timer.unref();
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

  private async heartbeat(): Promise<void> {
    if (this.closed) return;
    const sentAt = this.now();
    if (sentAt >= this.leaseDeadline) {
      // We did not renew in time (paused?): others may already own our shards. Fence, then rejoin.
      await this.fence('lease expired before renewal');
      return;
    }
    const expires = sentAt + this.options.leaseMs;
    const ready: Record<string, AttributeValue> = {};
    for (const [shard, cut] of this.synced) ready[String(shard)] = N(cut);
    try {
      await this.options.client.send(
        new UpdateItemCommand({
          TableName: this.options.table,
          Key: { pk: S(this.options.group), sk: S(`member#${this.replicaId}`) },
          UpdateExpression: 'SET lease_expires_at = :exp, ready = :ready, leaving = :leaving',
          ConditionExpression: 'attribute_exists(pk) AND lease_expires_at > :now',
          ExpressionAttributeValues: {
            ':exp': N(expires),
            ':now': N(sentAt),
            ':ready': { M: ready },
            ':leaving': { BOOL: this.leaving },
          },
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        await this.fence('lease lost (reaped or expired in the table)');
        return;
      }
      throw err;
    }
    this.leaseDeadline = expires;
    await this.refresh();
  }

  private async fence(reason: string): Promise<void> {
    this.fencedCount++;
    this.leaseDeadline = 0;
    this.roles.clear();
    this.synced.clear();
    this.released.clear();
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
      const ready = new Map<number, number>();
      for (const [k, v] of Object.entries(item['ready']?.M ?? {})) ready.set(Number(k), Number(v.N));
      const leaving = id === this.replicaId ? this.leaving : item['leaving']?.BOOL === true;
      live.push({ id, leaseExpiresAt, ready, leaving });
    }
    if (!live.some((m) => m.id === this.replicaId))
      live.push({ id: this.replicaId, leaseExpiresAt: this.leaseDeadline, ready: new Map(), leaving: this.leaving });
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
    const before = this.owned();
    // Who held each shard before this view: rendezvous over the members that were live before and still are.
    // On our first view that is everyone but us (they ran the shards before we joined).
    const previousIds =
      previousMembers.size === 0
        ? this.members.map((m) => m.id).filter((id) => id !== this.replicaId)
        : [...previousMembers].filter((id) => byId.has(id) || id === this.replicaId);
    for (let shard = 0; shard < this.options.totalShards; shard++) {
      const owner = rendezvousOwner(this.options.hasher, shard, ids);
      const role = this.roles.get(shard);
      const previousOwner = rendezvousOwner(this.options.hasher, shard, previousIds);
      if (owner === this.replicaId) {
        if (role?.kind === 'owned') continue;
        if (role?.kind === 'incoming') {
          const settled = role.cutUs !== null && (this.maxTs.get(shard) ?? 0) >= role.cutUs + SETTLE_US;
          if (!byId.has(role.from) || settled) this.roles.set(shard, { kind: 'owned' });
          continue;
        }
        if (role?.kind === 'outgoing') {
          this.roles.set(shard, { kind: 'owned' });
          continue;
        }
        // A live previous owner keeps the shard until we are synced: make before break.
        const from =
          previousOwner !== undefined && previousOwner !== this.replicaId && byId.has(previousOwner)
            ? previousOwner
            : undefined;
        this.released.delete(shard);
        this.roles.set(shard, from ? { kind: 'incoming', from, cutUs: null } : { kind: 'owned' });
        if (!from) this.synced.delete(shard);
        continue;
      }
      // The shard is someone else's by rendezvous.
      if (!role) continue;
      const successor = owner === undefined ? undefined : byId.get(owner);
      // Incoming without a cut: we never wrote it, drop it (its previous owner still holds it). Incoming with
      // a cut: we write from that cut on, so it is handed over like an owned shard, keeping the lower bound.
      if ((role.kind === 'incoming' && role.cutUs === null) || !successor) {
        this.roles.delete(shard);
        this.synced.delete(shard);
        continue;
      }
      const fromUs = role.kind === 'incoming' ? role.cutUs : role.kind === 'outgoing' ? role.fromUs : null;
      const cut = successor.ready.get(shard) ?? null;
      const maxNow = this.maxTs.get(shard) ?? 0;
      const sameCut = role.kind === 'outgoing' && role.cutUs === cut;
      const seenAtMs = sameCut ? role.seenAtMs : this.now();
      const maxTsAtSeen = sameCut ? role.maxTsAtSeen : maxNow;
      // Let go once our stream has passed the cut (every row before it was ours). A quiet shard: once the
      // exchange time still missing to the cut has elapsed in wall time (+ slack and a heartbeat), capped at
      // two leases; with no row ever seen, two leases.
      const quietAfterMs =
        cut !== null && maxTsAtSeen > 0
          ? Math.min(
              2 * this.options.leaseMs,
              Math.max(0, Math.ceil((cut - maxTsAtSeen) / 1000)) + RELEASE_SLACK_US / 1000 + this.options.heartbeatMs,
            )
          : 2 * this.options.leaseMs;
      const passed = cut !== null && (maxNow >= cut + RELEASE_SLACK_US || this.now() >= seenAtMs + quietAfterMs);
      if (passed) {
        this.roles.delete(shard);
        this.maxTs.delete(shard);
        this.synced.delete(shard);
        this.released.set(shard, { fromUs, cutUs: cut });
      } else {
        this.roles.set(shard, { kind: 'outgoing', to: successor.id, cutUs: cut, seenAtMs, fromUs, maxTsAtSeen });
      }
    }
    const after = this.owned();
    if (before.size !== after.size || [...after].some((s) => !before.has(s))) this.emit();
  }

  private emit(): void {
    const owned = this.owned();
    for (const l of this.listeners) l(owned);
  }
}
