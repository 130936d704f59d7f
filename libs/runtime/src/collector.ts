import { ChannelWatcher } from '@cryptoflow/channels';
import { channelSettingsFor } from '@cryptoflow/config';
import type { CollectorConfig } from '@cryptoflow/config';
import { BINANCE_SPOT_LIMITS, BINANCE_USDM_LIMITS, EgressPool, discoverEgressIps } from '@cryptoflow/egress';
import { BinanceStreamConnection, binanceStreamName, planConnections } from '@cryptoflow/exchanges';
import { startHealthServer } from '@cryptoflow/health';
import type { HealthServer, VersionInfo } from '@cryptoflow/health';
import { connectionLogger } from '@cryptoflow/logger';
import type { Logger } from '@cryptoflow/logger';
import type { Registry } from '@cryptoflow/metrics';
import type { CanonicalRow, Exchange } from '@cryptoflow/model';
import { STREAM_TABLE } from '@cryptoflow/model';
import { createShardHasher, ownedSymbols } from '@cryptoflow/sharding';
import type { ShardHasher, ShardOwnership } from '@cryptoflow/sharding';
import { ShardPipeline } from './pipeline.js';
import type { RowConsumer } from './pipeline.js';
import { createProcessor } from './processors.js';
import { createSinkStage } from './sink-stage.js';
import type { SinkStage } from './sink-stage.js';
import { RowTally } from './tally.js';
import type { TallySummary } from './tally.js';
import { createOwnership } from './ownership.js';

export interface CollectorContext {
  readonly app: string;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly version: VersionInfo;
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
  readonly exchange: Exchange;
  readonly shard: number;
  readonly symbols: readonly string[];
  readonly pipeline: ShardPipeline;
  readonly connections: BinanceStreamConnection[];
}

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
  const ownership: ShardOwnership = await createOwnership(config, hasher, logger);
  const egressIps = await resolveEgressIps(config);
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
          ...VENUE_LIMITS[exchange],
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
  const ownsAt = (ownership as { ownsAt?: (shard: number, ts: number) => boolean }).ownsAt?.bind(ownership);

  const startUnit = (exchange: Exchange, shard: number, symbols: readonly string[]): void => {
    const endpoint = config.exchanges[exchange];
    if (!endpoint || symbols.length === 0) return;
    const labels = { exchange, stream, shard: String(shard) };
    const log = logger.child(labels);
    const pool = pools.get(exchange);
    const pipeline = new ShardPipeline({
      app: ctx.app,
      exchange,
      stream,
      shard,
      settings: channelSettingsFor(config, exchange),
      consumers,
      rowFilter: ownsAt ? (row: CanonicalRow) => ownsAt(shard, row.exchange_ts) : undefined,
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
    const connections = plans.map((plan) => {
      const connName = `${exchange}/${stream}/s${shard}/${plan.route ?? 'ws'}${plan.index}`;
      const conn = new BinanceStreamConnection({
        exchange,
        wsBaseUrl: endpoint.ws_url,
        route: plan.route,
        streams: plan.streams,
        localAddress: pool?.ipFor(shard),
        logger: connectionLogger(logger, { exchange, stream, shard, conn: connName }),
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
    units.set(`${exchange}|${shard}`, { exchange, shard, symbols, pipeline, connections });
    log.info(
      {
        symbols: symbols.length,
        connections: connections.length,
        localAddress: pool?.ipFor(shard) ?? 'default',
      },
      'shard started',
    );
  };

  const stopUnit = async (key: string): Promise<void> => {
    const unit = units.get(key);
    if (!unit) return;
    units.delete(key);
    await Promise.all(unit.connections.map((c) => c.stop()));
    await unit.pipeline.finish();
  };

  const assign = (): void => {
    for (const exchange of Object.keys(config.exchanges) as Exchange[]) {
      const symbols = config.exchanges[exchange]?.symbols ?? [];
      const owned = ownedSymbols(hasher, exchange, symbols, config.sharding.total_shards, ownership);
      for (const [shard, syms] of owned)
        if (!units.has(`${exchange}|${shard}`)) startUnit(exchange, shard, syms);
      for (const [key, unit] of units)
        if (unit.exchange === exchange && !owned.has(unit.shard)) void stopUnit(key);
    }
  };
  assign();
  const unsubscribe = ownership.onChange(() => assign());

  // A shard whose egress IP changed (429/418 rotation) reconnects from its new address.
  for (const [exchange, pool] of pools) {
    pool.onMove((move) => {
      const key = `${exchange}|${move.shard}`;
      const unit = units.get(key);
      if (!unit) return;
      logger.warn(
        { exchange, shard: move.shard, from: move.from, to: move.to, reason: move.reason },
        'shard egress moved: reconnecting',
      );
      void stopUnit(key).then(() => startUnit(exchange, move.shard, unit.symbols));
    });
  }

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
          return { ok: conns.length > 0 && open === conns.length, detail: { open, total: conns.length } };
        },
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
        ip: pools.get(u.exchange)?.ipFor(u.shard) ?? 'default',
      })),
    }),
  });
  logger.info({ url: health.url, shards: units.size, table }, 'collector started');

  const summary = (): CollectorSummary => ({ ...tally.summary(), files: sink.files() });
  let stopping: Promise<CollectorSummary> | undefined;
  return {
    health,
    summary,
    stop: () =>
      (stopping ??= (async () => {
        health.setDraining(true);
        unsubscribe();
        await Promise.all([...units.keys()].map((k) => stopUnit(k)));
        await sink.close();
        watcher.stop();
        await ownership.close();
        await Promise.all([...pools.values()].map((p) => p.close()));
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
