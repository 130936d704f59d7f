import { readFileSync } from 'node:fs';
import { describe, it, expect, afterEach } from 'vitest';
import { WebSocket } from 'ws';
import { FakeExchange, parseCapture, splitCombined } from '../src/index.js';
import { synthesize } from '../src/synthesize.js';

const REAL = '/work/shared/fixtures/real/cryptofeed-sample-data';
const SYNTHETIC = new URL('../../../test/fixtures/captures/BINANCE_FUTURES.synthetic.ws.0', import.meta.url)
  .pathname;
const SPOT = [`${REAL}/BINANCE.ws.1.0`, `${REAL}/BINANCE.http.0.0`, `${REAL}/BINANCE.0`];
const USDM = [
  `${REAL}/BINANCE_FUTURES.ws.1.0`,
  `${REAL}/BINANCE_FUTURES.http.0.0`,
  `${REAL}/BINANCE_FUTURES.0`,
];

const open: FakeExchange[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((f) => f.close()));
});

async function start(opts: ConstructorParameters<typeof FakeExchange>[0]) {
  const fake = new FakeExchange(opts);
  open.push(fake);
  return { fake, ...(await fake.listen()) };
}

/** Frames of the given streams as recorded (combined text), in capture order. */
function recorded(file: string, streams: readonly string[]): string[] {
  return parseCapture(readFileSync(file, 'utf8'))
    .filter((r) => r.kind === 'ws-recv')
    .map((r) => (r as { data: string }).data)
    .filter((d) => streams.includes(splitCombined(d)!.stream));
}

function collect(url: string, until: (msgs: string[]) => boolean): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const msgs: string[] = [];
    const ws = new WebSocket(url);
    ws.on('message', (d) => {
      msgs.push(d.toString());
      if (until(msgs)) {
        ws.close();
        resolve(msgs);
      }
    });
    ws.on('error', reject);
  });
}

describe('parseCapture', () => {
  it('reads the real spot capture: one open (duplicate line folded), frames in µs', () => {
    const recs = parseCapture(readFileSync(`${REAL}/BINANCE.ws.1.0`, 'utf8'));
    expect(recs.filter((r) => r.kind === 'ws-open')).toHaveLength(1);
    const frames = recs.filter((r) => r.kind === 'ws-recv');
    expect(frames.length).toBe(265);
    expect(frames[0]!.at).toBe(1633998512063357);
    expect(frames[0]!.url).toMatch(/^wss:\/\/stream\.binance\.com:9443\/stream\?streams=/);
  });

  it('reads REST records and metadata lines', () => {
    const recs = parseCapture(readFileSync(`${REAL}/BINANCE_FUTURES.0`, 'utf8'));
    expect(recs.map((r) => r.kind)).toEqual(['http', 'meta']);
  });

  it('fails loudly on a line it cannot read, naming the line', () => {
    expect(() => parseCapture('wss://x/stream <-> 1.5\n1.6: {}\ngarbage here\n', 'f')).toThrow(
      /f:3: unrecognised line/,
    );
    expect(() => parseCapture('1.6: {}\n', 'g')).toThrow(/g:1: received frame before/);
  });
});

describe('FakeExchange WebSocket', () => {
  it('replays recorded frames of the subscribed streams, in order, wrapped on /stream', async () => {
    const { wsUrl, fake } = await start({ venue: 'binance', captures: SPOT, speed: 'max' });
    const streams = ['nknusdt@depth@100ms', 'lrcbtc@bookTicker'];
    const expected = recorded(SPOT[0]!, streams);
    const got = await collect(
      `${wsUrl}/stream?streams=${streams.join('/')}`,
      (m) => m.length === expected.length,
    );
    expect(got).toEqual(expected);
    await fake.whenFinished();
    expect(fake.stats()).toMatchObject({ framesSent: expected.length, finished: true });
  });

  it('sends raw payloads on /ws/<stream>', async () => {
    const { wsUrl, fake } = await start({ venue: 'binance', captures: SPOT, speed: 'max' });
    const expected = fake.recordedFrames('lrcbtc@depth@100ms');
    const got = await collect(`${wsUrl}/ws/lrcbtc@depth@100ms`, (m) => m.length === expected.length);
    expect(got).toEqual(expected);
    expect(JSON.parse(got[0]!)).toMatchObject({ e: 'depthUpdate', s: 'LRCBTC' });
  });

  it('USD-M: a stream on the wrong path gets nothing; unrouted paths behave as /public', async () => {
    const { wsUrl, fake } = await start({ venue: 'binance-usdm', captures: USDM, speed: 20 });
    const seen: string[] = [];
    const ws = new WebSocket(`${wsUrl}/public/stream?streams=sushiusdt@aggTrade/sushiusdt@depth@100ms`);
    const market: string[] = [];
    const ws2 = new WebSocket(`${wsUrl}/market/stream?streams=sushiusdt@aggTrade/sushiusdt@depth@100ms`);
    ws.on('message', (d) => seen.push(splitCombined(d.toString())!.stream));
    ws2.on('message', (d) => market.push(splitCombined(d.toString())!.stream));
    await fake.whenFinished();
    await new Promise((r) => setTimeout(r, 100));
    ws.close();
    ws2.close();
    expect(new Set(seen)).toEqual(new Set(['sushiusdt@depth@100ms']));
    expect(new Set(market)).toEqual(new Set(['sushiusdt@aggTrade']));
  });

  it('answers SUBSCRIBE / LIST_SUBSCRIPTIONS / UNSUBSCRIBE with {result,id} and rejects bad requests', async () => {
    const { wsUrl } = await start({ venue: 'binance', captures: SPOT, speed: 1 });
    const ws = new WebSocket(`${wsUrl}/ws`);
    const answers: unknown[] = [];
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { id?: unknown };
      if ('id' in m) answers.push(m);
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(
      JSON.stringify({ method: 'SUBSCRIBE', params: ['nknusdt@aggTrade', 'blzeth@depth@100ms'], id: 1 }),
    );
    ws.send(JSON.stringify({ method: 'UNSUBSCRIBE', params: ['blzeth@depth@100ms'], id: 2 }));
    ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: 3 }));
    ws.send(JSON.stringify({ method: 'NOPE', id: 4 }));
    await new Promise<void>((resolve) => {
      const t = setInterval(() => answers.length >= 4 && (clearInterval(t), resolve()), 5);
    });
    ws.close();
    expect(answers).toEqual([
      { result: null, id: 1 },
      { result: null, id: 2 },
      { result: ['nknusdt@aggTrade'], id: 3 },
      { error: { code: 2, msg: 'Invalid request: unknown method NOPE' }, id: 4 },
    ]);
  });

  it('disconnects a client that sends more than the venue allows per second', async () => {
    const { wsUrl } = await start({ venue: 'binance', captures: SPOT });
    const ws = new WebSocket(`${wsUrl}/ws`);
    await new Promise((r) => ws.once('open', r));
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    for (let i = 0; i < 8; i++) ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: i }));
    expect(await closed).toBe(1008);
  });

  it('drops and duplicates the next frames on request', async () => {
    const { wsUrl, fake } = await start({ venue: 'binance', captures: SPOT, speed: 'max' });
    const stream = 'nknusdt@depth@100ms';
    const expected = recorded(SPOT[0]!, [stream]);
    fake.faults.dropNextFrames(2, stream);
    fake.faults.duplicateNextFrames(1);
    const got = await collect(`${wsUrl}/stream?streams=${stream}`, (m) => m.length === expected.length - 1);
    expect(got.slice(0, 2)).toEqual([expected[2], expected[2]]);
    expect(got.slice(2)).toEqual(expected.slice(3));
  });
});

describe('FakeExchange REST', () => {
  it('answers the latest recorded snapshot at or before the venue clock, waiting for it when needed', async () => {
    const { restUrl, fake } = await start({ venue: 'binance', captures: SPOT, speed: 1, startOn: 'listen' });
    const snapAt = 1633998512320639; // NKNUSDT snapshot in BINANCE.http.0.0; the timeline starts at …512.063357
    const res = await fetch(`${restUrl}/api/v3/depth?symbol=NKNUSDT&limit=1000`);
    const position = fake.stats().position!;
    expect(res.status).toBe(200);
    expect(position).toBeGreaterThanOrEqual(snapAt);
    const body = (await res.json()) as { lastUpdateId: number; bids: unknown[] };
    expect(body.lastUpdateId).toBe(499869752);
    const recordedBody = readFileSync(SPOT[1]!, 'utf8').split('\n')[0]!.split(': ').slice(1).join(': ');
    expect(body).toEqual(JSON.parse(recordedBody));
    expect(res.headers.get('x-mbx-used-weight-1m')).toBe('50');
    const small = (await (await fetch(`${restUrl}/api/v3/depth?symbol=NKNUSDT&limit=5`)).json()) as {
      bids: unknown[];
      asks: unknown[];
    };
    expect([small.bids.length, small.asks.length]).toEqual([5, 5]);
  });

  it("depth 'live' answers the venue's book now: the recorded snapshot advanced by every diff reached", async () => {
    const { restUrl, fake } = await start({
      venue: 'binance',
      captures: SPOT,
      speed: 'max',
      startOn: 'listen',
      depth: 'live',
    });
    await fake.whenFinished();
    // Oracle: the recorded snapshot, then every recorded NKNUSDT diff with u > lastUpdateId, in order.
    const recordedBody = readFileSync(SPOT[1]!, 'utf8').split('\n')[0]!.split(': ').slice(1).join(': ');
    const snap = JSON.parse(recordedBody) as { lastUpdateId: number; bids: [string, string][]; asks: [string, string][] };
    const bids = new Map(snap.bids.map((l) => [Number(l[0]), l[1]]));
    const asks = new Map(snap.asks.map((l) => [Number(l[0]), l[1]]));
    let last = snap.lastUpdateId;
    for (const frame of recorded(SPOT[0]!, ['nknusdt@depth@100ms'])) {
      const d = splitCombined(frame)!.data;
      const diff = JSON.parse(d) as { u: number; b: [string, string][]; a: [string, string][] };
      if (diff.u <= last) continue;
      for (const [p, q] of diff.b) Number(q) === 0 ? bids.delete(Number(p)) : bids.set(Number(p), q);
      for (const [p, q] of diff.a) Number(q) === 0 ? asks.delete(Number(p)) : asks.set(Number(p), q);
      last = diff.u;
    }
    expect(last).toBeGreaterThan(snap.lastUpdateId); // the capture moved the book on
    const body = (await (await fetch(`${restUrl}/api/v3/depth?symbol=NKNUSDT&limit=1000`)).json()) as {
      lastUpdateId: number;
      bids: [string, string][];
      asks: [string, string][];
    };
    expect(body.lastUpdateId).toBe(last);
    const sorted = (m: Map<number, string>, desc: boolean) =>
      [...m].sort((x, y) => (desc ? y[0] - x[0] : x[0] - y[0])).map(([p, q]) => [p, Number(q)]);
    expect(body.bids.map(([p, q]) => [Number(p), Number(q)])).toEqual(sorted(bids, true));
    expect(body.asks.map(([p, q]) => [Number(p), Number(q)])).toEqual(sorted(asks, false));
    expect(() => new FakeExchange({ venue: 'binance', captures: SPOT, depth: 'now' as never })).toThrow(
      /depth: expected recorded \| live, got now/,
    );
  });

  it('times out (503) rather than answer from the future; counts weight per source IP', async () => {
    const { restUrl } = await start({
      venue: 'binance-usdm',
      captures: USDM,
      speed: 'max',
      snapshotWaitMs: 100,
    });
    const early = await fetch(`${restUrl}/fapi/v1/depth?symbol=SUSHIUSDT&limit=1000`);
    expect(early.status).toBe(503);
    expect(early.headers.get('x-mbx-used-weight-1m')).toBe('20');
    const bad = await fetch(`${restUrl}/fapi/v1/depth?symbol=NOPEUSDT&limit=100`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ code: -1121, msg: 'Invalid symbol.' });
    expect(bad.headers.get('x-mbx-used-weight-1m')).toBe('25');
    const wrongVenue = await fetch(`${restUrl}/api/v3/depth?symbol=SUSHIUSDT`);
    expect(wrongVenue.status).toBe(404);
  });

  it('serves exchangeInfo from the captures and injects 429/418 with Retry-After via the admin API', async () => {
    const { restUrl, fake } = await start({ venue: 'binance-usdm', captures: USDM });
    const info = (await (await fetch(`${restUrl}/fapi/v1/exchangeInfo`)).json()) as { futuresType: string };
    expect(info.futuresType).toBe('U_MARGINED');
    const post = (body: unknown) =>
      fetch(`${restUrl}/__admin/faults`, { method: 'POST', body: JSON.stringify(body) });
    expect((await post({ fault: 'rateLimitRest', n: 1, retryAfterSec: 7 })).status).toBe(200);
    expect((await post({ fault: 'banRest', n: 1, retryAfterSec: 120 })).status).toBe(200);
    expect((await post({ fault: 'bogus' })).status).toBe(400);
    const r1 = await fetch(`${restUrl}/fapi/v1/exchangeInfo`);
    const r2 = await fetch(`${restUrl}/fapi/v1/exchangeInfo`);
    const r3 = await fetch(`${restUrl}/fapi/v1/exchangeInfo`);
    expect([r1.status, r1.headers.get('retry-after')]).toEqual([429, '7']);
    expect([r2.status, r2.headers.get('retry-after')]).toEqual([418, '120']);
    expect(r3.status).toBe(200);
    const log = (await (await fetch(`${restUrl}/__admin/log`)).json()) as typeof fake.log;
    expect(log.restRequests.map((r) => r.status)).toEqual([200, 429, 418, 200]);
    expect(log.restRequests[0]!.remoteAddress).toBe('127.0.0.1');
    const stats = (await (await fetch(`${restUrl}/__admin/stats`)).json()) as { finished: boolean };
    expect(stats.finished).toBe(false);
  });
});

describe('synthetic markPrice/forceOrder capture', () => {
  it('is what the generator produces from the real capture (deterministic, committed)', () => {
    const text = synthesize(readFileSync(`${REAL}/BINANCE_FUTURES.ws.1.0`, 'utf8'));
    expect(text).toBe(readFileSync(SYNTHETIC, 'utf8'));
    expect(synthesize(readFileSync(`${REAL}/BINANCE_FUTURES.ws.1.0`, 'utf8'))).toBe(text);
  });

  it('has the documented field layout and is only served on /market', async () => {
    const { wsUrl, fake } = await start({ venue: 'binance-usdm', captures: [...USDM, SYNTHETIC], speed: 20 });
    const mp: string[] = [];
    const pub: string[] = [];
    const a = new WebSocket(`${wsUrl}/market/stream?streams=sushiusdt@markPrice@1s/sushiusdt@forceOrder`);
    const b = new WebSocket(`${wsUrl}/public/stream?streams=sushiusdt@markPrice@1s`);
    a.on('message', (d) => mp.push(d.toString()));
    b.on('message', (d) => pub.push(d.toString()));
    await Promise.all([new Promise((r) => a.once('open', r)), new Promise((r) => b.once('open', r))]);
    await fake.whenFinished();
    await new Promise((r) => setTimeout(r, 50));
    a.close();
    b.close();
    expect(pub).toEqual([]);
    const events = mp.map((m) => JSON.parse(m) as { stream: string; data: Record<string, unknown> });
    const marks = events.filter((e) => e.stream === 'sushiusdt@markPrice@1s');
    expect(marks.length).toBeGreaterThanOrEqual(25);
    expect(Object.keys(marks[0]!.data)).toEqual(['e', 'E', 's', 'p', 'P', 'i', 'r', 'T']);
    for (const m of marks) {
      expect(m.data.e).toBe('markPriceUpdate');
      expect((m.data.E as number) % 1000).toBe(0);
      expect((m.data.T as number) % (8 * 3_600_000)).toBe(0);
      expect(Math.abs(Number(m.data.r))).toBeLessThanOrEqual(0.0075);
    }
    const liq = events.filter((e) => e.stream === 'sushiusdt@forceOrder');
    expect(liq).toHaveLength(1);
    expect(Object.keys(liq[0]!.data.o as object)).toEqual([
      's',
      'S',
      'o',
      'f',
      'q',
      'p',
      'ap',
      'X',
      'l',
      'z',
      'T',
    ]);
  });
});
