import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  appendFileSync,
  writeFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isCfError } from '@cryptoflow/core';
import { BoundedChannel, jsonSpillCodec } from '../src/index.js';
import type { ChannelOptions, SpillCodec } from '../src/index.js';

interface Item {
  n: number;
  s: string;
}

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cf-spill-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function spillChannel(dir: string, extra: Partial<ChannelOptions<Item>> = {}): BoundedChannel<Item> {
  return new BoundedChannel<Item>({
    name: 'binance/ticks/raw',
    capacity: 1000,
    policy: 'spill',
    spillDir: dir,
    codec: jsonSpillCodec<Item>(),
    ...extra,
  });
}

const item = (n: number): Item => ({ n, s: `x${n}` });

async function receiveAll(ch: BoundedChannel<Item>, limit = Infinity): Promise<number[]> {
  const out: number[] = [];
  while (out.length < limit) {
    const batch = await ch.receiveBatch(Math.min(4096, limit - out.length));
    if (batch.length === 0) break;
    for (const it of batch) out.push(it.n);
  }
  return out;
}

function expectSequence(got: number[], from: number, to: number): void {
  expect(got.length).toBe(to - from);
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== from + i) throw new Error(`position ${i}: expected ${from + i}, got ${got[i]}`);
  }
}

describe("policy 'spill'", () => {
  it('200k items through a 1k ring come back complete and in order, across segment rotations', async () => {
    const dir = tempDir();
    const ch = spillChannel(dir, { spillSegmentBytes: 512 * 1024 });
    let refused = 0;
    for (let n = 0; n < 200_000; n++) if (!ch.offer(item(n))) refused++;
    expect(refused).toBe(0);
    const s = ch.stats();
    expect(s.depth).toBe(1000);
    expect(s.spilled).toBe(199_000);
    expect(s.spillBacklog).toBe(199_000);
    expect(ch.size).toBe(200_000);
    // Readers interleaved with writers: new offers keep going to disk behind the backlog.
    const first = await receiveAll(ch, 50_000);
    for (let n = 200_000; n < 210_000; n++) ch.offer(item(n));
    ch.close();
    const rest = await receiveAll(ch);
    expectSequence([...first, ...rest], 0, 210_000);
    const end = ch.stats();
    expect(end.spillBacklog).toBe(0);
    expect(end.spillBytes).toBeGreaterThan(4 * 512 * 1024); // it did rotate
    expect(existsSync(ch.spillPath!)).toBe(false); // closed and drained: directory removed
  });

  it('goes back to memory once the backlog is drained, and the segment files are deleted', async () => {
    const dir = tempDir();
    const ch = spillChannel(dir, { capacity: 10 });
    for (let n = 0; n < 25; n++) ch.offer(item(n));
    expect(ch.stats().spillBacklog).toBe(15);
    expectSequence(await receiveAll(ch, 25), 0, 25);
    expect(ch.stats().spillBacklog).toBe(0);
    expect(readdirSync(ch.spillPath!).filter((f) => f.startsWith('seg-'))).toEqual([]);
    ch.offer(item(25));
    expect(ch.stats().spilled).toBe(15); // room again: memory
    expect((await ch.receive())?.n).toBe(25);
  });

  it('detach() hands everything (memory ring included) to the next channel on the same directory', async () => {
    const dir = tempDir();
    const a = spillChannel(dir, { spillSegmentBytes: 256 * 1024 });
    for (let n = 0; n < 200_000; n++) a.offer(item(n));
    const firstPart = await receiveAll(a, 60_500); // reader is mid-segment, ring partly drained
    a.detach();
    expect(a.closed).toBe(true);
    expect(await a.receive()).toBeUndefined();

    const b = spillChannel(dir, { spillSegmentBytes: 256 * 1024 });
    expect(b.stats().spillRecovered).toBe(200_000 - 60_500);
    // New items queue behind the recovered ones.
    for (let n = 200_000; n < 201_000; n++) b.offer(item(n));
    const secondPart = await receiveAll(b, 100_000);
    b.detach();

    const c = spillChannel(dir);
    c.close();
    const rest = await receiveAll(c);
    expectSequence([...firstPart, ...secondPart, ...rest], 0, 201_000);
  });

  it('survives a crash: a new process reads the spilled items first, in order', async () => {
    const dir = tempDir();
    const child = join(import.meta.dirname, 'fixtures', 'spill-crash-child.ts');
    execFileSync(process.execPath, ['--import', 'tsx', child, dir, '200000', '1000', String(1024 * 1024)], {
      stdio: 'pipe',
    });
    const segDir = join(dir, encodeURIComponent('binance/ticks/raw'));
    expect(readFileSync(join(segDir, 'lock'), 'latin1').trim()).toMatch(/^\d+$/); // the dead process's lock
    const ch = spillChannel(dir);
    // The 1000 items that were in the dead process's memory ring are gone, like any in-memory state;
    // everything it spilled comes back, in order.
    expect(ch.stats().spillRecovered).toBe(199_000);
    ch.offer(item(200_000));
    ch.close();
    expectSequence(await receiveAll(ch), 1000, 200_001);
  });

  it('a reopened channel resumes after what the last one already read (cursor)', async () => {
    const dir = tempDir();
    const child = join(import.meta.dirname, 'fixtures', 'spill-crash-child.ts');
    execFileSync(process.execPath, ['--import', 'tsx', child, dir, '5000', '100', '4096'], { stdio: 'pipe' });
    const a = spillChannel(dir, { capacity: 100 });
    const got = await receiveAll(a, 1234);
    // Crash again: release nothing, just forget the channel and take the lock over by hand.
    writeFileSync(join(a.spillPath!, 'lock'), '999999999\n');
    const b = spillChannel(dir, { capacity: 100 });
    b.close();
    const rest = await receiveAll(b);
    // a's ring held up to 100 read-but-unreceived items when it "crashed": they are lost, nothing else.
    const lost = 5000 - 100 - got.length - rest.length;
    expect(lost).toBeGreaterThanOrEqual(0);
    expect(lost).toBeLessThanOrEqual(100);
    expectSequence(got, 100, 100 + got.length);
    expectSequence(rest, 100 + got.length + lost, 5000);
  });

  it('skips a torn last line left by a crash mid-write, and counts it', async () => {
    const dir = tempDir();
    const a = spillChannel(dir, { capacity: 2 });
    for (let n = 0; n < 10; n++) a.offer(item(n));
    a.detach();
    const segDir = join(dir, encodeURIComponent('binance/ticks/raw'));
    const seg = readdirSync(segDir).find((f) => f.startsWith('seg-'))!;
    appendFileSync(join(segDir, seg), '\t{"n":10,"s":"x1'); // no newline: the write was cut
    const b = spillChannel(dir, { capacity: 2 });
    expect(b.stats().spillRecovered).toBe(10);
    b.offer(item(11));
    b.close();
    expect(await receiveAll(b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11]);
    expect(b.stats().spillTornTails).toBe(1);
  });

  it('refuses a directory held by a live process', () => {
    const dir = tempDir();
    const a = spillChannel(dir);
    let err: unknown;
    try {
      spillChannel(dir);
    } catch (e) {
      err = e;
    }
    expect(isCfError(err, 'CF_SPILL_IO')).toBe(true);
    expect((err as Error).message).toMatch(/in use by pid \d+ \(this process\)/);
    a.close();
  });

  it('a channel that fails to open does not leave its directory locked', () => {
    const dir = tempDir();
    const segDir = join(dir, encodeURIComponent('binance/ticks/raw'));
    const bogus = join(segDir, 'seg-0000000001000000.jsonl');
    mkdirSync(bogus, { recursive: true }); // a "segment" that cannot be read
    let err: unknown;
    try {
      spillChannel(dir);
    } catch (e) {
      err = e;
    }
    expect(isCfError(err, 'CF_SPILL_IO')).toBe(true);
    expect((err as { context: Record<string, unknown> }).context).toMatchObject({
      op: 'read',
      errno: 'EISDIR',
    });
    rmSync(bogus, { recursive: true });
    const ch = spillChannel(dir); // not "in use by this process"
    ch.close();
  });

  it('reports I/O failures as CF_SPILL_IO with context', () => {
    const dir = tempDir();
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    let err: unknown;
    try {
      spillChannel(file);
    } catch (e) {
      err = e;
    }
    expect(isCfError(err, 'CF_SPILL_IO')).toBe(true);
    expect((err as { context: Record<string, unknown> }).context).toMatchObject({
      channel: 'binance/ticks/raw',
      op: 'mkdir',
    });
  });

  it('a line that does not decode is reported once and skipped; the rest still arrives', async () => {
    const dir = tempDir();
    const codec: SpillCodec<Item> = {
      encode: (it) => JSON.stringify(it),
      decode: (line) => {
        const v = JSON.parse(line) as Item;
        if (v.n === 3) throw new Error('poisoned');
        return v;
      },
    };
    const ch = spillChannel(dir, { capacity: 2, codec });
    for (let n = 0; n < 6; n++) ch.offer(item(n));
    ch.close();
    const got: number[] = [];
    let errors = 0;
    for (;;) {
      try {
        const v = await ch.receive();
        if (v === undefined) break;
        got.push(v.n);
      } catch (e) {
        expect(isCfError(e, 'CF_SPILL_IO')).toBe(true);
        expect(String((e as { context: { preview: string } }).context.preview)).toContain('"n":3');
        errors++;
      }
    }
    expect(got).toEqual([0, 1, 2, 4, 5]);
    expect(errors).toBe(1);
    expect(ch.stats().spillCorrupt).toBe(1);
  });

  it('refuses a codec that emits raw newlines', () => {
    const dir = tempDir();
    const ch = spillChannel(dir, { capacity: 1, codec: { encode: () => 'a\nb', decode: () => item(0) } });
    ch.offer(item(0));
    expect(() => ch.offer(item(1))).toThrow(/raw newline/);
    ch.close();
  });
});
