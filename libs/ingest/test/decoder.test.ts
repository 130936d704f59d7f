import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import { BinanceDecoder } from '../src/index.js';
import type { DecodeErrorReason } from '../src/index.js';

function decoder(maxFrameBytes = 1024): {
  d: BinanceDecoder;
  logs: () => Record<string, unknown>[];
  registry: Registry;
} {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString()));
  const registry = new Registry();
  const d = new BinanceDecoder({
    exchange: 'binance',
    symbols: new Set(['BTCUSDT']),
    maxFrameBytes,
    registry,
    logger: createLogger({ app: 't', destination: stream }),
    labels: { exchange: 'binance', stream: 'ticks', shard: '3' },
  });
  return {
    d,
    registry,
    logs: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const frame = (data: string) => ({
  exchange: 'binance' as const,
  connId: 'c',
  receivedAt: 1_700_000_000_000_123,
  data,
});
const trade =
  '{"e":"aggTrade","E":1700000000000,"s":"BTCUSDT","a":1,"p":"1","q":"1","f":1,"l":1,"T":1700000000000,"m":true}';

describe('BinanceDecoder', () => {
  it('decodes combined and raw frames, stamping exchange and receive time in µs', () => {
    const { d } = decoder();
    const m = d.decode(frame(`{"stream":"btcusdt@aggTrade","data":${trade}}`));
    expect(m).toMatchObject({
      exchange: 'binance',
      symbol: 'BTCUSDT',
      channel: 'aggTrade',
      exchangeTs: 1_700_000_000_000_000,
      ingestTs: 1_700_000_000_000_123,
      seq: 1,
    });
    expect(d.decode(frame(trade))?.seq).toBe(2);
    expect(d.decode(frame('{"result":null,"id":1}'))).toBeNull();
    expect(Object.values(d.errors).every((n) => n === 0)).toBe(true);
  });

  it('reads the symbol of a liquidation from its order object', () => {
    const { d } = decoder();
    expect(
      d.decode(frame('{"e":"forceOrder","E":1700000000000,"o":{"s":"BTCUSDT","S":"SELL"}}'))?.symbol,
    ).toBe('BTCUSDT');
  });

  const cases: [DecodeErrorReason, string][] = [
    ['malformed_json', '{"e":"aggTrade",'],
    ['malformed_json', '[1,2]'],
    ['missing_field', '{"E":1,"s":"BTCUSDT"}'],
    ['missing_field', '{"e":"aggTrade","s":"BTCUSDT"}'],
    ['mistyped_field', '{"e":"aggTrade","E":"soon","s":"BTCUSDT"}'],
    ['mistyped_field', '{"e":"aggTrade","E":1,"s":42}'],
    ['unknown_symbol', '{"e":"aggTrade","E":1,"s":"DOGEUSDT"}'],
    ['unknown_channel', '{"e":"outboundAccountPosition","E":1,"s":"BTCUSDT"}'],
    ['oversized', `{"e":"aggTrade","E":1,"s":"BTCUSDT","pad":"${'x'.repeat(2000)}"}`],
    // 400 UTF-16 units but 1200 UTF-8 bytes: the limit is in bytes
    ['oversized', `{"e":"aggTrade","E":1,"s":"BTCUSDT","pad":"${'€'.repeat(400)}"}`],
    ['unsafe_integer', '{"e":"aggTrade","E":9007199254740993,"s":"BTCUSDT"}'],
    ['unsafe_integer', '{"e":"aggTrade","E":90071992547409,"s":"BTCUSDT"}'],
    ['mistyped_field', '{"stream":"btcusdt@aggTrade","data":[1]}'],
    ['missing_field', '{"e":"forceOrder","E":1}'],
    ['mistyped_field', '{"e":"forceOrder","E":1,"o":"x"}'],
  ];
  for (const [reason, text] of cases) {
    it(`counts ${reason}: ${text.slice(0, 40)}`, async () => {
      const { d, registry } = decoder();
      expect(d.decode(frame(text))).toBeNull();
      expect(d.errors[reason]).toBe(1);
      const metric = await registry.getSingleMetricAsString('decode_errors_total');
      expect(metric).toContain(
        `decode_errors_total{exchange="binance",stream="ticks",shard="3",reason="${reason}"} 1`,
      );
      // and the next good frame still decodes
      expect(d.decode(frame(trade))).not.toBeNull();
    });
  }

  it('detects spot bookTicker by its fields (it has no event type) and stamps receive time', () => {
    const { d } = decoder();
    const m = d.decode(
      frame(
        '{"stream":"btcusdt@bookTicker","data":{"u":400900217,"s":"BTCUSDT","b":"25.3","B":"31.2","a":"25.4","A":"40.6"}}',
      ),
    );
    expect(m).toMatchObject({ channel: 'bookTicker', exchangeTs: 1_700_000_000_000_123 });
  });

  it('with reuseMessage false, each frame gets its own message (safe to queue)', () => {
    const stream = new PassThrough();
    const d = new BinanceDecoder({
      exchange: 'binance',
      symbols: new Set(['BTCUSDT']),
      registry: new Registry(),
      logger: createLogger({ app: 't', destination: stream }),
      labels: { exchange: 'binance', stream: 'ticks', shard: '0' },
      reuseMessage: false,
    });
    const a = d.decode(frame(trade));
    const b = d.decode(frame(trade.replace('"a":1', '"a":2')));
    expect(a).not.toBe(b);
    expect([a?.seq, (a?.payload as { a: number }).a, b?.seq]).toEqual([1, 1, 2]);
    // the default reuses one object
    const { d: reusing } = decoder();
    expect(reusing.decode(frame(trade))).toBe(reusing.decode(frame(trade)));
  });

  it('logs each reason once, with the first bytes of the offending frame', () => {
    const { d, logs } = decoder();
    for (let i = 0; i < 5; i++) d.decode(frame('{"e":"aggTrade",'));
    d.decode(frame('{"e":"aggTrade","E":1,"s":"DOGEUSDT"}'));
    const lines = logs();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      reason: 'malformed_json',
      frame: '{"e":"aggTrade",',
      shard: '3',
    });
    expect(d.errors.malformed_json).toBe(5);
  });

  it('never throws on arbitrary input', () => {
    const { d } = decoder();
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify({ stream: 'x', data: v })),
        ),
        (text) => {
          d.decode(frame(text));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('never throws on arbitrary bytes, and counts every rejected frame under exactly one reason', () => {
    const { d } = decoder();
    let decoded = 0;
    let control = 0;
    let total = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b).toString('utf8')),
          // near-valid frames: a real one with a byte flipped, cut, or a field replaced
          fc
            .tuple(fc.nat(trade.length - 1), fc.integer({ min: 0, max: 255 }))
            .map(([i, c]) => trade.slice(0, i) + String.fromCharCode(c) + trade.slice(i + 1)),
          fc.nat(trade.length).map((i) => trade.slice(0, i)),
          fc
            .tuple(fc.constantFrom('e', 'E', 's', 'data', 'stream'), fc.jsonValue())
            .map(([k, v]) => JSON.stringify({ ...JSON.parse(trade), [k]: v })),
        ),
        (text) => {
          total++;
          const m = d.decode(frame(text));
          if (m !== null) decoded++;
          else if (/"result"/.test(text)) control++;
        },
      ),
      { numRuns: 3000 },
    );
    const errors = Object.values(d.errors).reduce((a, b) => a + b, 0);
    // every frame is either decoded, a control answer, or counted as an error — never lost silently
    expect(decoded + errors).toBeGreaterThanOrEqual(total - control);
    expect(decoded + errors).toBeLessThanOrEqual(total);
  });
});
