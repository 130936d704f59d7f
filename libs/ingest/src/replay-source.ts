import { readFileSync } from 'node:fs';
import { CfError } from '@cryptoflow/core';
import { isExchange } from '@cryptoflow/model';
import type { Exchange } from '@cryptoflow/model';
import { parseCapture } from './capture.js';

/** One recorded item in receive order: a WebSocket frame, or a REST answer (depth snapshot). */
export type RecordedItem =
  | { readonly kind: 'frame'; readonly exchange: Exchange; readonly at: number; readonly data: string }
  | {
      readonly kind: 'rest';
      readonly exchange: Exchange;
      readonly at: number;
      readonly url: string;
      readonly body: string;
    };

/** Which venue market a capture URL belongs to; CF_MARKET_UNSUPPORTED when the URL does not say (never a default). */
export function exchangeOfUrl(url: string): Exchange {
  if (/fstream|fapi|binance-usdm|\/fapi\//.test(url)) return 'binance-usdm';
  if (/binance\.com|\/api\/v3\//.test(url)) return 'binance';
  throw new CfError('CF_MARKET_UNSUPPORTED', `capture URL ${url}: no known venue market; name the exchange explicitly`, {
    context: { url },
  });
}

/**
 * Reads recordings in either format the project keeps — cryptofeed captures (`T: BODY` lines) or
 * fixture JSON Lines (`{"receivedAt": µs, "data": "<frame>"}` with an optional `exchange`) — and
 * merges them by receive time (stable for equal times, so per-file order holds).
 */
export function readRecordings(paths: readonly string[], defaultExchange?: Exchange): RecordedItem[] {
  const items: RecordedItem[] = [];
  for (const path of paths) {
    const text = readFileSync(path, 'utf8');
    if (path.endsWith('.jsonl')) {
      text.split('\n').forEach((line, i) => {
        if (line.trim() === '') return;
        const rec = JSON.parse(line) as {
          receivedAt?: unknown;
          data?: unknown;
          exchange?: unknown;
          url?: unknown;
          body?: unknown;
        };
        const exchange = typeof rec.exchange === 'string' ? rec.exchange : defaultExchange;
        if (typeof rec.receivedAt !== 'number' || exchange === undefined) {
          throw new Error(`${path}:${i + 1}: expected {"receivedAt": µs, "data": "..."} with an exchange`);
        }
        if (!isExchange(exchange)) throw new Error(`${path}:${i + 1}: unknown exchange ${JSON.stringify(exchange)}`);
        if (typeof rec.url === 'string' && typeof rec.body === 'string')
          items.push({ kind: 'rest', exchange, at: rec.receivedAt, url: rec.url, body: rec.body });
        else if (typeof rec.data === 'string')
          items.push({ kind: 'frame', exchange, at: rec.receivedAt, data: rec.data });
      });
      continue;
    }
    for (const rec of parseCapture(text, path)) {
      if (rec.kind === 'ws-recv')
        items.push({
          kind: 'frame',
          exchange: defaultExchange ?? exchangeOfUrl(rec.url),
          at: rec.at,
          data: rec.data,
        });
      else if (rec.kind === 'http' && /\/depth\?/.test(rec.url)) {
        items.push({
          kind: 'rest',
          exchange: defaultExchange ?? exchangeOfUrl(rec.url),
          at: rec.at,
          url: rec.url,
          body: rec.body,
        });
      }
    }
  }
  // Stable sort by time keeps each file's own order for equal timestamps.
  return items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => a.item.at - b.item.at || a.i - b.i)
    .map((x) => x.item);
}
