import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import { CfError, sleep } from '@cryptoflow/core';
import { counter, gauge } from '@cryptoflow/metrics';
import type { Counter, Gauge, Registry } from '@cryptoflow/metrics';
import type { Logger } from '@cryptoflow/logger';

export interface VenueLimits {
  /** Request weight per IP per minute (Binance spot 6000, USD-M 2400 at the time of writing). */
  readonly weightPerMinute: number;
  /** Throttle before the venue does: never plan to spend above this share of the limit. */
  readonly weightCeilingRatio: number;
  /** New WebSocket connections per IP per 5 minutes (Binance: 300). */
  readonly connectionsPer5Min: number;
  /** Concurrent connections we allow ourselves per IP. */
  readonly maxConnectionsPerIp: number;
}

export const BINANCE_SPOT_LIMITS: VenueLimits = {
  weightPerMinute: 6000,
  weightCeilingRatio: 0.8,
  connectionsPer5Min: 300,
  maxConnectionsPerIp: 250,
};
export const BINANCE_USDM_LIMITS: VenueLimits = {
  weightPerMinute: 2400,
  weightCeilingRatio: 0.8,
  connectionsPer5Min: 300,
  maxConnectionsPerIp: 250,
};

export interface EgressPoolOptions {
  readonly ips: readonly string[];
  /** Explicit shard → IP pins; they win over round-robin (and are rotated away from only while their IP cools down). */
  readonly perShard?: Readonly<Record<number, string>>;
  readonly limits: VenueLimits;
  readonly venue: string;
  readonly registry: Registry;
  readonly logger?: Logger;
  readonly now?: () => number;
}

export interface ShardMove {
  readonly shard: number;
  readonly from: string;
  readonly to: string;
  readonly reason: 'rate_limited' | 'banned' | 'weight_ceiling' | 'cooldown_over';
}

interface IpState {
  readonly ip: string;
  connections: number;
  connectStamps: number[];
  minute: number;
  spentThisMinute: number;
  coolingUntil: number;
}

/**
 * Source addresses for one venue: which IP each shard leaves from, sockets bound to it, and the venue's
 * per-IP budgets kept *before* the venue enforces them. When an IP is rate limited or banned its shards move
 * to the next IP in the ring for the cool-down the venue asked for, and move home after it.
 */
export class EgressPool {
  private readonly states = new Map<string, IpState>();
  private readonly agents = new Map<string, Agent>();
  private readonly listeners = new Set<(move: ShardMove) => void>();
  private readonly shardIps = new Map<number, string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly now: () => number;
  private readonly mConnections: Gauge<'venue' | 'ip'>;
  private readonly mWeight: Gauge<'venue' | 'ip'>;
  private readonly mCooling: Gauge<'venue' | 'ip'>;
  private readonly mLimited: Counter<'venue' | 'ip' | 'status'>;
  private readonly mMoves: Counter<'venue' | 'reason'>;
  private readonly mShardIp: Gauge<'venue' | 'shard' | 'ip'>;

  constructor(private readonly options: EgressPoolOptions) {
    if (options.ips.length === 0)
      throw new CfError('CF_EGRESS', 'egress pool needs at least one IP', {
        context: { venue: options.venue },
      });
    for (const [shard, ip] of Object.entries(options.perShard ?? {})) {
      if (!options.ips.includes(ip)) {
        throw new CfError(
          'CF_EGRESS',
          `egress.per_shard.${shard}: ${ip} is not in the pool (${options.ips.join(', ')})`,
          { context: { shard, ip } },
        );
      }
    }
    this.now = options.now ?? Date.now;
    for (const ip of options.ips)
      this.states.set(ip, {
        ip,
        connections: 0,
        connectStamps: [],
        minute: 0,
        spentThisMinute: 0,
        coolingUntil: 0,
      });
    const r = options.registry;
    this.mConnections = gauge(r, 'egress_ip_connections', 'Open connections per source IP.', ['venue', 'ip']);
    this.mWeight = gauge(
      r,
      'egress_ip_used_weight',
      'Request weight used in the current minute per source IP (ours or the venue header, the larger).',
      ['venue', 'ip'],
    );
    this.mCooling = gauge(r, 'egress_ip_cooling', '1 while a source IP cools down after a 429/418.', [
      'venue',
      'ip',
    ]);
    this.mLimited = counter(
      r,
      'egress_ip_rate_limited_total',
      'Rate-limit answers (429/418) per source IP.',
      ['venue', 'ip', 'status'],
    );
    this.mMoves = counter(r, 'egress_shard_moves_total', 'Shards moved to another source IP.', [
      'venue',
      'reason',
    ]);
    this.mShardIp = gauge(r, 'egress_shard_ip', '1 for the source IP each shard currently leaves from.', [
      'venue',
      'shard',
      'ip',
    ]);
  }

  get ips(): readonly string[] {
    return this.options.ips;
  }

  /** The IP a shard leaves from now. */
  ipFor(shard: number): string {
    const ip = this.resolve(shard);
    const prev = this.shardIps.get(shard);
    if (prev !== ip) {
      if (prev !== undefined)
        this.mShardIp.remove({ venue: this.options.venue, shard: String(shard), ip: prev });
      this.mShardIp.set({ venue: this.options.venue, shard: String(shard), ip }, 1);
      this.shardIps.set(shard, ip);
    }
    return ip;
  }

  /** Home IP: explicit pin, else round-robin over the pool. */
  homeIp(shard: number): string {
    const pinned = this.options.perShard?.[shard];
    return pinned ?? (this.options.ips[shard % this.options.ips.length] as string);
  }

  /** undici dispatcher bound to the shard's IP. Agent({ localAddress }) — `connect: { localAddress }` is silently ignored. */
  dispatcher(shard: number): Dispatcher {
    const ip = this.ipFor(shard);
    let agent = this.agents.get(ip);
    if (!agent) {
      agent = new Agent({ localAddress: ip, connections: 16, keepAliveTimeout: 30_000 });
      this.agents.set(ip, agent);
    }
    return agent;
  }

  /** Options for `new WebSocket(url, opts)` from ws. */
  wsOptions(shard: number): { localAddress: string } {
    return { localAddress: this.ipFor(shard) };
  }

  /**
   * Takes a connection slot on the shard's IP, within our concurrency cap and the venue's
   * new-connections-per-5-minutes rule. Throws a retriable CF_EGRESS with retryAfterMs when over.
   */
  acquireConnection(shard: number): { ip: string; release: () => void } {
    const ip = this.ipFor(shard);
    const state = this.state(ip);
    const now = this.now();
    while (state.connectStamps.length > 0 && (state.connectStamps[0] as number) <= now - 300_000)
      state.connectStamps.shift();
    if (state.connections >= this.options.limits.maxConnectionsPerIp) {
      throw new CfError(
        'CF_EGRESS',
        `egress ${ip}: ${state.connections} connections open, cap ${this.options.limits.maxConnectionsPerIp}`,
        {
          retriable: true,
          context: { ip, shard, retryAfterMs: 1000 },
        },
      );
    }
    if (state.connectStamps.length >= this.options.limits.connectionsPer5Min) {
      const retryAfterMs = (state.connectStamps[0] as number) + 300_000 - now;
      throw new CfError(
        'CF_EGRESS',
        `egress ${ip}: ${state.connectStamps.length} connections opened in 5 min (venue limit ${this.options.limits.connectionsPer5Min})`,
        {
          retriable: true,
          context: { ip, shard, retryAfterMs },
        },
      );
    }
    state.connections++;
    state.connectStamps.push(now);
    this.mConnections.set({ venue: this.options.venue, ip }, state.connections);
    let released = false;
    return {
      ip,
      release: () => {
        if (released) return;
        released = true;
        state.connections--;
        this.mConnections.set({ venue: this.options.venue, ip }, state.connections);
      },
    };
  }

  /** Waits until the shard's IP can spend `weight` within the ceiling, then books it. */
  async reserveWeight(shard: number, weight: number, signal?: AbortSignal): Promise<string> {
    for (;;) {
      const ip = this.ipFor(shard);
      const state = this.state(ip);
      const now = this.now();
      this.rollMinute(state, now);
      const ceiling = this.options.limits.weightPerMinute * this.options.limits.weightCeilingRatio;
      const coolingFor = state.coolingUntil - now;
      if (coolingFor <= 0 && state.spentThisMinute + weight <= ceiling) {
        state.spentThisMinute += weight;
        this.mWeight.set({ venue: this.options.venue, ip }, state.spentThisMinute);
        return ip;
      }
      const waitMs = coolingFor > 0 ? coolingFor : 60_000 - (now % 60_000);
      await sleep(Math.max(1, Math.min(waitMs, 1000)), signal);
    }
  }

  /** Feeds the venue's own count (X-MBX-USED-WEIGHT-1M) back: it wins when it is higher than ours. */
  observeUsedWeight(ip: string, usedWeight: number): void {
    const state = this.states.get(ip);
    if (!state) return;
    this.rollMinute(state, this.now());
    if (usedWeight > state.spentThisMinute) state.spentThisMinute = usedWeight;
    this.mWeight.set({ venue: this.options.venue, ip }, state.spentThisMinute);
  }

  /**
   * A 429 (rate limited) or 418 (banned) on `ip`: the IP cools down for as long as the venue asked
   * (Retry-After), and every shard on it moves to the next IP in the ring that is not cooling.
   */
  reportRateLimited(ip: string, status: 429 | 418, retryAfterMs: number): ShardMove[] {
    const state = this.states.get(ip);
    if (!state) return [];
    this.mLimited.inc({ venue: this.options.venue, ip, status: String(status) });
    const until = this.now() + Math.max(retryAfterMs, status === 418 ? 120_000 : 1_000);
    if (until <= state.coolingUntil) return [];
    state.coolingUntil = until;
    this.mCooling.set({ venue: this.options.venue, ip }, 1);
    this.options.logger?.warn(
      { ip, status, retryAfterMs, venue: this.options.venue },
      'egress IP rate limited: moving its shards',
    );
    const moves = this.reevaluate(status === 418 ? 'banned' : 'rate_limited');
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.now() >= state.coolingUntil) this.mCooling.set({ venue: this.options.venue, ip }, 0);
      this.reevaluate('cooldown_over');
    }, until - this.now());
    timer.unref();
    this.timers.add(timer);
    return moves;
  }

  /** Shards whose current IP changed since they last asked, and why. Listeners reconnect them. */
  onMove(listener: (move: ShardMove) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  describe(): Record<string, unknown> {
    const now = this.now();
    return {
      venue: this.options.venue,
      shardIps: Object.fromEntries([...this.shardIps].map(([s, ip]) => [s, ip])),
      ips: [...this.states.values()].map((s) => ({
        ip: s.ip,
        connections: s.connections,
        usedWeight: s.spentThisMinute,
        coolingForMs: Math.max(0, s.coolingUntil - now),
      })),
    };
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all([...this.agents.values()].map((a) => a.close()));
    this.agents.clear();
  }

  private resolve(shard: number): string {
    const home = this.homeIp(shard);
    const now = this.now();
    if (this.state(home).coolingUntil <= now) return home;
    const ips = this.options.ips;
    const start = ips.indexOf(home);
    for (let i = 1; i < ips.length; i++) {
      const candidate = ips[(start + i) % ips.length] as string;
      if (this.state(candidate).coolingUntil <= now) return candidate;
    }
    return home; // every IP cools down: stay home, reserveWeight() waits out the cool-down
  }

  private reevaluate(reason: ShardMove['reason']): ShardMove[] {
    const moves: ShardMove[] = [];
    for (const [shard, from] of [...this.shardIps]) {
      const to = this.ipFor(shard);
      if (to !== from) moves.push({ shard, from, to, reason });
    }
    for (const move of moves) {
      this.mMoves.inc({ venue: this.options.venue, reason: move.reason });
      for (const l of this.listeners) l(move);
    }
    return moves;
  }

  private rollMinute(state: IpState, now: number): void {
    const minute = Math.floor(now / 60_000);
    if (minute !== state.minute) {
      state.minute = minute;
      state.spentThisMinute = 0;
    }
  }

  private state(ip: string): IpState {
    const s = this.states.get(ip);
    if (!s) throw new CfError('CF_EGRESS', `egress: ${ip} is not in the pool`, { context: { ip } });
    return s;
  }
}
