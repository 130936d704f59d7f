import { BadInputReporter } from '@cryptoflow/ingest';
import type { VenueChannel, VenueMessage } from '@cryptoflow/ingest';
import type { Logger } from '@cryptoflow/logger';
import type { Registry } from '@cryptoflow/metrics';
import type { CanonicalRow, Exchange, Stream } from '@cryptoflow/model';
import { STREAM_TABLE } from '@cryptoflow/model';
import { mapAggTrade, mapForceOrder, mapMarkPrice } from './binance-mappers.js';
import { buildOperators, naturalKeyOf } from './config-operators.js';
import { FieldReader } from './fields.js';
import { Dedupe, Pipeline } from './operators.js';
import type { Operator } from './operators.js';

type Mapper = (msg: VenueMessage, f: FieldReader) => CanonicalRow;

/** The venue channel each row stream is built from, and its mapper. */
const MAPPERS: Partial<Record<Stream, { channel: VenueChannel; map: Mapper }>> = {
  ticks: { channel: 'aggTrade', map: mapAggTrade },
  liquidations: { channel: 'forceOrder', map: mapForceOrder },
  funding: { channel: 'markPriceUpdate', map: mapMarkPrice },
};

/** Streams createNormalizer handles (the book streams go through the book operator in src/book). */
export const ROW_STREAMS: readonly Stream[] = ['ticks', 'liquidations', 'funding'];

export interface NormalizerOptions {
  readonly stream: Stream;
  readonly exchange: Exchange;
  /** `normalize.operators` from config, applied after the mapper and the natural-key dedupe. */
  readonly operators?: readonly unknown[];
  readonly registry: Registry;
  readonly labels: { readonly exchange: string; readonly stream: string; readonly shard: string };
  /** Each canonical row, in order. (`emit` is the older name of the same option.) */
  readonly onRow?: (row: CanonicalRow) => void;
  readonly emit?: (row: CanonicalRow) => void;
  /**
   * Share the decoder's reporter so frame and field errors count into the same series; without one,
   * a reporter is made from registry, logger and labels.
   */
  readonly reporter?: BadInputReporter;
  readonly logger?: Logger;
  /** Recent natural keys remembered per (exchange, symbol) for dedupe (default 4096). */
  readonly dedupeWindow?: number;
  /** Time one row in this many through the operators (default 64). */
  readonly latencySampleEvery?: number;
}

export interface Normalizer {
  push(msg: VenueMessage): void;
  /** End of input (windowed operators emit). */
  flush(): void;
  readonly dedupe: Dedupe<CanonicalRow>;
  readonly reporter: BadInputReporter;
}

/**
 * Venue messages of a non-book stream (trades, liquidations, funding) → canonical rows: mapper with field
 * checks (bad fields reported like bad frames, the message skipped), dedupe by natural key (the venue
 * repeats events across reconnects and rollovers), then the configured operators — in one Pipeline.
 */
export function createNormalizer(options: NormalizerOptions): Normalizer {
  const spec = MAPPERS[options.stream];
  if (!spec) throw new Error(`createNormalizer: ${options.stream} is a book stream (use the book operator)`);
  const onRow = options.onRow ?? options.emit;
  if (!onRow) throw new Error('createNormalizer: onRow is required');
  let reporter = options.reporter;
  if (!reporter) {
    if (!options.logger) throw new Error('createNormalizer: give a reporter or a logger');
    reporter = new BadInputReporter({
      registry: options.registry,
      logger: options.logger,
      labels: options.labels,
    });
  }
  const table = STREAM_TABLE[options.stream];
  const metrics = { registry: options.registry, labels: options.labels };
  const dedupe = new Dedupe<CanonicalRow>({
    key: naturalKeyOf(table),
    window: options.dedupeWindow ?? 4096,
    name: 'dedupe_natural_key',
    metrics,
  });
  const stages: Operator<CanonicalRow, CanonicalRow>[] = [
    dedupe,
    ...buildOperators(options.operators ?? [], { table, metrics }),
  ];
  const pipeline = new Pipeline<CanonicalRow, CanonicalRow>(stages, onRow, {
    registry: options.registry,
    labels: { exchange: options.exchange, stream: options.stream },
    sampleEvery: options.latencySampleEvery,
  });
  return new RowNormalizer(spec.channel, spec.map, pipeline, reporter, dedupe);
}

class RowNormalizer implements Normalizer {
  private readonly fields = new FieldReader();

  constructor(
    private readonly channel: VenueChannel,
    private readonly map: Mapper,
    private readonly pipeline: Pipeline<CanonicalRow, CanonicalRow>,
    readonly reporter: BadInputReporter,
    readonly dedupe: Dedupe<CanonicalRow>,
  ) {}

  push(msg: VenueMessage): void {
    if (msg.channel !== this.channel) {
      this.reporter.reportField('unknown_channel', 'e', msg.payload);
      return;
    }
    const f = this.fields;
    f.reset();
    const row = this.map(msg, f);
    if (f.reason !== null) {
      this.reporter.reportField(f.reason, f.field, msg.payload);
      return;
    }
    this.pipeline.push(row);
  }

  flush(): void {
    this.pipeline.flush();
  }
}
