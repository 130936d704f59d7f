import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Registry } from '@cryptoflow/metrics';
import { KeyedWorkerPool } from '../src/index.js';

interface Item {
  readonly key: string;
  readonly n: number;
  readonly delay: number; // -1: sync handler; 0: resolved promise; >0: timer ms
}

describe('KeyedWorkerPool', () => {
  it('keeps per-key order under random async delays, lanes and capacities (send waits for room)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(
          fc.tuple(
            fc.constantFrom('binance|BTCUSDT', 'binance|ETHUSDT', 'binance-usdm|BTCUSDT', 'x|Y', 'x|Z'),
            fc.integer({ min: -1, max: 3 }),
          ),
          {
            minLength: 1,
            maxLength: 60,
          },
        ),
        async (lanes, capacity, spec) => {
          const items: Item[] = spec.map(([key, delay], n) => ({ key, n, delay }));
          const seen = new Map<string, number[]>();
          let inFlightPerLane = new Array<number>(lanes).fill(0);
          const pool = new KeyedWorkerPool<Item>({
            lanes,
            capacity,
            key: (i) => i.key,
            handler: (item, lane) => {
              // a lane never runs two items at once
              expect(inFlightPerLane[lane]).toBe(0);
              inFlightPerLane[lane]!++;
              const record = (): void => {
                const list = seen.get(item.key) ?? [];
                list.push(item.n);
                seen.set(item.key, list);
                inFlightPerLane[lane]!--;
              };
              if (item.delay < 0) return record();
              if (item.delay === 0) return Promise.resolve().then(record);
              return new Promise<void>((r) => setTimeout(() => (record(), r()), item.delay));
            },
          });
          for (const item of items) await pool.send(item);
          await pool.drain();
          for (const [key, got] of seen) {
            expect(got).toEqual(items.filter((i) => i.key === key).map((i) => i.n));
          }
          expect([...seen.values()].reduce((a, l) => a + l.length, 0)).toBe(items.length);
          expect(pool.stats().pending).toBe(0);
          inFlightPerLane = [];
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a paused key holds back only its own lane', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const done: string[] = [];
    const pool = new KeyedWorkerPool<{ key: string; n: number }>({
      lanes: 4,
      capacity: 16,
      key: (i) => i.key,
      handler: (i) => {
        if (i.key === 'slow' && i.n === 0) return gate.then(() => void done.push(`${i.key}${i.n}`));
        done.push(`${i.key}${i.n}`);
        return undefined;
      },
    });
    // a key on another lane than 'slow'
    const other = ['a', 'b', 'c', 'd', 'e'].find((k) => pool.laneOf(k) !== pool.laneOf('slow')) as string;
    pool.offer({ key: 'slow', n: 0 });
    pool.offer({ key: 'slow', n: 1 });
    for (let n = 0; n < 5; n++) pool.offer({ key: other, n });
    await new Promise((r) => setTimeout(r, 5));
    expect(done).toEqual([0, 1, 2, 3, 4].map((n) => `${other}${n}`));
    expect(pool.stats().paused[pool.laneOf('slow')]).toBe(true);
    release();
    await pool.drain();
    expect(done.slice(5)).toEqual(['slow0', 'slow1']);
  });

  it('offer refuses when the lane is full, send waits; both count worker_lane_full_total', async () => {
    const registry = new Registry();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const handled: number[] = [];
    const pool = new KeyedWorkerPool<number>({
      lanes: 1,
      capacity: 2,
      key: () => 'k',
      handler: (n) => (n === 0 ? gate.then(() => void handled.push(n)) : void handled.push(n)),
      registry,
      labels: { exchange: 'binance', stream: 'ticks', shard: '0' },
    });
    expect(pool.offer(0)).toBe(true);
    await Promise.resolve(); // lane starts item 0 and pauses on it
    expect(pool.offer(1)).toBe(true);
    expect(pool.offer(2)).toBe(true);
    expect(pool.offer(3)).toBe(false);
    let sent = false;
    const s = pool.send(3).then(() => (sent = true));
    await new Promise((r) => setTimeout(r, 1));
    expect(sent).toBe(false);
    expect(pool.offer(4)).toBe(false); // a waiting send keeps its place: no overtaking
    release();
    await s;
    await pool.drain();
    expect(handled).toEqual([0, 1, 2, 3]);
    expect(await registry.getSingleMetricAsString('worker_lane_full_total')).toContain('} 3');
    expect(await registry.getSingleMetricAsString('worker_lane_depth')).toContain('lane="0"} 0');
  });

  it('a failing handler does not stop its lane; drain reports the error once', async () => {
    const handled: number[] = [];
    const pool = new KeyedWorkerPool<number>({
      lanes: 2,
      capacity: 8,
      key: () => 'k',
      handler: (n) => {
        if (n === 1) throw new Error('boom');
        if (n === 2) return Promise.reject(new Error('async boom'));
        handled.push(n);
        return undefined;
      },
    });
    for (const n of [0, 1, 2, 3]) pool.offer(n);
    await expect(pool.drain()).rejects.toThrow('boom');
    expect(handled).toEqual([0, 3]);
    await expect(pool.drain()).resolves.toBeUndefined();
  });

  it('close rejects waiting sends and refuses offers; queued items are still handled', async () => {
    const handled: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const pool = new KeyedWorkerPool<number>({
      lanes: 1,
      capacity: 1,
      key: () => 'k',
      handler: (n) => (n === 0 ? gate.then(() => void handled.push(n)) : void handled.push(n)),
    });
    pool.offer(0);
    await Promise.resolve();
    pool.offer(1);
    const waiting = pool.send(2);
    pool.close();
    await expect(waiting).rejects.toThrow(/closed/);
    expect(() => pool.offer(3)).toThrow(/closed/);
    release();
    await pool.drain();
    expect(handled).toEqual([0, 1]);
  });

  it('maps a key to the same lane every time, spreading keys over lanes', () => {
    const pool = new KeyedWorkerPool<string>({ lanes: 8, capacity: 1, key: (k) => k, handler: () => {} });
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 800; i++) {
      const lane = pool.laneOf(`binance|SYM${i}USDT`);
      expect(pool.laneOf(`binance|SYM${i}USDT`)).toBe(lane);
      counts[lane]!++;
    }
    expect(Math.min(...counts)).toBeGreaterThan(50);
  });
});
