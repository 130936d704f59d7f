import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { request } from 'undici';
import { CfError } from '@cryptoflow/core';

export type DiscoveryMode = 'static' | 'imds' | 'interfaces';

export interface DiscoverOptions {
  readonly mode: DiscoveryMode;
  /** The pool for `static`; for the other modes, an optional allow-list (only these of the discovered ones). */
  readonly ips?: readonly string[];
  /** EC2 instance metadata service; a fake one on 127.0.0.1 in tests. */
  readonly imdsEndpoint?: string;
  readonly timeoutMs?: number;
}

/**
 * The pool of local source addresses shards can bind to. Every address is checked bindable before the
 * app starts: an address that is not on this host fails at boot (EADDRNOTAVAIL), not at first connect.
 */
export async function discoverEgressIps(options: DiscoverOptions): Promise<string[]> {
  let ips: string[];
  switch (options.mode) {
    case 'static':
      ips = [...(options.ips ?? [])];
      if (ips.length === 0)
        throw new CfError('CF_EGRESS', 'egress.ips: expected at least one address for discover=static', {
          context: { mode: 'static' },
        });
      break;
    case 'imds':
      ips = await imdsLocalIpv4s(options.imdsEndpoint ?? 'http://169.254.169.254', options.timeoutMs ?? 2000);
      break;
    case 'interfaces':
      ips = Object.values(networkInterfaces())
        .flat()
        .filter((a) => a !== undefined && a.family === 'IPv4' && !a.internal)
        .map((a) => a!.address);
      break;
  }
  if (options.mode !== 'static' && options.ips && options.ips.length > 0) {
    const allowed = new Set(options.ips);
    ips = ips.filter((ip) => allowed.has(ip));
  }
  ips = [...new Set(ips)];
  if (ips.length === 0) {
    throw new CfError('CF_EGRESS', `egress: discovery (${options.mode}) found no usable IPv4 address`, {
      context: { mode: options.mode },
    });
  }
  const bad: string[] = [];
  for (const ip of ips) {
    const problem = await checkBindable(ip);
    if (problem) bad.push(`${ip} (${problem})`);
  }
  if (bad.length > 0) {
    const where =
      options.mode === 'static'
        ? 'egress.ips'
        : `egress (discovered through ${options.mode === 'imds' ? 'instance metadata' : 'host interfaces'})`;
    throw new CfError(
      'CF_EGRESS',
      `${where}: cannot bind source address ${bad.join(', ')}: not an address of this host`,
      {
        context: { mode: options.mode, bad },
      },
    );
  }
  return ips;
}

/** IMDSv2: a session token first (PUT), then every interface's `local-ipv4s` (primary first). */
async function imdsLocalIpv4s(endpoint: string, timeoutMs: number): Promise<string[]> {
  const opts = { headersTimeout: timeoutMs, bodyTimeout: timeoutMs };
  const get = async (path: string, token: string): Promise<string> => {
    const res = await request(`${endpoint}${path}`, {
      ...opts,
      headers: { 'x-aws-ec2-metadata-token': token },
    });
    const body = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`GET ${path} answered ${res.statusCode}`);
    return body;
  };
  try {
    const tokenRes = await request(`${endpoint}/latest/api/token`, {
      ...opts,
      method: 'PUT',
      headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '300' },
    });
    const token = await tokenRes.body.text();
    if (tokenRes.statusCode !== 200 || token.length === 0)
      throw new Error(`token request answered ${tokenRes.statusCode}`);
    const macs = (await get('/latest/meta-data/network/interfaces/macs/', token))
      .split('\n')
      .map((m) => m.trim().replace(/\/$/, ''))
      .filter(Boolean);
    const primaryMac = (await get('/latest/meta-data/mac', token)).trim();
    macs.sort((a, b) => (a === primaryMac ? -1 : b === primaryMac ? 1 : a.localeCompare(b)));
    const ips: string[] = [];
    for (const mac of macs) {
      const list = await get(`/latest/meta-data/network/interfaces/macs/${mac}/local-ipv4s`, token);
      ips.push(
        ...list
          .split('\n')
          .map((s) => s.trim())
          .filter(Boolean),
      );
    }
    return ips;
  } catch (err) {
    throw new CfError(
      'CF_EGRESS',
      `egress: instance metadata discovery at ${endpoint} failed: ${(err as Error).message}`,
      {
        cause: err,
        retriable: true,
        context: { endpoint },
      },
    );
  }
}

function checkBindable(ip: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen(0, ip, () => server.close(() => resolve(undefined)));
  });
}
