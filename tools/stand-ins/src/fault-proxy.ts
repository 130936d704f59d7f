import { createServer, request as httpRequest, Agent } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A reverse proxy on 127.0.0.1 that injects real network faults in front of a stand-in (s3rver,
 * dynalite, the Iceberg catalog). Clients point their endpoint at the proxy; the SDKs see genuine
 * 5xx answers, stalls and TCP resets, so retry code is tested without mocking any client.
 */
export type Fault =
  /** Answer with this status without reaching the upstream (nothing is written). */
  | { readonly kind: 'status'; readonly status: number; readonly body?: string; readonly contentType?: string; readonly headers?: Readonly<Record<string, string>> }
  /** Wait, then forward normally. */
  | { readonly kind: 'delay'; readonly ms: number }
  /** Never answer: the client's own timeout must fire. The upstream is not reached. */
  | { readonly kind: 'hang' }
  /** Destroy the client's TCP connection before forwarding (nothing is written). */
  | { readonly kind: 'reset' }
  /**
   * Forward, let the upstream apply the request, then destroy the client's connection instead of
   * returning the answer: the write happened but the caller cannot know (state unknown).
   */
  | { readonly kind: 'reset-after-forward' }
  /** Forward, then replace the upstream's answer with this status (the write happened). */
  | { readonly kind: 'status-after-forward'; readonly status: number; readonly body?: string; readonly contentType?: string };

export interface FaultRule {
  /** HTTP method to match (any when absent). */
  readonly method?: string;
  /** Matches the decoded request path without its query: a RegExp, or a string the path must start with. */
  readonly path?: RegExp | string;
  /** Further predicate, e.g. on the `x-amz-target` header of a DynamoDB call. */
  readonly when?: (req: IncomingMessage) => boolean;
  /** How many matching requests get the fault (default 1). Infinity for "until cleared". */
  readonly count?: number;
  readonly fault: Fault;
}

export interface RuleHandle {
  /** Requests this rule has faulted so far. */
  readonly hits: number;
  /** Faults still to inject. */
  readonly remaining: number;
  cancel(): void;
}

export interface SeenRequest {
  readonly method: string;
  /** Decoded pathname, no query. */
  readonly path: string;
  /** The request target as sent (encoded, with query). */
  readonly url: string;
  readonly target: string | undefined;
  readonly fault: Fault['kind'] | undefined;
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** Every request seen, in arrival order (the most recent 10,000). */
  readonly seen: readonly SeenRequest[];
  inject(rule: FaultRule): RuleHandle;
  clear(): void;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Upstream base URL, e.g. the s3rver endpoint. */
  readonly target: string;
  /** Default 0: a port chosen by the OS. */
  readonly port?: number;
}

interface LiveRule {
  readonly rule: FaultRule;
  remaining: number;
  hits: number;
}

const SEEN_CAP = 10_000;

/** The decoded pathname without query: SDKs percent-encode keys (`=` → `%3D`), rules name them plainly. */
function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  const pathname = q < 0 ? raw : raw.slice(0, q);
  try {
    return decodeURIComponent(pathname);
  } catch {
    return pathname;
  }
}

function matches(rule: FaultRule, req: IncomingMessage): boolean {
  if (rule.method && rule.method.toUpperCase() !== req.method) return false;
  const path = pathOf(req.url);
  if (rule.path instanceof RegExp ? !rule.path.test(path) : rule.path !== undefined && !path.startsWith(rule.path)) return false;
  return rule.when ? rule.when(req) : true;
}

/** An error body the client's protocol parser understands: JSON for DynamoDB/JSON APIs, S3's XML otherwise. */
function defaultBody(req: IncomingMessage, status: number): { body: string; contentType: string } {
  const throttled = status === 503 || status === 429;
  if (req.headers['x-amz-target'] || String(req.headers['content-type'] ?? '').includes('json')) {
    const type = throttled ? 'ThrottlingException' : 'InternalServerError';
    return {
      body: JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: `injected ${status}`, error: { message: `injected ${status}`, type, code: status } }),
      contentType: 'application/x-amz-json-1.0',
    };
  }
  const code = throttled ? 'SlowDown' : 'InternalError';
  return {
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected ${status}</Message><RequestId>fault-proxy</RequestId></Error>`,
    contentType: 'application/xml',
  };
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(options.target);
  const agent = new Agent({ keepAlive: true });
  const rules: LiveRule[] = [];
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();

  const take = (req: IncomingMessage): Fault | undefined => {
    for (const live of rules) {
      if (live.remaining > 0 && matches(live.rule, req)) {
        live.remaining -= 1;
        live.hits += 1;
        return live.rule.fault;
      }
    }
    return undefined;
  };

  const forward = (req: IncomingMessage, res: ServerResponse, after?: Fault): void => {
    const headers = { ...req.headers, host: upstream.host };
    const up = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent },
      (upRes) => {
        if (after?.kind === 'reset-after-forward') {
          upRes.resume();
          upRes.once('end', () => req.socket.destroy());
          return;
        }
        if (after?.kind === 'status-after-forward') {
          upRes.resume();
          upRes.once('end', () => {
            const d = defaultBody(req, after.status);
            res.writeHead(after.status, { 'content-type': after.contentType ?? d.contentType }).end(after.body ?? d.body);
          });
          return;
        }
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`fault-proxy upstream error: ${err.message}`);
      else res.destroy(err);
    });
    req.pipe(up);
  };

  const server = createServer((req, res) => {
    const fault = take(req);
    if (seen.length >= SEEN_CAP) seen.shift();
    const target = req.headers['x-amz-target'];
    seen.push({ method: req.method ?? '', path: pathOf(req.url), url: req.url ?? '/', target: typeof target === 'string' ? target : undefined, fault: fault?.kind });
    if (!fault) return forward(req, res);
    switch (fault.kind) {
      case 'status': {
        const d = defaultBody(req, fault.status);
        // Drain the body first so the client is not cut off mid-upload.
        req.resume();
        req.once('end', () => {
          res.writeHead(fault.status, { 'content-type': fault.contentType ?? d.contentType, ...fault.headers }).end(fault.body ?? d.body);
        });
        return;
      }
      case 'delay': {
        const timer = setTimeout(() => forward(req, res), fault.ms);
        req.socket.once('close', () => clearTimeout(timer));
        return;
      }
      case 'hang':
        req.resume();
        hanging.add(res);
        res.once('close', () => hanging.delete(res));
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'reset-after-forward':
      case 'status-after-forward':
        return forward(req, res, fault);
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    inject(rule: FaultRule): RuleHandle {
      const live: LiveRule = { rule, remaining: rule.count ?? 1, hits: 0 };
      rules.push(live);
      return {
        get hits() {
          return live.hits;
        },
        get remaining() {
          return live.remaining;
        },
        cancel() {
          live.remaining = 0;
        },
      };
    },
    clear(): void {
      rules.length = 0;
    },
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        agent.destroy();
      });
      return closing;
    },
  };
}
