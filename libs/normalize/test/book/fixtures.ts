/**
 * Book fixtures and golden files.
 *
 *   npx tsx libs/normalize/test/book/fixtures.ts --extract   # captures → test/fixtures/books/*.jsonl
 *   npx tsx libs/normalize/test/book/fixtures.ts --golden    # fixtures → test/fixtures/books/golden/*.jsonl
 *
 * Review the diff of a regenerated golden file before committing it.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Exchange } from '@cryptoflow/model';
import type { BookFixtureRecord, BookRow } from '../../src/book/index.js';
import { decodeBookFixture, parseFixtureJsonl, replayBook } from '../../src/book/index.js';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(here, '../../../..');
export const FIXTURE_DIR = join(REPO_ROOT, 'test/fixtures/books');
export const GOLDEN_DIR = join(FIXTURE_DIR, 'golden');
const CAPTURES = '/work/shared/fixtures/real/cryptofeed-sample-data';

export const CAPTURE_SETS: readonly { exchange: Exchange; name: string; ws: string; http: string }[] = [
  { exchange: 'binance', name: 'binance-spot', ws: 'BINANCE.ws.1.0', http: 'BINANCE.http.0.0' },
  { exchange: 'binance-usdm', name: 'binance-usdm', ws: 'BINANCE_FUTURES.ws.1.0', http: 'BINANCE_FUTURES.http.0.0' },
];

/** Seconds (float text) → µs without float drift: the capture's times have ≤ 7 decimals. */
function secondsTextToMicros(text: string): number {
  const [whole, frac = ''] = text.split('.');
  return Number(whole) * 1_000_000 + Number((frac + '000000').slice(0, 6));
}

/** Depth frames and REST depth answers of one capture pair, merged in receive order. */
export function extractCapture(wsPath: string, httpPath: string): BookFixtureRecord[] {
  const out: BookFixtureRecord[] = [];
  for (const line of readFileSync(httpPath, 'utf8').split('\n')) {
    const m = /^(\S+) -> ([\d.]+): (.*)$/.exec(line);
    if (!m) continue;
    const symbol = /[?&]symbol=(\w+)/.exec(m[1]!)?.[1];
    if (!symbol) throw new Error(`no symbol in ${m[1]}`);
    out.push({ kind: 'rest', receivedAt: secondsTextToMicros(m[2]!), symbol, data: m[3]! });
  }
  for (const line of readFileSync(wsPath, 'utf8').split('\n')) {
    const m = /^([\d.]+): (.*)$/.exec(line);
    if (!m) continue;
    if (!m[2]!.includes('"depthUpdate"')) continue;
    out.push({ kind: 'ws', receivedAt: secondsTextToMicros(m[1]!), data: m[2]! });
  }
  // Stable sort keeps file order for equal times.
  return out.map((r, i) => ({ r, i })).sort((a, b) => a.r.receivedAt - b.r.receivedAt || a.i - b.i).map((x) => x.r);
}

export function fixturePath(name: string): string {
  return join(FIXTURE_DIR, `${name}.jsonl`);
}

export function goldenPath(name: string): string {
  return join(GOLDEN_DIR, `${name}.rows.jsonl`);
}

export function loadFixture(name: string): BookFixtureRecord[] {
  return parseFixtureJsonl(readFileSync(fixturePath(name), 'utf8'));
}

/**
 * Golden lines for a fixture: delta rows verbatim; each `top` snapshot as one line with its levels;
 * each `full` checkpoint and each snapshot's `is_snapshot` rows collapsed into one line with their
 * count and a SHA-256 of the rows (keeps the file reviewable: a 1000-level snapshot is one line,
 * yet any change to it shows).
 */
export function goldenLines(exchange: Exchange, records: readonly BookFixtureRecord[]): string[] {
  const { rows } = replayBook(decodeBookFixture(exchange, records));
  const lines: string[] = [];
  let group: { id: string; rows: BookRow[] } | null = null;
  const flush = (): void => {
    if (!group) return;
    const hash = createHash('sha256');
    for (const r of group.rows) hash.update(JSON.stringify(r) + '\n');
    const r0 = group.rows[0]!;
    if ('snapshot_kind' in r0 && r0.snapshot_kind === 'top') {
      const levels = (side: string): number[][] =>
        group!.rows.filter((r) => r.side === side).map((r) => [r.price, r.qty]);
      lines.push(
        JSON.stringify({
          top: r0.symbol,
          table: r0.table,
          snapshot_ts: r0.snapshot_ts,
          update_id: r0.update_id,
          exchange_ts: r0.exchange_ts,
          ingest_ts: r0.ingest_ts,
          bids: levels('bid'),
          asks: levels('ask'),
        }),
      );
      group = null;
      return;
    }
    lines.push(JSON.stringify({ group: group.id, table: r0.table, symbol: r0.symbol, rows: group.rows.length, sha256: hash.digest('hex') }));
    group = null;
  };
  for (const row of rows) {
    let id: string | null = null;
    if ('is_snapshot' in row && row.is_snapshot) id = `snapshot:${row.symbol}:${row.last_update_id}`;
    else if ('snapshot_kind' in row) id = `${row.snapshot_kind}:${row.symbol}:${row.snapshot_ts}`;
    if (group && group.id !== id) flush();
    if (id) {
      group ??= { id, rows: [] };
      group.rows.push(row);
    } else {
      lines.push(JSON.stringify(row));
    }
  }
  flush();
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = new Set(process.argv.slice(2));
  if (args.has('--extract')) {
    for (const set of CAPTURE_SETS) {
      const recs = extractCapture(join(CAPTURES, set.ws), join(CAPTURES, set.http));
      writeFileSync(fixturePath(set.name), recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
      console.log(`${fixturePath(set.name)}: ${recs.length} records`);
    }
  }
  if (args.has('--golden')) {
    for (const set of CAPTURE_SETS) {
      const lines = goldenLines(set.exchange, loadFixture(set.name));
      writeFileSync(goldenPath(set.name), lines.join('\n') + '\n');
      console.log(`${goldenPath(set.name)}: ${lines.length} lines`);
    }
  }
  if (!args.has('--extract') && !args.has('--golden')) console.error('usage: fixtures.ts [--extract] [--golden]');
}
