/**
 * Binance depth payloads → DepthEvent / DepthSnapshot.
 * Spot diff stream: https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams#diff-depth-stream
 * USD-M diff stream: https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Diff-Book-Depth-Streams
 */
import { CfError, framePreview } from '@cryptoflow/core';
import type { Exchange } from '@cryptoflow/model';
import type { DepthEvent, DepthSnapshot } from './types.js';

function fieldError(exchange: Exchange, what: string, payload: unknown): CfError {
  let preview: string;
  try {
    preview = framePreview(JSON.stringify(payload) ?? String(payload));
  } catch {
    preview = String(payload);
  }
  return new CfError('CF_FRAME_FIELD', `${exchange} depth: ${what}`, { context: { exchange, frame: preview } });
}

function id(exchange: Exchange, value: unknown, name: string, payload: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw fieldError(exchange, `${name}: expected a non-negative safe integer, got ${String(value)}`, payload);
  }
  return value;
}

/** `[["0.35","6195"], ...]` → `[0.35, 6195, ...]`. */
function levels(exchange: Exchange, value: unknown, name: string, payload: unknown): number[] {
  if (!Array.isArray(value)) throw fieldError(exchange, `${name}: expected an array`, payload);
  const out = new Array<number>(value.length * 2);
  for (let i = 0; i < value.length; i++) {
    const level: unknown = value[i];
    if (!Array.isArray(level) || level.length < 2) throw fieldError(exchange, `${name}[${i}]: expected [price, qty]`, payload);
    const price = Number(level[0]);
    const qty = Number(level[1]);
    if (!(price > 0) || !Number.isFinite(price) || !(qty >= 0) || !Number.isFinite(qty)) {
      throw fieldError(exchange, `${name}[${i}]: bad level ${JSON.stringify(level)}`, payload);
    }
    out[2 * i] = price;
    out[2 * i + 1] = qty;
  }
  return out;
}

/** Whether the market's diffs carry `pu` (USD-M); CF_MARKET_UNSUPPORTED for a market this parser does not know. */
function usdmDepth(exchange: Exchange): boolean {
  if (exchange === 'binance-usdm') return true;
  if (exchange === 'binance') return false;
  throw new CfError('CF_MARKET_UNSUPPORTED', `no depth parser for ${exchange}`, { context: { exchange } });
}

/** Decode the `data` object of a `depthUpdate` frame. Throws CfError(CF_FRAME_FIELD) on bad input. */
export function depthEventFromPayload(exchange: Exchange, payload: unknown, ingestTs: number): DepthEvent {
  if (typeof payload !== 'object' || payload === null) throw fieldError(exchange, 'payload is not an object', payload);
  const p = payload as Record<string, unknown>;
  if (typeof p.s !== 'string' || p.s.length === 0) throw fieldError(exchange, 's: expected symbol', payload);
  const usdm = usdmDepth(exchange);
  return {
    exchange,
    symbol: p.s.toUpperCase(),
    exchangeTs: id(exchange, p.E, 'E', payload) * 1000,
    ingestTs,
    firstUpdateId: id(exchange, p.U, 'U', payload),
    lastUpdateId: id(exchange, p.u, 'u', payload),
    prevUpdateId: usdm ? id(exchange, p.pu, 'pu', payload) : null,
    bids: levels(exchange, p.b, 'b', payload),
    asks: levels(exchange, p.a, 'a', payload),
  };
}

/** Decode a REST depth body (`{lastUpdateId, bids, asks}`, USD-M adds `E`, `T`). */
export function depthSnapshotFromBody(exchange: Exchange, body: unknown, receivedAt: number): DepthSnapshot {
  if (typeof body !== 'object' || body === null) throw fieldError(exchange, 'snapshot body is not an object', body);
  const b = body as Record<string, unknown>;
  return {
    lastUpdateId: id(exchange, b.lastUpdateId, 'lastUpdateId', body),
    exchangeTs: typeof b.E === 'number' ? id(exchange, b.E, 'E', body) * 1000 : null,
    receivedAt,
    bids: levels(exchange, b.bids, 'bids', body),
    asks: levels(exchange, b.asks, 'asks', body),
  };
}
