import { framePreview } from '@cryptoflow/core';
import { OnceLogger } from '@cryptoflow/logger';
import type { Logger } from '@cryptoflow/logger';
import { counter } from '@cryptoflow/metrics';
import type { Counter, Registry } from '@cryptoflow/metrics';
import { DECODE_ERROR_REASONS } from './types.js';
import type { DecodeErrorReason } from './types.js';

/**
 * All bad input — found by the decoder or later by a mapper — is handled the same way: counted in
 * `decode_errors_total{exchange,stream,shard,reason}`, logged once per reason with the frame's first
 * bytes, and skipped. The pipeline never stops on one bad frame.
 */
export class BadInputReporter {
  readonly counts: Record<DecodeErrorReason, number>;
  private readonly bound: Record<DecodeErrorReason, Counter.Internal>;
  private readonly once: OnceLogger;

  constructor(options: {
    registry: Registry;
    logger: Logger;
    labels: { exchange: string; stream: string; shard: string };
  }) {
    const metric: Counter<'exchange' | 'stream' | 'shard' | 'reason'> = counter(
      options.registry,
      'decode_errors_total',
      'Frames or fields rejected as bad input, by reason; the frame is skipped and the pipeline continues.',
      ['exchange', 'stream', 'shard', 'reason'],
    );
    this.counts = {} as Record<DecodeErrorReason, number>;
    this.bound = {} as Record<DecodeErrorReason, Counter.Internal>;
    for (const reason of DECODE_ERROR_REASONS) {
      this.counts[reason] = 0;
      // Pre-bound label sets: counting costs no label lookup on the hot path.
      this.bound[reason] = metric.labels({ ...options.labels, reason });
    }
    this.once = new OnceLogger(options.logger.child({ ...options.labels }));
  }

  report(reason: DecodeErrorReason, frame: string, detail: string): void {
    this.counts[reason]++;
    this.bound[reason].inc();
    this.once.warn(
      reason,
      { reason, detail, frame: framePreview(frame) },
      'bad input skipped (logged once per reason; see decode_errors_total)',
    );
  }
}
