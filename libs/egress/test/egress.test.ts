import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { isCfError } from '@cryptoflow/core';
import { Registry } from '@cryptoflow/metrics';
import { BINANCE_SPOT_LIMITS, EgressPool, discoverEgressIps } from '../src/index.js';
import type { ShardMove } from '../src/index.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function listen(server: {
  listen: (port: number, host: string, cb: () => void) => void;
  address: () => unknown;
}): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

/** A fake EC2 metadata service speaking IMDSv2 (token first) with two interfaces. */
async function fakeImds(interfaces: Record<string, string[]>, primary: string): Promise<string> {
  const token = 'tok-123';
  const server = createServer((req, res) => {
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return void res.writeHead(400).end();
      return void res.writeHead(200).end(token);
    }
    if (req.headers['x-aws-ec2-metadata-token'] !== token) return void res.writeHead(401).end();
    if (req.url === '/latest/meta-data/mac') return void res.writeHead(200).end(primary);
    if (req.url === '/latest/meta-data/network/interfaces/macs/') {
      return void res.writeHead(200).end(
        Object.keys(interfaces)
          .map((m) => `${m}/`)
          .join('\n'),
      );
    }
    const m = /^\/latest\/meta-data\/network\/interfaces\/macs\/([^/]+)\/local-ipv4s$/.exec(req.url ?? '');
    if (m && interfaces[m[1] ?? ''])
      return void res.writeHead(200).end((interfaces[m[1] ?? ''] ?? []).join('\n'));
    res.writeHead(404).end();
  });
  const port = await listen(server);
  cleanups.push(() => new Promise((r) => server.close(() => r())));
  return `http://127.0.0.1:${port}`;
}

describe('egress IP discovery', () => {
  it('discovers every interface address through IMDSv2, primary interface first', async () => {
    const endpoint = await fakeImds(
      { '0a:bb': ['127.0.0.5', '127.0.0.6'], '0a:aa': ['127.0.0.2', '127.0.0.3'] },
      '0a:aa',
    );
    expect(await discoverEgressIps({ mode: 'imds', imdsEndpoint: endpoint })).toEqual([
      '127.0.0.2',
      '127.0.0.3',
      '127.0.0.5',
      '127.0.0.6',
    ]);
  });

  it('fails at boot naming an address that is not on this host', async () => {
    const endpoint = await fakeImds({ '0a:aa': ['127.0.0.2', '10.255.255.77'] }, '0a:aa');
    const err = await discoverEgressIps({ mode: 'imds', imdsEndpoint: endpoint }).catch((e: unknown) => e);
    expect(isCfError(err, 'CF_EGRESS')).toBe(true);
    expect((err as Error).message).toMatch(/cannot bind source address 10\.255\.255\.77/);
  });

  it('fails clearly when metadata is unreachable or the pool is empty', async () => {
    const dead = createServer();
    const port = await listen(dead);
    await new Promise<void>((r) => dead.close(() => r()));
    await expect(
      discoverEgressIps({ mode: 'imds', imdsEndpoint: `http://127.0.0.1:${port}`, timeoutMs: 500 }),
    ).rejects.toThrow(/instance metadata discovery/);
    await expect(discoverEgressIps({ mode: 'static', ips: [] })).rejects.toThrow(/egress\.ips/);
  });
});

describe('egress pool', () => {
  const pool = (opts: Partial<ConstructorParameters<typeof EgressPool>[0]> = {}): EgressPool => {
    const p = new EgressPool({
      ips: ['127.0.0.2', '127.0.0.3', '127.0.0.4'],
      limits: BINANCE_SPOT_LIMITS,
      venue: 'binance',
      registry: new Registry(),
      ...opts,
    });
    cleanups.push(() => p.close());
    return p;
  };

  it('assigns shards round-robin with explicit pins winning', () => {
    const p = pool({ perShard: { 4: '127.0.0.4' } });
    expect([0, 1, 2, 3, 4, 5].map((s) => p.ipFor(s))).toEqual([
      '127.0.0.2',
      '127.0.0.3',
      '127.0.0.4',
      '127.0.0.2',
      '127.0.0.4',
      '127.0.0.4',
    ]);
    expect(() => pool({ perShard: { 1: '127.0.0.9' } })).toThrow(
      /per_shard\.1: 127\.0\.0\.9 is not in the pool/,
    );
  });

  it('moves shards off a rate-limited IP for the cool-down and back after it', () => {
    let now = 1_000_000;
    const p = pool({ now: () => now });
    for (let s = 0; s < 6; s++) p.ipFor(s);
    const seen: ShardMove[] = [];
    p.onMove((m) => seen.push(m));
    const moves = p.reportRateLimited('127.0.0.2', 429, 30_000);
    expect(moves.map((m) => [m.shard, m.to])).toEqual([
      [0, '127.0.0.3'],
      [3, '127.0.0.3'],
    ]);
    expect(seen).toHaveLength(2);
    now += 31_000;
    // the timer fires in real time; call the same path the timer takes
    (p as unknown as { reevaluate: (r: string) => ShardMove[] }).reevaluate('cooldown_over');
    expect(p.ipFor(0)).toBe('127.0.0.2');
    expect(seen.at(-1)).toMatchObject({ shard: 3, to: '127.0.0.2', reason: 'cooldown_over' });
  });

  it('keeps the venue connection rules per IP', () => {
    const p = pool({ limits: { ...BINANCE_SPOT_LIMITS, maxConnectionsPerIp: 2, connectionsPer5Min: 3 } });
    const a = p.acquireConnection(0);
    p.acquireConnection(3);
    expect(() => p.acquireConnection(0)).toThrow(/2 connections open, cap 2/);
    a.release();
    const c = p.acquireConnection(0);
    c.release();
    c.release(); // double release is harmless
    expect(() => p.acquireConnection(0)).toThrow(/3 connections opened in 5 min/);
  });

  it('throttles weight before the ceiling and adopts the venue count when higher', async () => {
    let now = 60_000 * 100 + 10;
    const p = pool({
      limits: { ...BINANCE_SPOT_LIMITS, weightPerMinute: 100, weightCeilingRatio: 0.5 },
      now: () => now,
    });
    expect(await p.reserveWeight(0, 30)).toBe('127.0.0.2');
    p.observeUsedWeight('127.0.0.2', 45);
    const pending = p.reserveWeight(0, 10);
    let done = false;
    void pending.then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    now += 60_000; // next minute: budget refills
    await pending;
    expect(done).toBe(true);
  });

  it('binds HTTP and WebSocket sockets of a shard to its IP', async () => {
    const seen: string[] = [];
    const http = createServer((req, res) => {
      seen.push(`http ${req.socket.remoteAddress}`);
      res.end('ok');
    });
    const port = await listen(http);
    const wss = new WebSocketServer({ server: http });
    wss.on('connection', (_ws, req) => seen.push(`ws ${req.socket.remoteAddress}`));
    cleanups.push(
      () =>
        new Promise((r) => {
          wss.close();
          http.closeAllConnections();
          http.close(() => r());
        }),
    );
    const p = pool();
    const res = await request(`http://127.0.0.1:${port}/`, { dispatcher: p.dispatcher(1) });
    await res.body.text();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, p.wsOptions(2));
    await new Promise((r) => ws.once('open', r));
    ws.close();
    expect(seen).toEqual(['http 127.0.0.3', 'ws 127.0.0.4']);
  });
});
