import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry, counter, gauge, histogram } from '@cryptoflow/metrics';
import { EmfEmitter, emfOptionsFromEnv, startEmfPublisher } from '../src/emf.js';

const CONTRACT = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', '..', '..', 'deploy', 'metrics-contract.json'), 'utf8'),
) as {
  namespace: string;
  metrics: Record<string, { unit: string; dimensions: string[] }>;
};

interface EmfLine {
  _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  [k: string]: unknown;
}

/** A registry holding every source metric of the contract, as the collector and committer declare them. */
function populated(): Registry {
  const r = new Registry();
  const occ = gauge(r, 'channel_occupancy_ratio', 'x', ['channel', 'exchange', 'stream', 'shard']);
  occ.set({ channel: 'raw.binance.s1', exchange: 'binance', stream: 'ticks', shard: '1' }, 0.25);
  occ.set({ channel: 'rows.binance.s1', exchange: 'binance', stream: 'ticks', shard: '1' }, 0.75);
  occ.set({ channel: 'raw.binance-usdm.s2', exchange: 'binance-usdm', stream: 'ticks', shard: '2' }, 0.5);
  counter(r, 'seq_gaps_total', 'x', ['stream', 'shard']).inc({ stream: 'ticks', shard: '1' }, 3);
  counter(r, 'channel_dropped_total', 'x', ['channel']).inc({ channel: 'raw.binance.s1' }, 2);
  const lat = histogram(r, 's3tables_commit_latency_seconds', 'x', ['table', 'outcome'], [0.1, 1, 10]);
  lat.observe({ table: 'trades', outcome: 'ok' }, 0.05);
  lat.observe({ table: 'trades', outcome: 'ok' }, 0.5);
  lat.observe({ table: 'trades', outcome: 'conflict' }, 0.7);
  lat.observe({ table: 'funding', outcome: 'ok' }, 20);
  const limited = counter(r, 'egress_ip_rate_limited_total', 'x', ['venue', 'ip', 'status']);
  limited.inc({ venue: 'binance', ip: '10.0.1.5', status: '429' }, 2);
  limited.inc({ venue: 'binance-usdm', ip: '10.0.1.5', status: '418' });
  limited.inc({ venue: 'binance', ip: '10.0.1.6', status: '429' });
  return r;
}

function parse(lines: string[]): EmfLine[] {
  return lines.map((l) => JSON.parse(l) as EmfLine);
}

/** metric name → every (dimension name → value) it was emitted with, and its value there. */
function flatten(lines: EmfLine[]): { name: string; unit: string; dims: string[]; dimValues: Record<string, unknown>; value: unknown }[] {
  const out = [];
  for (const l of lines) {
    for (const d of l._aws.CloudWatchMetrics) {
      expect(d.Dimensions).toHaveLength(1);
      const dims = d.Dimensions[0] as string[];
      for (const m of d.Metrics) {
        out.push({ name: m.Name, unit: m.Unit, dims, dimValues: Object.fromEntries(dims.map((k) => [k, l[k]])), value: l[m.Name] });
      }
    }
  }
  return out;
}

describe('EMF publisher', () => {
  it('emits exactly the contract: namespace, metric names, units and dimensions', async () => {
    const emitter = new EmfEmitter({ registry: populated(), env: 'prod', stream: 'ticks' });
    const lines = parse(await emitter.collect(1_700_000_000_000));
    for (const l of lines) {
      expect(l._aws.Timestamp).toBe(1_700_000_000_000);
      expect(l._aws.CloudWatchMetrics.map((d) => d.Namespace)).toEqual([CONTRACT.namespace]);
    }
    const metrics = flatten(lines);
    expect(new Set(metrics.map((m) => m.name))).toEqual(new Set(Object.keys(CONTRACT.metrics)));
    for (const m of metrics) {
      const c = CONTRACT.metrics[m.name];
      expect(m.unit).toBe(c?.unit);
      expect(m.dims).toEqual(c?.dimensions);
      // Every dimension has a value on the line (CloudWatch drops a metric with a missing dimension).
      for (const d of m.dims) expect(typeof m.dimValues[d]).toBe('string');
      expect(m.dimValues['Env']).toBe('prod');
    }
  });

  it('reduces as the contract says: max occupancy, counter increases, latency observations per table', async () => {
    const registry = populated();
    const emitter = new EmfEmitter({ registry, env: 'dev', stream: 'ticks' });
    const first = flatten(parse(await emitter.collect()));
    const value = (ms: typeof first, name: string, dims: Record<string, string> = {}): unknown =>
      ms.find((m) => m.name === name && Object.entries(dims).every(([k, v]) => m.dimValues[k] === v))?.value;
    expect(value(first, 'ChannelOccupancyMax')).toBe(0.75);
    expect(value(first, 'SeqGaps')).toBe(3);
    expect(value(first, 'ChannelDropped')).toBe(2);
    expect(value(first, 'RateLimited', { Ip: '10.0.1.5' })).toBe(3);
    expect(value(first, 'RateLimited', { Ip: '10.0.1.6' })).toBe(1);
    expect(value(first, 'CommitLatency', { Table: 'trades' })).toEqual({ Values: [0.1, 1], Counts: [1, 2] });
    expect(value(first, 'CommitLatency', { Table: 'funding' })).toEqual({ Values: [10], Counts: [1] });

    // Second emit: only what happened since the first.
    counter(registry, 'seq_gaps_total', 'x', ['stream', 'shard']).inc({ stream: 'ticks', shard: '9' }, 4);
    histogram(registry, 's3tables_commit_latency_seconds', 'x', ['table', 'outcome'], [0.1, 1, 10]).observe(
      { table: 'trades', outcome: 'ok' },
      5,
    );
    gauge(registry, 'channel_occupancy_ratio', 'x', ['channel', 'exchange', 'stream', 'shard']).set(
      { channel: 'rows.binance.s1', exchange: 'binance', stream: 'ticks', shard: '1' },
      0.1,
    );
    const second = flatten(parse(await emitter.collect()));
    expect(value(second, 'SeqGaps')).toBe(4);
    expect(value(second, 'ChannelDropped')).toBe(0);
    expect(value(second, 'RateLimited', { Ip: '10.0.1.5' })).toBe(0);
    expect(value(second, 'ChannelOccupancyMax')).toBe(0.5);
    expect(value(second, 'CommitLatency', { Table: 'trades' })).toEqual({ Values: [10], Counts: [1] });
    expect(value(second, 'CommitLatency', { Table: 'funding' })).toBeUndefined(); // no observation: no empty Values
  });

  it('leaves out Stream metrics without a stream (committer) and sources a process lacks', async () => {
    const r = new Registry();
    histogram(r, 's3tables_commit_latency_seconds', 'x', ['table', 'outcome']).observe({ table: 'trades', outcome: 'ok' }, 0.2);
    gauge(r, 'channel_occupancy_ratio', 'x', ['channel']).set({ channel: 'c' }, 0.3);
    const names = flatten(parse(await new EmfEmitter({ registry: r, env: 'dev' }).collect())).map((m) => m.name);
    expect(names).toEqual(['CommitLatency']);
  });

  it('is switched on by CRYPTOFLOW_EMF and needs CRYPTOFLOW_ENV then; the publisher writes lines and a last one on stop', async () => {
    expect(emfOptionsFromEnv({})).toBe(false);
    expect(emfOptionsFromEnv({ CRYPTOFLOW_EMF: '0' })).toBe(false);
    expect(emfOptionsFromEnv({ CRYPTOFLOW_EMF: '1', CRYPTOFLOW_ENV: 'prod' })).toEqual({ env: 'prod' });
    expect(() => emfOptionsFromEnv({ CRYPTOFLOW_EMF: '1' })).toThrow(/CRYPTOFLOW_ENV: required/);
    expect(() => emfOptionsFromEnv({ CRYPTOFLOW_EMF: 'yes' })).toThrow(/CRYPTOFLOW_EMF: expected/);
    const written: string[] = [];
    const pub = startEmfPublisher({ env: 'dev', registry: populated(), stream: 'ticks', intervalMs: 3_600_000, write: (l) => written.push(l) });
    await pub.stop();
    expect(written.length).toBeGreaterThan(0);
    expect(flatten(parse(written)).find((m) => m.name === 'SeqGaps')?.value).toBe(3);
  });
});
