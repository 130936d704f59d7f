import type { CollectorConfig } from '@cryptoflow/config';
import type { EgressPool } from '@cryptoflow/egress';
import type { RawFrame } from '@cryptoflow/exchanges';
import { BinanceDecoder } from '@cryptoflow/ingest';
import type { Logger } from '@cryptoflow/logger';
import type { Registry } from '@cryptoflow/metrics';
import type { CanonicalRow, Exchange } from '@cryptoflow/model';
import { createNormalizer } from '@cryptoflow/normalize';
import type { Dispatcher } from 'undici';
import { BookProcessor, REST_CONN_PREFIX } from './book-processor.js';
import type { FrameProcessor } from './pipeline.js';

export interface ProcessorOptions {
  readonly config: CollectorConfig;
  readonly exchange: Exchange;
  readonly shard: number;
  readonly symbols: readonly string[];
  readonly emit: (row: CanonicalRow) => void;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Live collectors fetch book snapshots from the venue; replays feed recorded ones. */
  readonly live: boolean;
  readonly dispatcher?: Dispatcher;
  readonly egress?: EgressPool;
}

const BOOK_STREAMS = new Set(['spot-ob', 'spot-delta', 'futures-ob', 'futures-delta']);

export function isBookStream(stream: string): boolean {
  return BOOK_STREAMS.has(stream);
}

/** The frame → rows stage for a stream: decoder, then the normalizer or the book operator. */
export function createProcessor(o: ProcessorOptions): FrameProcessor {
  const stream = o.config.stream;
  const labels = { exchange: o.exchange, stream, shard: String(o.shard) };
  const endpoint = o.config.exchanges[o.exchange];
  const decoder = new BinanceDecoder({
    exchange: o.exchange,
    symbols: new Set(o.symbols),
    maxFrameBytes: endpoint?.max_frame_bytes,
    registry: o.registry,
    logger: o.logger,
    labels,
  });
  if (isBookStream(stream)) {
    return new BookProcessor({
      config: o.config,
      stream,
      exchange: o.exchange,
      shard: o.shard,
      decoder,
      reporter: decoder.reporter,
      emit: o.emit,
      registry: o.registry,
      logger: o.logger,
      live:
        o.live && endpoint
          ? { restUrl: endpoint.rest_url, dispatcher: o.dispatcher, egress: o.egress }
          : undefined,
    });
  }
  const normalizer = createNormalizer({
    stream,
    exchange: o.exchange,
    operators: o.config.normalize.operators,
    registry: o.registry,
    labels,
    reporter: decoder.reporter,
    emit: o.emit,
  });
  return {
    process(frame: RawFrame): void {
      if (frame.connId.startsWith(REST_CONN_PREFIX)) return; // recorded depth snapshots: book streams only
      const msg = decoder.decode(frame);
      if (msg !== null) normalizer.push(msg);
    },
    async finish(): Promise<void> {
      normalizer.flush();
    },
  };
}
