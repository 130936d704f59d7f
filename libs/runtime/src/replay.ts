import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CollectorConfig } from '@cryptoflow/config';
import { channelSettingsFor } from '@cryptoflow/config';
import { binanceStreamName } from '@cryptoflow/exchanges';
import type { RawFrame } from '@cryptoflow/exchanges';
import { readRecordings } from '@cryptoflow/ingest';
import type { RecordedItem } from '@cryptoflow/ingest';
import type { Logger } from '@cryptoflow/logger';
import type { Registry } from '@cryptoflow/metrics';
import type { CanonicalRow, Exchange } from '@cryptoflow/model';
import { createShardHasher, assignSymbols } from '@cryptoflow/sharding';
import { ShardPipeline } from './pipeline.js';
import type { RowConsumer } from './pipeline.js';
import { REST_CONN_PREFIX } from './book-processor.js';
import { createProcessor } from './processors.js';
import { createSinkStage } from './sink-stage.js';
import { RowTally } from './tally.js';
import type { TallySummary } from './tally.js';

export interface ReplayOptions {
  readonly config: CollectorConfig;
  readonly inputs: readonly string[];
  /** `jsonl`: canonical rows as JSON Lines in `out` (grouped by table, exchange, symbol; per-symbol order kept). `parquet`: files under sink.dir. */
  readonly emit: 'jsonl' | 'parquet';
  readonly out?: string;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface ReplayResult extends TallySummary {
  readonly frames: number;
  readonly seconds: number;
  readonly files: readonly { key: string; rows: number; bytes: number; uri: string }[];
  readonly decodeErrors: number;
}

/** Collects rows per (table, exchange, symbol) so output order does not depend on shard interleaving. */
class JsonlCollector implements RowConsumer {
  readonly groups = new Map<string, CanonicalRow[]>();
  write(row: CanonicalRow): void {
    const k = `${row.table}\u0000${row.exchange}\u0000${row.symbol}`;
    let g = this.groups.get(k);
    if (!g) this.groups.set(k, (g = []));
    g.push(row);
  }
  lines(): string[] {
    const out: string[] = [];
    for (const k of [...this.groups.keys()].sort())
      for (const row of this.groups.get(k) ?? []) out.push(JSON.stringify(row));
    return out;
  }
}

/**
 * Runs recorded frames through the collector pipeline (decode → normalize/book → rows) as fast as
 * the pipeline goes. Output depends on the recording alone: receive times come from it, flushes are by
 * row count, and no wall-clock ticks run.
 */
export async function replay(options: ReplayOptions): Promise<ReplayResult> {
  const { config, registry, logger } = options;
  const started = performance.now();
  const items = readRecordings(options.inputs);
  const hasher = await createShardHasher();
  const total = config.sharding.total_shards;
  const tally = new RowTally();
  const jsonl = options.emit === 'jsonl' ? new JsonlCollector() : undefined;
  const sink =
    options.emit === 'parquet'
      ? await createSinkStage(config, {
          app: `replayer-${config.stream}`,
          logger,
          registry,
          hasher,
          deterministic: true,
        })
      : undefined;
  const consumers: RowConsumer[] = [tally, ...(jsonl ? [jsonl] : []), ...(sink?.consumers ?? [])];

  const lanes = new Map<string, ShardPipeline>();
  // A recording holds every stream the recorder subscribed to; a collector of this stream only ever
  // receives its own (the venue sends what was subscribed), so the replay keeps only those.
  const wanted = new Set<string>();
  for (const exchange of Object.keys(config.exchanges) as Exchange[]) {
    const symbols = config.exchanges[exchange]?.symbols ?? [];
    for (const [shard, syms] of assignSymbols(hasher, exchange, symbols, total)) {
      const pipeline = new ShardPipeline({
        app: `replayer-${config.stream}`,
        exchange,
        stream: config.stream,
        shard,
        settings: { ...channelSettingsFor(config, exchange), policy: 'wait' },
        consumers,
        registry,
        logger,
        wallClockTicks: false,
        createProcessor: (emit) =>
          createProcessor({ config, exchange, shard, symbols: syms, emit, registry, logger, live: false }),
      });
      pipeline.start();
      for (const s of syms) {
        lanes.set(`${exchange}|${s}`, pipeline);
        for (const name of binanceStreamName(config.stream, exchange, s)) wanted.add(name);
      }
    }
  }

  // Route each recorded item to the lane of its symbol; items of unknown symbols go to every lane of the
  // exchange's first shard so the decoder counts them (bad input is reported, never silently dropped).
  const firstLane = new Map<Exchange, ShardPipeline>();
  for (const [k, p] of lanes) {
    const ex = k.slice(0, k.indexOf('|')) as Exchange;
    if (!firstLane.has(ex)) firstLane.set(ex, p);
  }
  let done = 0;
  for (const item of items) {
    done++;
    if (item.kind === 'frame') {
      const name = COMBINED_STREAM.exec(item.data)?.[1];
      if (name !== undefined && !wanted.has(name)) continue;
    }
    const lane = laneOf(item, lanes) ?? firstLane.get(item.exchange);
    if (!lane) continue; // exchange not configured for this stream
    // REST answers travel through the same raw channel as frames, so a snapshot lands where it was recorded.
    const frame: RawFrame =
      item.kind === 'frame'
        ? { exchange: item.exchange, connId: 'replay', receivedAt: item.at, data: item.data }
        : {
            exchange: item.exchange,
            connId: `${REST_CONN_PREFIX}${item.url}`,
            receivedAt: item.at,
            data: item.body,
          };
    await lane.push(frame);
    if (options.onProgress && (done & 1023) === 0) options.onProgress(done, items.length);
  }
  const pipelines = [...new Set(lanes.values())];
  await Promise.all(pipelines.map((p) => p.finish()));
  await sink?.close();
  options.onProgress?.(items.length, items.length);

  if (jsonl && options.out) {
    mkdirSync(dirname(options.out), { recursive: true });
    const ws = createWriteStream(options.out);
    for (const line of jsonl.lines()) ws.write(`${line}\n`);
    await new Promise<void>((resolve, reject) =>
      ws.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  }
  const decodeErrors = await registry.getSingleMetric('decode_errors_total')?.get();
  return {
    ...tally.summary(),
    frames: items.length,
    seconds: (performance.now() - started) / 1000,
    files: sink?.files() ?? [],
    decodeErrors: (decodeErrors?.values ?? []).reduce((a, v) => a + v.value, 0),
  };
}

const COMBINED_STREAM = /^\{"stream":"([^"]+)"/;
const SYMBOL_IN_FRAME = /"s":"([A-Z0-9_-]+)"/;
const SYMBOL_IN_URL = /[?&]symbol=([A-Z0-9_-]+)/;

/** Finds the symbol without a full parse (the lane's decoder parses once). */
function laneOf(item: RecordedItem, lanes: Map<string, ShardPipeline>): ShardPipeline | undefined {
  const m = item.kind === 'frame' ? SYMBOL_IN_FRAME.exec(item.data) : SYMBOL_IN_URL.exec(item.url);
  return m ? lanes.get(`${item.exchange}|${m[1]}`) : undefined;
}
