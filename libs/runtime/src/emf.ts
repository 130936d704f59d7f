import { CfError } from '@cryptoflow/core';
import type { Logger } from '@cryptoflow/logger';
import type { Registry } from '@cryptoflow/metrics';
import contractJson from '../../../deploy/metrics-contract.json' with { type: 'json' };

/**
 * CloudWatch Embedded Metric Format: the few metrics CloudWatch needs (autoscaling, alarms) as JSON lines on
 * stdout, which the awslogs driver ships and CloudWatch Logs turns into metrics. The names, units and
 * dimensions come from deploy/metrics-contract.json, the single source that deploy/ecs and infra read too;
 * values are computed from the process's Prometheus registry at each emit.
 * Format: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */

export interface ContractMetric {
  readonly unit: string;
  readonly dimensions: readonly string[];
  readonly source: { readonly prometheus: string; readonly reduce: string };
  readonly description?: string;
}

export interface MetricsContract {
  readonly namespace: string;
  readonly emit: { readonly interval_ms: number };
  readonly metrics: Readonly<Record<string, ContractMetric>>;
}

export const METRICS_CONTRACT: MetricsContract = contractJson as MetricsContract;

export interface EmfOptions {
  /** Value of the `Env` dimension (dev | prod; CRYPTOFLOW_ENV). */
  readonly env: string;
  /** Default: the contract's `emit.interval_ms` (10 s). */
  readonly intervalMs?: number;
  /** Where lines go; default stdout. */
  readonly write?: (line: string) => void;
  readonly contract?: MetricsContract;
}

/** EMF on when CRYPTOFLOW_EMF is 1/true (not CF_*: that prefix is config overrides); the Env dimension from CRYPTOFLOW_ENV (required then). */
export function emfOptionsFromEnv(env: NodeJS.ProcessEnv): EmfOptions | false {
  const flag = (env['CRYPTOFLOW_EMF'] ?? '').toLowerCase();
  if (flag === '' || flag === '0' || flag === 'false') return false;
  if (flag !== '1' && flag !== 'true') {
    throw new CfError('CF_CONFIG_INVALID', `CRYPTOFLOW_EMF: expected 1|true|0|false, got ${env['CRYPTOFLOW_EMF']}`);
  }
  const envName = env['CRYPTOFLOW_ENV'];
  if (!envName) {
    throw new CfError('CF_CONFIG_INVALID', 'CRYPTOFLOW_ENV: required when CRYPTOFLOW_EMF=1 (the Env dimension of every metric)');
  }
  return { env: envName };
}

type Reduce = 'max' | 'increase' | 'observations';

interface PromValue {
  readonly value: number;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly metricName?: string;
}

interface PromMetric {
  readonly name: string;
  readonly type: string;
  readonly values: readonly PromValue[];
}

function reduceOf(name: string, m: ContractMetric): Reduce {
  const r = m.source.reduce.toLowerCase();
  if (r.startsWith('max')) return 'max';
  if (r.startsWith('increase')) return 'increase';
  if (r.startsWith('each observation')) return 'observations';
  throw new CfError('CF_CONFIG_INVALID', `metrics contract: ${name}.source.reduce "${m.source.reduce}" is not one this runtime knows`);
}

/** Dimensions not taken from the process (`Env`, `Stream`) come from the label of the same name, lower case. */
const PROCESS_DIMENSIONS = new Set(['Env', 'Stream']);

/**
 * Computes EMF lines from a registry. Counters are reported as their increase since the previous
 * `collect()` (the first one: since process start); histograms as the observations since then, one
 * Values/Counts pair per bucket (value = the bucket's upper bound; the +Inf bucket reports the largest finite one).
 */
export class EmfEmitter {
  private readonly contract: MetricsContract;
  private readonly reduces = new Map<string, Reduce>();
  private readonly previous = new Map<string, number>();

  constructor(
    private readonly options: { registry: Registry; env: string; stream?: string; contract?: MetricsContract },
  ) {
    this.contract = options.contract ?? METRICS_CONTRACT;
    for (const [name, m] of Object.entries(this.contract.metrics)) this.reduces.set(name, reduceOf(name, m));
  }

  async collect(timestampMs = Date.now()): Promise<string[]> {
    const byName = new Map<string, PromMetric>();
    for (const m of (await this.options.registry.getMetricsAsJSON()) as unknown as PromMetric[]) byName.set(m.name, m);
    // One line per dimension set and values: its metrics grouped in one EMF directive.
    const lines = new Map<string, { dims: readonly string[]; dimValues: Record<string, string>; metrics: { name: string; unit: string; value: unknown }[] }>();
    for (const [name, m] of Object.entries(this.contract.metrics)) {
      const source = byName.get(m.source.prometheus);
      if (!source) continue;
      if (m.dimensions.includes('Stream') && !this.options.stream) continue;
      const groups = this.group(name, m, source);
      for (const [groupKey, { dimValues, value }] of groups) {
        if (value === undefined) continue;
        const key = `${m.dimensions.join(',')}|${groupKey}`;
        let line = lines.get(key);
        if (!line) {
          line = { dims: m.dimensions, dimValues, metrics: [] };
          lines.set(key, line);
        }
        line.metrics.push({ name, unit: m.unit, value });
      }
    }
    const out: string[] = [];
    for (const line of lines.values()) {
      const doc: Record<string, unknown> = {
        _aws: {
          Timestamp: timestampMs,
          CloudWatchMetrics: [
            {
              Namespace: this.contract.namespace,
              Dimensions: [[...line.dims]],
              Metrics: line.metrics.map((x) => ({ Name: x.name, Unit: x.unit })),
            },
          ],
        },
        ...line.dimValues,
      };
      for (const x of line.metrics) doc[x.name] = x.value;
      out.push(JSON.stringify(doc));
    }
    return out;
  }

  private group(
    name: string,
    m: ContractMetric,
    source: PromMetric,
  ): Map<string, { dimValues: Record<string, string>; value: unknown }> {
    const labelDims = m.dimensions.filter((d) => !PROCESS_DIMENSIONS.has(d));
    const fixed: Record<string, string> = {};
    for (const d of m.dimensions) {
      if (d === 'Env') fixed[d] = this.options.env;
      else if (d === 'Stream') fixed[d] = this.options.stream as string;
    }
    const groups = new Map<string, { dimValues: Record<string, string>; samples: PromValue[] }>();
    for (const v of source.values) {
      const dimValues = { ...fixed };
      let missing = false;
      for (const d of labelDims) {
        const lv = v.labels[d.toLowerCase()];
        if (lv === undefined) missing = true;
        else dimValues[d] = String(lv);
      }
      if (missing) continue;
      const key = labelDims.map((d) => dimValues[d]).join('\u0000');
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { dimValues, samples: [] }));
      g.samples.push(v);
    }
    const out = new Map<string, { dimValues: Record<string, string>; value: unknown }>();
    const reduce = this.reduces.get(name) as Reduce;
    for (const [key, g] of groups) {
      let value: unknown;
      if (reduce === 'max') {
        value = g.samples.reduce((mx, v) => Math.max(mx, v.value), -Infinity);
      } else if (reduce === 'increase') {
        let sum = 0;
        for (const v of g.samples) sum += this.delta(`${name}|${seriesKey(v)}`, v.value);
        value = sum;
      } else {
        value = this.observations(name, g.samples, source.name);
      }
      out.set(key, { dimValues: g.dimValues, value });
    }
    return out;
  }

  /** Increase of one counter series since the previous collect (a reset counts from zero). */
  private delta(key: string, current: number): number {
    const prev = this.previous.get(key) ?? 0;
    this.previous.set(key, current);
    return current >= prev ? current - prev : current;
  }

  private observations(name: string, samples: readonly PromValue[], promName: string): { Values: number[]; Counts: number[] } | undefined {
    // Cumulative bucket counts summed over the group's series, per upper bound.
    const cumulative = new Map<number, number>();
    for (const v of samples) {
      if (v.metricName !== `${promName}_bucket`) continue;
      const le = v.labels['le'];
      const bound = le === '+Inf' ? Infinity : Number(le);
      cumulative.set(bound, (cumulative.get(bound) ?? 0) + this.delta(`${name}|${seriesKey(v)}`, v.value));
    }
    const bounds = [...cumulative.keys()].sort((a, b) => a - b);
    const finite = bounds.filter((b) => Number.isFinite(b));
    const Values: number[] = [];
    const Counts: number[] = [];
    let below = 0;
    for (const b of bounds) {
      const c = cumulative.get(b) as number;
      const inBucket = c - below;
      below = c;
      if (inBucket <= 0) continue;
      Values.push(Number.isFinite(b) ? b : (finite[finite.length - 1] ?? 0));
      Counts.push(inBucket);
    }
    return Values.length > 0 ? { Values, Counts } : undefined;
  }
}

function seriesKey(v: PromValue): string {
  const labels = Object.keys(v.labels)
    .sort()
    .map((k) => `${k}=${String(v.labels[k])}`)
    .join(',');
  return `${v.metricName ?? ''}{${labels}}`;
}

export interface EmfPublisher {
  /** Emits once more (the last interval's counters) and stops the timer. */
  stop(): Promise<void>;
}

/** Every `intervalMs` (contract default 10 s) writes the EMF lines of the registry. */
export function startEmfPublisher(
  options: EmfOptions & { registry: Registry; stream?: string; logger?: Logger },
): EmfPublisher {
  const contract = options.contract ?? METRICS_CONTRACT;
  const emitter = new EmfEmitter({ registry: options.registry, env: options.env, stream: options.stream, contract });
  const write = options.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
  let running: Promise<void> = Promise.resolve();
  const emit = (): Promise<void> =>
    (running = running.then(async () => {
      try {
        for (const line of await emitter.collect()) write(line);
      } catch (err) {
        options.logger?.warn({ err: String(err) }, 'EMF emit failed');
      }
    }));
  const timer = setInterval(() => void emit(), options.intervalMs ?? contract.emit.interval_ms);
  timer.unref();
  let stopped: Promise<void> | undefined;
  return {
    stop: () =>
      (stopped ??= (async () => {
        clearInterval(timer);
        await emit();
      })()),
  };
}
