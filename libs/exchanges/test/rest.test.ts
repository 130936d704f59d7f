import { describe, it, expect, afterEach } from 'vitest';
import { Agent } from 'undici';
import { FakeExchange } from '@cryptoflow/fake-exchange';
import { isCfError } from '@cryptoflow/core';
import type { CfError } from '@cryptoflow/core';
import { Registry } from '@cryptoflow/metrics';
import { BinanceStreamConnection, DepthSnapshotClient } from '../src/index.js';
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

const labels = { exchange: 'binance-usdm', stream: 'futures-delta', shard: '3' };

async function caught(p: Promise<unknown>): Promise<CfError> {
  try {
    await p;
  } catch (err) {
    if (isCfError(err)) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('DepthSnapshotClient', () => {
  it('fetches a USD-M snapshot with E, and exposes the used weight', async () => {
    const { restUrl } = await venue({
      venue: 'binance-usdm',
      captures: USDM,
      speed: 'max',
      startOn: 'listen',
    });
    const registry = new Registry();
    const client = new DepthSnapshotClient({
      exchange: 'binance-usdm',
      restBaseUrl: restUrl,
      logger,
      registry,
      labels,
    });
    const snap = await client.fetchDepth('SUSHIUSDT', 1000);
    expect(snap.lastUpdateId).toBe(600859605926);
    expect(snap.eventTime).toBe(1626992741264);
    expect(snap.bids[0]).toEqual(['7.6110', '6']);
    expect(snap.usedWeight).toBe(20);
    expect(client.usedWeight).toBe(20);
    expect(await metric(registry, 'rest_used_weight')).toBe(20);
    expect(await metric(registry, 'rest_requests_total', { endpoint: 'depth', status: '200' })).toBe(1);
    const info = (await client.fetchExchangeInfo()) as { symbols: unknown[] };
    expect(info.symbols.length).toBeGreaterThan(0);
  });

  it('429 and 418 become retriable CfErrors carrying retryAfterMs and usedWeight', async () => {
    const { restUrl, fake } = await venue({
      venue: 'binance',
      captures: SPOT,
      speed: 'max',
      startOn: 'listen',
    });
    const registry = new Registry();
    const client = new DepthSnapshotClient({
      exchange: 'binance',
      restBaseUrl: restUrl,
      logger,
      registry,
      labels: { ...labels, exchange: 'binance' },
    });
    await fake.whenFinished();
    fake.faults.rateLimitRest(1, 3);
    fake.faults.banRest(1, 120);
    const limited = await caught(client.fetchDepth('NKNUSDT', 1000));
    expect(limited.code).toBe('CF_RATE_LIMITED');
    expect(limited.retriable).toBe(true);
    expect(limited.context).toMatchObject({ retryAfterMs: 3000, usedWeight: 50, symbol: 'NKNUSDT' });
    const banned = await caught(client.fetchDepth('NKNUSDT', 1000));
    expect(banned.code).toBe('CF_IP_BANNED');
    expect(banned.retriable).toBe(true);
    expect(banned.context).toMatchObject({ retryAfterMs: 120_000 });
    expect((await client.fetchDepth('NKNUSDT', 100)).lastUpdateId).toBe(499869752);
    expect(await metric(registry, 'rest_rate_limited_total', { status: '429' })).toBe(1);
    expect(await metric(registry, 'rest_rate_limited_total', { status: '418' })).toBe(1);
    const unknown = await caught(client.fetchDepth('NOPE', 100));
    expect(unknown.code).toBe('CF_HTTP');
    expect(unknown.retriable).toBe(false);
    expect(unknown.context).toMatchObject({ status: 400 });
  });

  it('an unreachable venue is a retriable connection error', async () => {
    const { restUrl, fake } = await venue({ venue: 'binance', captures: SPOT });
    await fake.close();
    const client = new DepthSnapshotClient({
      exchange: 'binance',
      restBaseUrl: restUrl,
      logger,
      registry: new Registry(),
      labels,
    });
    const err = await caught(client.fetchDepth('NKNUSDT', 100));
    expect(err.code).toBe('CF_CONNECTION');
    expect(err.retriable).toBe(true);
  });
});

describe('pinned egress (localAddress)', () => {
  it('the venue sees 127.0.0.2 as the source of both the WebSocket and the REST calls', async () => {
    const { wsUrl, restUrl, fake } = await venue({
      venue: 'binance-usdm',
      captures: USDM,
      speed: 'max',
      startOn: 'listen',
    });
    const agent = new Agent({ localAddress: '127.0.0.2' });
    cleanups.push(() => agent.close());
    const client = new DepthSnapshotClient({
      exchange: 'binance-usdm',
      restBaseUrl: restUrl,
      dispatcher: agent,
      logger,
      registry: new Registry(),
      labels,
    });
    await client.fetchDepth('CTKUSDT', 100);
    const conn = new BinanceStreamConnection({
      exchange: 'binance-usdm',
      wsBaseUrl: wsUrl,
      route: 'public',
      streams: ['ctkusdt@depth@100ms'],
      onFrame: () => true,
      localAddress: '127.0.0.2',
      logger,
      registry: new Registry(),
      labels,
      connName: 'pinned',
    });
    cleanups.push(() => conn.stop());
    conn.start();
    await until(() => conn.state === 'open', 'open');
    expect(fake.log.restRequests.map((r) => r.remoteAddress)).toEqual(['127.0.0.2']);
    expect(fake.log.wsConnections.map((r) => r.remoteAddress)).toEqual(['127.0.0.2']);
    // Control: without pinning the venue sees the default source address.
    await new DepthSnapshotClient({
      exchange: 'binance-usdm',
      restBaseUrl: restUrl,
      logger,
      registry: new Registry(),
      labels,
    }).fetchDepth('CTKUSDT', 100);
    expect(fake.log.restRequests[1]!.remoteAddress).toBe('127.0.0.1');
  });
});
