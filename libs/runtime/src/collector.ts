import { ChannelWatcher } from '@cryptoflow/channels';
import { channelSettingsFor } from '@cryptoflow/config';
import type { CollectorConfig } from '@cryptoflow/config';
import { BINANCE_SPOT_LIMITS, BINANCE_USDM_LIMITS, EgressPool, discoverEgressIps } from '@cryptoflow/egress';
import { BinanceStreamConnection, binanceMarket, binanceStreamName, planConnections } from '@cryptoflow/exchanges';
import { startHealthServer } from '@cryptoflow/health';
import type { HealthServer, VersionInfo } from '@cryptoflow/health';
import type { Logger } from '@cryptoflow/logger';
import { gauge, counter } from '@cryptoflow/metrics';
import type { Registry } from '@cryptoflow/metrics';
import type { CanonicalRow, Exchange } from '@cryptoflow/model';
import { STREAM_TABLE, TABLE_SCHEMAS } from '@cryptoflow/model';
import {
  FleetMembership,
  HANDOVER_DELAY_US,
  RELEASE_AFTER_MS,
  RELEASE_SLACK_US,
  assignSymbols,
  createShardHasher,
} from '@cryptoflow/sharding';
import { naturalRowKey } from '@cryptoflow/sink';
import type { DurableRows } from '@cryptoflow/sink';
import type { RowDecision, ShardHasher, ShardOwnership } from '@cryptoflow/sharding';
import { ShardPipeline } from './pipeline.js';
import type { RowConsumer } from './pipeline.js';
import { createProcessor } from './processors.js';
import { createSinkStage } from './sink-stage.js';
import type { SinkStage } from './sink-stage.js';
import { RowTally } from './tally.js';
import type { TallySummary } from './tally.js';
import { createOwnership } from './ownership.js';
import { emfOptionsFromEnv, startEmfPublisher } from './emf.js';
import type { EmfOptions, EmfPublisher } from './emf.js';

export interface CollectorContext {
  readonly app: string;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly version: VersionInfo;
  /** CloudWatch EMF lines on stdout; default from env (CRYPTOFLOW_EMF=1, CRYPTOFLOW_ENV). `false`: off. */
  readonly emf?: EmfOptions | false;
}

export interface CollectorSummary extends TallySummary {
  readonly files: readonly { key: string; rows: number; bytes: number; uri: string }[];
}

export interface Collector {
  readonly health: HealthServer;
  /** Stops sockets, drains every channel, flushes every file. Nothing received is lost. */
  stop(): Promise<CollectorSummary>;
  summary(): CollectorSummary;
}

interface ShardUnit {
  readonly key: string;
  readonly exchange: Exchange;
  readonly shard: number;
  readonly symbols: readonly string[];
  readonly pipeline: ShardPipeline;
  readonly connections: BinanceStreamConnection[];
  readonly ip: string | undefined;
  /** Latest exchange time of any row this unit produced (written or not), µs. */
  maxTs: number;
  /**
   * Local make-before-break (egress move): rows are written only with `from <= exchange_ts < until`.
   * `pending`: a replacement still syncing, writing nothing; its predecessor writes everything meanwhile.
   */
  from: number | null | 'pending';
  until: number | null;
  /** The unit this one replaces, until the cut is set and the old one has passed it. */
  replaces: ShardUnit | undefined;
  cutSetAt: number;
  /** Wall time (ms) at which every socket of the unit was first seen open; 0 until then. */
  openSeenAt: number;
  /** After a standby takeover: the rows the dead owner made durable, not to be written again. */
  durable: DurableRows | undefined;
}

/** A unit whose sockets are open this long without a row (a quiet shard) counts as live. */
const QUIET_LIVE_AFTER_MS = 1_000;

const VENUE_LIMITS = { binance: BINANCE_SPOT_LIMITS, 'binance-usdm': BINANCE_USDM_LIMITS } as const;

/**
 * A collector process: for every (exchange, owned shard) one pipeline and the sockets that feed it,
 * each socket bound to the shard's egress IP; one sink shared by all shards. Thin: the work is in the libs.
 */
export async function startCollector(config: CollectorConfig, ctx: CollectorContext): Promise<Collector> {
  const { logger, registry } = ctx;
  const stream = config.stream;
  const table = STREAM_TABLE[stream];
  const hasher: ShardHasher = await createShardHasher();
  // Egress first: a wrong address fails the boot before this replica joins a fleet or opens anything.
  const egressIps = await resolveEgressIps(config);
  const ownership: ShardOwnership = await createOwnership(config, hasher, logger);
  const pools = new Map<Exchange, EgressPool>();
  for (const exchange of Object.keys(config.exchanges) as Exchange[]) {
    if (egressIps.length === 0) continue;
    const perShard = Object.fromEntries(
      Object.entries(config.egress.per_shard).map(([s, ip]) => [Number(s), ip]),
    );
    pools.set(
      exchange,
      new EgressPool({
        ips: egressIps,
        perShard,
        venue: exchange,
        limits: {
          ...VENUE_LIMITS[binanceMarket(exchange)],
          maxConnectionsPerIp: config.egress.max_connections_per_ip,
          weightCeilingRatio: config.egress.weight_ceiling_ratio,
        },
        registry,
        logger,
      }),
    );
  }

  const sink: SinkStage = await createSinkStage(config, { app: ctx.app, logger, registry, hasher });
  const tally = new RowTally();
  const consumers: RowConsumer[] = [tally, ...sink.consumers];
  const watcher = new ChannelWatcher({ registry, logger });
  watcher.start();
  const units = new Map<string, ShardUnit>();
  /** Units handing over to a replacement (egress move): they still write rows before the cut. */
  const retiring = new Set<ShardUnit>();
  const fleet = ownership instanceof FleetMembership ? ownership : undefined;
  const decideAt = fleet ? (shard: number, ts: number): RowDecision => fleet.decideAt(shard, ts) : undefined;
  /**
   * Latest exchange time of any row per venue: the venue's clock, for cuts on quiet shards. Per venue, never
   * mixed: two venues' clocks can differ (replays of captures from different days), and a cut taken from the
   * wrong clock would fall in the other venue's past (rows written twice) or far future (rows dropped).
   */
  const venueMaxTs = new Map<Exchange, number>();
  const venueClock = (exchange: Exchange): number => venueMaxTs.get(exchange) ?? 0;
  const mHandovers = counter(
    registry,
    'shard_handovers_total',
    'Make-before-break handovers completed: kind=egress (source IP moved) or fleet (owner changed).',
    ['exchange', 'stream', 'kind'],
  );

  const startUnit = (
    exchange: Exchange,
    shard: number,
    symbols: readonly string[],
    replaces?: ShardUnit,
  ): ShardUnit | undefined => {
    const endpoint = config.exchanges[exchange];
    if (!endpoint || symbols.length === 0) return undefined;
    const key = `${exchange}|${shard}`;
    const labels = { exchange, stream, shard: String(shard) };
    const log = logger.child(labels);
    const pool = pools.get(exchange);
    const ip = pool?.ipFor(shard);
    // The unit is referenced by its row filter; assigned right after construction, before any row flows.
    let self!: ShardUnit;
    const rowFilter = (row: CanonicalRow): boolean | 'hold' | 'buffer' => {
      const ts = row.exchange_ts;
      if (ts > self.maxTs) self.maxTs = ts;
      if (ts > venueClock(exchange)) venueMaxTs.set(exchange, ts);
      // Called first for its side effect: the fleet tracks each shard's stream position for releases.
      const fleetDecision = decideAt ? decideAt(shard, ts) : 'write';
      const { from, until } = self;
      if (from === 'pending' || (from !== null && ts < from) || (until !== null && ts >= until)) return false;
      if (fleetDecision !== 'write') return fleetDecision === 'skip' ? false : fleetDecision;
      const durable = self.durable;
      if (durable && ts <= durable.maxTs && durable.keys.has(naturalRowKey(TABLE_SCHEMAS[table], row))) {
        mTakeoverRows.inc({ exchange, stream, outcome: 'durable' });
        return false;
      }
      if (durable) mTakeoverRows.inc({ exchange, stream, outcome: 'written' });
      return true;
    };
    const pipeline = new ShardPipeline({
      app: ctx.app,
      exchange,
      stream,
      shard,
      settings: channelSettingsFor(config, exchange),
      consumers,
      rowFilter,
      registry,
      logger: log,
      watcher,
      createProcessor: (emit) =>
        createProcessor({
          config,
          exchange,
          shard,
          symbols,
          emit,
          registry,
          logger: log,
          // Bound to the shard's IP now; an egress move starts a new unit with a new dispatcher.
          dispatcher: pool?.dispatcher(shard),
          egress: pool,
          live: true,
        }),
    });
    pipeline.start();
    const streams = symbols.flatMap((s) => binanceStreamName(stream, exchange, s));
    const plans = planConnections(exchange, streams, {
      maxStreamsPerConnection: endpoint.max_streams_per_connection,
      wsBaseUrl: endpoint.ws_url,
    });
    // Two units of one shard run side by side during an egress move: their connection names differ.
    const generation = replaces ? `@${ip ?? 'default'}` : '';
    const connections = plans.map((plan) => {
      const connName = `${exchange}/${stream}/s${shard}/${plan.route ?? 'ws'}${plan.index}${generation}`;
      const conn = new BinanceStreamConnection({
        exchange,
        wsBaseUrl: endpoint.ws_url,
        route: plan.route,
        streams: plan.streams,
        localAddress: ip,
        logger, // the connection binds exchange/stream/shard/conn itself
        registry,
        labels,
        connName,
        // Liquidations can be quiet for minutes on a calm market: silence is not staleness there.
        staleAfterMs: stream === 'liquidations' ? 15 * 60_000 : undefined,
        onFrame: (frame) => {
          if (pipeline.offer(frame)) return true;
          void pipeline.raw.writable().then(() => conn.resume());
          return false;
        },
      });
      conn.start();
      return conn;
    });
    self = {
      key,
      exchange,
      shard,
      symbols,
      pipeline,
      connections,
      ip,
      maxTs: 0,
      from: replaces ? 'pending' : null,
      until: null,
      replaces,
      cutSetAt: 0,
      openSeenAt: 0,
      durable: undefined,
    };
    units.set(key, self);
    log.info(
      { symbols: symbols.length, connections: connections.length, localAddress: ip ?? 'default', replacing: !!replaces },
      'shard started',
    );
    return self;
  };

  /** Stops a unit's sockets, then drains its pipeline: every frame received becomes rows handed to the sink. */
  const stopUnitNow = async (unit: ShardUnit): Promise<void> => {
    if (units.get(unit.key) === unit) units.delete(unit.key);
    retiring.delete(unit);
    await Promise.all(unit.connections.map((c) => c.stop()));
    await unit.pipeline.finish();
  };

  const stopped = new Set<Promise<void>>();
  const track = (p: Promise<void>): void => {
    const tracked = p.catch((err: unknown) => logger.error({ err: String(err) }, 'shard stop failed'));
    stopped.add(tracked);
    void tracked.finally(() => stopped.delete(tracked));
  };

  /** Stops the shard's current unit and everything it replaces or retires (ownership lost). */
  const stopShard = (key: string): void => {
    const unit = units.get(key);
    for (const u of [...retiring]) if (u.key === key) track(stopUnitNow(u));
    for (let u = unit; u; u = u.replaces) track(stopUnitNow(u));
  };

  /**
   * Whether a unit is live: every socket open, books synced, and a row seen — or, on a quiet shard, the
   * sockets open for a while and the process knows the venue clock from other shards (the cut then falls
   * after it, when the new sockets were certainly subscribed).
   */
  const unitLive = (u: ShardUnit, nowMs: number): boolean => {
    if (!u.connections.every((c) => c.state === 'open')) {
      u.openSeenAt = 0;
      return false;
    }
    if (u.openSeenAt === 0) u.openSeenAt = nowMs;
    if (!(u.pipeline.processor.ready?.().ok ?? true)) return false;
    return u.maxTs > 0 || (venueClock(u.exchange) > 0 && nowMs - u.openSeenAt >= QUIET_LIVE_AFTER_MS);
  };

  const assign = (): void => {
    // Shards to collect: those we own, and (standby mode) those we stand by for.
    const standby = fleet?.standbyShards() ?? new Set<number>();
    for (const exchange of Object.keys(config.exchanges) as Exchange[]) {
      const symbols = config.exchanges[exchange]?.symbols ?? [];
      const owned = assignSymbols(hasher, exchange, symbols, config.sharding.total_shards);
      for (const shard of [...owned.keys()]) if (!ownership.owns(shard) && !standby.has(shard)) owned.delete(shard);
      for (const [shard, syms] of owned)
        if (!units.has(`${exchange}|${shard}`)) startUnit(exchange, shard, syms);
      for (const [key, unit] of units) if (unit.exchange === exchange && !owned.has(unit.shard)) stopShard(key);
    }
  };

  const standbyWindowUs =
    (config.fleet.standby_window_ms ?? 2 * (config.sink.flush_interval_ms + config.fleet.lease_ms)) * 1000;
  const takeovers = new Map<number, number>(); // shard → attempts
  /**
   * The owner of `shard` died while we stood by: find which of our buffered rows it had made durable (its
   * recorded files in the lake), skip those, write the rest. Until then the rows stay held, in order.
   */
  const startTakeover = (shard: number): void => {
    const attempts = (takeovers.get(shard) ?? 0) + 1;
    takeovers.set(shard, attempts);
    const shardUnits = [...units.values()].filter((u) => u.shard === shard);
    const oldest = Math.min(...shardUnits.map((u) => u.pipeline.oldestHeldTs() ?? Number.POSITIVE_INFINITY));
    const newest = Math.max(0, ...shardUnits.map((u) => u.maxTs));
    const done = (durable: DurableRows | undefined): void => {
      for (const u of shardUnits) u.durable = durable;
      fleet?.completeTakeover(shard);
      for (const u of shardUnits) u.pipeline.releaseHeld();
      takeovers.delete(shard);
    };
    if (!Number.isFinite(oldest) || !sink.durableRows) {
      // A shard without symbols of this stream has nothing to recover; one with symbols but an empty buffer
      // (the standby had just started) is worth a line.
      if (shardUnits.length > 0) logger.warn({ shard, buffered: 0 }, 'fleet takeover: owner died, nothing buffered to recover');
      done(undefined);
      return;
    }
    const buffered = shardUnits.reduce((n, u) => n + u.pipeline.heldRows, 0);
    sink
      .durableRows(shard, oldest, Math.max(oldest, newest))
      .then((durable) => {
        logger.warn(
          { shard, buffered, fromTs: oldest, durableFiles: durable.files, durableRows: durable.keys.size, durableUntil: durable.maxTs },
          'fleet takeover: owner died; writing the buffered rows it had not made durable',
        );
        done(durable);
      })
      .catch((err: unknown) => {
        // Retried on the next ticks; after that the buffer is written whole (a duplicate beats a gap).
        logger.error({ shard, attempts, err: String(err) }, 'fleet takeover: reading the lake failed');
        if (attempts >= 10) done(undefined);
        else setTimeout(() => takeovers.delete(shard), 1_000).unref();
      });
  };
  const mTakeoverRows = counter(
    registry,
    'fleet_takeover_rows_total',
    "Buffered rows after a standby takeover: written, or skipped as already durable from the dead owner.",
    ['exchange', 'stream', 'outcome'],
  );

  /**
   * Every 200 ms: (1) a replacement unit (egress move) that is live sets the local cut and its predecessor
   * retires once past it; (2) fleet shards coming in are reported synced once all their units are live.
   */
  const handoverTick = (): void => {
    const nowMs = Date.now();
    if (fleet && config.fleet.standby) {
      // A standby's buffer reaches back the window, measured on the shard's own stream.
      const standby = fleet.standbyShards();
      for (const u of units.values())
        if (standby.has(u.shard) && u.maxTs > 0) u.pipeline.evictHeldBefore(u.maxTs - standbyWindowUs);
      for (const shard of fleet.pendingTakeovers()) if (!takeovers.has(shard)) startTakeover(shard);
      for (const u of units.values()) if (u.durable && u.maxTs > u.durable.maxTs + RELEASE_SLACK_US) u.durable = undefined;
    }
    // Rows held for an unacknowledged fleet cut: written or skipped once the acknowledgement is in.
    for (const u of [...units.values(), ...retiring]) if (u.pipeline.heldRows > 0) u.pipeline.releaseHeld();
    for (const unit of units.values()) {
      const old = unit.replaces;
      if (unit.from !== 'pending' || !old) continue;
      if (!unitLive(unit, nowMs)) continue;
      // A predecessor that produced no row yet (its book never synced, or a quiet shard) has nothing to hand
      // over: the new unit writes everything and the old one nothing more, with no delay (no gap).
      const idle = old.maxTs === 0;
      const cut = idle
        ? Number.NEGATIVE_INFINITY
        : Math.max(unit.maxTs, old.maxTs, venueClock(unit.exchange)) + HANDOVER_DELAY_US;
      unit.from = idle ? old.from : Math.max(cut, typeof old.from === 'number' ? old.from : 0);
      old.until = cut;
      unit.cutSetAt = nowMs;
      unit.replaces = undefined;
      retiring.add(old);
      logger.info(
        { exchange: unit.exchange, shard: unit.shard, from: old.ip, to: unit.ip, cutUs: cut },
        'egress handover: new source address live, cut set',
      );
    }
    for (const old of [...retiring]) {
      const current = units.get(old.key);
      const cutSetAt = current?.cutSetAt ?? 0;
      if (old.until === null) continue;
      const idle = old.until === Number.NEGATIVE_INFINITY;
      if (idle || old.maxTs >= old.until + RELEASE_SLACK_US || nowMs - cutSetAt >= RELEASE_AFTER_MS) {
        retiring.delete(old);
        mHandovers.inc({ exchange: old.exchange, stream, kind: 'egress' });
        track(stopUnitNow(old));
      }
    }
    if (fleet) {
      for (const shard of fleet.pendingHandovers()) {
        const shardUnits = [...units.values()].filter((u) => u.shard === shard);
        if (!shardUnits.every((u) => unitLive(u, nowMs))) continue;
        // The cut must be ahead on the clock of every venue the shard has symbols on. A shard with no symbol
        // of this stream never has a row: any cut splits nothing, so it takes any venue clock, or none (a
        // replica holding only such shards knows no clock, and must still answer its predecessor).
        const clocks = shardUnits.length > 0 ? shardUnits.map((u) => venueClock(u.exchange)) : [...venueMaxTs.values()];
        const latest = Math.max(0, ...clocks, ...shardUnits.map((u) => u.maxTs));
        if (latest <= 0 && shardUnits.length > 0) continue;
        fleet.markSynced(shard, latest);
        for (const u of shardUnits) mHandovers.inc({ exchange: u.exchange, stream, kind: 'fleet' });
        logger.info({ shard, latestExchangeTs: latest }, 'fleet handover: shard synced, cut proposed');
      }
    }
  };
  const handoverTimer = setInterval(handoverTick, 200);
  handoverTimer.unref();

  // Ownership first tells which shards to start; a listener registered before assign() sees every change.
  const unsubscribe = ownership.onChange(() => assign());
  assign();

  // A shard whose egress IP changed (429/418 rotation, or home again after the cool-down) moves
  // make-before-break: a new unit connects from the new address (WebSocket and REST), and the old one keeps
  // writing until the new one is live and both agree on a cut in exchange time.
  for (const [exchange, pool] of pools) {
    pool.onMove((move) => {
      const key = `${exchange}|${move.shard}`;
      const current = units.get(key);
      if (!current || current.ip === move.to) return;
      logger.warn(
        { exchange, shard: move.shard, from: move.from, to: move.to, reason: move.reason },
        'shard egress moved: connecting from the new address before letting the old one go',
      );
      // A replacement still syncing wrote nothing: drop it and replace its predecessor directly.
      let predecessor = current;
      if (current.from === 'pending' && current.replaces) {
        predecessor = current.replaces;
        units.delete(key);
        track(stopUnitNow(current));
        units.set(key, predecessor);
      }
      startUnit(exchange, move.shard, current.symbols, predecessor);
    });
  }

  // Fleet and egress state as metrics (the pool keeps egress_shard_ip itself).
  const mOwned = gauge(registry, 'fleet_owned_shards', 'Shards this replica holds, by role (owned, incoming, outgoing; standby: collected, not written).', ['role']);
  const mLease = gauge(registry, 'fleet_lease_valid', '1 while this replica holds a valid fleet lease (static ownership: always 1).');
  const mReplicas = gauge(registry, 'fleet_live_replicas', 'Live replicas in the last fleet view (static: replica_count).');
  const mUnits = gauge(registry, 'collector_shard_units', 'Shard pipelines running (retiring ones of an egress move included).', ['exchange']);
  const mHeld = gauge(registry, 'fleet_rows_held', 'Rows held: until a handover cut is acknowledged or a standby takeover resolved, and standby buffers.');
  const updateFleetMetrics = (): void => {
    let held = 0;
    for (const u of [...units.values(), ...retiring]) held += u.pipeline.heldRows;
    mHeld.set(held);
    if (fleet) {
      const counts = fleet.roleCounts();
      for (const role of ['owned', 'incoming', 'outgoing'] as const) mOwned.set({ role }, counts[role]);
      if (config.fleet.standby) mOwned.set({ role: 'standby' }, fleet.standbyShards().size);
      mLease.set(fleet.leaseValid() ? 1 : 0);
      mReplicas.set(fleet.liveReplicas());
    } else {
      mOwned.set({ role: 'owned' }, ownership.owned().size);
      mLease.set(1);
      mReplicas.set(config.sharding.replica_count);
    }
    for (const exchange of Object.keys(config.exchanges)) {
      let n = 0;
      for (const u of units.values()) if (u.exchange === exchange) n++;
      for (const u of retiring) if (u.exchange === exchange) n++;
      mUnits.set({ exchange }, n);
    }
  };
  updateFleetMetrics();
  const metricsTimer = setInterval(updateFleetMetrics, 1000);
  metricsTimer.unref();

  const health = await startHealthServer({
    host: config.health.host,
    port: config.health.port,
    registry,
    version: ctx.version,
    checks: [
      {
        name: 'connected',
        check: () => {
          const conns = [...units.values()].flatMap((u) => u.connections);
          const open = conns.filter((c) => c.state === 'open').length;
          // In an elastic fleet a replica may hold no shard with symbols of this stream: that is ready.
          const some = conns.length > 0 || (fleet !== undefined && units.size === 0);
          return { ok: some && open === conns.length, detail: { open, total: conns.length } };
        },
      },
      {
        name: 'fleet',
        check: () =>
          fleet
            ? { ok: fleet.leaseValid(), detail: { leaseValid: fleet.leaseValid(), ...fleet.roleCounts() } }
            : { ok: true, detail: { mode: 'static' } },
      },
      { name: 'writer', check: () => ({ ok: sink.healthy(), detail: sink.describe() }) },
      {
        name: 'processors',
        check: () => {
          const states = [...units.values()].map((u) => u.pipeline.processor.ready?.() ?? { ok: true });
          return { ok: states.every((s) => s.ok), detail: states.filter((s) => !s.ok).map((s) => s.detail) };
        },
      },
    ],
    describe: () => ({
      stream,
      table,
      ownership: ownership.describe(),
      shards: [...units.values()].map((u) => ({
        exchange: u.exchange,
        shard: u.shard,
        symbols: u.symbols.length,
        ip: u.ip ?? 'default',
        ...(u.from === 'pending' ? { syncing: true } : {}),
        ...(u.replaces ? { replacing: u.replaces.ip ?? 'default' } : {}),
      })),
      retiring: [...retiring].map((u) => ({ exchange: u.exchange, shard: u.shard, ip: u.ip ?? 'default', untilUs: u.until })),
      egress: Object.fromEntries([...pools].map(([exchange, pool]) => [exchange, pool.describe()])),
    }),
  });
  logger.info({ url: health.url, shards: units.size, table }, 'collector started');
  const emfOptions = ctx.emf === undefined ? emfOptionsFromEnv(process.env) : ctx.emf;
  const emf: EmfPublisher | undefined = emfOptions
    ? startEmfPublisher({ ...emfOptions, registry, stream, logger })
    : undefined;

  const summary = (): CollectorSummary => ({ ...tally.summary(), files: sink.files() });
  let stopping: Promise<CollectorSummary> | undefined;
  return {
    health,
    summary,
    stop: () =>
      (stopping ??= (async () => {
        health.setDraining(true);
        if (fleet) {
          // Planned scale-in: hand every shard over make-before-break while still collecting it.
          const left = await fleet.leave(config.fleet.leave_timeout_ms ?? config.fleet.lease_ms * 6);
          if (!left.released)
            logger.warn({ heldShards: left.heldShards }, 'fleet leave timed out: successors take these at lease expiry');
          else logger.info('fleet leave: every shard handed over');
        }
        unsubscribe();
        clearInterval(handoverTimer);
        clearInterval(metricsTimer);
        for (const key of [...units.keys()]) stopShard(key);
        for (const u of [...retiring]) track(stopUnitNow(u));
        while (stopped.size > 0) await Promise.all([...stopped]);
        await sink.close();
        watcher.stop();
        await ownership.close();
        await Promise.all([...pools.values()].map((p) => p.close()));
        await emf?.stop();
        await health.close();
        return summary();
      })()),
  };
}

async function resolveEgressIps(config: CollectorConfig): Promise<string[]> {
  const { discover, ips, imds_endpoint } = config.egress;
  if (discover === 'static' && ips.length === 0) return []; // no pinning: the OS picks the source address
  return discoverEgressIps({ mode: discover, ips, imdsEndpoint: imds_endpoint });
}
