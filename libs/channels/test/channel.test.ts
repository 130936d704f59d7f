import { describe, expect, it } from 'vitest';
import { isCfError } from '@cryptoflow/core';
import { BoundedChannel } from '../src/index.js';
import type { BackpressurePolicy } from '../src/index.js';

function drain<T>(ch: BoundedChannel<T>): T[] {
  const out: T[] = [];
  for (let v = ch.tryReceive(); v !== undefined; v = ch.tryReceive()) out.push(v);
  return out;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('BoundedChannel: FIFO under every in-memory policy', () => {
  for (const policy of ['wait', 'drop-oldest', 'sample'] as BackpressurePolicy[]) {
    it(`${policy}: keeps order across ring wrap-around`, async () => {
      const ch = new BoundedChannel<number>({ name: `fifo-${policy}`, capacity: 7, policy });
      const got: number[] = [];
      let next = 0;
      for (let round = 0; round < 50; round++) {
        for (let i = 0; i < 5; i++) expect(ch.offer(next++)).toBe(true);
        got.push((await ch.receive())!, (await ch.receive())!);
        got.push(...(await ch.receiveBatch(3)));
      }
      expect(got).toEqual(range(0, next));
      expect(ch.size).toBe(0);
      const s = ch.stats();
      expect(s.enqueued).toBe(250);
      expect(s.dequeued).toBe(250);
      expect(s.dropped + s.sampledOut + s.refused).toBe(0);
    });
  }
});

describe("policy 'wait'", () => {
  it('refuses offers when full and counts them', () => {
    const ch = new BoundedChannel<number>({ name: 'w', capacity: 3, policy: 'wait' });
    expect([ch.offer(1), ch.offer(2), ch.offer(3), ch.offer(4)]).toEqual([true, true, true, false]);
    expect(ch.stats().refused).toBe(1);
    expect(drain(ch)).toEqual([1, 2, 3]);
  });

  it('blocks senders while full and resumes them in order as room appears', async () => {
    const ch = new BoundedChannel<number>({ name: 'w2', capacity: 2, policy: 'wait' });
    await ch.send(1);
    await ch.send(2);
    const resolved: number[] = [];
    const pending = [3, 4, 5].map((v) => ch.send(v).then(() => resolved.push(v)));
    await Promise.resolve();
    await Promise.resolve();
    expect(resolved).toEqual([]); // nothing fits
    expect(ch.size).toBe(2);
    const got: number[] = [];
    while (got.length < 5) got.push((await ch.receive())!);
    await Promise.all(pending);
    expect(got).toEqual([1, 2, 3, 4, 5]);
    expect(resolved.sort()).toEqual([3, 4, 5]);
  });

  it('writable() resolves when room appears', async () => {
    const ch = new BoundedChannel<number>({ name: 'w3', capacity: 1, policy: 'wait' });
    ch.offer(1);
    let ready = false;
    const w = ch.writable().then(() => (ready = true));
    await Promise.resolve();
    expect(ready).toBe(false);
    expect(ch.tryReceive()).toBe(1);
    await w;
    expect(ready).toBe(true);
    expect(ch.offer(2)).toBe(true);
  });

  it('a writable() waiter that does not send leaves no other sender stranded', async () => {
    const ch = new BoundedChannel<number>({ name: 'w5', capacity: 1, policy: 'wait' });
    ch.offer(1);
    let watcherWoke = false;
    let sent = false;
    void ch.writable().then(() => (watcherWoke = true)); // e.g. a socket resume hook that sends nothing itself
    const sending = ch.send(2).then(() => (sent = true));
    expect(await ch.receive()).toBe(1);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(watcherWoke).toBe(true);
    expect(sent).toBe(true);
    await sending;
    expect(ch.tryReceive()).toBe(2);
  });

  it('a blocked producer loop and a slow consumer move every item in order', async () => {
    const ch = new BoundedChannel<number>({ name: 'w4', capacity: 16, policy: 'wait' });
    const n = 20_000;
    const producer = (async () => {
      for (let i = 0; i < n; i++) {
        if (!ch.offer(i)) {
          await ch.writable();
          i--;
        }
      }
      ch.close();
    })();
    const got: number[] = [];
    for (;;) {
      const batch = await ch.receiveBatch(5);
      if (batch.length === 0) break;
      got.push(...batch);
    }
    await producer;
    expect(got).toEqual(range(0, n));
  });
});

describe("policy 'drop-oldest'", () => {
  it('keeps the newest items and counts the drops', async () => {
    const ch = new BoundedChannel<number>({ name: 'd', capacity: 4, policy: 'drop-oldest' });
    for (let i = 0; i < 10; i++) expect(ch.offer(i)).toBe(true);
    const s = ch.stats();
    expect(s.dropped).toBe(6);
    expect(s.enqueued).toBe(10);
    expect(await ch.receiveBatch(100)).toEqual([6, 7, 8, 9]);
  });
});

describe("policy 'sample'", () => {
  it('keeps 1 in N new items while full; each kept item evicts the oldest', () => {
    const ch = new BoundedChannel<number>({ name: 's', capacity: 4, policy: 'sample', sampleEvery: 3 });
    for (let i = 1; i <= 13; i++) expect(ch.offer(i)).toBe(true);
    // 1..4 fill it; of 5..13 every 3rd (7, 10, 13) is kept, the other 6 are sampled out.
    const s = ch.stats();
    expect(s.sampledOut).toBe(6);
    expect(s.dropped).toBe(3);
    expect(drain(ch)).toEqual([4, 7, 10, 13]);
  });

  it('restarts the 1-in-N count once there is room again', () => {
    const ch = new BoundedChannel<number>({ name: 's2', capacity: 2, policy: 'sample', sampleEvery: 2 });
    ch.offer(1);
    ch.offer(2);
    ch.offer(3); // skipped (1st while full)
    expect(ch.tryReceive()).toBe(1);
    ch.offer(4); // room: taken, count reset
    ch.offer(5); // skipped
    ch.offer(6); // kept, evicts 2
    expect(drain(ch)).toEqual([4, 6]);
    expect(ch.stats()).toMatchObject({ sampledOut: 2, dropped: 1 });
  });
});

describe('close semantics', () => {
  it('offer after close throws CF_CHANNEL_CLOSED; receivers drain, then get undefined', async () => {
    const ch = new BoundedChannel<string>({
      name: 'c',
      capacity: 4,
      policy: 'wait',
      labels: { exchange: 'binance' },
    });
    ch.offer('a');
    ch.offer('b');
    ch.close();
    expect(ch.closed).toBe(true);
    let err: unknown;
    try {
      ch.offer('c');
    } catch (e) {
      err = e;
    }
    expect(isCfError(err, 'CF_CHANNEL_CLOSED')).toBe(true);
    expect((err as { context: Record<string, unknown> }).context).toMatchObject({
      channel: 'c',
      exchange: 'binance',
    });
    expect(isCfError(await rejection(ch.send('d')), 'CF_CHANNEL_CLOSED')).toBe(true);
    expect(await ch.receive()).toBe('a');
    expect(await ch.receiveBatch(10)).toEqual(['b']);
    expect(await ch.receive()).toBeUndefined();
    expect(await ch.receiveBatch(10)).toEqual([]);
    expect(ch.tryReceive()).toBeUndefined();
  });

  it('wakes parked receivers with undefined and rejects parked senders', async () => {
    const ch = new BoundedChannel<number>({ name: 'c2', capacity: 1, policy: 'wait' });
    const r1 = ch.receive();
    const r2 = ch.receiveBatch(4);
    ch.close();
    expect(await r1).toBeUndefined();
    expect(await r2).toEqual([]);

    const ch2 = new BoundedChannel<number>({ name: 'c3', capacity: 1, policy: 'wait' });
    ch2.offer(1);
    const blocked = ch2.send(2);
    ch2.close();
    expect(isCfError(await rejection(blocked), 'CF_CHANNEL_CLOSED')).toBe(true);
    expect(await ch2.receive()).toBe(1);
    expect(await ch2.receive()).toBeUndefined();
  });

  it('async iteration ends after close and drain', async () => {
    const ch = new BoundedChannel<number>({ name: 'c4', capacity: 8, policy: 'wait' });
    const got: number[] = [];
    const consumer = (async () => {
      for await (const v of ch) got.push(v);
    })();
    for (let i = 0; i < 20; i++) await ch.send(i);
    ch.close();
    await consumer;
    expect(got).toEqual(range(0, 20));
  });

  it('a parked receiver gets the next item', async () => {
    const ch = new BoundedChannel<number>({ name: 'c5', capacity: 2, policy: 'drop-oldest' });
    const r = ch.receive();
    ch.offer(42);
    expect(await r).toBe(42);
  });
});

describe('validation and stats', () => {
  it('rejects bad options, naming the key', () => {
    const bad = [
      [{ capacity: 0, policy: 'wait' }, /capacity: expected a positive integer, got 0/],
      [{ capacity: 1.5, policy: 'wait' }, /capacity/],
      [{ capacity: 4, policy: 'nope' }, /policy/],
      [{ capacity: 4, policy: 'sample', sampleEvery: 0 }, /sampleEvery/],
      [{ capacity: 4, policy: 'wait', warnOccupancy: 1.5 }, /warnOccupancy/],
      [{ capacity: 4, policy: 'spill' }, /spillDir/],
      [{ capacity: 4, policy: 'spill', spillDir: '/tmp/x' }, /codec/],
    ] as const;
    for (const [opts, msg] of bad) {
      let err: unknown;
      try {
        new BoundedChannel<number>({
          name: 'v',
          ...(opts as unknown as { capacity: number; policy: BackpressurePolicy }),
        });
      } catch (e) {
        err = e;
      }
      expect(isCfError(err, 'CF_CONFIG_INVALID'), String(err)).toBe(true);
      expect((err as Error).message).toMatch(msg);
      expect((err as Error).message).toContain('channel v');
    }
  });

  it('tracks depth, high water per window and the accounting invariant', () => {
    const ch = new BoundedChannel<number>({ name: 'st', capacity: 10, policy: 'drop-oldest' });
    for (let i = 0; i < 8; i++) ch.offer(i);
    for (let i = 0; i < 5; i++) ch.tryReceive();
    let s = ch.stats({ resetWindow: true });
    expect(s).toMatchObject({ depth: 3, capacity: 10, occupancy: 0.3, highWater: 8 });
    s = ch.stats();
    expect(s.highWater).toBe(3); // new window starts at the current depth
    for (let i = 0; i < 30; i++) ch.offer(i);
    s = ch.stats();
    expect(s.highWater).toBe(10);
    expect(s.enqueued).toBe(s.dequeued + s.dropped + s.depth);
  });

  it('measures enqueue delay on 1 in delaySampleEvery items', () => {
    const ch = new BoundedChannel<number>({ name: 'dl', capacity: 100, policy: 'wait', delaySampleEvery: 4 });
    for (let i = 0; i < 40; i++) ch.offer(i);
    drain(ch);
    const s = ch.stats({ resetWindow: true });
    expect(s.enqueueDelaySamples.length).toBe(10);
    for (const d of s.enqueueDelaySamples) expect(d).toBeGreaterThanOrEqual(0);
    expect(ch.stats().enqueueDelaySamples.length).toBe(0);
  });
});
