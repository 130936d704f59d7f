// One Binance market-data WebSocket carrying many streams (spot or USD-M).
// Spot:  https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams
// USD-M: https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams
//
// Venue rules this file follows (checked 2026-11, see README for the full list):
// - Combined URL `<base>/stream?streams=a/b` (spot) or `<base>/{public|market}/stream?streams=a/b` (USD-M).
// - Live changes: `{"method":"SUBSCRIBE"|"UNSUBSCRIBE","params":[...],"id":n}` → `{"result":null,"id":n}`;
//   `LIST_SUBSCRIPTIONS` → `{"result":[...],"id":n}`; errors `{"error":{"code","msg"},"id":n}`.
// - The server pings (spot every 20 s, USD-M every 3 min) and expects a pong with the same payload; `ws` answers
//   automatically. Client messages (pings, pongs, JSON requests) are limited to 5/s on spot and 10/s on USD-M,
//   above that the venue disconnects, so our own requests go through a per-socket rate limiter.
// - A connection lives at most 24 h: we roll over make-before-break ahead of the cut (see `rollover` below).
import { EventEmitter } from 'node:events';
import { WebSocket } from 'ws';
import type { RawData } from 'ws';
import { CfError, DEFAULT_BACKOFF, backoffDelayMs, nowMicros } from '@cryptoflow/core';
import type { BackoffPolicy } from '@cryptoflow/core';
import { connectionLogger } from '@cryptoflow/logger';
import type { Logger } from '@cryptoflow/logger';
import { counter, gauge } from '@cryptoflow/metrics';
import type { Counter, Gauge, Registry } from '@cryptoflow/metrics';
import type { Exchange } from '@cryptoflow/model';
import type { FrameSink } from '../types.js';
import {
  BINANCE_INBOUND_MESSAGES_PER_SEC,
  binanceMarket,
  BINANCE_MAX_STREAMS_PER_CONNECTION,
  combinedStreamPath,
  usdmRoute,
} from './streams.js';
import type { UsdmRoute } from './streams.js';

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'closed';

export type ReconnectReason = 'close' | 'error' | 'stale' | 'ping-timeout' | 'connect-failed';

export interface ConnectionEvents {
  open: [{ connId: string; url: string; rollover: boolean }];
  close: [{ connId: string; code: number; reason: string }];
  reconnect: [{ attempt: number; delayMs: number; reason: ReconnectReason }];
  rollover: [{ from: string; to: string }];
}

export interface ConnectionLabels {
  readonly exchange: string;
  readonly stream: string;
  readonly shard: string;
}

export interface BinanceStreamConnectionOptions {
  readonly exchange: Exchange;
  /** e.g. `wss://stream.binance.com:9443` or `wss://fstream.binance.com` (no path). */
  readonly wsBaseUrl: string;
  /** USD-M only: which routed path this connection uses; every stream must belong to it. Default 'public'. */
  readonly route?: UsdmRoute;
  readonly streams: readonly string[];
  readonly onFrame: FrameSink;
  /** Source IP to bind (pinned egress). */
  readonly localAddress?: string;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly labels: ConnectionLabels;
  /** Names this connection in logs and connIds, e.g. `binance/ticks/s3/c1`. */
  readonly connName: string;
  /** Client pings to detect a dead TCP path faster than the stale watchdog; 0/undefined = off (the venue pings us). */
  readonly pingIntervalMs?: number;
  /** No data frame for this long → reconnect. Default 30 s. Raise it for streams that can be quiet (forceOrder). */
  readonly staleAfterMs?: number;
  /** Proactive make-before-break rollover ahead of the venue's 24 h cut. Default 23 h 30 min. */
  readonly maxLifetimeMs?: number;
  readonly backoff?: BackoffPolicy;
  /** JSON requests per second we send on one socket. Default 4 (spot, venue limit 5) / 8 (USD-M, limit 10). */
  readonly subscribeRateLimitPerSec?: number;
}

const DEFAULT_STALE_AFTER_MS = 30_000;
const DEFAULT_MAX_LIFETIME_MS = 23.5 * 3_600_000;
/** Streams beyond what fits in this many URL characters are sent as SUBSCRIBE requests after open. */
const MAX_URL_CHARS = 8_000;
/** Streams per SUBSCRIBE/UNSUBSCRIBE request. */
const PARAMS_PER_REQUEST = 200;
const STOP_GRACE_MS = 5_000;

interface PendingRequest {
  readonly method: string;
  readonly params?: string[];
  resolve?: (result: unknown) => void;
  reject?: (err: Error) => void;
}

/** One socket attempt. A rollover briefly has two of these alive. */
interface Attempt {
  readonly connId: string;
  readonly ws: WebSocket;
  readonly url: string;
  /** Streams this socket has asked the venue for (URL + requests sent or queued). */
  readonly streams: Set<string>;
  readonly rollover: boolean;
  state: 'connecting' | 'open' | 'closed';
  gotData: boolean;
  retired: boolean;
  lastDataAt: number;
  closeReason: ReconnectReason | undefined;
  awaitingPong: boolean;
  readonly queue: { method: string; params?: string[]; pending: PendingRequest }[];
  readonly pending: Map<number, PendingRequest>;
  sendTimer: NodeJS.Timeout | undefined;
  lastSendAt: number;
  closed: Promise<void>;
}

export class BinanceStreamConnection extends EventEmitter<ConnectionEvents> {
  private readonly opts: BinanceStreamConnectionOptions;
  private readonly log: Logger;
  private readonly streams = new Set<string>();
  private readonly route: UsdmRoute | undefined;
  private readonly staleAfterMs: number;
  private readonly maxLifetimeMs: number;
  private readonly backoff: BackoffPolicy;
  private readonly sendIntervalMs: number;

  private primary: Attempt | undefined;
  private successor: Attempt | undefined;
  private readonly retiring = new Set<Attempt>();
  private seq = 0;
  private nextRequestId = 1;
  private failures = 0;
  private rolloverFailures = 0;
  private stopped = false;
  private started = false;
  private paused = false;
  private _connectedOnce = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private lifetimeTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;

  private readonly mConnections: Gauge<'exchange' | 'stream' | 'shard' | 'state'>;
  private readonly mReconnects: Counter<'exchange' | 'stream' | 'shard' | 'reason'>;
  private readonly mFrames: ReturnType<Counter<string>['labels']>;
  private readonly mBytes: ReturnType<Counter<string>['labels']>;
  private readonly mStale: ReturnType<Counter<string>['labels']>;
  private readonly mRollovers: ReturnType<Counter<string>['labels']>;

  constructor(opts: BinanceStreamConnectionOptions) {
    super();
    this.opts = opts;
    const market = binanceMarket(opts.exchange);
    this.route = market === 'binance-usdm' ? (opts.route ?? 'public') : undefined;
    if (opts.exchange !== 'binance-usdm' && opts.route !== undefined) {
      throw new CfError('CF_CONFIG_INVALID', `route is a USD-M notion; ${opts.exchange} has none`, {
        context: { connName: opts.connName },
      });
    }
    this.staleAfterMs = opts.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
    this.maxLifetimeMs = opts.maxLifetimeMs ?? DEFAULT_MAX_LIFETIME_MS;
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    const rate =
      opts.subscribeRateLimitPerSec ??
      BINANCE_INBOUND_MESSAGES_PER_SEC[market] - (market === 'binance' ? 1 : 2);
    if (!(rate > 0))
      throw new CfError('CF_CONFIG_INVALID', `subscribeRateLimitPerSec: expected > 0, got ${rate}`, {
        context: { connName: opts.connName },
      });
    this.sendIntervalMs = 1000 / rate;
    this.addStreams(opts.streams);

    const shard = Number(opts.labels.shard);
    this.log = connectionLogger(opts.logger, {
      exchange: opts.labels.exchange,
      stream: opts.labels.stream,
      shard: Number.isFinite(shard) ? shard : -1,
      conn: opts.connName,
    });
    const labelNames = ['exchange', 'stream', 'shard'] as const;
    const { registry, labels } = opts;
    this.mConnections = gauge(registry, 'ws_connections', 'WebSocket sockets by state (connecting, open).', [
      ...labelNames,
      'state',
    ]);
    this.mReconnects = counter(registry, 'ws_reconnects_total', 'Reconnects scheduled, by reason.', [
      ...labelNames,
      'reason',
    ]);
    this.mFrames = counter(registry, 'ws_frames_received_total', 'Data frames received.', labelNames).labels(
      labels,
    );
    this.mBytes = counter(
      registry,
      'ws_bytes_received_total',
      'Bytes of data frames received.',
      labelNames,
    ).labels(labels);
    this.mStale = counter(
      registry,
      'ws_stale_disconnects_total',
      'Sockets closed by the stale watchdog.',
      labelNames,
    ).labels(labels);
    this.mRollovers = counter(
      registry,
      'ws_rollovers_total',
      'Completed make-before-break rollovers.',
      labelNames,
    ).labels(labels);
    // Register label sets at zero so dashboards show them before the first event.
    for (const reason of ['close', 'error', 'stale', 'ping-timeout', 'connect-failed'] as const)
      this.mReconnects.inc({ ...labels, reason }, 0);
    for (const state of ['connecting', 'open'] as const) this.mConnections.inc({ ...labels, state }, 0);
  }

  get state(): ConnectionState {
    if (this.stopped) return 'closed';
    if (!this.started) return 'idle';
    return this.primary?.state === 'open' ? 'open' : 'connecting';
  }

  get connectedOnce(): boolean {
    return this._connectedOnce;
  }

  /** The streams this connection keeps subscribed (across reconnects and rollovers). */
  get subscriptions(): readonly string[] {
    return [...this.streams];
  }

  /** connId of the socket currently considered primary, if any. */
  get currentConnId(): string | undefined {
    return this.primary?.connId;
  }

  start(): void {
    if (this.started) return;
    if (this.stopped) throw new CfError('CF_CONNECTION', `${this.opts.connName}: start() after stop()`);
    this.started = true;
    const tick = Math.max(10, Math.min(1_000, Math.floor(this.staleAfterMs / 4)));
    this.watchdog = setInterval(() => this.checkStale(), tick);
    if (this.opts.pingIntervalMs && this.opts.pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => this.pingAll(), this.opts.pingIntervalMs);
    }
    this.primary = this.connect(false);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.lifetimeTimer);
    clearInterval(this.watchdog);
    clearInterval(this.pingTimer);
    const all = [this.primary, this.successor, ...this.retiring].filter((a): a is Attempt => a !== undefined);
    for (const a of all) this.closeAttempt(a, 1000, 'client stop');
    await Promise.all(all.map((a) => a.closed));
  }

  /** Stop reading the socket(s): the kernel buffer fills and TCP pushes back on the venue. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    for (const a of this.live()) a.ws.pause();
    this.log.debug('paused');
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const now = performance.now();
    for (const a of this.live()) {
      // Time spent paused is not silence from the venue.
      a.lastDataAt = now;
      a.ws.resume();
    }
    this.log.debug('resumed');
  }

  get isPaused(): boolean {
    return this.paused;
  }

  subscribe(streams: readonly string[]): void {
    const added = streams.filter((s) => !this.streams.has(s));
    this.addStreams(added);
    for (const a of this.live()) this.syncSubscriptions(a);
  }

  unsubscribe(streams: readonly string[]): void {
    for (const s of streams) this.streams.delete(s);
    for (const a of this.live()) this.syncSubscriptions(a);
  }

  /** Asks the venue which streams the primary socket carries (LIST_SUBSCRIPTIONS). */
  listSubscriptions(): Promise<string[]> {
    const a = this.primary;
    if (!a || a.state !== 'open')
      return Promise.reject(
        new CfError('CF_CONNECTION', `${this.opts.connName}: not open`, { retriable: true }),
      );
    return new Promise((resolve, reject) => {
      this.enqueue(a, 'LIST_SUBSCRIPTIONS', undefined, {
        method: 'LIST_SUBSCRIPTIONS',
        resolve: (r) => resolve(r as string[]),
        reject,
      });
    });
  }

  private addStreams(streams: readonly string[]): void {
    for (const s of streams) {
      if (this.route !== undefined && usdmRoute(s) !== this.route) {
        throw new CfError(
          'CF_CONFIG_INVALID',
          `${s} belongs to the USD-M /${usdmRoute(s)} path, this connection uses /${this.route}: it would never deliver`,
          {
            context: { connName: this.opts.connName, stream: s },
          },
        );
      }
    }
    for (const s of streams) this.streams.add(s);
    if (this.streams.size > BINANCE_MAX_STREAMS_PER_CONNECTION) {
      for (const s of streams) this.streams.delete(s);
      throw new CfError(
        'CF_CONFIG_INVALID',
        `${this.opts.connName}: more than ${BINANCE_MAX_STREAMS_PER_CONNECTION} streams on one connection`,
        {
          context: { connName: this.opts.connName },
        },
      );
    }
  }

  private live(): Attempt[] {
    const out: Attempt[] = [];
    if (this.primary && this.primary.state !== 'closed') out.push(this.primary);
    if (this.successor && this.successor.state !== 'closed') out.push(this.successor);
    return out;
  }

  private connect(rollover: boolean): Attempt {
    const connId = `${this.opts.connName}#${++this.seq}`;
    const inUrl: string[] = [];
    const base = this.opts.wsBaseUrl.replace(/\/+$/, '');
    let length = base.length + 20;
    for (const s of this.streams) {
      if (length + s.length + 1 > MAX_URL_CHARS) break;
      inUrl.push(s);
      length += s.length + 1;
    }
    const url = base + combinedStreamPath(this.opts.exchange, inUrl, this.route);
    const ws = new WebSocket(url, {
      ...(this.opts.localAddress ? { localAddress: this.opts.localAddress } : {}),
      handshakeTimeout: 10_000,
      perMessageDeflate: false,
    });
    let resolveClosed!: () => void;
    const attempt: Attempt = {
      connId,
      ws,
      url,
      streams: new Set(inUrl),
      rollover,
      state: 'connecting',
      gotData: false,
      retired: false,
      lastDataAt: performance.now(),
      closeReason: undefined,
      awaitingPong: false,
      queue: [],
      pending: new Map(),
      sendTimer: undefined,
      lastSendAt: 0,
      closed: new Promise<void>((r) => (resolveClosed = r)),
    };
    this.mConnections.inc({ ...this.opts.labels, state: 'connecting' });
    this.log.info(
      {
        connId,
        url: url.length > 200 ? `${url.slice(0, 200)}…` : url,
        rollover,
        localAddress: this.opts.localAddress,
      },
      'connecting',
    );

    const labels = this.opts.labels;
    const exchange = this.opts.exchange;
    const onFrame = this.opts.onFrame;
    ws.on('open', () => {
      attempt.state = 'open';
      attempt.lastDataAt = performance.now();
      this.mConnections.dec({ ...labels, state: 'connecting' });
      this.mConnections.inc({ ...labels, state: 'open' });
      if (this.paused) ws.pause();
      this._connectedOnce = true;
      this.log.info({ connId, rollover }, 'open');
      this.syncSubscriptions(attempt);
      if (attempt === this.primary) this.armLifetime();
      this.emit('open', { connId, url, rollover });
    });
    ws.on('message', (raw: RawData) => {
      const receivedAt = nowMicros();
      const data = typeof raw === 'string' ? raw : raw.toString();
      if (
        !data.startsWith('{"stream"') &&
        (data.startsWith('{"result"') || data.startsWith('{"id"') || data.startsWith('{"error"'))
      ) {
        this.onControl(attempt, data);
        return;
      }
      attempt.lastDataAt = performance.now();
      this.mFrames.inc();
      this.mBytes.inc(Buffer.isBuffer(raw) ? raw.length : Buffer.byteLength(data));
      if (onFrame({ exchange, connId, receivedAt, data }) === false && !this.paused) this.pause();
      if (!attempt.gotData) {
        // After delivery: the successor's first frame is downstream before the old socket is told to close.
        attempt.gotData = true;
        this.onFirstData(attempt);
      }
    });
    ws.on('pong', () => {
      attempt.awaitingPong = false;
    });
    ws.on('error', (err) => {
      attempt.closeReason ??= attempt.state === 'connecting' ? 'connect-failed' : 'error';
      this.log.warn(
        { connId, err: { message: err.message, code: (err as NodeJS.ErrnoException).code } },
        'socket error',
      );
    });
    ws.on('close', (code, reasonBuf) => {
      const reason = reasonBuf.toString();
      this.mConnections.dec({ ...labels, state: attempt.state === 'open' ? 'open' : 'connecting' });
      attempt.state = 'closed';
      clearTimeout(attempt.sendTimer);
      for (const p of attempt.pending.values())
        p.reject?.(
          new CfError('CF_CONNECTION', `${connId} closed before answering ${p.method}`, { retriable: true }),
        );
      for (const q of attempt.queue)
        q.pending.reject?.(
          new CfError('CF_CONNECTION', `${connId} closed before sending ${q.method}`, { retriable: true }),
        );
      attempt.pending.clear();
      attempt.queue.length = 0;
      this.log.info({ connId, code, reason, closeReason: attempt.closeReason }, 'closed');
      this.emit('close', { connId, code, reason });
      this.onClosed(attempt);
      resolveClosed();
    });
    return attempt;
  }

  private onClosed(a: Attempt): void {
    this.retiring.delete(a);
    if (this.stopped || a.retired) return;
    const reason: ReconnectReason = a.closeReason ?? 'close';
    if (a === this.successor) {
      this.successor = undefined;
      const delayMs = backoffDelayMs(this.rolloverFailures++, this.backoff);
      this.log.warn(
        { connId: a.connId, reason, delayMs },
        'rollover successor lost; keeping the current socket and retrying',
      );
      this.lifetimeTimer = setTimeout(() => this.startRollover(), delayMs);
      return;
    }
    if (a !== this.primary) return;
    if (this.successor && this.successor.state === 'open') {
      // The old socket died mid-rollover: the successor is already up, promote it now.
      this.promote(this.successor);
      return;
    }
    this.primary = undefined;
    this.scheduleReconnect(reason);
  }

  private scheduleReconnect(reason: ReconnectReason): void {
    if (this.successor) {
      // A successor still connecting becomes the next primary attempt.
      const s = this.successor;
      this.successor = undefined;
      this.primary = s;
      return;
    }
    const attempt = this.failures++;
    const delayMs = backoffDelayMs(attempt, this.backoff);
    this.mReconnects.inc({ ...this.opts.labels, reason });
    this.log.warn({ reason, attempt, delayMs }, 'reconnecting');
    this.emit('reconnect', { attempt, delayMs, reason });
    clearTimeout(this.lifetimeTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopped) this.primary = this.connect(false);
    }, delayMs);
  }

  private onFirstData(a: Attempt): void {
    if (a === this.primary) {
      this.failures = 0;
    } else if (a === this.successor) {
      this.promote(a);
    }
  }

  /** Make-before-break: the successor delivers, so the old socket can go. Both delivered briefly; ingest dedupes. */
  private promote(next: Attempt): void {
    const old = this.primary;
    this.primary = next;
    this.successor = undefined;
    this.rolloverFailures = 0;
    this.failures = 0;
    if (old && old.state !== 'closed') {
      old.retired = true;
      this.retiring.add(old);
      this.closeAttempt(old, 1000, 'rollover');
    }
    this.mRollovers.inc();
    this.log.info({ from: old?.connId, to: next.connId }, 'rollover complete');
    this.armLifetime();
    this.emit('rollover', { from: old?.connId ?? '', to: next.connId });
  }

  private armLifetime(): void {
    clearTimeout(this.lifetimeTimer);
    this.lifetimeTimer = setTimeout(() => this.startRollover(), this.maxLifetimeMs);
  }

  private startRollover(): void {
    if (this.stopped || this.successor) return;
    if (!this.primary || this.primary.state !== 'open') {
      // Nothing healthy to overlap with; the reconnect path owns it.
      return;
    }
    this.log.info({ from: this.primary.connId }, 'rollover: opening successor');
    this.successor = this.connect(true);
  }

  private checkStale(): void {
    if (this.paused || this.stopped) return;
    const now = performance.now();
    for (const a of this.live()) {
      if (a.state !== 'open') continue;
      if (now - a.lastDataAt > this.staleAfterMs) {
        this.mStale.inc();
        this.log.warn(
          { connId: a.connId, silentMs: Math.round(now - a.lastDataAt) },
          'stale: no data frame, closing',
        );
        a.closeReason = 'stale';
        a.ws.terminate();
      }
    }
  }

  private pingAll(): void {
    if (this.paused) return; // a paused socket cannot read the pong
    for (const a of this.live()) {
      if (a.state !== 'open') continue;
      if (a.awaitingPong) {
        this.log.warn({ connId: a.connId }, 'no pong for a full ping interval, closing');
        a.closeReason = 'ping-timeout';
        a.ws.terminate();
        continue;
      }
      a.awaitingPong = true;
      a.ws.ping();
    }
  }

  private closeAttempt(a: Attempt, code: number, reason: string): void {
    if (a.state === 'closed') return;
    a.retired = true;
    clearTimeout(a.sendTimer);
    if (a.state === 'connecting') {
      a.ws.terminate();
      return;
    }
    // A paused socket cannot read the close reply; resume so the handshake completes.
    a.ws.resume();
    a.ws.close(code, reason);
    const t = setTimeout(() => a.ws.terminate(), STOP_GRACE_MS);
    t.unref();
    void a.closed.then(() => clearTimeout(t));
  }

  /** Brings what a socket asked for in line with the wanted set, in rate-limited chunks. */
  private syncSubscriptions(a: Attempt): void {
    if (a.state !== 'open') return;
    const add: string[] = [];
    const remove: string[] = [];
    for (const s of this.streams) if (!a.streams.has(s)) add.push(s);
    for (const s of a.streams) if (!this.streams.has(s)) remove.push(s);
    for (let i = 0; i < remove.length; i += PARAMS_PER_REQUEST) {
      const params = remove.slice(i, i + PARAMS_PER_REQUEST);
      for (const s of params) a.streams.delete(s);
      this.enqueue(a, 'UNSUBSCRIBE', params, { method: 'UNSUBSCRIBE', params });
    }
    for (let i = 0; i < add.length; i += PARAMS_PER_REQUEST) {
      const params = add.slice(i, i + PARAMS_PER_REQUEST);
      for (const s of params) a.streams.add(s);
      this.enqueue(a, 'SUBSCRIBE', params, { method: 'SUBSCRIBE', params });
    }
  }

  private enqueue(a: Attempt, method: string, params: string[] | undefined, pending: PendingRequest): void {
    a.queue.push(params ? { method, params, pending } : { method, pending });
    this.drain(a);
  }

  private drain(a: Attempt): void {
    if (a.sendTimer !== undefined || a.state !== 'open') return;
    const item = a.queue[0];
    if (!item) return;
    const wait = a.lastSendAt + this.sendIntervalMs - performance.now();
    if (wait > 0) {
      a.sendTimer = setTimeout(() => {
        a.sendTimer = undefined;
        this.drain(a);
      }, wait);
      return;
    }
    a.queue.shift();
    const id = this.nextRequestId++;
    a.pending.set(id, item.pending);
    a.lastSendAt = performance.now();
    a.ws.send(
      JSON.stringify(
        item.params ? { method: item.method, params: item.params, id } : { method: item.method, id },
      ),
    );
    this.log.debug({ connId: a.connId, id, method: item.method, count: item.params?.length }, 'request sent');
    if (a.queue.length > 0) this.drain(a);
  }

  private onControl(a: Attempt, data: string): void {
    let msg: { id?: unknown; result?: unknown; error?: { code?: unknown; msg?: unknown } };
    try {
      msg = JSON.parse(data) as typeof msg;
    } catch {
      this.log.warn({ connId: a.connId, preview: data.slice(0, 160) }, 'unparseable control message');
      return;
    }
    const id = typeof msg.id === 'number' ? msg.id : undefined;
    const pending = id === undefined ? undefined : a.pending.get(id);
    if (id !== undefined) a.pending.delete(id);
    if (msg.error) {
      this.log.error(
        {
          connId: a.connId,
          id,
          method: pending?.method,
          params: pending?.params?.slice(0, 5),
          error: msg.error,
        },
        'venue rejected request',
      );
      pending?.reject?.(
        new CfError('CF_CONNECTION', `venue rejected ${pending.method}: ${String(msg.error.msg)}`, {
          context: { code: msg.error.code, id },
        }),
      );
      return;
    }
    this.log.debug({ connId: a.connId, id, method: pending?.method }, 'request acknowledged');
    pending?.resolve?.(msg.result);
  }
}
