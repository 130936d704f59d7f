import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from '@cryptoflow/metrics';

/** A readiness condition: `ok` false keeps /ready at 503, with `detail` telling why. */
export interface ReadinessCheck {
  readonly name: string;
  check(): { ok: boolean; detail?: unknown };
}

export interface VersionInfo {
  readonly app: string;
  readonly version: string;
  readonly gitSha: string;
}

export interface HealthServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly version: VersionInfo;
  readonly checks?: readonly ReadinessCheck[];
  /** Extra JSON shown on /ready (owned shards, IP per shard, lease state...). */
  readonly describe?: () => Record<string, unknown>;
}

export interface HealthServer {
  readonly url: string;
  readonly port: number;
  addCheck(check: ReadinessCheck): void;
  /** Marks the app as draining: /ready answers 503 so the orchestrator stops routing/keeps no new work here. */
  setDraining(draining: boolean): void;
  close(): Promise<void>;
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const checks = [...(options.checks ?? [])];
  const startedAt = Date.now();
  let draining = false;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method not allowed' });
    switch (path) {
      case '/live':
        return send(res, 200, { status: 'live', uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) });
      case '/ready': {
        const results = checks.map((c) => {
          try {
            const r = c.check();
            return { name: c.name, ok: r.ok, detail: r.detail };
          } catch (err) {
            return { name: c.name, ok: false, detail: String(err) };
          }
        });
        const ok = !draining && results.every((r) => r.ok);
        return send(res, ok ? 200 : 503, {
          status: ok ? 'ready' : draining ? 'draining' : 'not ready',
          checks: results,
          ...(options.describe?.() ?? {}),
        });
      }
      case '/metrics': {
        const text = await options.registry.metrics();
        res.writeHead(200, { 'content-type': options.registry.contentType });
        res.end(text);
        return;
      }
      case '/version':
        return send(res, 200, options.version);
      default:
        return send(res, 404, { error: 'not found', paths: ['/live', '/ready', '/metrics', '/version'] });
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, 500, { error: String(err) }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${options.host === '0.0.0.0' ? '127.0.0.1' : options.host}:${port}`,
    port,
    addCheck: (check) => checks.push(check),
    setDraining: (value) => {
      draining = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Version and git SHA: from CF_VERSION / CF_GIT_SHA (set by the image build), else the repo's HEAD
 * when run from a checkout, else 'unknown'.
 */
export function resolveVersion(app: string, env: NodeJS.ProcessEnv = process.env): VersionInfo {
  let gitSha = env['CF_GIT_SHA'];
  if (!gitSha) {
    try {
      gitSha = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      })
        .toString()
        .trim();
    } catch {
      gitSha = 'unknown';
    }
  }
  return { app, version: env['CF_VERSION'] ?? '0.1.0', gitSha };
}
