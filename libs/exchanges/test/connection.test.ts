import { describe, it, expect, afterEach } from 'vitest';
import { FakeExchange, parseCapture, splitCombined } from '@cryptoflow/fake-exchange';
import { readFileSync } from 'node:fs';
import { Registry } from '@cryptoflow/metrics';
import { BinanceStreamConnection } from '../src/index.js';
import type { BinanceStreamConnectionOptions, RawFrame } from '../src/index.js';
import { SPOT, USDM, logger, metric, until } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function venue(opts: ConstructorParameters<typeof FakeExchange>[0]) {
  const fake = new FakeExchange(opts);
  const urls = await fake.listen();
  cleanups.push(() => fake.close());
  return { fake, ...urls };
}

function connection(
  over: Partial<BinanceStreamConnectionOptions> &
    Pick<BinanceStreamConnectionOptions, 'exchange' | 'wsBaseUrl' | 'streams'>,
) {
  const frames: RawFrame[] = [];
  const events: string[] = [];
  const registry = new Registry();
  const conn = new BinanceStreamConnection({
    onFrame: (f) => {
      frames.push(f);
      return true;
    },
    logger,
    registry,
    labels: { exchange: over.exchange, stream: 'test', shard: '0' },
    connName: `${over.exchange}/test/s0/c1`,
    backoff: { baseMs: 20, maxMs: 200, factor: 2 },
    ...over,
  });
  for (const e of ['open', 'close', 'reconnect', 'rollover'] as const) {
    conn.on(e, (info: unknown) => events.push(`${e}:${JSON.stringify(info)}`));
  }
  cleanups.push(() => conn.stop());
  return { conn, frames, events, registry };
}

function recorded(file: string, streams: readonly string[]): string[] {
  return parseCapture(readFileSync(file, 'utf8'))
    .filter((r) => r.kind === 'ws-recv')
    .map((r) => (r as { data: string }).data)
    .filter((d) => streams.includes(splitCombined(d)!.stream));
}

describe('BinanceStreamConnection', () => {
  it('subscribes and receives the recorded frames in order, stamped on arrival', async () => {
    const { wsUrl } = await venue({ venue: 'binance', captures: SPOT, speed: 'max' });
    const streams = ['nknusdt@depth@100ms', 'nknusdt@bookTicker', 'lrcbtc@depth@100ms'];
    const expected = recorded(SPOT[0]!, streams);
    const before = Date.now() * 1000;
    const { conn, frames, registry } = connection({ exchange: 'binance', wsBaseUrl: wsUrl, streams });
    expect(conn.state).toBe('idle');
    conn.start();
    await until(() => frames.length === expected.length, 'all frames');
    expect(frames.map((f) => f.data)).toEqual(expected);
    expect(new Set(frames.map((f) => f.connId))).toEqual(new Set(['binance/test/s0/c1#1']));
    expect(frames.every((f) => f.exchange === 'binance' && f.receivedAt >= before - 1_000_000)).toBe(true);
    for (let i = 1; i < frames.length; i++)
      expect(frames[i]!.receivedAt).toBeGreaterThanOrEqual(frames[i - 1]!.receivedAt);
    expect(conn.state).toBe('open');
    expect(conn.connectedOnce).toBe(true);
    expect(await metric(registry, 'ws_frames_received_total')).toBe(expected.length);
    expect(await metric(registry, 'ws_bytes_received_total')).toBe(
      expected.reduce((n, s) => n + Buffer.byteLength(s), 0),
    );
    expect(await metric(registry, 'ws_connections', { state: 'open' })).toBe(1);
    await conn.stop();
    expect(conn.state).toBe('closed');
    expect(await metric(registry, 'ws_connections', { state: 'open' })).toBe(0);
  });

  it('USD-M: refuses a stream on the wrong route (the venue would silently never deliver it)', async () => {
    const { wsUrl, fake } = await venue({ venue: 'binance-usdm', captures: USDM, speed: 20 });
    expect(() =>
      connection({
        exchange: 'binance-usdm',
        wsBaseUrl: wsUrl,
        route: 'public',
        streams: ['sushiusdt@aggTrade'],
      }),
    ).toThrow(/\/market path/);
    const { conn, frames } = connection({
      exchange: 'binance-usdm',
      wsBaseUrl: wsUrl,
      route: 'market',
      streams: ['sushiusdt@aggTrade'],
    });
    expect(() => conn.subscribe(['sushiusdt@depth@100ms'])).toThrow(/\/public path/);
    conn.start();
    await fake.whenFinished();
    expect(frames.length).toBeGreaterThan(0);
    expect(fake.log.wsConnections[0]!.path).toBe('/market/stream?streams=sushiusdt@aggTrade');
  });

  it('SUBSCRIBE mid-stream: new stream frames follow, LIST_SUBSCRIPTIONS agrees, UNSUBSCRIBE stops them', async () => {
    const { wsUrl } = await venue({ venue: 'binance-usdm', captures: USDM, speed: 10 });
    const { conn, frames } = connection({
      exchange: 'binance-usdm',
      wsBaseUrl: wsUrl,
      route: 'public',
      streams: ['sushiusdt@depth@100ms'],
    });
    conn.start();
    await until(() => frames.length >= 3, 'first frames');
    conn.subscribe(['ctkusdt@depth@100ms', 'ctkusdt@bookTicker']);
    await until(
      () =>
        frames.some((f) => f.data.includes('"ctkusdt@depth@100ms"')) &&
        frames.some((f) => f.data.includes('"ctkusdt@bookTicker"')),
      'new streams',
    );
    expect(new Set(await conn.listSubscriptions())).toEqual(
      new Set(['sushiusdt@depth@100ms', 'ctkusdt@depth@100ms', 'ctkusdt@bookTicker']),
    );
    conn.unsubscribe(['ctkusdt@bookTicker']);
    expect(await conn.listSubscriptions()).not.toContain('ctkusdt@bookTicker');
    const mark = frames.length;
    await until(() => frames.length >= mark + 20, 'more frames');
    expect(frames.slice(mark + 1).some((f) => f.data.includes('"ctkusdt@bookTicker"'))).toBe(false);
  });

  it('reconnects with backoff after the venue drops it and resubscribes everything (incl. live additions)', async () => {
    const { wsUrl, fake } = await venue({ venue: 'binance-usdm', captures: USDM, speed: 10 });
    const { conn, frames, events, registry } = connection({
      exchange: 'binance-usdm',
      wsBaseUrl: wsUrl,
      route: 'public',
      streams: ['sushiusdt@depth@100ms'],
    });
    conn.start();
    await until(() => frames.length >= 2, 'first frames');
    conn.subscribe(['akrousdt@depth@100ms']);
    await until(() => frames.some((f) => f.data.includes('"akrousdt@')), 'live-added stream');
    fake.faults.dropConnections();
    await until(() => events.some((e) => e.startsWith('reconnect:')), 'reconnect event');
    await until(
      () =>
        frames.some((f) => f.connId.endsWith('#2') && f.data.includes('"akrousdt@')) &&
        frames.some((f) => f.connId.endsWith('#2') && f.data.includes('"sushiusdt@')),
      'both streams on the new socket',
    );
    const reconnect = JSON.parse(
      events.find((e) => e.startsWith('reconnect:'))!.slice('reconnect:'.length),
    ) as { attempt: number; delayMs: number; reason: string };
    expect(reconnect.attempt).toBe(0);
    expect(reconnect.delayMs).toBeLessThan(20);
    expect(['close', 'error']).toContain(reconnect.reason);
    expect(await metric(registry, 'ws_reconnects_total')).toBe(1);
    expect(fake.log.wsConnections).toHaveLength(2);
    expect(new Set(await conn.listSubscriptions())).toEqual(
      new Set(['sushiusdt@depth@100ms', 'akrousdt@depth@100ms']),
    );
    // Frames after the reconnect are the venue's current ones: what was sent meanwhile is gone (downstream detects the gap).
    const firstAfter = frames.findIndex((f) => f.connId.endsWith('#2'));
    expect(frames.slice(firstAfter).every((f) => f.connId.endsWith('#2'))).toBe(true);
  });

  it('backs off exponentially while the venue is unreachable', async () => {
    const { wsUrl, fake } = await venue({ venue: 'binance', captures: SPOT });
    await fake.close();
    const { conn, events } = connection({
      exchange: 'binance',
      wsBaseUrl: wsUrl,
      streams: ['nknusdt@aggTrade'],
      backoff: { baseMs: 1, maxMs: 8, factor: 2 },
    });
    conn.start();
    await until(() => events.filter((e) => e.startsWith('reconnect:')).length >= 5, 'five reconnects');
    const attempts = events
      .filter((e) => e.startsWith('reconnect:'))
      .map((e) => JSON.parse(e.slice(10)) as { attempt: number; delayMs: number; reason: string });
    expect(attempts.slice(0, 5).map((a) => a.attempt)).toEqual([0, 1, 2, 3, 4]);
    expect(attempts.every((a) => a.reason === 'connect-failed' && a.delayMs <= 8)).toBe(true);
    expect(conn.connectedOnce).toBe(false);
  });

  it('stale watchdog: silence longer than staleAfterMs closes and reconnects', async () => {
    const { wsUrl, fake } = await venue({ venue: 'binance-usdm', captures: USDM, speed: 10 });
    const { conn, frames, events, registry } = connection({
      exchange: 'binance-usdm',
      wsBaseUrl: wsUrl,
      route: 'public',
      streams: ['sushiusdt@depth@100ms', 'ctkusdt@depth@100ms'],
      staleAfterMs: 150,
    });
    conn.start();
    await until(() => frames.length >= 2, 'first frames');
    fake.faults.delayFrames(1_000);
    await until(
      () => events.some((e) => e.startsWith('reconnect:') && e.includes('"reason":"stale"')),
      'stale reconnect',
    );
    expect(await metric(registry, 'ws_stale_disconnects_total')).toBeGreaterThanOrEqual(1);
    await until(() => frames.some((f) => !f.connId.endsWith('#1')), 'frames on a new socket');
  });

  it('rollover is make-before-break: the old socket closes only after the new one delivered', async () => {
    const { wsUrl } = await venue({ venue: 'binance-usdm', captures: USDM, speed: 10 });
    const order: string[] = [];
    const { conn, frames, registry } = connection({
      exchange: 'binance-usdm',
      wsBaseUrl: wsUrl,
      route: 'public',
      streams: ['sushiusdt@depth@100ms', 'sushiusdt@bookTicker'],
      maxLifetimeMs: 400,
      onFrame: (f) => {
        frames.push(f);
        if (!order.includes(`data:${f.connId}`)) order.push(`data:${f.connId}`);
        return true;
      },
    });
    conn.on('close', ({ connId }) => order.push(`close:${connId}`));
    conn.on('rollover', ({ from, to }) => order.push(`rollover:${from}->${to}`));
    conn.start();
    await until(() => order.includes('close:binance-usdm/test/s0/c1#1'), 'first rollover');
    const i = (s: string) => order.indexOf(s);
    expect(i('data:binance-usdm/test/s0/c1#2')).toBeGreaterThan(i('data:binance-usdm/test/s0/c1#1'));
    expect(i('rollover:binance-usdm/test/s0/c1#1->binance-usdm/test/s0/c1#2')).toBeGreaterThan(
      i('data:binance-usdm/test/s0/c1#2'),
    );
    expect(i('close:binance-usdm/test/s0/c1#1')).toBeGreaterThan(i('data:binance-usdm/test/s0/c1#2'));
    expect(await metric(registry, 'ws_rollovers_total')).toBeGreaterThanOrEqual(1);
    expect(await metric(registry, 'ws_reconnects_total')).toBe(0);
    expect(conn.state).toBe('open');
  });

  it('pause/resume: a full sink stops reading the socket; resuming delivers everything, in order, nothing lost', async () => {
    const { wsUrl, fake } = await venue({ venue: 'binance-usdm', captures: USDM, speed: 'max' });
    const streams = [
      'sushiusdt@depth@100ms',
      'sushiusdt@bookTicker',
      'ctkusdt@depth@100ms',
      'keepusdt@depth@100ms',
    ];
    const expected = recorded(USDM[0]!, streams);
    let full = true;
    const { conn, frames } = connection({
      exchange: 'binance-usdm',
      wsBaseUrl: wsUrl,
      route: 'public',
      streams,
      onFrame: (f) => {
        frames.push(f);
        return !full;
      },
    });
    conn.start();
    await until(() => frames.length >= 1, 'first frame');
    expect(conn.isPaused).toBe(true);
    await fake.whenFinished(); // the venue wrote everything; it sits in kernel buffers since we stopped reading
    const whilePaused = frames.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(frames.length).toBe(whilePaused);
    expect(frames.length).toBeLessThan(expected.length);
    full = false;
    conn.resume();
    await until(() => frames.length === expected.length, 'all frames after resume');
    expect(frames.map((f) => f.data)).toEqual(expected);
  });
});
