/**
 * Channel throughput: offer+receive items/s per policy (sync drain and async batch consumer), the
 * overflow paths of drop-oldest and sample, and spill write/read throughput (items/s, MB/s on disk).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BoundedChannel, jsonSpillCodec } from '../src/index.js';
import type { BackpressurePolicy } from '../src/index.js';

interface Frame {
  readonly exchange: string;
  readonly connId: string;
  readonly receivedAt: number;
  readonly data: string;
}

const DATA =
  '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1700000000123,"s":"BTCUSDT","a":2400000001,"p":"37000.10","q":"0.012","f":3300000001,"l":3300000001,"T":1700000000122,"m":true,"M":true}}';

function frames(n: number): Frame[] {
  const out: Frame[] = [];
  for (let i = 0; i < n; i++)
    out.push({
      exchange: 'binance',
      connId: 'binance/ticks/s3/c1',
      receivedAt: 1_700_000_000_000_000 + i,
      data: DATA,
    });
  return out;
}

const ITEMS = frames(4096);

/** Producer offers `burst` items, then the consumer drains synchronously: the data structure alone. */
function syncRate(
  policy: BackpressurePolicy,
  total: number,
  capacity: number,
  burst: number,
  spillDir?: string,
): number {
  const ch = new BoundedChannel<Frame>({
    name: `bench-${policy}`,
    capacity,
    policy,
    spillDir,
    codec: jsonSpillCodec<Frame>(),
  });
  let received = 0;
  const started = performance.now();
  for (let sent = 0; sent < total;) {
    for (let i = 0; i < burst; i++, sent++) ch.offer(ITEMS[sent & 4095]!);
    for (let v = ch.tryReceive(); v !== undefined; v = ch.tryReceive()) received++;
  }
  const seconds = (performance.now() - started) / 1000;
  if (received === 0) throw new Error('nothing received');
  return Math.round(total / seconds);
}

/** A producer task offering per event-loop turn and an async consumer on receiveBatch. */
async function asyncRate(policy: BackpressurePolicy, total: number, capacity: number): Promise<number> {
  const ch = new BoundedChannel<Frame>({ name: `bench-async-${policy}`, capacity, policy });
  const started = performance.now();
  const producer = (async () => {
    for (let sent = 0; sent < total;) {
      while (sent < total && ch.offer(ITEMS[sent & 4095]!)) sent++;
      if (sent < total) await ch.writable();
    }
    ch.close();
  })();
  let received = 0;
  const batch: Frame[] = [];
  for (;;) {
    batch.length = 0;
    await ch.receiveBatch(1024, batch);
    if (batch.length === 0) break;
    received += batch.length;
  }
  await producer;
  if (received !== total) throw new Error(`received ${received} of ${total}`);
  return Math.round(total / ((performance.now() - started) / 1000));
}

function spillRate(total: number): Record<string, number> {
  const dir = mkdtempSync(join(tmpdir(), 'cf-bench-spill-'));
  try {
    const ch = new BoundedChannel<Frame>({
      name: 'bench-spill',
      capacity: 1024,
      policy: 'spill',
      spillDir: dir,
      codec: jsonSpillCodec<Frame>(),
    });
    let started = performance.now();
    for (let i = 0; i < total; i++) ch.offer(ITEMS[i & 4095]!);
    ch.close(); // flushes
    const writeSeconds = (performance.now() - started) / 1000;
    const bytes = ch.stats().spillBytes;
    started = performance.now();
    let received = 0;
    for (let v = ch.tryReceive(); v !== undefined; v = ch.tryReceive()) received++;
    const readSeconds = (performance.now() - started) / 1000;
    if (received !== total) throw new Error(`spill returned ${received} of ${total}`);
    return {
      'spill write items/s': Math.round(total / writeSeconds),
      'spill write MB/s': Number((bytes / 1e6 / writeSeconds).toFixed(1)),
      'spill read items/s': Math.round(total / readSeconds),
      'spill read MB/s': Number((bytes / 1e6 / readSeconds).toFixed(1)),
      'spill bytes/item': Math.round(bytes / total),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<Record<string, number | string>> {
  const total = 2_000_000;
  syncRate('wait', 200_000, 4096, 256); // warm-up
  const out: Record<string, number | string> = {
    'wait offer+receive items/s (sync)': syncRate('wait', total, 4096, 256),
    'wait offer+receive items/s (async batch)': await asyncRate('wait', total, 4096),
    'drop-oldest items/s (4x overflow)': syncRate('drop-oldest', total, 1024, 4096),
    'sample items/s (4x overflow, 1 in 10)': syncRate('sample', total, 1024, 4096),
  };
  const dir = mkdtempSync(join(tmpdir(), 'cf-bench-spill-'));
  try {
    out['spill offer+receive items/s (in memory, under capacity)'] = syncRate('spill', total, 4096, 256, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  Object.assign(out, spillRate(300_000));
  out['item'] = `RawFrame with a ${DATA.length}-char aggTrade frame`;
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await run();
  for (const [k, v] of Object.entries(figures))
    console.log(`${k.padEnd(58)} ${typeof v === 'number' ? v.toLocaleString('en-US') : v}`);
}
