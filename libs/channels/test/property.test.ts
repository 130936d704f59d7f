import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { BoundedChannel, jsonSpillCodec } from '../src/index.js';

type Op =
  | { kind: 'offer'; count: number }
  | { kind: 'send'; count: number }
  | { kind: 'receive' }
  | { kind: 'batch'; max: number }
  | { kind: 'try' }
  | { kind: 'reopen' };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('offer' as const), count: fc.integer({ min: 1, max: 40 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('send' as const), count: fc.integer({ min: 1, max: 10 }) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('receive' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('batch' as const), max: fc.integer({ min: 1, max: 50 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('try' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
);

const root = mkdtempSync(join(tmpdir(), 'cf-prop-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let runs = 0;

describe('received sequence == sent sequence, for any interleaving', () => {
  it("policy 'spill' (small ring, tiny segments, detach + reopen)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 16, max: 400 }),
        fc.array(op, { maxLength: 60 }),
        async (capacity, segmentBytes, ops) => {
          const dir = join(root, `spill-${runs++}`);
          const open = (): BoundedChannel<number> =>
            new BoundedChannel<number>({
              name: 'p',
              capacity,
              policy: 'spill',
              spillDir: dir,
              codec: jsonSpillCodec<number>(),
              spillSegmentBytes: segmentBytes,
              spillWriteBufferBytes: 32,
            });
          let ch = open();
          const sent: number[] = [];
          const received: number[] = [];
          let next = 0;
          for (const o of ops) {
            switch (o.kind) {
              case 'offer':
                for (let i = 0; i < o.count; i++) {
                  expect(ch.offer(next)).toBe(true);
                  sent.push(next++);
                }
                break;
              case 'send':
                for (let i = 0; i < o.count; i++) {
                  await ch.send(next);
                  sent.push(next++);
                }
                break;
              case 'receive':
                if (ch.size > 0) received.push((await ch.receive())!);
                break;
              case 'batch':
                if (ch.size > 0) received.push(...(await ch.receiveBatch(o.max)));
                break;
              case 'try': {
                const v = ch.tryReceive();
                if (v !== undefined) received.push(v);
                break;
              }
              case 'reopen':
                ch.detach();
                ch = open();
                break;
            }
          }
          ch.close();
          for (let v = await ch.receive(); v !== undefined; v = await ch.receive()) received.push(v);
          expect(received).toEqual(sent);
        },
      ),
      { numRuns: 150, interruptAfterTimeLimit: 20_000 },
    );
  });

  it("policy 'wait' (offers that are refused are not sent; blocked sends complete as receivers drain)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(op, { maxLength: 80 }),
        async (capacity, ops) => {
          const ch = new BoundedChannel<number>({ name: 'pw', capacity, policy: 'wait' });
          const sent: number[] = [];
          const received: number[] = [];
          const blocked: Promise<void>[] = [];
          let next = 0;
          for (const o of ops) {
            switch (o.kind) {
              case 'offer':
                for (let i = 0; i < o.count; i++) {
                  // While sends are parked, an offer could overtake them; a producer that uses both keeps
                  // its own order by not offering while a send is pending, as here.
                  if (blocked.length > 0) break;
                  if (ch.offer(next)) sent.push(next++);
                  else expect(ch.size).toBe(capacity);
                }
                break;
              case 'send':
                for (let i = 0; i < o.count; i++) {
                  const v = next++;
                  sent.push(v);
                  // Sequential sends from one producer: each waits for the previous one.
                  const prev = blocked.at(-1) ?? Promise.resolve();
                  blocked.push(prev.then(() => ch.send(v)));
                }
                break;
              case 'receive':
                if (ch.size > 0) received.push((await ch.receive())!);
                break;
              case 'batch':
                if (ch.size > 0) received.push(...(await ch.receiveBatch(o.max)));
                break;
              case 'try': {
                const v = ch.tryReceive();
                if (v !== undefined) received.push(v);
                break;
              }
              case 'reopen':
                // (no reopen without spill) let parked sends make progress, like a producer being scheduled
                await new Promise((r) => setImmediate(r));
                break;
            }
            expect(ch.size).toBeLessThanOrEqual(capacity);
          }
          // Drain until every parked send has gone through, then close.
          const all = Promise.all(blocked).then(() => ch.close());
          if (blocked.length === 0) ch.close();
          for (let v = await ch.receive(); v !== undefined; v = await ch.receive()) received.push(v);
          await all;
          expect(received).toEqual(sent);
        },
      ),
      { numRuns: 200, interruptAfterTimeLimit: 20_000 },
    );
  });
});
