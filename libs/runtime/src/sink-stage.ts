import type { CollectorConfig } from '@cryptoflow/config';
import type { Logger } from '@cryptoflow/logger';
import type { Registry } from '@cryptoflow/metrics';
import type { CanonicalRow } from '@cryptoflow/model';
import { Partitioner } from '@cryptoflow/partitioner';
import { LocalFileStore, RowSink } from '@cryptoflow/sink';
import type { FileStore, FlushedFile } from '@cryptoflow/sink';
import type { ShardHasher } from '@cryptoflow/sharding';
import type { RowConsumer } from './pipeline.js';

export interface SinkStage {
  readonly consumers: readonly RowConsumer[];
  healthy(): boolean;
  describe(): Record<string, unknown>;
  files(): { key: string; rows: number; bytes: number; uri: string }[];
  close(): Promise<void>;
}

export interface SinkStageContext {
  readonly app: string;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly hasher: ShardHasher;
  /** Replays flush on row counts only, so files (and keys) depend on the data alone. */
  readonly deterministic?: boolean;
}

/** The file sink for a collector or replayer: buffers → Parquet → local disk or S3 (→ ledger → Iceberg). */
export async function createSinkStage(config: CollectorConfig, ctx: SinkStageContext): Promise<SinkStage> {
  const total = config.sharding.total_shards;
  const partitioner = new Partitioner({
    totalShards: total,
    shardOf: (exchange, symbol) => ctx.hasher.shardId(exchange, symbol, total),
  });
  const store: FileStore = new LocalFileStore({ dir: config.sink.dir });
  const written: FlushedFile[] = [];
  const rowSink = new RowSink({
    store,
    partitioner,
    targetFileBytes: config.sink.target_file_bytes,
    flushIntervalMs: ctx.deterministic ? 0 : config.sink.flush_interval_ms,
    flushEveryRows: config.sink.flush_every_rows,
    registry: ctx.registry,
    logger: ctx.logger,
    labels: { stream: config.stream },
    autoTick: !ctx.deterministic,
    onFileStored: async (file) => {
      written.push(file);
    },
  });
  const consumer: RowConsumer = { write: (row: CanonicalRow) => rowSink.write(row) };
  return {
    consumers: [consumer],
    healthy: () => rowSink.healthy(),
    describe: () => ({
      kind: config.sink.kind,
      bufferedRows: rowSink.bufferedRows(),
      pendingFiles: rowSink.pendingFiles(),
    }),
    files: () => written.map((f) => ({ key: f.key, rows: f.rows, bytes: f.bytes, uri: f.uri })),
    close: () => rowSink.close(),
  };
}
