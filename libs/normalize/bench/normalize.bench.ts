/**
 * Figures on the real capture frames (test/fixtures/captures):
 * 1. decode + normalize frames/s for aggTrade frames vs bare JSON.parse of the same frames (ratio), and
 *    decode-only frames/s for depth frames vs JSON.parse (the book operator is benched in book.bench.ts);
 * 2. latency from frame receipt to canonical row through the whole shard pipeline (raw channel →
 *    decode → normalize → row channel → consumer) at a fixed offered rate (50k frames/s for 2 s): p50 / p99;
 * 3. KeyedWorkerPool items/s (sync handler, 8 lanes) — the cost of per-key lanes over a plain loop;
 * 4. peak RSS of the process.
 * Run: npx tsx libs/normalize/bench/normalize.bench.ts
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nowMicros } from '@cryptoflow/core';
import { BadInputReporter, BinanceDecoder, parseCapture } from '@cryptoflow/ingest';
import type { RawFrame } from '@cryptoflow/ingest';
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import type { CanonicalRow } from '@cryptoflow/model';
import { loadCollectorConfig } from '@cryptoflow/config';
import { ShardPipeline, createProcessor } from '@cryptoflow/runtime';
import { KeyedWorkerPool, createNormalizer } from '../src/index.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const logger = createLogger({ app: 'bench', level: 'silent' });

/** The real USD-M aggTrade frames, repeated with fresh trade ids (so dedupe does not short-cut) to `n` frames. */
function aggTradeFrames(n: number): { frames: string[]; symbols: Set<string> } {
  const text = readFileSync(join(ROOT, 'test', 'fixtures', 'captures', 'BINANCE_FUTURES.ws.1.0'), 'utf8');
  const real = parseCapture(text)
    .filter((r) => r.kind === 'ws-recv' && r.data.includes('"e":"aggTrade"'))
    .map((r) => (r as { data: string }).data);
  const symbols = new Set(real.map((f) => /"s":"([A-Z]+)"/.exec(f)?.[1] ?? ''));
  const frames: string[] = [];
  for (let i = 0; frames.length < n; i++) {
    const f = real[i % real.length] as string;
    frames.push(
      f.replace(/"a":(\d+)/, (_m, a: string) => `"a":${Number(a) + Math.floor(i / real.length) * 1_000_000}`),
    );
  }
  return { frames, symbols };
}

function throughput(frames: string[], symbols: Set<string>): Record<string, number> {
  let sink = 0;
  for (const f of frames) sink += (JSON.parse(f) as { data: object }).data ? 1 : 0; // warm-up
  sink = 0;
  const t0 = performance.now();
  for (let r = 0; r < 3; r++)
    for (const f of frames) sink += (JSON.parse(f) as { data: object }).data ? 1 : 0;
  const parseS = (performance.now() - t0) / 1000 / 3;

  const registry = new Registry();
  const labels = { exchange: 'binance-usdm', stream: 'ticks', shard: '0' };
  const reporter = new BadInputReporter({ registry, logger, labels });
  const decoder = new BinanceDecoder({
    exchange: 'binance-usdm',
    symbols,
    registry,
    logger,
    labels,
    reporter,
  });
  let rows = 0;
  const normalizer = createNormalizer({
    stream: 'ticks',
    exchange: 'binance-usdm',
    registry,
    labels,
    reporter,
    onRow: () => rows++,
    dedupeWindow: 4096,
  });
  const frame = { exchange: 'binance-usdm' as const, connId: 'bench', receivedAt: 0, data: '' };
  // warm-up on other trade ids so dedupe does not drop the timed passes
  for (let i = 0; i < 20_000; i++) {
    frame.data = (frames[i % frames.length] as string).replace(/"a":(\d+)/, `"a":${1e12 + i}`);
    const m = decoder.decode(frame);
    if (m) normalizer.push(m);
  }
  rows = 0;
  const t1 = performance.now();
  for (let r = 0; r < 3; r++) {
    for (const f of frames) {
      frame.data = f;
      const m = decoder.decode(frame);
      if (m) normalizer.push(m);
    }
  }
  const normS = (performance.now() - t1) / 1000 / 3;
  if (sink === 0 || rows === 0) throw new Error('benchmark produced nothing');
  return {
    'JSON.parse only (frames/s)': Math.round(frames.length / parseS),
    'decode + normalize (frames/s)': Math.round(frames.length / normS),
    'decode + normalize / JSON.parse (ratio)': Number((parseS / normS).toFixed(3)),
    'rows emitted per pass': rows / 3,
  };
}

/** Real depthUpdate frames of both captures, repeated to `n`. */
function depthFrames(n: number): {
  frames: { exchange: 'binance' | 'binance-usdm'; data: string }[];
  symbols: Set<string>;
} {
  const real: { exchange: 'binance' | 'binance-usdm'; data: string }[] = [];
  for (const [file, exchange] of [
    ['BINANCE.ws.1.0', 'binance'],
    ['BINANCE_FUTURES.ws.1.0', 'binance-usdm'],
  ] as const) {
    const text = readFileSync(join(ROOT, 'test', 'fixtures', 'captures', file), 'utf8');
    for (const r of parseCapture(text))
      if (r.kind === 'ws-recv' && r.data.includes('"e":"depthUpdate"')) real.push({ exchange, data: r.data });
  }
  const symbols = new Set(real.map((f) => /"s":"([A-Z]+)"/.exec(f.data)?.[1] ?? ''));
  const frames = [];
  for (let i = 0; frames.length < n; i++) frames.push(real[i % real.length] as (typeof real)[number]);
  return { frames, symbols };
}

function depthDecode(n: number): Record<string, number> {
  const { frames, symbols } = depthFrames(n);
  let sink = 0;
  const t0 = performance.now();
  for (let r = 0; r < 3; r++)
    for (const f of frames) sink += (JSON.parse(f.data) as { data: object }).data ? 1 : 0;
  const parseS = (performance.now() - t0) / 1000 / 3;
  const registry = new Registry();
  const decoders = {
    binance: new BinanceDecoder({
      exchange: 'binance',
      symbols,
      registry,
      logger,
      labels: { exchange: 'binance', stream: 'spot-delta', shard: '0' },
    }),
    'binance-usdm': new BinanceDecoder({
      exchange: 'binance-usdm',
      symbols,
      registry,
      logger,
      labels: { exchange: 'binance-usdm', stream: 'futures-delta', shard: '0' },
    }),
  };
  const frame = {
    exchange: 'binance' as 'binance' | 'binance-usdm',
    connId: 'bench',
    receivedAt: 0,
    data: '',
  };
  let decoded = 0;
  for (const f of frames) {
    frame.exchange = f.exchange;
    frame.data = f.data;
    decoders[f.exchange].decode(frame); // warm-up
  }
  const t1 = performance.now();
  for (let r = 0; r < 3; r++)
    for (const f of frames) {
      frame.exchange = f.exchange;
      frame.data = f.data;
      if (decoders[f.exchange].decode(frame)) decoded++;
    }
  const decS = (performance.now() - t1) / 1000 / 3;
  if (sink === 0 || decoded !== frames.length * 3) throw new Error('depth benchmark decoded the wrong count');
  return {
    'depth: JSON.parse only (frames/s)': Math.round(frames.length / parseS),
    'depth: decode (frames/s)': Math.round(frames.length / decS),
    'depth: decode / JSON.parse (ratio)': Number((parseS / decS).toFixed(3)),
  };
}

async function poolThroughput(n: number): Promise<Record<string, number>> {
  const keys = Array.from({ length: 200 }, (_, i) => `binance|SYM${i}USDT`);
  let handled = 0;
  const pool = new KeyedWorkerPool<string>({
    lanes: 8,
    capacity: 4096,
    key: (k) => k,
    handler: () => void handled++,
  });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const k = keys[i % keys.length] as string;
    if (!pool.offer(k)) await pool.send(k);
  }
  await pool.drain();
  const s = (performance.now() - t0) / 1000;
  if (handled !== n) throw new Error('pool lost items');
  return { 'KeyedWorkerPool 8 lanes, sync handler (items/s)': Math.round(n / s) };
}

/**
 * Offers frames at a fixed rate in 1 ms ticks (like a socket delivering them as they come) to `offer`,
 * and returns the receipt → row latencies recorded by the caller's row sink.
 */
async function offerAtRate(
  frames: string[],
  offeredPerSec: number,
  seconds: number,
  offer: (frame: RawFrame) => void,
): Promise<{ sent: number; seconds: number }> {
  const perTick = offeredPerSec / 1000;
  let sent = 0;
  const total = Math.min(frames.length, offeredPerSec * seconds);
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      let owed = (performance.now() - started) * perTick - sent;
      while (owed >= 1 && sent < total) {
        offer({
          exchange: 'binance-usdm',
          connId: 'bench',
          receivedAt: nowMicros(),
          data: frames[sent] as string,
        });
        sent++;
        owed--;
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  return { sent, seconds: (performance.now() - started) / 1000 };
}

function quantiles(prefix: string, samples: number[]): Record<string, number> {
  samples.sort((a, b) => a - b);
  const q = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] ?? NaN;
  return {
    [`${prefix} p50 (µs)`]: q(0.5),
    [`${prefix} p99 (µs)`]: q(0.99),
    [`${prefix} max (µs)`]: samples.at(-1) ?? NaN,
  };
}

/** decode + normalize called straight from the "socket" callback: the cost of this lib alone. */
async function inlineLatency(
  frames: string[],
  symbols: Set<string>,
  offeredPerSec: number,
  seconds: number,
): Promise<Record<string, number>> {
  const registry = new Registry();
  const labels = { exchange: 'binance-usdm', stream: 'ticks', shard: '0' };
  const decoder = new BinanceDecoder({ exchange: 'binance-usdm', symbols, registry, logger, labels });
  const samples: number[] = [];
  const normalizer = createNormalizer({
    stream: 'ticks',
    exchange: 'binance-usdm',
    registry,
    labels,
    reporter: decoder.reporter,
    onRow: (row) => void samples.push(nowMicros() - row.ingest_ts),
  });
  const { sent, seconds: took } = await offerAtRate(frames, offeredPerSec, seconds, (f) => {
    const m = decoder.decode(f);
    if (m) normalizer.push(m);
  });
  return {
    'inline: achieved rate (frames/s)': Math.round(sent / took),
    ...quantiles('inline: receipt → canonical row', samples),
  };
}

async function latency(
  frames: string[],
  symbols: Set<string>,
  offeredPerSec: number,
  seconds: number,
): Promise<Record<string, number>> {
  const config = loadCollectorConfig({ file: join(ROOT, 'configs', 'local', 'collector-ticks.yaml') });
  const registry = new Registry();
  const samples: number[] = [];
  const pipeline = new ShardPipeline({
    app: 'bench',
    exchange: 'binance-usdm',
    stream: 'ticks',
    shard: 0,
    settings: { ...config.channels.defaults, policy: 'wait' },
    registry,
    logger,
    consumers: [{ write: (row: CanonicalRow) => void samples.push(nowMicros() - row.ingest_ts) }],
    createProcessor: (emit) =>
      createProcessor({
        config,
        exchange: 'binance-usdm',
        shard: 0,
        symbols: [...symbols],
        emit,
        registry,
        logger,
        live: false,
      }),
  });
  pipeline.start();
  const { sent, seconds: took } = await offerAtRate(frames, offeredPerSec, seconds, (f) => pipeline.offer(f));
  await pipeline.finish();
  return {
    'offered rate (frames/s)': offeredPerSec,
    'shard pipeline: achieved rate (frames/s)': Math.round(sent / took),
    ...quantiles('shard pipeline: receipt → canonical row', samples),
  };
}

export async function run(): Promise<Record<string, number | string>> {
  const { frames, symbols } = aggTradeFrames(200_000);
  const t = throughput(frames, symbols);
  const d = depthDecode(100_000);
  const p = await poolThroughput(1_000_000);
  const i = await inlineLatency(frames, symbols, 50_000, 2);
  const l = await latency(frames, symbols, 50_000, 2);
  return {
    ...t,
    ...d,
    ...p,
    ...i,
    ...l,
    'peak RSS (MiB)': Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.table(await run());
