/**
 * Lib-level golden rows: the real aggTrade frames of test/fixtures/<exchange>/aggTrade.jsonl through
 * decoder + normalizer must give exactly libs/normalize/test/golden/aggTrade.<exchange>.jsonl.
 * Regenerate on purpose (and review the diff): npm run golden:update -w @cryptoflow/normalize
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BinanceDecoder } from '@cryptoflow/ingest';
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import type { CanonicalRow, Exchange } from '@cryptoflow/model';
import { createNormalizer } from '../src/index.js';

export const REPO = join(import.meta.dirname, '..', '..', '..');
export const GOLDEN_EXCHANGES: readonly Exchange[] = ['binance', 'binance-usdm'];

export interface FixtureFrame {
  readonly receivedAt: number;
  readonly exchange?: string;
  readonly data: string;
  readonly why?: string;
}

export function readFixture(path: string): FixtureFrame[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as FixtureFrame);
}

export function aggTradeFixturePath(exchange: Exchange): string {
  return join(REPO, 'test', 'fixtures', exchange, 'aggTrade.jsonl');
}

export function goldenPath(exchange: Exchange): string {
  return join(import.meta.dirname, 'golden', `aggTrade.${exchange}.jsonl`);
}

/** Symbols as the venue spells them, read from the frames themselves. */
export function symbolsOf(frames: readonly FixtureFrame[]): Set<string> {
  return new Set(frames.map((f) => /"s":"([^"]+)"/.exec(f.data)?.[1] ?? ''));
}

export function normalizeFixture(exchange: Exchange): { rows: CanonicalRow[]; errors: number } {
  const frames = readFixture(aggTradeFixturePath(exchange));
  const registry = new Registry();
  const logger = createLogger({ app: 'golden', level: 'silent' });
  const labels = { exchange, stream: 'ticks', shard: '0' };
  const decoder = new BinanceDecoder({ exchange, symbols: symbolsOf(frames), registry, logger, labels });
  const rows: CanonicalRow[] = [];
  const normalizer = createNormalizer({
    stream: 'ticks',
    exchange,
    registry,
    labels,
    reporter: decoder.reporter,
    onRow: (r) => rows.push(r),
  });
  for (const f of frames) {
    const msg = decoder.decode({ exchange, connId: 'golden', receivedAt: f.receivedAt, data: f.data });
    if (msg) normalizer.push(msg);
  }
  normalizer.flush();
  return { rows, errors: decoder.reporter.total };
}

export function toJsonl(rows: readonly CanonicalRow[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

if (import.meta.url === `file://${process.argv[1]}` && process.argv.includes('--update')) {
  for (const exchange of GOLDEN_EXCHANGES) {
    const { rows } = normalizeFixture(exchange);
    writeFileSync(goldenPath(exchange), toJsonl(rows));
    console.log(`${goldenPath(exchange)}: ${rows.length} rows`);
  }
}
