import { describe, expect, it } from 'vitest';
import { Registry, counter, createRegistry, gauge } from '../src/index.js';

describe('metric helpers', () => {
  it('returns the same metric when two components declare it', async () => {
    const registry = new Registry();
    const a = counter(registry, 'frames_received_total', 'frames', ['exchange']);
    const b = counter(registry, 'frames_received_total', 'frames', ['exchange']);
    a.inc({ exchange: 'binance' });
    b.inc({ exchange: 'binance' });
    expect(a).toBe(b);
    expect(await registry.getSingleMetricAsString('frames_received_total')).toContain('frames_received_total{exchange="binance"} 2');
  });

  it('fails loudly when a name is re-declared with other labels or kind', () => {
    const registry = new Registry();
    counter(registry, 'x_total', 'x', ['a']);
    expect(() => counter(registry, 'x_total', 'x', ['b'])).toThrow(/re-declared/);
    expect(() => gauge(registry, 'x_total', 'x', ['a'])).toThrow(/re-declared/);
  });

  it('labels every series with the app', async () => {
    const registry = createRegistry({ app: 'collector-ticks', version: '1.2.3' });
    const text = await registry.metrics();
    expect(text).toContain('build_info{version="1.2.3",app="collector-ticks"} 1');
  });
});
