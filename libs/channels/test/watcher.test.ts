import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isCfError } from '@cryptoflow/core';
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import { BoundedChannel, ChannelWatcher, jsonSpillCodec } from '../src/index.js';

function capture(): { lines: () => Record<string, unknown>[]; stream: PassThrough } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString()));
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

async function value(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return undefined;
  const data = await metric.get();
  const found = data.values.find((v) =>
    Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want),
  );
  return found?.value;
}

const L = { channel: 'raw', exchange: 'binance', stream: 'ticks', shard: '3' };

describe('ChannelWatcher', () => {
  it('exports depth, capacity, occupancy, high water and drop counters with the channel labels', async () => {
    const registry = new Registry();
    const watcher = new ChannelWatcher({ registry });
    const ch = new BoundedChannel<number>({
      name: 'raw',
      capacity: 10,
      policy: 'drop-oldest',
      labels: { exchange: 'binance', stream: 'ticks', shard: '3' },
    });
    watcher.watch(ch as BoundedChannel<unknown>);
    for (let i = 0; i < 14; i++) ch.offer(i); // 4 dropped
    for (let i = 0; i < 6; i++) ch.tryReceive();
    watcher.sampleNow();
    expect(await value(registry, 'channel_depth', L)).toBe(4);
    expect(await value(registry, 'channel_capacity', L)).toBe(10);
    expect(await value(registry, 'channel_occupancy_ratio', L)).toBeCloseTo(0.4);
    expect(await value(registry, 'channel_high_water', L)).toBe(10);
    expect(await value(registry, 'channel_dropped_total', { ...L, reason: 'drop-oldest' })).toBe(4);
    expect(await value(registry, 'channel_dropped_total', { ...L, reason: 'sample' })).toBe(0);
    expect(await value(registry, 'channel_spill_backlog', L)).toBe(0);

    // Next window: high water restarts from the current depth; counters only grow by the new drops.
    ch.offer(100);
    watcher.sampleNow();
    expect(await value(registry, 'channel_high_water', L)).toBe(5);
    for (let i = 0; i < 8; i++) ch.offer(i); // 5 + 8 = 13 → 3 more dropped
    watcher.sampleNow();
    expect(await value(registry, 'channel_dropped_total', { ...L, reason: 'drop-oldest' })).toBe(7);

    const text = await registry.metrics();
    expect(text).toContain('channel_depth{channel="raw",exchange="binance",stream="ticks",shard="3"} 10');

    watcher.unwatch(ch as BoundedChannel<unknown>);
    expect(await registry.metrics()).not.toContain('channel="raw"');
  });

  it('counts sampled-out items and spill totals and backlog', async () => {
    const registry = new Registry();
    const watcher = new ChannelWatcher({ registry });
    const sampled = new BoundedChannel<number>({
      name: 'rows',
      capacity: 2,
      policy: 'sample',
      sampleEvery: 4,
      labels: { exchange: 'binance' },
    });
    for (let i = 0; i < 10; i++) sampled.offer(i); // 8 while full: 2 kept, 6 sampled out
    const dir = mkdtempSync(join(tmpdir(), 'cf-watch-'));
    try {
      const spilling = new BoundedChannel<number>({
        name: 'spill',
        capacity: 5,
        policy: 'spill',
        spillDir: dir,
        codec: jsonSpillCodec<number>(),
      });
      for (let i = 0; i < 25; i++) spilling.offer(i);
      watcher.watch(sampled as BoundedChannel<unknown>);
      watcher.watch(spilling as BoundedChannel<unknown>);
      watcher.sampleNow();
      const rows = { channel: 'rows', exchange: 'binance', stream: '', shard: '' };
      expect(await value(registry, 'channel_dropped_total', { ...rows, reason: 'sample' })).toBe(6);
      expect(await value(registry, 'channel_dropped_total', { ...rows, reason: 'drop-oldest' })).toBe(2);
      expect(await value(registry, 'channel_spilled_total', { channel: 'spill' })).toBe(20);
      expect(await value(registry, 'channel_spill_backlog', { channel: 'spill' })).toBe(20);
      for (let i = 0; i < 12; i++) spilling.tryReceive();
      watcher.sampleNow();
      // 5 from memory, then two refills of 5 from disk (7 of them taken): 10 still on disk, 3 in memory.
      expect(await value(registry, 'channel_spill_backlog', { channel: 'spill' })).toBe(10);
      expect(await value(registry, 'channel_depth', { channel: 'spill' })).toBe(3);
      expect(spilling.size).toBe(13);
      expect(await value(registry, 'channel_spilled_total', { channel: 'spill' })).toBe(20);
      spilling.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('observes enqueue delays into the histogram', async () => {
    const registry = new Registry();
    const watcher = new ChannelWatcher({ registry });
    const ch = new BoundedChannel<number>({
      name: 'raw',
      capacity: 100,
      policy: 'wait',
      delaySampleEvery: 1,
      labels: { exchange: 'binance', stream: 'ticks', shard: '3' },
    });
    watcher.watch(ch as BoundedChannel<unknown>);
    for (let i = 0; i < 30; i++) ch.offer(i);
    for (let i = 0; i < 30; i++) ch.tryReceive();
    watcher.sampleNow();
    const metric = await registry.getSingleMetric('channel_enqueue_delay_seconds')!.get();
    const count = metric.values.find(
      (v) => (v as { metricName?: string }).metricName === 'channel_enqueue_delay_seconds_count',
    );
    expect(count?.value).toBe(30);
    const inf = metric.values.find(
      (v) =>
        (v as { metricName?: string }).metricName === 'channel_enqueue_delay_seconds_bucket' &&
        v.labels.le === '+Inf',
    );
    expect(inf?.value).toBe(30);
    watcher.sampleNow(); // samples are consumed once
    const again = await registry.getSingleMetric('channel_enqueue_delay_seconds')!.get();
    expect(
      again.values.find(
        (v) => (v as { metricName?: string }).metricName === 'channel_enqueue_delay_seconds_count',
      )?.value,
    ).toBe(30);
  });

  it('warns once when occupancy stays high for warnAfterSamples samples, and says once when it recovers', () => {
    const out = capture();
    const logger = createLogger({ app: 'test', destination: out.stream });
    const watcher = new ChannelWatcher({ registry: new Registry(), logger, warnAfterSamples: 3 });
    const ch = new BoundedChannel<number>({
      name: 'raw',
      capacity: 10,
      policy: 'wait',
      warnOccupancy: 0.8,
      labels: { exchange: 'binance', stream: 'ticks', shard: '3' },
    });
    watcher.watch(ch as BoundedChannel<unknown>); // first sample: empty
    for (let i = 0; i < 9; i++) ch.offer(i);
    watcher.sampleNow();
    watcher.sampleNow();
    expect(out.lines()).toHaveLength(0);
    ch.tryReceive(); // 8/10 is not above 0.8: the streak ends
    watcher.sampleNow();
    ch.offer(9);
    watcher.sampleNow();
    watcher.sampleNow();
    expect(out.lines()).toHaveLength(0);
    watcher.sampleNow(); // third consecutive sample above
    watcher.sampleNow();
    watcher.sampleNow();
    let lines = out.lines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      channel: 'raw',
      exchange: 'binance',
      shard: '3',
      depth: 9,
      capacity: 10,
    });
    while (ch.tryReceive() !== undefined) {
      /* drain */
    }
    watcher.sampleNow();
    watcher.sampleNow();
    lines = out.lines();
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ level: 'info', channel: 'raw', occupancy: 0 });
  });

  it('rejects a channel label the watcher does not export', () => {
    const watcher = new ChannelWatcher({ registry: new Registry() });
    const ch = new BoundedChannel<number>({ name: 'x', capacity: 1, policy: 'wait', labels: { lane: '2' } });
    let err: unknown;
    try {
      watcher.watch(ch as BoundedChannel<unknown>);
    } catch (e) {
      err = e;
    }
    expect(isCfError(err, 'CF_CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/label "lane"/);
    const custom = new ChannelWatcher({ registry: new Registry(), labelNames: ['lane'] });
    custom.watch(ch as BoundedChannel<unknown>);
  });
});
