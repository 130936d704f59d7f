/**
 * Golden replays of the non-book streams: the recorded captures in test/fixtures/captures go through the
 * replayer (the collector pipeline, fed from files) and the canonical rows must equal test/golden/<stream>.jsonl.
 * Regenerate on purpose with `npm run golden:update` and review the diff.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCollectorConfig } from '@cryptoflow/config';
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import type { Stream } from '@cryptoflow/model';
import { replay } from '@cryptoflow/runtime';

export const ROOT = join(import.meta.dirname, '..', '..');
export const CAPTURES = [
  'BINANCE.ws.1.0',
  'BINANCE.http.0.0',
  'BINANCE_FUTURES.ws.1.0',
  'BINANCE_FUTURES.http.0.0',
  'BINANCE_FUTURES.synthetic.ws.0',
].map((f) => join(ROOT, 'test', 'fixtures', 'captures', f));

export const ROW_STREAMS: readonly Stream[] = ['ticks', 'liquidations', 'funding'];

export function goldenPath(stream: Stream): string {
  return join(ROOT, 'test', 'golden', `${stream}.jsonl`);
}

/** Replays the captures for one stream with its local config and returns the canonical rows as JSONL text. */
export async function replayStream(
  stream: Stream,
  extraInputs: readonly string[] = [],
  overrides: readonly string[] = [],
): Promise<{ text: string; decodeErrors: number; registry: Registry }> {
  const config = loadCollectorConfig({ file: join(ROOT, 'configs', 'local', `collector-${stream}.yaml`), argv: overrides });
  const out = join(mkdtempSync(join(tmpdir(), `golden-${stream}-`)), 'rows.jsonl');
  const registry = new Registry();
  const result = await replay({
    config,
    inputs: [...CAPTURES, ...extraInputs],
    emit: 'jsonl',
    out,
    registry,
    logger: createLogger({ app: 'golden', level: 'error' }),
  });
  return { text: readFileSync(out, 'utf8'), decodeErrors: result.decodeErrors, registry };
}

export async function updateStreamGoldens(): Promise<void> {
  for (const stream of ROW_STREAMS) {
    const { text } = await replayStream(stream);
    writeFileSync(goldenPath(stream), text);
    console.log(`wrote ${goldenPath(stream)} (${text.split('\n').filter(Boolean).length} rows)`);
  }
}
