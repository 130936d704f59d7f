/**
 * Golden files of the four book streams, replayed from the captures by the replayer (`replay` from
 * @cryptoflow/runtime, the collector pipeline fed from files, recorded REST snapshots in stream order):
 *  - spot-delta / futures-delta: the full canonical rows, `test/golden/<stream>.jsonl` (1-3 MB);
 *  - spot-ob / futures-ob: a digest, `test/golden/<stream>.digest.json` — the full output is 18-50 MB.
 *    It holds the SHA-256 of the exact JSONL, so any change of any row fails, plus what a reviewer
 *    can read in a diff: rows and books per symbol and kind, and each symbol's first and last row.
 * `npm run golden:update` calls `updateBookGoldens()`; review the diff before committing.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Stream } from '@cryptoflow/model';
import { ROOT, replayStream } from './streams.js';

export const DELTA_STREAMS = ['spot-delta', 'futures-delta'] as const satisfies readonly Stream[];
export const OB_STREAMS = ['spot-ob', 'futures-ob'] as const satisfies readonly Stream[];

export function deltaGoldenPath(stream: (typeof DELTA_STREAMS)[number]): string {
  return join(ROOT, 'test', 'golden', `${stream}.jsonl`);
}

export function obDigestPath(stream: (typeof OB_STREAMS)[number]): string {
  return join(ROOT, 'test', 'golden', `${stream}.digest.json`);
}

export interface ObSymbolDigest {
  /** Level rows per snapshot kind. */
  readonly rows: Record<string, number>;
  /** Books (distinct snapshot_ts) per snapshot kind. */
  readonly books: Record<string, number>;
  readonly firstUpdateId: number;
  readonly lastUpdateId: number;
  readonly first: Record<string, unknown>;
  readonly last: Record<string, unknown>;
}

export interface ObDigest {
  readonly rows: number;
  readonly bytes: number;
  readonly sha256: string;
  readonly symbols: Record<string, ObSymbolDigest>;
}

export function obDigest(text: string): ObDigest {
  const symbols: Record<string, { rows: Record<string, number>; books: Record<string, number>; lastBook: string; firstUpdateId: number; lastUpdateId: number; first: Record<string, unknown>; last: Record<string, unknown> }> = {};
  let rows = 0;
  for (const line of text.split('\n')) {
    if (!line) continue;
    rows++;
    const r = JSON.parse(line) as Record<string, unknown>;
    const key = `${String(r['exchange'])}|${String(r['symbol'])}`;
    const kind = String(r['snapshot_kind']);
    const u = r['update_id'] as number;
    let s = symbols[key];
    if (!s) s = symbols[key] = { rows: {}, books: {}, lastBook: '', firstUpdateId: u, lastUpdateId: u, first: r, last: r };
    s.rows[kind] = (s.rows[kind] ?? 0) + 1;
    const book = `${kind}|${String(r['snapshot_ts'])}`;
    if (book !== s.lastBook) {
      s.books[kind] = (s.books[kind] ?? 0) + 1;
      s.lastBook = book;
    }
    s.firstUpdateId = Math.min(s.firstUpdateId, u);
    s.lastUpdateId = Math.max(s.lastUpdateId, u);
    s.last = r;
  }
  const out: Record<string, ObSymbolDigest> = {};
  for (const [k, { lastBook: _lastBook, ...s }] of Object.entries(symbols)) out[k] = s;
  return {
    rows,
    bytes: Buffer.byteLength(text),
    sha256: createHash('sha256').update(text).digest('hex'),
    symbols: out,
  };
}

export async function updateBookGoldens(): Promise<void> {
  for (const stream of DELTA_STREAMS) {
    const { text } = await replayStream(stream);
    writeFileSync(deltaGoldenPath(stream), text);
    console.log(`wrote ${deltaGoldenPath(stream)} (${text.split('\n').filter(Boolean).length} rows)`);
  }
  for (const stream of OB_STREAMS) {
    const { text } = await replayStream(stream);
    const digest = obDigest(text);
    writeFileSync(obDigestPath(stream), `${JSON.stringify(digest, null, 2)}\n`);
    console.log(`wrote ${obDigestPath(stream)} (${digest.rows} rows, sha256 ${digest.sha256.slice(0, 12)}…)`);
  }
}
