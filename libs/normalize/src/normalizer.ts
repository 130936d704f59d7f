import type { BadInputReporter, VenueChannel, VenueMessage } from '@cryptoflow/ingest';
import { counter } from '@cryptoflow/metrics';
import type { Registry } from '@cryptoflow/metrics';
import type { CanonicalRow, Exchange, Stream } from '@cryptoflow/model';
import { STREAM_TABLE } from '@cryptoflow/model';
import { mapAggTrade, mapForceOrder, mapMarkPrice } from './binance-mappers.js';
import { buildOperators, naturalKeyOf } from './config-operators.js';
import { FieldReader } from './fields.js';
import { Dedupe, OperatorChain } from './operators.js';
import type { Operator } from './operators.js';

type Mapper = (msg: VenueMessage, f: FieldReader) => CanonicalRow;

/** The venue channel each row stream is built from, and its mapper. */
const MAPPERS: Partial<Record<Stream, { channel: VenueChannel; map: Mapper }>> = {
  ticks: { channel: 'aggTrade', map: mapAggTrade },
  liquidations: { channel: 'forceOrder', map: mapForceOrder },
  funding: { channel: 'markPriceUpdate', map: mapMarkPrice },
};

export interface NormalizerOptions {
  readonly stream: Stream;
  readonly exchange: Exchange;
  /** `normalize.operators` from config, applied after the mapper and the natural-key dedupe. */
  readonly operators?: readonly unknown[];
  readonly registry: Registry;
  readonly labels: { exchange: string; stream: string; shard: string };
  readonly reporter: BadInputReporter;
  readonly emit: (row: CanonicalRow) => void;
  /** Recent natural keys remembered per symbol for dedupe (default 4096). */
  readonly dedupeWindow?: number;
}

export interface Normalizer {
  push(msg: VenueMessage): void;
  /** End of input (windowed operators emit). */
  flush(): void;
  readonly dedupe: Dedupe<CanonicalRow>;
}

/**
 * Venue messages of a non-book stream (trades, liquidations, funding) → canonical rows: mapper with field
 * checks (bad fields reported like bad frames), dedupe by natural key (the venue repeats events across
 * reconnects and rollovers), then the configured operators.
 */
export function createNormalizer(options: NormalizerOptions): Normalizer {
  const spec = MAPPERS[options.stream];
  if (!spec) throw new Error(`createNormalizer: ${options.stream} is a book stream (use the book operator)`);
  const table = STREAM_TABLE[options.stream];
  const dropped = counter(
    options.registry,
    'dedupe_dropped_total',
    'Rows dropped as repeats of an event already emitted.',
    ['exchange', 'stream', 'shard'],
  ).labels(options.labels);
  const dedupe = new Dedupe<CanonicalRow>(naturalKeyOf(table), options.dedupeWindow ?? 4096, () =>
    dropped.inc(),
  );
  const stages: Operator<CanonicalRow, CanonicalRow>[] = [
    dedupe,
    ...buildOperators(options.operators ?? [], table),
  ];
  const chain = new OperatorChain(stages, options.emit, {
    registry: options.registry,
    labels: { exchange: options.exchange, stream: options.stream },
  });
  const fields = new FieldReader();
  const { reporter } = options;
  return {
    dedupe,
    push(msg: VenueMessage): void {
      if (msg.channel !== spec.channel) {
        reporter.report(
          'unknown_channel',
          JSON.stringify(msg.payload),
          `${msg.channel} on a ${options.stream} collector`,
        );
        return;
      }
      fields.reset();
      const row = spec.map(msg, fields);
      if (fields.failed) {
        reporter.report(
          fields.reason ?? 'mistyped_field',
          JSON.stringify(msg.payload),
          `${fields.field}: bad ${fields.reason === 'missing_field' ? 'or missing ' : ''}value`,
        );
        return;
      }
      chain.push(row);
    },
    flush: () => chain.flush(),
  };
}
