import { framePreview } from '@cryptoflow/core';
import { OnceLogger } from '@cryptoflow/logger';
import type { Logger } from '@cryptoflow/logger';
import { counter } from '@cryptoflow/metrics';
import type { Counter, Registry } from '@cryptoflow/metrics';
import { DECODE_ERROR_REASONS } from './types.js';
import type { DecodeErrorReason } from './types.js';

export interface BadInputReporterOptions {
  readonly registry: Registry;
  readonly logger: Logger;
  readonly labels: { readonly exchange: string; readonly stream: string; readonly shard: string };
}

/**
 * All bad input — a frame the decoder rejects, or a field a mapper rejects later — is handled the same
 * way: counted in `decode_errors_total{exchange,stream,shard,reason}`, logged once per reason with the
 * frame's first bytes, and skipped. The pipeline never stops on one bad frame. One reporter is shared by
 * the decoder and the normalizer of a shard so both count into the same series.
 */
export class BadInputReporter {
  /** Running count per reason (also in the metric); read by tests and the replayer's summary. */
  readonly counts: Record<DecodeErrorReason, number>;
  private readonly bound: Record<DecodeErrorReason, Counter.Internal>;
  private readonly logged: Record<DecodeErrorReason, boolean>;
  private readonly once: OnceLogger;

  constructor(options: BadInputReporterOptions) {
    const metric: Counter<'exchange' | 'stream' | 'shard' | 'reason'> = counter(
      options.registry,
      'decode_errors_total',
      'Frames or fields rejected as bad input, by reason; the frame is skipped and the pipeline continues.',
      ['exchange', 'stream', 'shard', 'reason'],
    );
    this.counts = {} as Record<DecodeErrorReason, number>;
    this.bound = {} as Record<DecodeErrorReason, Counter.Internal>;
    this.logged = {} as Record<DecodeErrorReason, boolean>;
    const labels = {
      exchange: options.labels.exchange,
      stream: options.labels.stream,
      shard: options.labels.shard,
    };
    for (const reason of DECODE_ERROR_REASONS) {
      this.counts[reason] = 0;
      this.logged[reason] = false;
      // Pre-bound label sets: counting costs no label hashing per bad frame.
      this.bound[reason] = metric.labels({ ...labels, reason });
    }
    this.once = new OnceLogger(options.logger.child(labels));
  }

  /** Total over all reasons. */
  get total(): number {
    let n = 0;
    for (const reason of DECODE_ERROR_REASONS) n += this.counts[reason];
    return n;
  }

  /** Bad input found in a frame's text (decoder). */
  report(reason: DecodeErrorReason, frame: string, detail: string): void {
    this.counts[reason]++;
    this.bound[reason].inc();
    if (this.logged[reason]) return;
    this.logged[reason] = true;
    this.warn(reason, framePreview(frame), detail);
  }

  /**
   * Bad field found after decoding (a mapper's field check): `field` names the venue field, `payload`
   * is the parsed event. The payload is serialised for the log line only the first time per reason,
   * so a flood of bad rows costs a counter increment each.
   */
  reportField(reason: DecodeErrorReason, field: string, payload: unknown): void {
    this.counts[reason]++;
    this.bound[reason].inc();
    if (this.logged[reason]) return;
    this.logged[reason] = true;
    let text: string;
    try {
      text = JSON.stringify(payload) ?? String(payload);
    } catch {
      text = String(payload);
    }
    this.warn(reason, framePreview(text), `${field}: ${FIELD_DETAIL[reason]}`);
  }

  private warn(reason: DecodeErrorReason, frame: string, detail: string): void {
    this.once.warn(
      reason,
      { reason, detail, frame },
      'bad input skipped (logged once per reason; see decode_errors_total)',
    );
  }
}

const FIELD_DETAIL: Readonly<Record<DecodeErrorReason, string>> = {
  malformed_json: 'not JSON',
  missing_field: 'missing',
  mistyped_field: 'wrong type or not a finite number',
  unknown_symbol: 'symbol not subscribed',
  oversized: 'too large',
  unknown_channel: 'event type not handled by this stream',
  unsafe_integer: 'integer above 2^53 (would lose precision)',
};
