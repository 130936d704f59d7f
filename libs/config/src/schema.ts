import { z } from 'zod';
import { MAX_TOTAL_SHARDS } from '@cryptoflow/core';
import { EXCHANGES, STREAMS, STREAM_EXCHANGES, isExchange, streamProblem } from '@cryptoflow/model';
import type { Exchange, Stream } from '@cryptoflow/model';

/**
 * The collector config. The zod schema is the source of truth; `CollectorConfig` is inferred from it.
 * Every key is documented in docs/configuration.md. Unknown keys are errors (a typo must not be ignored).
 */

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();
const symbol = z.string().regex(/^[A-Z0-9_-]{2,40}$/, 'expected an upper-case venue symbol like BTCUSDT');
const url = z.string().regex(/^(wss?|https?):\/\/[^\s]+$/, 'expected a ws(s):// or http(s):// URL');
const ipv4 = z.string().regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/, 'expected an IPv4 address');

export const BACKPRESSURE_POLICIES = ['wait', 'drop-oldest', 'sample', 'spill'] as const;

const channelSettingFields = {
  raw_cap: positiveInt,
  row_cap: positiveInt,
  policy: z.enum(BACKPRESSURE_POLICIES),
  sample_every: positiveInt,
  spill_dir: z.string().min(1),
  warn_occupancy: z.number().gt(0).lte(1),
};
export const channelSettingsSchema = z.strictObject({
  raw_cap: channelSettingFields.raw_cap.default(65_536),
  row_cap: channelSettingFields.row_cap.default(65_536),
  policy: channelSettingFields.policy.default('wait'),
  sample_every: channelSettingFields.sample_every.default(10),
  spill_dir: channelSettingFields.spill_dir.default('.data/spill'),
  warn_occupancy: channelSettingFields.warn_occupancy.default(0.8),
});
/** Overrides carry no defaults: an absent key falls through to `channels.defaults`. */
const channelOverrideSchema = z.strictObject(channelSettingFields).partial();

const exchangeEndpointSchema = z.strictObject({
  symbols: z.array(symbol).min(1, 'expected at least one symbol'),
  ws_url: url,
  rest_url: url,
  max_streams_per_connection: z.number().int().min(1).max(1024).default(200),
  max_frame_bytes: positiveInt.default(1_048_576),
});

const s3Schema = z.strictObject({
  bucket: z.string().min(3),
  prefix: z.string().default(''),
  region: z.string().default('us-east-1'),
  endpoint: url.optional(),
  force_path_style: z.boolean().default(false),
  part_size_bytes: positiveInt.default(8 * 1024 * 1024),
});

const catalogSchema = z.strictObject({
  uri: url,
  warehouse: z.string().min(1),
  namespace: z.string().regex(/^[a-z0-9_]{1,255}$/, 'expected a lower-case namespace'),
  signer: z.enum(['sigv4', 'none']).default('sigv4'),
});

/** Shared by every app's config: the health server and the log level. */
const healthSchema = z
  .strictObject({
    host: z.string().default('0.0.0.0'),
    port: z.number().int().min(0).max(65_535).default(9100),
  })
  .prefault({});
const logSchema = z
  .strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info') })
  .prefault({});

export const sinkSchema = z.strictObject({
  kind: z.enum(['local', 's3']).default('local'),
  dir: z.string().min(1).default('.data/lake'),
  target_file_bytes: positiveInt.default(128 * 1024 * 1024),
  flush_interval_ms: positiveInt.default(5_000),
  flush_every_rows: positiveInt.optional(),
  s3: s3Schema.optional(),
  ledger: z
    .strictObject({
      table: z.string().min(3),
      endpoint: url.optional(),
      region: z.string().default('us-east-1'),
    })
    .optional(),
  catalog: catalogSchema.optional(),
  commit: z.enum(['inline', 'committer', 'none']).default('committer'),
});

export const collectorConfigSchema = z
  .strictObject({
    app: z.string().min(1),
    stream: z.enum(STREAMS),
    exchanges: z.partialRecord(z.enum(EXCHANGES), exchangeEndpointSchema),
    channels: z
      .strictObject({
        defaults: channelSettingsSchema.prefault({}),
        overrides: z
          .partialRecord(z.enum(EXCHANGES), z.partialRecord(z.enum(STREAMS), channelOverrideSchema))
          .default({}),
      })
      .prefault({}),
    sharding: z
      .strictObject({
        total_shards: z.number().int().min(1).max(MAX_TOTAL_SHARDS).default(16),
        replica_index: nonNegativeInt.default(0),
        replica_count: positiveInt.default(1),
      })
      .prefault({}),
    fleet: z
      .strictObject({
        mode: z.enum(['static', 'dynamic']).default('static'),
        table: z.string().min(3).optional(),
        endpoint: url.optional(),
        lease_ms: positiveInt.default(15_000),
        heartbeat_ms: positiveInt.default(5_000),
        /**
         * How long a stopping replica (SIGTERM) waits for its successors to take its shards make-before-break;
         * after it they take the rest at lease expiry. Default 6 × lease_ms. Keep ECS stopTimeout above it.
         */
        leave_timeout_ms: positiveInt.optional(),
        /**
         * Warm standby (event streams, S3 sink): each replica also collects the shards it is ranked second for,
         * buffering their rows, so when an owner is killed its successor writes what the owner had not made
         * durable. Twice the venue connections. docs/operations/fleet.md.
         */
        standby: z.boolean().default(false),
        /** How far back (exchange time) a standby's buffer reaches. Default 2 × (sink.flush_interval_ms + lease_ms). */
        standby_window_ms: positiveInt.optional(),
      })
      .prefault({}),
    egress: z
      .strictObject({
        discover: z.enum(['static', 'imds', 'interfaces']).default('static'),
        ips: z.array(ipv4).default([]),
        per_shard: z.record(z.string().regex(/^\d+$/, 'expected a shard number'), ipv4).default({}),
        imds_endpoint: url.default('http://169.254.169.254'),
        max_connections_per_ip: positiveInt.default(250),
        weight_ceiling_ratio: z.number().gt(0).lte(1).default(0.8),
      })
      .prefault({}),
    normalize: z
      .strictObject({
        operators: z.array(z.record(z.string(), z.unknown())).default([]),
      })
      .prefault({}),
    book: z
      .strictObject({
        depth_cap: positiveInt.default(2000),
        top_n: positiveInt.default(20),
        snapshot_interval_ms: positiveInt.default(100),
        checkpoint_interval_ms: positiveInt.default(1000),
        max_buffered_events: positiveInt.default(10_000),
        snapshot_limit: z.number().int().min(5).max(5000).default(1000),
        // Share of a source IP's REST weight this process's snapshots may use: other processes (another
        // book stream on the same host IP) and other REST traffic share the rest.
        rest_budget_share: z.number().gt(0).lte(1).default(0.5),
      })
      .prefault({}),
    sink: sinkSchema.prefault({}),
    kafka: z
      .strictObject({
        enabled: z.boolean().default(false),
        brokers: z.array(z.string().min(3)).default([]),
        topic: z.string().default('cryptoflow.rows'),
      })
      .prefault({}),
    health: healthSchema,
    log: logSchema,
  })
  // Cross-field rules run even when some fields are invalid (`when`), so one run reports every problem;
  // hence the defensive reads below: a field may still be missing or mistyped here.
  .superRefine(
    (cfg, ctx) => {
      if (!cfg || typeof cfg !== 'object' || !(STREAMS as readonly string[]).includes(cfg.stream)) return;
      if (
        !cfg.exchanges ||
        !cfg.sharding ||
        !cfg.fleet ||
        !cfg.egress ||
        !cfg.sink ||
        !cfg.kafka ||
        !cfg.book
      )
        return;
      const allowed = STREAM_EXCHANGES[cfg.stream];
      const configured = Object.keys(cfg.exchanges) as Exchange[];
      if (configured.length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['exchanges'],
          message: `expected at least one of ${allowed.join(', ')} for stream ${cfg.stream}`,
        });
      }
      for (const ex of configured) {
        // Unknown ids are reported by the enum; a known market the stream cannot use gets its reason here.
        const problem = isExchange(ex) ? streamProblem(ex, cfg.stream) : undefined;
        if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['exchanges', ex], message: problem });
        const symbols = Array.isArray(cfg.exchanges[ex]?.symbols) ? (cfg.exchanges[ex]?.symbols ?? []) : [];
        const seen = new Set<string>();
        symbols.forEach((s, i) => {
          if (seen.has(s))
            ctx.addIssue({
              code: 'custom',
              path: ['exchanges', ex, 'symbols', i],
              message: `duplicate symbol ${s}`,
            });
          seen.add(s);
        });
      }
      if (cfg.sharding.replica_index >= cfg.sharding.replica_count) {
        ctx.addIssue({
          code: 'custom',
          path: ['sharding', 'replica_index'],
          message: `expected < replica_count (${cfg.sharding.replica_count}), got ${cfg.sharding.replica_index}`,
        });
      }
      if (cfg.fleet.mode === 'dynamic' && !cfg.fleet.table) {
        ctx.addIssue({
          code: 'custom',
          path: ['fleet', 'table'],
          message: 'required when fleet.mode is dynamic',
        });
      }
      if (cfg.fleet.standby === true) {
        if (cfg.fleet.mode !== 'dynamic')
          ctx.addIssue({ code: 'custom', path: ['fleet', 'standby'], message: 'needs fleet.mode dynamic' });
        if (cfg.sink.kind !== 's3')
          ctx.addIssue({
            code: 'custom',
            path: ['fleet', 'standby'],
            message: "needs sink.kind s3: a takeover reads what the dead owner recorded in the lake",
          });
        if (!['ticks', 'liquidations', 'funding'].includes(cfg.stream))
          ctx.addIssue({
            code: 'custom',
            path: ['fleet', 'standby'],
            message: `applies to event streams (ticks, liquidations, funding), not ${cfg.stream}: books resync from a REST snapshot`,
          });
      }
      if (cfg.fleet.heartbeat_ms * 2 > cfg.fleet.lease_ms) {
        ctx.addIssue({
          code: 'custom',
          path: ['fleet', 'heartbeat_ms'],
          message: 'expected at most half of fleet.lease_ms so a live replica never loses its lease',
        });
      }
      if (
        cfg.egress.discover === 'static' &&
        (cfg.egress.ips ?? []).length === 0 &&
        Object.keys(cfg.egress.per_shard ?? {}).length > 0
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['egress', 'ips'],
          message: 'per_shard overrides need a pool: list egress.ips',
        });
      }
      for (const shard of Object.keys(cfg.egress.per_shard ?? {})) {
        if (Number(shard) >= cfg.sharding.total_shards) {
          ctx.addIssue({
            code: 'custom',
            path: ['egress', 'per_shard', shard],
            message: `shard ${shard} >= sharding.total_shards (${cfg.sharding.total_shards})`,
          });
        }
      }
      if (cfg.sink.kind === 's3' && !cfg.sink.s3) {
        ctx.addIssue({ code: 'custom', path: ['sink', 's3'], message: 'required when sink.kind is s3' });
      }
      if (cfg.sink.kind === 's3' && !cfg.sink.ledger) {
        ctx.addIssue({
          code: 'custom',
          path: ['sink', 'ledger'],
          message: 'required when sink.kind is s3 (files are recorded in the ledger before commit)',
        });
      }
      if (cfg.sink.commit !== 'none' && cfg.sink.kind === 's3' && !cfg.sink.catalog) {
        ctx.addIssue({
          code: 'custom',
          path: ['sink', 'catalog'],
          message: `required when sink.commit is ${cfg.sink.commit}`,
        });
      }
      if (cfg.kafka.enabled && (cfg.kafka.brokers ?? []).length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['kafka', 'brokers'],
          message: 'expected at least one broker when kafka.enabled',
        });
      }
      if (cfg.book.top_n > cfg.book.depth_cap) {
        ctx.addIssue({
          code: 'custom',
          path: ['book', 'top_n'],
          message: `expected <= book.depth_cap (${cfg.book.depth_cap})`,
        });
      }
    },
    { when: () => true },
  );

export type CollectorConfig = z.infer<typeof collectorConfigSchema>;
export type ChannelSettings = z.infer<typeof channelSettingsSchema>;
export type SinkConfig = z.infer<typeof sinkSchema>;
export type ExchangeEndpointConfig = z.infer<typeof exchangeEndpointSchema>;

/** Channel settings for one exchange+stream: defaults, then the override's keys. */
export function channelSettingsFor(
  config: CollectorConfig,
  exchange: Exchange,
  stream: Stream = config.stream,
): ChannelSettings {
  const override = config.channels.overrides[exchange]?.[stream] ?? {};
  return { ...config.channels.defaults, ...override };
}

export const committerConfigSchema = z.strictObject({
  app: z.string().min(1).default('committer'),
  tables: z.array(z.string()).min(1),
  sink: sinkSchema,
  batch: z
    .strictObject({
      max_files: positiveInt.default(500),
      max_wait_ms: positiveInt.default(10_000),
      poll_interval_ms: positiveInt.default(1_000),
    })
    .prefault({}),
  lease_ms: positiveInt.default(30_000),
  health: healthSchema,
  log: logSchema,
});

export type CommitterConfig = z.infer<typeof committerConfigSchema>;
