import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, ROW_STREAMS, goldenPath, replayStream } from './streams.js';

describe('golden replays: trades, liquidations, funding', () => {
  for (const stream of ROW_STREAMS) {
    it(`${stream}: the replayed canonical rows equal test/golden/${stream}.jsonl`, async () => {
      const { text, decodeErrors } = await replayStream(stream);
      const expected = readFileSync(goldenPath(stream), 'utf8');
      expect(decodeErrors).toBe(0);
      expect(text.split('\n').length).toBe(expected.split('\n').length);
      expect(text).toBe(expected);
    });
  }

  it('keeps per-symbol order: trade ids strictly increase within each symbol', () => {
    const rows = readFileSync(goldenPath('ticks'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { exchange: string; symbol: string; trade_id: number });
    const last = new Map<string, number>();
    for (const r of rows) {
      const k = `${r.exchange}|${r.symbol}`;
      expect(r.trade_id).toBeGreaterThan(last.get(k) ?? -1);
      last.set(k, r.trade_id);
    }
    expect(rows.length).toBeGreaterThan(50);
  });

  it('bad input is counted by reason and the replay continues with every good row', async () => {
    const { text, registry } = await replayStream('ticks', [join(ROOT, 'test', 'fixtures', 'binance', 'bad-frames.jsonl')], [
      '--exchanges.binance-usdm.max_frame_bytes=4096',
    ]);
    expect(text).toBe(readFileSync(goldenPath('ticks'), 'utf8'));
    const metric = await registry.getSingleMetric('decode_errors_total')?.get();
    const byReason: Record<string, number> = {};
    for (const v of metric?.values ?? []) byReason[String(v.labels['reason'])] = (byReason[String(v.labels['reason'])] ?? 0) + v.value;
    expect(byReason).toMatchObject({ malformed_json: 2, missing_field: 2, mistyped_field: 3, unknown_symbol: 1, oversized: 1, unsafe_integer: 1 });
  });
});
