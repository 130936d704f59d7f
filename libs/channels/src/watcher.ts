import { CfError } from '@cryptoflow/core';
import { counter, gauge, histogram } from '@cryptoflow/metrics';
import type { Counter, Gauge, Histogram, Registry } from '@cryptoflow/metrics';
import type { Logger } from '@cryptoflow/logger';
import type { BoundedChannel } from './channel.js';

export interface ChannelWatcherOptions {
  readonly registry: Registry;
  /** Sampling period of start(). Default 250 ms. */
  readonly intervalMs?: number;
  readonly logger?: Logger;
  /** Consecutive samples above warnOccupancy before warning. Default 4 (1 s at 250 ms). */
  readonly warnAfterSamples?: number;
  /**
   * Label names (besides `channel`) of every channel series. A channel's `labels` must use only these;
   * absent ones are exported empty (which Prometheus treats as absent). Default exchange, stream, shard.
   */
  readonly labelNames?: readonly string[];
}

/** Delays of 1 µs to 5 min: an item waiting longer than that has a bigger problem than a bucket. */
export const ENQUEUE_DELAY_BUCKETS_SECONDS = [
  0.000_001, 0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
  30, 60, 300,
];

type GaugeChild = ReturnType<Gauge<string>['labels']>;
type CounterChild = ReturnType<Counter<string>['labels']>;
type HistogramChild = ReturnType<Histogram<string>['labels']>;

interface Watched {
  readonly channel: BoundedChannel<unknown>;
  readonly labels: Record<string, string>;
  readonly depth: GaugeChild;
  readonly capacity: GaugeChild;
  readonly occupancy: GaugeChild;
  readonly highWater: GaugeChild;
  readonly backlog: GaugeChild;
  readonly delay: HistogramChild;
  readonly droppedOldest: CounterChild;
  readonly droppedSample: CounterChild;
  readonly spilled: CounterChild;
  lastDropped: number;
  lastSampledOut: number;
  lastSpilled: number;
  above: number;
  warned: boolean;
}

/**
 * Samples channels into prom-client metrics every `intervalMs`: the channels themselves only bump
 * plain counters on the hot path, this turns them into series once per sample.
 */
export class ChannelWatcher {
  private readonly intervalMs: number;
  private readonly logger: Logger | undefined;
  private readonly warnAfter: number;
  private readonly labelNames: readonly string[];
  private readonly watched = new Map<BoundedChannel<unknown>, Watched>();
  private timer: NodeJS.Timeout | undefined;

  private readonly gDepth: Gauge<string>;
  private readonly gCapacity: Gauge<string>;
  private readonly gOccupancy: Gauge<string>;
  private readonly gHighWater: Gauge<string>;
  private readonly gBacklog: Gauge<string>;
  private readonly hDelay: Histogram<string>;
  private readonly cDropped: Counter<string>;
  private readonly cSpilled: Counter<string>;

  constructor(opts: ChannelWatcherOptions) {
    this.intervalMs = opts.intervalMs ?? 250;
    this.logger = opts.logger;
    this.warnAfter = opts.warnAfterSamples ?? 4;
    if (!(this.intervalMs > 0))
      throw new CfError(
        'CF_CONFIG_INVALID',
        `ChannelWatcher intervalMs: expected > 0, got ${this.intervalMs}`,
      );
    if (!Number.isInteger(this.warnAfter) || this.warnAfter < 1) {
      throw new CfError(
        'CF_CONFIG_INVALID',
        `ChannelWatcher warnAfterSamples: expected a positive integer, got ${this.warnAfter}`,
      );
    }
    this.labelNames = [...(opts.labelNames ?? ['exchange', 'stream', 'shard'])];
    const names = ['channel', ...this.labelNames];
    const r = opts.registry;
    this.gDepth = gauge(r, 'channel_depth', 'Items in the channel memory ring.', names);
    this.gCapacity = gauge(r, 'channel_capacity', 'Memory ring capacity of the channel.', names);
    this.gOccupancy = gauge(r, 'channel_occupancy_ratio', 'channel_depth / channel_capacity.', names);
    this.gHighWater = gauge(
      r,
      'channel_high_water',
      'Highest channel depth seen during the last sample window.',
      names,
    );
    this.gBacklog = gauge(r, 'channel_spill_backlog', 'Items spilled to disk and not yet read back.', names);
    this.hDelay = histogram(
      r,
      'channel_enqueue_delay_seconds',
      'Time items waited in the channel, enqueue to dequeue (measured on 1 in delaySampleEvery items).',
      names,
      ENQUEUE_DELAY_BUCKETS_SECONDS,
    );
    this.cDropped = counter(
      r,
      'channel_dropped_total',
      'Items lost to the backpressure policy, by reason (drop-oldest | sample).',
      [...names, 'reason'],
    );
    this.cSpilled = counter(r, 'channel_spilled_total', 'Items written to the spill directory.', names);
  }

  watch(channel: BoundedChannel<unknown>): void {
    if (this.watched.has(channel)) return;
    const labels: Record<string, string> = { channel: channel.name };
    for (const key of Object.keys(channel.labels)) {
      if (!this.labelNames.includes(key)) {
        throw new CfError(
          'CF_CONFIG_INVALID',
          `channel ${channel.name}: label "${key}" is not one of the watcher's label names (${this.labelNames.join(', ')})`,
          { context: { channel: channel.name, label: key } },
        );
      }
    }
    for (const key of this.labelNames) labels[key] = channel.labels[key] ?? '';
    const s = channel.stats();
    const entry: Watched = {
      channel,
      labels,
      depth: this.gDepth.labels(labels),
      capacity: this.gCapacity.labels(labels),
      occupancy: this.gOccupancy.labels(labels),
      highWater: this.gHighWater.labels(labels),
      backlog: this.gBacklog.labels(labels),
      delay: this.hDelay.labels(labels),
      droppedOldest: this.cDropped.labels({ ...labels, reason: 'drop-oldest' }),
      droppedSample: this.cDropped.labels({ ...labels, reason: 'sample' }),
      spilled: this.cSpilled.labels(labels),
      // The first sample reports everything the channel counted since it was created; unwatch()
      // removes the series, so a re-watch starts them again from the channel's totals.
      lastDropped: 0,
      lastSampledOut: 0,
      lastSpilled: 0,
      above: 0,
      warned: false,
    };
    entry.droppedOldest.inc(0);
    entry.droppedSample.inc(0);
    entry.spilled.inc(0);
    entry.capacity.set(s.capacity);
    this.watched.set(channel, entry);
    this.sampleOne(entry);
  }

  /** Stops sampling the channel and removes its series. */
  unwatch(channel: BoundedChannel<unknown>): void {
    const entry = this.watched.get(channel);
    if (!entry) return;
    this.sampleOne(entry); // last deltas and delays before the series go
    this.watched.delete(channel);
    for (const metric of [
      this.gDepth,
      this.gCapacity,
      this.gOccupancy,
      this.gHighWater,
      this.gBacklog,
      this.hDelay,
      this.cSpilled,
    ]) {
      metric.remove(entry.labels);
    }
    this.cDropped.remove({ ...entry.labels, reason: 'drop-oldest' });
    this.cDropped.remove({ ...entry.labels, reason: 'sample' });
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sampleNow(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  sampleNow(): void {
    for (const entry of this.watched.values()) this.sampleOne(entry);
  }

  private sampleOne(e: Watched): void {
    const s = e.channel.stats({ resetWindow: true });
    e.depth.set(s.depth);
    e.capacity.set(s.capacity);
    e.occupancy.set(s.occupancy);
    e.highWater.set(s.highWater);
    e.backlog.set(s.spillBacklog);
    if (s.dropped > e.lastDropped) e.droppedOldest.inc(s.dropped - e.lastDropped);
    if (s.sampledOut > e.lastSampledOut) e.droppedSample.inc(s.sampledOut - e.lastSampledOut);
    if (s.spilled > e.lastSpilled) e.spilled.inc(s.spilled - e.lastSpilled);
    e.lastDropped = s.dropped;
    e.lastSampledOut = s.sampledOut;
    e.lastSpilled = s.spilled;
    const delays = s.enqueueDelaySamples;
    for (let i = 0; i < delays.length; i++) e.delay.observe(delays[i]!);

    if (s.occupancy > s.warnOccupancy) {
      e.above++;
      if (e.above >= this.warnAfter && !e.warned) {
        e.warned = true;
        this.logger?.warn(
          {
            ...e.labels,
            occupancy: s.occupancy,
            depth: s.depth,
            capacity: s.capacity,
            policy: s.policy,
            spillBacklog: s.spillBacklog,
            samples: e.above,
          },
          `channel ${s.name} above ${s.warnOccupancy * 100}% full for ${e.above} samples`,
        );
      }
    } else {
      if (e.warned) {
        this.logger?.info(
          {
            ...e.labels,
            occupancy: s.occupancy,
            depth: s.depth,
            capacity: s.capacity,
            samplesAbove: e.above,
          },
          `channel ${s.name} occupancy back below ${s.warnOccupancy * 100}%`,
        );
      }
      e.warned = false;
      e.above = 0;
    }
  }
}
