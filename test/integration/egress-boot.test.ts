/**
 * A collector whose egress pool holds an address this host does not have must fail at boot with a clear
 * error naming it, before it connects anywhere or joins a fleet: from a static `egress.ips` list and from
 * addresses the EC2 metadata service (a fake IMDSv2 on 127.0.0.1) reports.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCollectorConfig } from '@cryptoflow/config';
import { isCfError } from '@cryptoflow/core';
import { FakeExchange } from '@cryptoflow/fake-exchange';
import { createLogger } from '@cryptoflow/logger';
import { createRegistry } from '@cryptoflow/metrics';
import { startCollector } from '@cryptoflow/runtime';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** IMDSv2: PUT token, then macs, the primary mac and each interface's local-ipv4s. */
async function fakeImds(ips: string[]): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.method === 'PUT' && req.url === '/latest/api/token') return void res.writeHead(200).end('t0k');
    if (req.headers['x-aws-ec2-metadata-token'] !== 't0k') return void res.writeHead(401).end();
    if (req.url === '/latest/meta-data/mac') return void res.writeHead(200).end('0a:01');
    if (req.url === '/latest/meta-data/network/interfaces/macs/') return void res.writeHead(200).end('0a:01/');
    if (req.url === '/latest/meta-data/network/interfaces/macs/0a:01/local-ipv4s')
      return void res.writeHead(200).end(ips.join('\n'));
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

async function boot(egress: Record<string, unknown>): Promise<{ err: unknown; fake: FakeExchange }> {
  const fake = new FakeExchange({
    venue: 'binance',
    captures: [join(ROOT, 'test', 'fixtures', 'captures', 'BINANCE.ws.1.0')],
    startOn: 'manual',
  });
  const { wsUrl, restUrl } = await fake.listen();
  cleanups.push(() => fake.close());
  const config = loadCollectorConfig({
    value: {
      app: 'collector-ticks',
      stream: 'ticks',
      exchanges: { binance: { symbols: ['NKNUSDT', 'BLZETH', 'LRCBTC', 'RUNEEUR'], ws_url: wsUrl, rest_url: restUrl } },
      egress,
      sink: { kind: 'local', dir: '/nonexistent-never-written' },
      health: { host: '127.0.0.1', port: 0 },
      log: { level: 'error' },
    },
  });
  const err = await startCollector(config, {
    app: config.app,
    logger: createLogger({ app: config.app, level: 'silent' as 'error' }),
    registry: createRegistry({ app: config.app }),
    version: { app: config.app, version: 'test', gitSha: 'test' },
    emf: false,
  }).then(
    async (c) => {
      await c.stop();
      return undefined;
    },
    (e: unknown) => e,
  );
  return { err, fake };
}

describe('egress at boot', () => {
  it('fails with a clear error when egress.ips lists an address this host does not have', async () => {
    const { err, fake } = await boot({ ips: ['127.0.0.2', '10.255.255.77'] });
    expect(isCfError(err, 'CF_EGRESS')).toBe(true);
    expect((err as Error).message).toMatch(/egress\.ips: cannot bind source address 10\.255\.255\.77 \(EADDRNOTAVAIL\)/);
    expect(fake.log.wsConnections).toEqual([]); // nothing connected before the failure
  });

  it('fails with a clear error when instance metadata reports an address that is not on this host', async () => {
    const imds = await fakeImds(['127.0.0.3', '192.0.2.44']);
    const { err, fake } = await boot({ discover: 'imds', imds_endpoint: imds.url });
    expect(imds.requests[0]).toBe('PUT /latest/api/token');
    expect(isCfError(err, 'CF_EGRESS')).toBe(true);
    expect((err as Error).message).toMatch(/cannot bind source address 192\.0\.2\.44 \(EADDRNOTAVAIL\)/);
    expect((err as Error).message).toMatch(/discovered through instance metadata/);
    expect(fake.log.wsConnections).toEqual([]);
  });

  it('fails with a clear error when instance metadata is unreachable (no address at all)', async () => {
    const { err } = await boot({ discover: 'imds', imds_endpoint: 'http://127.0.0.1:1' });
    expect(isCfError(err, 'CF_EGRESS')).toBe(true);
    expect((err as Error).message).toMatch(/instance metadata discovery at http:\/\/127\.0\.0\.1:1 failed/);
  });
});
