import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every lib declares its own metrics against a Registry it is given (tests pass a fresh one).
 * These helpers are idempotent per registry: two components asking for the same name share the
 * metric instead of throwing "already registered", and a name re-declared with other labels fails loudly.
 */
export { Registry };
export type { Counter, Gauge, Histogram };

export const LATENCY_BUCKETS_SECONDS = [
  0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];
export const SIZE_BUCKETS_BYTES = [1e3, 1e4, 1e5, 1e6, 4e6, 16e6, 64e6, 128e6, 256e6, 512e6];

type MetricClass = typeof Counter | typeof Gauge | typeof Histogram;

function existing<T>(registry: Registry, name: string, labelNames: readonly string[], kind: MetricClass): T | undefined {
  const metric = registry.getSingleMetric(name) as unknown as { labelNames?: readonly string[] } | undefined;
  if (!metric) return undefined;
  const have = [...(metric.labelNames ?? [])].sort().join(',');
  const want = [...labelNames].sort().join(',');
  // instanceof, not constructor.name: bundlers rename classes (esbuild turns Gauge into Gauge2).
  if (have !== want || !(metric instanceof kind)) {
    throw new Error(`metric ${name} re-declared as ${kind.name}{${want}}, registered as ${metric.constructor.name}{${have}}`);
  }
  return metric as unknown as T;
}

export function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  return (
    existing<Counter<L>>(registry, name, labelNames, Counter) ??
    new Counter<L>({ name, help, labelNames: [...labelNames], registers: [registry] })
  );
}

export function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
  return (
    existing<Gauge<L>>(registry, name, labelNames, Gauge) ??
    new Gauge<L>({ name, help, labelNames: [...labelNames], registers: [registry] })
  );
}

export function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  buckets: readonly number[] = LATENCY_BUCKETS_SECONDS,
): Histogram<L> {
  return (
    existing<Histogram<L>>(registry, name, labelNames, Histogram) ??
    new Histogram<L>({ name, help, labelNames: [...labelNames], buckets: [...buckets], registers: [registry] })
  );
}

export interface ProcessRegistryOptions {
  readonly app: string;
  readonly version?: string;
  /** Node process metrics (heap, event-loop lag, GC). Off in tests. */
  readonly processMetrics?: boolean;
}

/** The registry an app serves on /metrics, with `app` as a default label on every series. */
export function createRegistry(options: ProcessRegistryOptions): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ app: options.app });
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  gauge(registry, 'build_info', 'Build version of the running app (value is always 1).', ['version']).set(
    { version: options.version ?? 'dev' },
    1,
  );
  return registry;
}
