import type { CollectorConfig } from '@cryptoflow/config';
import { parseS3Uri } from '@cryptoflow/sink';
import type { Logger } from '@cryptoflow/logger';
import type { Registry } from '@cryptoflow/metrics';
import { STREAM_TABLE } from '@cryptoflow/model';
import type { CanonicalRow } from '@cryptoflow/model';
import { Partitioner } from '@cryptoflow/partitioner';
import { KafkaRowSink, LocalFileStore, RowSink, S3FileStore } from '@cryptoflow/sink';
import { readDurableRows } from '@cryptoflow/sink';
import type { DurableRows, FileStore, FlushedFile } from '@cryptoflow/sink';
import type { ShardHasher } from '@cryptoflow/sharding';
import { commitIdOf, createLakeClients, dataFileOf } from './lake-clients.js';
import type { RowConsumer } from './pipeline.js';

export interface SinkStage {
  readonly consumers: readonly RowConsumer[];
  /**
   * S3 sink only: natural keys of the rows of `shard` recorded in the lake for an exchange-time window,
   * whoever wrote them (a standby's takeover reads what the dead owner made durable).
   */
  readonly durableRows?: (shard: number, fromUs: number, toUs: number) => Promise<DurableRows>;
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

/**
 * The file sink of a collector or replayer: buffers → Parquet → local disk, or S3 → DynamoDB ledger
 * (seen-or-put: a file is recorded once) → Iceberg append (inline, or later by apps/committer).
 * A file's rows leave memory only after the store has it and the ledger recorded it.
 */
export async function createSinkStage(config: CollectorConfig, ctx: SinkStageContext): Promise<SinkStage> {
  const total = config.sharding.total_shards;
  const table = STREAM_TABLE[config.stream];
  const partitioner = new Partitioner({
    totalShards: total,
    shardOf: (exchange, symbol) => ctx.hasher.shardId(exchange, symbol, total),
  });
  const written: FlushedFile[] = [];
  let store: FileStore;
  let onStored: (file: FlushedFile) => Promise<void> = async () => undefined;
  let closeLake: () => void = () => undefined;
  let durableRows: SinkStage['durableRows'];

  if (config.sink.kind === 's3') {
    const lake = createLakeClients(config.sink, ctx);
    closeLake = lake.destroy;
    if (config.sink.ledger?.endpoint) await lake.ledger.ensureTable(); // local stand-in; Terraform owns it in AWS
    let bucket = config.sink.s3?.bucket ?? '';
    let prefix = config.sink.s3?.prefix ?? '';
    const ident = { namespace: lake.namespace, name: table };
    if (lake.catalog) {
      // Data files live under the table's own location: S3 Tables (and Athena through it) read data only there.
      await lake.catalog.ensureNamespace(lake.namespace);
      const loaded = await lake.catalog.ensureModelTable(lake.namespace, table);
      const location = parseS3Uri(`${loaded.metadata.location.replace(/\/+$/, '')}/data/x`);
      bucket = location.bucket;
      prefix = location.key.slice(0, -'/x'.length);
    }
    store = new S3FileStore({
      client: lake.s3,
      bucket,
      prefix,
      tags: { app: ctx.app, table },
      partSizeBytes: config.sink.s3?.part_size_bytes,
      registry: ctx.registry,
      logger: ctx.logger,
    });
    onStored = async (file) => {
      const { entry } = await lake.ledger.seenOrPut({
        fileKey: file.key,
        table: file.table,
        hour: file.hour,
        shard: file.shard,
        uri: file.uri,
        rows: file.rows,
        bytes: file.bytes,
        checksumSha256: file.checksumSha256,
        writer: ctx.app,
        exchangeTsRange: { min: file.minExchangeTs, max: file.maxExchangeTs },
      });
      if (config.sink.commit === 'inline' && lake.catalog && entry.state === 'uploaded') {
        const commitId = commitIdOf(file.table, [file.key]);
        const result = await lake.catalog.appendFiles(ident, [dataFileOf(entry)], { commitId });
        await lake.ledger.markCommitted([file.key], result.snapshotId.toString(), commitId);
      }
    };
    durableRows = (shard, fromUs, toUs) =>
      readDurableRows({
        s3: lake.s3,
        table,
        shard,
        fromUs,
        toUs,
        recordedFiles: (hour) => lake.ledger.listShardHour(table, hour, shard),
      });
  } else {
    store = new LocalFileStore({ dir: config.sink.dir });
  }

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
      await onStored(file);
      written.push(file);
    },
  });
  const consumers: RowConsumer[] = [{ write: (row: CanonicalRow) => rowSink.write(row) }];
  let kafka: KafkaRowSink | undefined;
  if (config.kafka.enabled) {
    kafka = new KafkaRowSink({
      brokers: config.kafka.brokers,
      topic: config.kafka.topic,
      clientId: ctx.app,
      registry: ctx.registry,
      logger: ctx.logger,
      labels: { stream: config.stream },
    });
    await kafka.start();
    consumers.push(kafka);
  }
  return {
    consumers,
    ...(durableRows ? { durableRows } : {}),
    healthy: () => rowSink.healthy(),
    describe: () => ({
      kind: config.sink.kind,
      commit: config.sink.commit,
      bufferedRows: rowSink.bufferedRows(),
      pendingFiles: rowSink.pendingFiles(),
    }),
    files: () => written.map((f) => ({ key: f.key, rows: f.rows, bytes: f.bytes, uri: f.uri })),
    close: async () => {
      await rowSink.close();
      await kafka?.close();
      closeLake();
    },
  };
}
