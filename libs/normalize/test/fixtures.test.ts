import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BinanceDecoder, DECODE_ERROR_REASONS } from '@cryptoflow/ingest';
import type { DecodeErrorReason } from '@cryptoflow/ingest';
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import type { CanonicalRow, TradeRow } from '@cryptoflow/model';
import { createNormalizer } from '../src/index.js';
import {
  GOLDEN_EXCHANGES,
  REPO,
  aggTradeFixturePath,
  goldenPath,
  normalizeFixture,
  readFixture,
  toJsonl,
} from './golden.js';

describe('real aggTrade frames', () => {
  for (const exchange of GOLDEN_EXCHANGES) {
    it(`${exchange}: every frame becomes the trade row its fields say, and matches the golden file`, () => {
      const frames = readFixture(aggTradeFixturePath(exchange));
      expect(frames.length).toBeGreaterThan(0);
      const { rows, errors } = normalizeFixture(exchange);
      expect(errors).toBe(0);
      // independent of the mapper: read the venue fields straight from the frame text
      const expected = frames.map((f) => {
        const d = (JSON.parse(f.data) as { data: Record<string, unknown> }).data;
        return [
          d['s'],
          d['a'],
          Number(d['p']),
          Number(d['q']),
          d['m'] ? 'sell' : 'buy',
          (d['T'] as number) * 1000,
        ];
      });
      expect(
        rows.map((r) => {
          const t = r as TradeRow;
          return [t.symbol, t.trade_id, t.price, t.qty, t.side, t.trade_ts];
        }),
      ).toEqual(expected);
      expect(toJsonl(rows)).toBe(readFileSync(goldenPath(exchange), 'utf8'));
    });
  }
});

describe('bad-input fixture (test/fixtures/binance/bad-frames.jsonl)', () => {
  it('counts each bad frame under its reason, logs each reason once, and keeps every good row', async () => {
    const bad = readFixture(join(REPO, 'test', 'fixtures', 'binance', 'bad-frames.jsonl'));
    const good = readFixture(aggTradeFixturePath('binance-usdm'));
    const expectedCounts = Object.fromEntries(DECODE_ERROR_REASONS.map((r) => [r, 0])) as Record<
      DecodeErrorReason,
      number
    >;
    for (const f of bad) expectedCounts[f.why?.split(':')[0] as DecodeErrorReason]++;
    // the fixture covers every reason a frame of a ticks collector can have, except unknown_channel (below)
    expect(
      Object.entries(expectedCounts)
        .filter(([, n]) => n === 0)
        .map(([r]) => r),
    ).toEqual(['unknown_channel']);

    const registry = new Registry();
    const out = new PassThrough();
    const logLines: string[] = [];
    out.on('data', (c: Buffer) => logLines.push(...c.toString().split('\n').filter(Boolean)));
    const logger = createLogger({ app: 't', destination: out });
    const labels = { exchange: 'binance-usdm', stream: 'ticks', shard: '0' };
    const decoder = new BinanceDecoder({
      exchange: 'binance-usdm',
      symbols: new Set(['SUSHIUSDT', 'AKROUSDT', 'KEEPUSDT', 'CTKUSDT']),
      maxFrameBytes: 4096,
      registry,
      logger,
      labels,
    });
    const rows: CanonicalRow[] = [];
    const normalizer = createNormalizer({
      stream: 'ticks',
      exchange: 'binance-usdm',
      registry,
      labels,
      reporter: decoder.reporter,
      onRow: (r) => rows.push(r),
    });
    // bad frames interleaved with the real ones: the pipeline must go on after each
    let g = 0;
    const feed = (data: string) => {
      const msg = decoder.decode({ exchange: 'binance-usdm', connId: 'c', receivedAt: 1, data });
      if (msg) normalizer.push(msg);
    };
    for (const b of bad) {
      feed(b.data);
      feed((good[g++ % good.length] as { data: string }).data);
    }
    while (g < good.length) feed((good[g++] as { data: string }).data);
    // a markPrice event on the ticks collector
    feed(
      '{"e":"markPriceUpdate","E":1626992750000,"s":"SUSHIUSDT","p":"7.6","i":"7.6","P":"7.6","r":"0.0001","T":1626998400000}',
    );
    expectedCounts.unknown_channel = 1;

    expect(decoder.errors).toEqual(expectedCounts);
    expect(rows).toHaveLength(good.length);
    const metric = await registry.getSingleMetricAsString('decode_errors_total');
    for (const [reason, n] of Object.entries(expectedCounts))
      expect(metric).toContain(
        `decode_errors_total{exchange="binance-usdm",stream="ticks",shard="0",reason="${reason}"} ${n}`,
      );
    const warned = logLines.map(
      (l) => JSON.parse(l) as { reason: string; frame: string; level: number | string },
    );
    expect(warned.map((w) => w.reason).sort()).toEqual(
      DECODE_ERROR_REASONS.filter((r) => expectedCounts[r] > 0).sort(),
    );
    expect(warned.every((w) => w.frame.length > 0 && w.frame.length <= 200)).toBe(true);
  });
});

describe('createNormalizer with its own reporter', () => {
  it('takes onRow and a logger, and counts a bad field in decode_errors_total', async () => {
    const registry = new Registry();
    const rows: CanonicalRow[] = [];
    const n = createNormalizer({
      stream: 'funding',
      exchange: 'binance-usdm',
      registry,
      logger: createLogger({ app: 't', level: 'silent' }),
      labels: { exchange: 'binance-usdm', stream: 'funding', shard: '1' },
      onRow: (r) => rows.push(r),
    });
    const msg = (p: unknown) => ({
      exchange: 'binance-usdm' as const,
      symbol: 'BTCUSDT',
      channel: 'markPriceUpdate' as const,
      exchangeTs: 1_000_000,
      ingestTs: 1_000_100,
      seq: 1,
      payload: p as Record<string, unknown>,
    });
    n.push(msg({ p: '100', i: '99.5', P: '', r: '0.0001', T: 1_700_000_000_000 }));
    n.push(msg({ p: 'abc', i: '', P: '', r: '', T: 0 }));
    n.push(msg({ p: '100', i: '', P: '', r: '', T: 2 ** 60 }));
    expect(rows).toEqual([
      {
        table: 'funding',
        exchange: 'binance-usdm',
        symbol: 'BTCUSDT',
        exchange_ts: 1_000_000,
        ingest_ts: 1_000_100,
        mark_price: 100,
        index_price: 99.5,
        est_settle_price: null,
        funding_rate: 0.0001,
        next_funding_ts: 1_700_000_000_000_000,
      },
    ]);
    expect(n.reporter.counts).toMatchObject({ mistyped_field: 1, unsafe_integer: 1 });
    expect(await registry.getSingleMetricAsString('decode_errors_total')).toContain(
      'shard="1",reason="unsafe_integer"} 1',
    );
  });
});
