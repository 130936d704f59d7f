import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CfError, checkTotalShards } from '@cryptoflow/core';
import { FleetStore } from './fleet-store.js';
import { ShardHandovers, reconcile } from './handover.js';
import type { HandoverEvent, HandoverParams, Member, RowDecision } from './handover.js';
import type { ShardHasher } from './hasher.js';
import type { ShardOwnership } from './ownership.js';
import { fleetHandoverDelayUs } from './timings.js';

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
   * heartbeats + 1 s (at least 2 s), the longest the old owner can take to learn the cut (`fleetHandoverDelayUs`).
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

/**
 * Dynamic shard ownership for an elastic fleet, the coordinator of three parts:
 * - membership and timers (here): each replica keeps its member item alive with conditional heartbeats carrying
 *   a lease expiry and its handover state; a replica whose heartbeat could not renew its lease before it
 *   expired — paused, partitioned, reaped — owns nothing from that moment (`owns()` is false, listeners are
 *   told) and rejoins under a new id (fencing);
 * - the handover state machine (handover.ts, no I/O): rendezvous assignment over live members and the
 *   make-before-break cut protocol — the newcomer collects a moving shard, proposes a cut once synced
 *   (`markSynced`), the old owner acknowledges it past every row it already wrote, each writes its side
 *   (`decideAt`), then the old one lets go;
 * - the DynamoDB items (fleet-store.ts): encoding, conditional writes, `total_shards` stored once per group.
 */
export class FleetMembership implements ShardOwnership {
  private replicaId: string;
  private readonly now: () => number;
  private readonly store: FleetStore;
  private readonly listeners = new Set<(owned: ReadonlySet<number>) => void>();
  private state = new ShardHandovers();
  private params: HandoverParams;
  private members: Member[] = [];
  private kickRequested = false;
  /** Set by a refresh that decided something the other side of a handover waits for. */
  private republish = false;
  private timerStarted = false;
  private leaseDeadline = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private fencedCount = 0;
  private beating: Promise<void> | undefined;
  private leaving = false;

  private constructor(private readonly options: FleetMembershipOptions) {
    checkTotalShards(options.totalShards, 'sharding.total_shards');
    if (options.heartbeatMs * 2 > options.leaseMs) {
      throw new CfError(
        'CF_SHARDING',
        `fleet.heartbeat_ms (${options.heartbeatMs}) must be at most half of fleet.lease_ms (${options.leaseMs})`,
      );
    }
    this.replicaId = options.replicaId ?? newReplicaId();
    this.now = options.now ?? Date.now;
    this.store = new FleetStore(options.client, options.table, options.group);
    this.params = this.handoverParams();
  }

  static async join(options: FleetMembershipOptions): Promise<FleetMembership> {
    const fleet = new FleetMembership(options);
    await fleet.store.claimTotalShards(options.totalShards, fleet.now());
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
    await FleetStore.ensureTable(client, table);
  }

  get id(): string {
    return this.replicaId;
  }

  owned(): ReadonlySet<number> {
    if (!this.leaseValid()) return new Set();
    return new Set(this.state.roles.keys());
  }

  owns(shard: number): boolean {
    return this.leaseValid() && this.state.roles.has(shard);
  }

  /** Shards this replica stands by for (standby mode): to collect and buffer, not to write. */
  standbyShards(): ReadonlySet<number> {
    if (!this.leaseValid()) return new Set();
    return new Set(this.state.standbys);
  }

  /** Shards taken over from a dead owner whose buffered rows wait for the collector to resolve them. */
  pendingTakeovers(): number[] {
    return this.state.pendingTakeovers();
  }

  /** The collector decided which buffered rows to write: the shard is owned outright from now on. */
  completeTakeover(shard: number): void {
    this.state.completeTakeover(shard);
  }

  /**
   * What to do with a row of `shard` at exchange time `exchangeTsMicros` (see `ShardHandovers.decideAt`);
   * 'skip' for everything while the lease is not valid.
   */
  decideAt(shard: number, exchangeTsMicros: number): RowDecision {
    if (!this.leaseValid()) return 'skip';
    return this.state.decideAt(shard, exchangeTsMicros);
  }

  /** Whether a row is ours to write now (`decideAt` is 'write'). */
  ownsAt(shard: number, exchangeTsMicros: number): boolean {
    return this.decideAt(shard, exchangeTsMicros) === 'write';
  }

  /**
   * The collector calls this once an incoming shard is live (connected; books synced), with the latest
   * exchange time it has seen on the shard. The cut lands a little later in exchange time, so the old
   * owner, still collecting, writes everything before it; it is published at once.
   */
  markSynced(shard: number, latestExchangeTsMicros: number): void {
    const delay = this.options.handoverDelayMicros ?? fleetHandoverDelayUs(this.options.heartbeatMs);
    const event = this.state.markSynced(shard, latestExchangeTsMicros, delay);
    if (!event) return;
    this.options.onHandover?.(event);
    this.kick();
  }

  /** Shards collected but not yet written by us (incoming, waiting to be synced and propose a cut). */
  pendingHandovers(): number[] {
    return this.state.pendingHandovers();
  }

  leaseValid(): boolean {
    return !this.closed && this.now() < this.leaseDeadline;
  }

  /** Shards held by role: `owned` outright, `incoming` (collecting, before or after its cut), `outgoing`. */
  roleCounts(): { owned: number; incoming: number; outgoing: number } {
    if (!this.leaseValid()) return { owned: 0, incoming: 0, outgoing: 0 };
    return this.state.roleCounts();
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
      const unconfirmed = this.state.unconfirmedAcks(this.members);
      if (this.state.roles.size === 0 && unconfirmed.length === 0) return { released: true, heldShards: [] };
      if (this.now() >= deadline || this.closed)
        return {
          released: false,
          heldShards: [...new Set([...this.state.roles.keys(), ...unconfirmed])].sort((a, b) => a - b),
        };
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
      ...(this.options.standby ? { standby: [...this.state.standbys].sort((a, b) => a - b) } : {}),
      fenced: this.fencedCount,
      shards: this.state.describeShards(),
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
    await this.store.remove(this.replicaId);
    this.state.roles.clear();
    this.emit();
  }

  private handoverParams(): HandoverParams {
    const { totalShards, hasher, leaseMs, heartbeatMs } = this.options;
    return {
      me: this.replicaId,
      totalShards,
      hasher,
      leaseMs,
      heartbeatMs,
      standby: this.options.standby === true,
    };
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

  private async register(): Promise<void> {
    const expires = this.now() + this.options.leaseMs;
    await this.store.register(this.replicaId, expires, hostname());
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
    const renewed = await this.store.renew(
      this.replicaId,
      { nowMs: sentAt, leaseExpiresAt: expires },
      { ...this.state.published(), leaving: this.leaving },
    );
    if (!renewed) {
      await this.fence('lease lost (reaped or expired in the table)');
      return false;
    }
    this.leaseDeadline = expires;
    return true;
  }

  private async fence(reason: string): Promise<void> {
    this.fencedCount++;
    this.leaseDeadline = 0;
    this.state = this.state.fenced();
    this.emit();
    this.options.onFenced?.(reason);
    this.replicaId = newReplicaId();
    this.params = this.handoverParams();
    await this.register();
    await this.refresh();
  }

  private async refresh(): Promise<void> {
    const now = this.now();
    const live: Member[] = [];
    for (const m of await this.store.members()) {
      if (m.leaseExpiresAt <= now) {
        await this.store.reap(m.id, now);
        continue;
      }
      live.push(m.id === this.replicaId ? { ...m, leaving: this.leaving } : m);
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
    const before = this.owned();
    const wasStandby = this.state.standbys;
    const result = reconcile(this.state, this.params, { members: live, previousMembers, nowMs: this.now() });
    this.state = result.state;
    for (const event of result.events) this.options.onHandover?.(event);
    const after = this.owned();
    const standbys = this.state.standbys;
    const standbyChanged = standbys.size !== wasStandby.size || [...standbys].some((s) => !wasStandby.has(s));
    if (standbyChanged || before.size !== after.size || [...after].some((s) => !before.has(s))) this.emit();
    if (result.publish) this.republish = true;
  }

  private emit(): void {
    const owned = this.owned();
    for (const l of this.listeners) l(owned);
  }
}

function newReplicaId(): string {
  return `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
}
