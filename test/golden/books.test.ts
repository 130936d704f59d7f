/**
 * Golden replays of the four book streams (see books-golden.ts), and the check a user would make on
 * them: the books in the ob tables equal, level for level, the books rebuilt from the delta tables
 * alone at the same update id. Regenerate on purpose with `npm run golden:update` and review the diff.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DELTA_STREAMS, OB_STREAMS, deltaGoldenPath, obDigest, obDigestPath } from './books-golden.js';
import type { ObDigest } from './books-golden.js';
import { replayStream } from './streams.js';

type Row = Record<string, unknown>;
type Top = { bids: [number, number][]; asks: [number, number][] };

const TOP = 20;

function parseLines(text: string): Row[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Row);
}

function firstDifference(a: string, b: string): string {
  const x = a.split('\n');
  const y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] !== y[i]) return `line ${i + 1}:\n  replayed: ${x[i] ?? '<none>'}\n  golden:   ${y[i] ?? '<none>'}`;
  }
  return 'identical';
}

function topOf(m: { bids: Map<number, number>; asks: Map<number, number> }): Top {
  const side = (s: Map<number, number>, desc: boolean): [number, number][] =>
    [...s.entries()].sort((p, q) => (desc ? q[0] - p[0] : p[0] - q[0])).slice(0, TOP);
  return { bids: side(m.bids, true), asks: side(m.asks, false) };
}

/** symbol → update id → top levels, rebuilt from delta rows alone (a new is_snapshot group clears the book). */
function rebuildFromDeltas(rows: readonly Row[]): Map<string, Map<number, Top>> {
  const out = new Map<string, Map<number, Top>>();
  const books = new Map<string, { bids: Map<number, number>; asks: Map<number, number> }>();
  let group: { symbol: string; last: number; snapshot: boolean } | null = null;
  const close = (): void => {
    if (group) out.get(group.symbol)!.set(group.last, topOf(books.get(group.symbol)!));
  };
  for (const r of rows) {
    const symbol = r['symbol'] as string;
    const last = r['last_update_id'] as number;
    const snapshot = r['is_snapshot'] as boolean;
    if (!group || group.symbol !== symbol || group.last !== last || group.snapshot !== snapshot) {
      close();
      if (!books.has(symbol)) {
        books.set(symbol, { bids: new Map(), asks: new Map() });
        out.set(symbol, new Map());
      }
      if (snapshot) {
        books.get(symbol)!.bids.clear();
        books.get(symbol)!.asks.clear();
      }
      group = { symbol, last, snapshot };
    }
    const side = r['side'] === 'bid' ? books.get(symbol)!.bids : books.get(symbol)!.asks;
    if ((r['qty'] as number) === 0) side.delete(r['price'] as number);
    else side.set(r['price'] as number, r['qty'] as number);
  }
  close();
  return out;
}

describe('golden replays: order books', () => {
  for (const stream of DELTA_STREAMS) {
    it(`${stream}: the replayed rows equal test/golden/${stream}.jsonl`, async () => {
      const { text, decodeErrors } = await replayStream(stream);
      const expected = readFileSync(deltaGoldenPath(stream), 'utf8');
      expect(decodeErrors).toBe(0);
      expect(text === expected, firstDifference(text, expected)).toBe(true);
    });
  }

  for (const [i, stream] of OB_STREAMS.entries()) {
    it(`${stream}: the replayed rows match test/golden/${stream}.digest.json, and every book equals the ${DELTA_STREAMS[i]} rebuild`, async () => {
      const { text, decodeErrors } = await replayStream(stream);
      expect(decodeErrors).toBe(0);
      const golden = JSON.parse(readFileSync(obDigestPath(stream), 'utf8')) as ObDigest;
      const digest = obDigest(text);
      expect({ ...digest, sha256: '' }).toEqual({ ...golden, sha256: '' }); // readable diff first
      expect(digest.sha256).toBe(golden.sha256); // then every byte

      // The user's check: the ob table's books against the delta table's rebuild, same update id.
      const deltas = rebuildFromDeltas(parseLines(readFileSync(deltaGoldenPath(DELTA_STREAMS[i]!), 'utf8')));
      const books = new Map<string, Row[]>();
      for (const r of parseLines(text)) {
        const k = `${String(r['symbol'])}|${String(r['snapshot_kind'])}|${String(r['snapshot_ts'])}`;
        let g = books.get(k);
        if (!g) books.set(k, (g = []));
        g.push(r);
      }
      let checked = 0;
      for (const [k, g] of books) {
        const u = g[0]!['update_id'] as number;
        const levels = (side: string): [number, number][] =>
          g
            .filter((r) => r['side'] === side)
            .slice(0, TOP)
            .map((r) => [r['price'] as number, r['qty'] as number]);
        const want = deltas.get(g[0]!['symbol'] as string)?.get(u);
        expect(want, `${k}: the delta rows reach update id ${u}`).toBeDefined();
        expect({ bids: levels('bid'), asks: levels('ask') }, `${k} at ${u}`).toEqual(want);
        checked++;
      }
      expect(checked).toBe(Object.values(digest.symbols).reduce((a, s) => a + Object.values(s.books).reduce((x, n) => x + n, 0), 0));
      expect(checked).toBeGreaterThan(500);
    });
  }

  it('delta goldens start each symbol with its REST snapshot and chain by the venue rule', () => {
    for (const stream of DELTA_STREAMS) {
      const rows = parseLines(readFileSync(deltaGoldenPath(stream), 'utf8'));
      const usdm = stream === 'futures-delta';
      let prev: { symbol: string; first: number; last: number; snapshot: boolean } | null = null;
      let diffs = 0;
      for (const r of rows) {
        const cur = { symbol: r['symbol'] as string, first: r['first_update_id'] as number, last: r['last_update_id'] as number, snapshot: r['is_snapshot'] as boolean };
        if (prev && prev.symbol === cur.symbol && prev.first === cur.first && prev.last === cur.last && prev.snapshot === cur.snapshot) continue;
        if (!prev || prev.symbol !== cur.symbol) {
          expect(cur.snapshot, `${stream} ${cur.symbol} starts with snapshot rows`).toBe(true);
        } else if (!cur.snapshot) {
          diffs++;
          if (prev.snapshot) expect(cur.first <= prev.last + (usdm ? 0 : 1) && prev.last + (usdm ? 0 : 1) <= cur.last, `${stream} ${cur.symbol} ${cur.last}`).toBe(true);
          else if (usdm) expect(r['prev_update_id'], `${stream} ${cur.symbol} pu at ${cur.last}`).toBe(prev.last);
          else expect(cur.first, `${stream} ${cur.symbol} U at ${cur.last}`).toBe(prev.last + 1);
        }
        prev = cur;
      }
      expect(diffs, stream).toBeGreaterThan(100);
    }
  });
});
