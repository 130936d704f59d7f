// A local Binance-speaking venue: WebSocket market streams + REST depth/exchangeInfo, replaying real captures.
// Follows the same venue docs as libs/exchanges:
//   https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams
//   https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams
//   https://developers.binance.com/docs/products/caas/market-data-streams (USD-M path routing)
//   https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits
// It is deliberately written from the docs, not from our adapter, so adapter tests run against an independent oracle.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import { nowMicros } from '@cryptoflow/core';
import { parseCapture, splitCombined } from './capture.js';
import { LiveBooks } from './live-book.js';

export type Venue = 'binance' | 'binance-usdm';
type Route = 'public' | 'market';

export interface FakeExchangeOptions {
  readonly venue: Venue;
  /** Capture file paths; several allowed, merged by time. */
  readonly captures: readonly string[];
  readonly host?: string;
  readonly port?: number;
  /** 1 = recorded pace, 10 = ten times faster, 'max' = as fast as the slowest subscriber reads. Default 1. */
  readonly speed?: number | 'max';
  /** When the venue clock starts: on the first subscription (default) or at listen(). */
  /** 'manual': the timeline starts when `start()` is called (a stack starting several clients first). */
  readonly startOn?: 'first-subscribe' | 'listen' | 'manual';
  /** Server ping interval; default 20 s (spot) / 180 s (USD-M) as documented. A client missing 3 pongs is dropped. */
  readonly pingIntervalMs?: number;
  /** How long a REST depth request waits for the timeline to reach the first recorded snapshot; default 10 s. */
  readonly snapshotWaitMs?: number;
  /**
   * What REST depth answers: 'recorded' (default) the latest recorded snapshot at the venue clock, exactly as
   * captured; 'live' the venue's book now, the first recorded snapshot advanced by every recorded diff the
   * timeline has reached, as a real venue answers (a client resyncing mid-stream can continue from it).
   */
  readonly depth?: 'recorded' | 'live';
}

export interface FakeExchangeLog {
  wsConnections: { remoteAddress: string; path: string; at: number }[];
  restRequests: { remoteAddress: string; path: string; status: number; at: number }[];
}

export interface FakeExchangeFaults {
  /** Abruptly drop every WebSocket (TCP reset, no close frame), like a venue restart. */
  dropConnections(): void;
  /** The next n timeline frames (of `stream`, or any) that have subscribers are not sent. */
  dropNextFrames(n: number, stream?: string): void;
  /** The next n timeline frames (of `stream`, or any) that have subscribers are sent twice. */
  duplicateNextFrames(n: number, stream?: string): void;
  /** The venue stalls for `ms` before its next frame; the timeline then continues (shifted by `ms`). */
  delayFrames(ms: number): void;
  /** The next n REST answers are 429 with `Retry-After: retryAfterSec`. */
  rateLimitRest(n: number, retryAfterSec: number): void;
  /** The next n REST answers are 418 (IP ban) with `Retry-After: retryAfterSec`. */
  banRest(n: number, retryAfterSec: number): void;
}

interface TimelineEvent {
  readonly at: number;
  readonly stream: string;
  /** Raw payload (what `/ws/<stream>` sends). */
  readonly data: string;
  /** Combined-stream text (what `/stream?streams=` sends). */
  readonly combined: string;
}

interface SnapshotRecord {
  readonly at: number;
  readonly symbol: string;
  readonly body: string;
}

interface Client {
  readonly ws: WebSocket;
  readonly remoteAddress: string;
  readonly path: string;
  readonly route: Route | undefined;
  readonly raw: boolean;
  readonly streams: Set<string>;
  readonly recentMessages: number[];
  pingPayload: string | undefined;
  missedPongs: number;
}

const VENUE = {
  binance: {
    depthPath: '/api/v3/depth',
    infoPath: '/api/v3/exchangeInfo',
    pingPath: '/api/v3/ping',
    timePath: '/api/v3/time',
    weightLimit: 6000,
    inboundPerSec: 5,
    pingIntervalMs: 20_000,
    infoWeight: 20,
  },
  'binance-usdm': {
    depthPath: '/fapi/v1/depth',
    infoPath: '/fapi/v1/exchangeInfo',
    pingPath: '/fapi/v1/ping',
    timePath: '/fapi/v1/time',
    weightLimit: 2400,
    inboundPerSec: 10,
    pingIntervalMs: 180_000,
    infoWeight: 1,
  },
} as const;

const MAX_STREAMS_PER_CONNECTION = 1024;
const CONNECTIONS_PER_5_MIN_PER_IP = 300;
/** In 'max' mode the player waits while any recipient has more than this queued. */
const HIGH_WATER_BYTES = 1 << 20;
/** In paced mode a client that lets this much pile up is dropped, as the venue drops slow consumers. */
const SLOW_CLIENT_BYTES = 64 << 20;
const MAX_BATCH = 512;

/** Spot depth weight by limit (current docs: 5/25/50/250). */
function spotDepthWeight(limit: number): number {
  if (limit <= 100) return 5;
  if (limit <= 500) return 25;
  if (limit <= 1000) return 50;
  return 250;
}

/** USD-M depth weight by limit (5/10/20/50 → 2, 100 → 5, 500 → 10, 1000 → 20). */
function usdmDepthWeight(limit: number): number | undefined {
  if ([5, 10, 20, 50].includes(limit)) return 2;
  if (limit === 100) return 5;
  if (limit === 500) return 10;
  if (limit === 1000) return 20;
  return undefined;
}

function routeOf(stream: string): Route {
  const event = stream.startsWith('!') ? stream.slice(1) : stream.slice(stream.indexOf('@') + 1);
  return event.startsWith('depth') || event.startsWith('bookTicker') ? 'public' : 'market';
}

export class FakeExchange {
  readonly log: FakeExchangeLog = { wsConnections: [], restRequests: [] };
  readonly faults: FakeExchangeFaults;

  private readonly opts: FakeExchangeOptions;
  private readonly venue: (typeof VENUE)[Venue];
  private readonly events: TimelineEvent[] = [];
  private readonly snapshots = new Map<string, SnapshotRecord[]>();
  private exchangeInfo: string | undefined;
  private readonly liveBooks: LiveBooks | undefined;
  private readonly clients = new Set<Client>();
  private readonly byStream = new Map<string, Set<Client>>();
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private readonly sockets = new Set<Socket>();

  private started = false;
  private closed = false;
  private finished = false;
  private cursor = 0;
  private framesSent = 0;
  private startWall = 0;
  private pendingDelayMs = 0;
  private playerWake: (() => void) | undefined;
  private resolveFinished!: () => void;
  private readonly finishedPromise = new Promise<void>((r) => (this.resolveFinished = r));

  private readonly dropCounts = new Map<string, number>();
  private readonly dupCounts = new Map<string, number>();
  private readonly restFaults: { status: 429 | 418; retryAfterSec: number; remaining: number }[] = [];
  private readonly weights = new Map<string, { minute: number; weight: number }>();
  private readonly connectionTimes = new Map<string, number[]>();

  constructor(opts: FakeExchangeOptions) {
    if (opts.speed !== undefined && opts.speed !== 'max' && !(opts.speed > 0))
      throw new Error(`speed: expected > 0 or 'max', got ${opts.speed}`);
    this.opts = opts;
    this.venue = VENUE[opts.venue];
    for (const path of opts.captures) this.load(path, readFileSync(path, 'utf8'));
    // Stable sort: frames recorded at the same instant keep their file order.
    this.events.sort((a, b) => a.at - b.at);
    for (const list of this.snapshots.values()) list.sort((a, b) => a.at - b.at);
    if (opts.depth !== undefined && opts.depth !== 'recorded' && opts.depth !== 'live')
      throw new Error(`depth: expected recorded | live, got ${String(opts.depth)}`);
    this.liveBooks = opts.depth === 'live' ? new LiveBooks(opts.venue, this.snapshots, this.events) : undefined;
    this.faults = {
      dropConnections: () => {
        for (const c of this.clients) c.ws.terminate();
      },
      dropNextFrames: (n, stream) =>
        this.dropCounts.set(stream ?? '*', (this.dropCounts.get(stream ?? '*') ?? 0) + n),
      duplicateNextFrames: (n, stream) =>
        this.dupCounts.set(stream ?? '*', (this.dupCounts.get(stream ?? '*') ?? 0) + n),
      delayFrames: (ms) => {
        this.pendingDelayMs += ms;
      },
      rateLimitRest: (n, retryAfterSec) => this.restFaults.push({ status: 429, retryAfterSec, remaining: n }),
      banRest: (n, retryAfterSec) => this.restFaults.push({ status: 418, retryAfterSec, remaining: n }),
    };
  }

  /** Recorded frames on the timeline (all streams). */
  get timelineLength(): number {
    return this.events.length;
  }

  /** Streams the captures hold frames for. */
  get recordedStreams(): string[] {
    return [...new Set(this.events.map((e) => e.stream))];
  }

  /** The first `n` recorded frames of a stream, as `/ws/<stream>` would send them (for test expectations). */
  recordedFrames(stream: string): string[] {
    return this.events.filter((e) => e.stream === stream).map((e) => e.data);
  }

  private load(path: string, text: string): void {
    for (const rec of parseCapture(text, path)) {
      if (rec.kind === 'ws-recv') {
        const split = splitCombined(rec.data);
        if (split) {
          this.events.push({ at: rec.at, stream: split.stream, data: split.data, combined: rec.data });
          continue;
        }
        const raw = /\/ws\/([^/?]+)$/.exec(rec.url);
        if (raw && rec.data.startsWith('{"e"')) {
          this.events.push({
            at: rec.at,
            stream: raw[1]!,
            data: rec.data,
            combined: `{"stream":"${raw[1]}","data":${rec.data}}`,
          });
        }
        // Anything else (subscription answers) is not market data.
      } else if (rec.kind === 'http') {
        const url = new URL(rec.url);
        if (url.pathname.endsWith('/depth')) {
          const symbol = url.searchParams.get('symbol')?.toUpperCase();
          if (!symbol) continue;
          const list = this.snapshots.get(symbol) ?? [];
          list.push({ at: rec.at, symbol, body: rec.body });
          this.snapshots.set(symbol, list);
        } else if (url.pathname.endsWith('/exchangeInfo')) {
          this.exchangeInfo = rec.body;
        }
      }
    }
  }

  async listen(): Promise<{ wsUrl: string; restUrl: string; port: number }> {
    const host = this.opts.host ?? '127.0.0.1';
    this.wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    const server = createServer((req, res) => this.onHttp(req, res));
    this.server = server;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket as Socket, head));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, host, () => resolve());
    });
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    this.pingTimer = setInterval(
      () => this.pingClients(),
      this.opts.pingIntervalMs ?? this.venue.pingIntervalMs,
    );
    this.pingTimer.unref();
    if (this.opts.startOn === 'listen') this.startTimeline();
    const h = host.includes(':') ? `[${host}]` : host;
    return { wsUrl: `ws://${h}:${port}`, restUrl: `http://${h}:${port}`, port };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    this.playerWake?.();
    for (const c of this.clients) c.ws.terminate();
    this.wss?.close();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Starts the venue timeline now (idempotent); for `startOn: 'manual'`. */
  start(): void {
    this.startTimeline();
  }

  stats(): { framesSent: number; subscribers: number; finished: boolean; position: number | null } {
    let subscribers = 0;
    for (const c of this.clients) if (c.streams.size > 0) subscribers++;
    const pos = this.position();
    return {
      framesSent: this.framesSent,
      subscribers,
      finished: this.finished,
      position: Number.isFinite(pos) ? pos : null,
    };
  }

  whenFinished(): Promise<void> {
    return this.finishedPromise;
  }

  // ---------------------------------------------------------------- timeline

  /** Current venue time in capture µs; -Infinity before the timeline starts. */
  private position(): number {
    if (!this.started) return -Infinity;
    const first = this.events[0];
    if (this.finished || !first) return Infinity;
    if (this.opts.speed === 'max') {
      const last = this.events[this.cursor - 1];
      return last ? last.at : first.at - 1;
    }
    const speed = this.opts.speed ?? 1;
    return first.at + (performance.now() - this.startWall) * 1000 * speed;
  }

  private startTimeline(): void {
    if (this.started) return;
    this.started = true;
    this.startWall = performance.now();
    void this.play();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.playerWake = undefined;
        resolve();
      }, ms);
      this.playerWake = () => {
        clearTimeout(t);
        this.playerWake = undefined;
        resolve();
      };
    });
  }

  private async play(): Promise<void> {
    const events = this.events;
    const max = this.opts.speed === 'max';
    const speed = max ? 1 : ((this.opts.speed as number | undefined) ?? 1);
    const t0 = events[0]?.at ?? 0;
    while (this.cursor < events.length && !this.closed) {
      if (this.pendingDelayMs > 0) {
        const ms = this.pendingDelayMs;
        this.pendingDelayMs = 0;
        await this.sleep(ms);
        this.startWall += ms; // the venue resumes where it stalled
        continue;
      }
      if (!max) {
        const due = this.startWall + (events[this.cursor]!.at - t0) / 1000 / speed;
        const wait = due - performance.now();
        if (wait > 1) {
          await this.sleep(Math.min(wait, 1000));
          continue;
        }
      }
      const now = performance.now();
      let sent = 0;
      while (this.cursor < events.length && sent < MAX_BATCH && this.pendingDelayMs === 0) {
        const ev = events[this.cursor]!;
        if (!max && this.startWall + (ev.at - t0) / 1000 / speed > now + 1) break;
        this.cursor++;
        sent++;
        if (this.deliver(ev) && max) break; // a recipient is above its high-water mark
      }
      if (max) {
        await this.waitForDrain();
        await new Promise<void>((r) => setImmediate(r));
      }
    }
    if (!this.closed) {
      this.finished = true;
      this.resolveFinished();
    }
  }

  /** Sends one frame to every subscriber; true when some recipient's buffer is above the high-water mark. */
  private deliver(ev: TimelineEvent): boolean {
    const subs = this.byStream.get(ev.stream);
    if (!subs || subs.size === 0) return false;
    const route = this.opts.venue === 'binance-usdm' ? routeOf(ev.stream) : undefined;
    let recipients = 0;
    for (const c of subs) if (c.route === route && c.ws.readyState === WebSocket.OPEN) recipients++;
    if (recipients === 0) return false;
    if (this.takeFault(this.dropCounts, ev.stream)) return false;
    const copies = this.takeFault(this.dupCounts, ev.stream) ? 2 : 1;
    let full = false;
    for (const c of subs) {
      if (c.route !== route || c.ws.readyState !== WebSocket.OPEN) continue;
      for (let k = 0; k < copies; k++) {
        c.ws.send(c.raw ? ev.data : ev.combined);
        this.framesSent++;
      }
      if (c.ws.bufferedAmount > HIGH_WATER_BYTES) {
        if (this.opts.speed === 'max') full = true;
        else if (c.ws.bufferedAmount > SLOW_CLIENT_BYTES) c.ws.terminate();
      }
    }
    return full;
  }

  private takeFault(counts: Map<string, number>, stream: string): boolean {
    for (const key of [stream, '*']) {
      const n = counts.get(key);
      if (n !== undefined && n > 0) {
        if (n === 1) counts.delete(key);
        else counts.set(key, n - 1);
        return true;
      }
    }
    return false;
  }

  private async waitForDrain(): Promise<void> {
    for (;;) {
      let full = false;
      for (const c of this.clients)
        if (c.ws.readyState === WebSocket.OPEN && c.ws.bufferedAmount > HIGH_WATER_BYTES / 2) full = true;
      if (!full || this.closed) return;
      await this.sleep(5);
    }
  }

  // ---------------------------------------------------------------- WebSocket

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const remoteAddress = normalizeAddress(req.socket.remoteAddress);
    const path = req.url ?? '/';
    this.log.wsConnections.push({ remoteAddress, path, at: nowMicros() });
    const reject = (status: number, text: string): void => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (this.closed) return reject(503, 'Service Unavailable');
    const times = (this.connectionTimes.get(remoteAddress) ?? []).filter((t) => t > Date.now() - 300_000);
    if (times.length >= CONNECTIONS_PER_5_MIN_PER_IP) return reject(429, 'Too Many Requests');
    times.push(Date.now());
    this.connectionTimes.set(remoteAddress, times);

    const url = new URL(path, 'ws://venue');
    let p = url.pathname;
    let route: Route | undefined;
    if (this.opts.venue === 'binance-usdm') {
      // A connection without a routed path only gets /public data (documented).
      route = 'public';
      const m = /^\/(public|market)(\/.*)$/.exec(p);
      if (m) {
        route = m[1] as Route;
        p = m[2]!;
      }
    }
    let raw: boolean;
    let initial: string[] = [];
    if (p === '/stream') {
      raw = false;
      initial = (url.searchParams.get('streams') ?? '').split('/').filter((s) => s !== '');
    } else if (p === '/ws' || p === '/ws/') {
      raw = true;
    } else if (p.startsWith('/ws/')) {
      raw = true;
      initial = [decodeURIComponent(p.slice(4))];
    } else {
      return reject(404, 'Not Found');
    }
    if (initial.length > MAX_STREAMS_PER_CONNECTION) return reject(400, 'Bad Request');
    this.wss!.handleUpgrade(req, socket, head, (ws) => {
      const client: Client = {
        ws,
        remoteAddress,
        path,
        route,
        raw,
        streams: new Set(),
        recentMessages: [],
        pingPayload: undefined,
        missedPongs: 0,
      };
      this.clients.add(client);
      this.addStreams(client, initial);
      ws.on('message', (data, isBinary) => this.onClientMessage(client, isBinary ? '' : data.toString()));
      ws.on('pong', (payload) => {
        this.countInbound(client);
        if (client.pingPayload !== undefined && payload.toString() === client.pingPayload)
          client.missedPongs = 0;
      });
      ws.on('close', () => this.removeClient(client));
      ws.on('error', () => this.removeClient(client));
    });
  }

  private addStreams(c: Client, streams: readonly string[]): void {
    for (const s of streams) {
      c.streams.add(s);
      let set = this.byStream.get(s);
      if (!set) this.byStream.set(s, (set = new Set()));
      set.add(c);
    }
    if (c.streams.size > 0 && (this.opts.startOn ?? 'first-subscribe') === 'first-subscribe')
      this.startTimeline();
  }

  private removeStreams(c: Client, streams: readonly string[]): void {
    for (const s of streams) {
      c.streams.delete(s);
      this.byStream.get(s)?.delete(c);
    }
  }

  private removeClient(c: Client): void {
    if (!this.clients.delete(c)) return;
    this.removeStreams(c, [...c.streams]);
  }

  /** Venue limit on client messages per second; above it the venue disconnects. */
  private countInbound(c: Client): boolean {
    const now = performance.now();
    const recent = c.recentMessages;
    recent.push(now);
    while (recent.length > 0 && recent[0]! < now - 1000) recent.shift();
    if (recent.length > this.venue.inboundPerSec) {
      c.ws.close(1008, 'Too many requests');
      return false;
    }
    return true;
  }

  private onClientMessage(c: Client, text: string): void {
    if (!this.countInbound(c)) return;
    const answer = (o: unknown): void => c.ws.send(JSON.stringify(o));
    let msg: { method?: unknown; params?: unknown; id?: unknown };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      return answer({ error: { code: 3, msg: 'Invalid JSON: expected value at line 1 column 1' }, id: null });
    }
    const id = msg.id;
    if (
      typeof msg !== 'object' ||
      msg === null ||
      (typeof id !== 'number' && typeof id !== 'string' && id !== null)
    ) {
      return answer({
        error: { code: 2, msg: 'Invalid request: request ID must be an unsigned integer' },
        id: null,
      });
    }
    const params = msg.params;
    switch (msg.method) {
      case 'SUBSCRIBE':
      case 'UNSUBSCRIBE': {
        if (!Array.isArray(params) || !params.every((p) => typeof p === 'string' && p.length > 0)) {
          return answer({
            error: { code: 2, msg: 'Invalid request: params must be an array of stream names' },
            id,
          });
        }
        if (msg.method === 'SUBSCRIBE') {
          const added = (params as string[]).filter((p) => !c.streams.has(p));
          if (c.streams.size + added.length > MAX_STREAMS_PER_CONNECTION) {
            return answer({
              error: {
                code: 2,
                msg: `Invalid request: too many streams (max ${MAX_STREAMS_PER_CONNECTION})`,
              },
              id,
            });
          }
          this.addStreams(c, params as string[]);
        } else {
          this.removeStreams(c, params as string[]);
        }
        return answer({ result: null, id });
      }
      case 'LIST_SUBSCRIPTIONS':
        return answer({ result: [...c.streams], id });
      default:
        return answer({
          error: { code: 2, msg: `Invalid request: unknown method ${String(msg.method)}` },
          id,
        });
    }
  }

  private pingClients(): void {
    for (const c of this.clients) {
      if (c.ws.readyState !== WebSocket.OPEN) continue;
      if (c.missedPongs >= 3) {
        c.ws.terminate();
        continue;
      }
      c.missedPongs++;
      c.pingPayload = String(Date.now());
      c.ws.ping(c.pingPayload);
    }
  }

  // ---------------------------------------------------------------- HTTP

  private onHttp(req: IncomingMessage, res: ServerResponse): void {
    const remoteAddress = normalizeAddress(req.socket.remoteAddress);
    const url = new URL(req.url ?? '/', 'http://venue');
    const json = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        ...headers,
      });
      res.end(text);
    };
    if (url.pathname.startsWith('/__admin/')) {
      void this.onAdmin(req, url, json);
      return;
    }
    const respond = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      this.log.restRequests.push({ remoteAddress, path: req.url ?? '/', status, at: nowMicros() });
      json(status, body, headers);
    };
    if (req.method !== 'GET') return respond(405, { code: -1000, msg: 'Method not allowed' });
    const v = this.venue;
    let weight: number;
    const limitParam = url.searchParams.get('limit');
    const limit = limitParam === null ? (this.opts.venue === 'binance' ? 100 : 500) : Number(limitParam);
    if (url.pathname === v.depthPath) {
      if (!Number.isInteger(limit) || limit < 1 || limit > 5000)
        return respond(400, {
          code: -1100,
          msg: "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.",
        });
      const w = this.opts.venue === 'binance' ? spotDepthWeight(limit) : usdmDepthWeight(limit);
      if (w === undefined) return respond(400, { code: -4021, msg: 'Invalid depth limit.' });
      weight = w;
    } else if (url.pathname === v.infoPath) {
      weight = v.infoWeight;
    } else if (url.pathname === v.pingPath || url.pathname === v.timePath) {
      weight = 1;
    } else {
      return respond(404, { code: -1, msg: `Not found: ${url.pathname} (venue ${this.opts.venue})` });
    }
    const used = this.addWeight(remoteAddress, weight);
    const headers: Record<string, string> = {
      'x-mbx-used-weight-1m': String(used),
      'x-mbx-used-weight': String(used),
    };
    const fault = this.restFaults[0];
    if (fault) {
      if (--fault.remaining <= 0) this.restFaults.shift();
      const body =
        fault.status === 429
          ? {
              code: -1003,
              msg: 'Too many requests; current limit of IP is exceeded. Please use WebSocket Streams for live updates to avoid polling the API.',
            }
          : {
              code: -1003,
              msg: `Way too many requests; IP banned until ${Date.now() + fault.retryAfterSec * 1000}. Please use WebSocket Streams for live updates to avoid bans.`,
            };
      return respond(fault.status, body, { ...headers, 'retry-after': String(fault.retryAfterSec) });
    }
    if (used > v.weightLimit) {
      const retryAfter = 60 - Math.floor((Date.now() % 60_000) / 1000);
      return respond(
        429,
        { code: -1003, msg: 'Too many requests; current limit of IP is exceeded.' },
        { ...headers, 'retry-after': String(retryAfter) },
      );
    }
    if (url.pathname === v.pingPath) return respond(200, {}, headers);
    if (url.pathname === v.timePath) return respond(200, { serverTime: Date.now() }, headers);
    if (url.pathname === v.infoPath) {
      return this.exchangeInfo
        ? respond(200, this.exchangeInfo, headers)
        : respond(503, { code: -1007, msg: 'No exchangeInfo in the loaded captures.' }, headers);
    }
    const symbol = url.searchParams.get('symbol')?.toUpperCase();
    if (!symbol)
      return respond(
        400,
        { code: -1102, msg: "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed." },
        headers,
      );
    const list = this.snapshots.get(symbol);
    if (!list || list.length === 0) return respond(400, { code: -1121, msg: 'Invalid symbol.' }, headers);
    void this.answerDepth(symbol, list, limit).then(
      (body) =>
        respond(
          body ? 200 : 503,
          body ?? {
            code: -1007,
            msg: 'Timeout waiting for response from backend server. Send status unknown; execution status unknown.',
          },
          headers,
        ),
      () => respond(500, { code: -1000, msg: 'internal error' }, headers),
    );
  }

  private addWeight(ip: string, weight: number): number {
    const minute = Math.floor(Date.now() / 60_000);
    const entry = this.weights.get(ip);
    if (!entry || entry.minute !== minute) {
      this.weights.set(ip, { minute, weight });
      return weight;
    }
    entry.weight += weight;
    return entry.weight;
  }

  /**
   * The latest recorded snapshot at or before the venue clock (or, live, the book at the clock); waits (bounded)
   * when the clock has not reached the first recorded snapshot yet.
   */
  private async answerDepth(
    symbol: string,
    list: readonly SnapshotRecord[],
    limit: number,
  ): Promise<string | undefined> {
    const deadline = performance.now() + (this.opts.snapshotWaitMs ?? 10_000);
    for (;;) {
      const pos = this.position();
      const body = this.liveBooks ? this.liveBooks.bodyAt(symbol, pos, limit) : recordedDepthAt(list, pos, limit);
      if (body !== undefined) return body;
      if (this.closed || performance.now() > deadline) return undefined;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private async onAdmin(
    req: IncomingMessage,
    url: URL,
    json: (status: number, body: unknown) => void,
  ): Promise<void> {
    if (req.method === 'GET' && url.pathname === '/__admin/log') return json(200, this.log);
    if (req.method === 'GET' && url.pathname === '/__admin/stats') return json(200, this.stats());
    if (req.method === 'POST' && url.pathname === '/__admin/faults') {
      let body = '';
      for await (const chunk of req) body += String(chunk);
      let f: { fault?: unknown; n?: unknown; stream?: unknown; ms?: unknown; retryAfterSec?: unknown };
      try {
        f = JSON.parse(body) as typeof f;
      } catch {
        return json(400, { error: 'body must be JSON like {"fault":"dropNextFrames","n":3}' });
      }
      const n = typeof f.n === 'number' && f.n >= 0 ? f.n : undefined;
      const stream = typeof f.stream === 'string' ? f.stream : undefined;
      const retry = typeof f.retryAfterSec === 'number' ? f.retryAfterSec : undefined;
      switch (f.fault) {
        case 'dropConnections':
          this.faults.dropConnections();
          return json(200, { ok: true });
        case 'dropNextFrames':
        case 'duplicateNextFrames':
          if (n === undefined) return json(400, { error: `${f.fault} needs n` });
          this.faults[f.fault](n, stream);
          return json(200, { ok: true });
        case 'delayFrames':
          if (typeof f.ms !== 'number' || f.ms < 0) return json(400, { error: 'delayFrames needs ms' });
          this.faults.delayFrames(f.ms);
          return json(200, { ok: true });
        case 'rateLimitRest':
        case 'banRest':
          if (n === undefined || retry === undefined)
            return json(400, { error: `${f.fault} needs n and retryAfterSec` });
          this.faults[f.fault](n, retry);
          return json(200, { ok: true });
        default:
          return json(400, { error: `unknown fault ${String(f.fault)}` });
      }
    }
    return json(404, { error: 'not found' });
  }
}

function normalizeAddress(addr: string | undefined): string {
  if (!addr) return '';
  return addr.startsWith('::ffff:') ? addr.slice(7) : addr;
}

/** The latest recorded snapshot at or before `position`, cut to `limit` levels a side; undefined before the first. */
function recordedDepthAt(list: readonly SnapshotRecord[], position: number, limit: number): string | undefined {
  let pick: SnapshotRecord | undefined;
  for (const s of list) if (s.at <= position) pick = s;
  if (!pick) return undefined;
  const parsed = JSON.parse(pick.body) as { bids: unknown[]; asks: unknown[] } & Record<string, unknown>;
  if (parsed.bids.length <= limit && parsed.asks.length <= limit) return pick.body;
  return JSON.stringify({ ...parsed, bids: parsed.bids.slice(0, limit), asks: parsed.asks.slice(0, limit) });
}
