/**
 * Issue-2 figures, on the real capture frames:
 * 1. decode + normalize frames/s for aggTrade frames vs bare JSON.parse of the same frames (ratio);
 * 2. latency from frame receipt to canonical row through the whole shard pipeline (raw channel →
 *    decode → normalize → row channel → consumer) at a fixed offered rate: p50 / p99;
 * 3. peak RSS of the process.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nowMicros } from '@cryptoflow/core';
import { BadInputReporter, BinanceDecoder, parseCapture } from '@cryptoflow/ingest';
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import type { CanonicalRow } from '@cryptoflow/model';
import { loadCollectorConfig } from '@cryptoflow/config';
import { ShardPipeline, createProcessor } from '@cryptoflow/runtime';
import { createNormalizer } from '../src/index.js';

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
    emit: () => rows++,
    dedupeWindow: 4096,
  });
  const frame = { exchange: 'binance-usdm' as const, connId: 'bench', receivedAt: 0, data: '' };
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
  // Offer in 1 ms ticks at the fixed rate, like a socket delivering frames as they come.
  const perTick = offeredPerSec / 1000;
  let sent = 0;
  let owed = 0;
  const total = Math.min(frames.length, offeredPerSec * seconds);
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      owed = (performance.now() - started) * perTick - sent;
      while (owed >= 1 && sent < total) {
        pipeline.offer({
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
  await pipeline.finish();
  samples.sort((a, b) => a - b);
  const q = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] ?? NaN;
  return {
    'offered rate (frames/s)': offeredPerSec,
    'achieved rate (frames/s)': Math.round(sent / ((performance.now() - started) / 1000)),
    'receipt → canonical row p50 (µs)': q(0.5),
    'receipt → canonical row p99 (µs)': q(0.99),
    'receipt → canonical row max (µs)': samples.at(-1) ?? NaN,
  };
}

export async function run(): Promise<Record<string, number | string>> {
  const { frames, symbols } = aggTradeFrames(200_000);
  const t = throughput(frames, symbols);
  const l = await latency(frames, symbols, 20_000, 3);
  return { ...t, ...l, 'peak RSS (MiB)': Math.round(process.resourceUsage().maxRSS / 1024) };
}

if (import.meta.url === `file://${process.argv[1]}`) console.table(await run());
