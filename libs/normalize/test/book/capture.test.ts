import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeBookFixture, replayBook } from '../../src/book/index.js';
import { CAPTURE_SETS, goldenLines, goldenPath, loadFixture } from './fixtures.js';
import { checkSnapshotsAgainstDeltas } from './reference.js';

describe.each(CAPTURE_SETS)('real capture $name', (set) => {
  const records = loadFixture(set.name);
  const items = decodeBookFixture(set.exchange, records);
  const { rows, operator, requested } = replayBook(items);

  it('syncs every symbol from its recorded REST snapshot with no gap or resync', () => {
    const symbols = new Set(items.flatMap((i) => (i.kind === 'event' ? [i.event.symbol] : [])));
    expect(symbols.size).toBe(4);
    expect(requested).toHaveLength(4);
    expect(operator.summary().map((s) => s.state)).toEqual(['live', 'live', 'live', 'live']);
    expect(operator.counters.snapshotsUsed).toBe(4);
    expect(operator.counters.gaps).toBe(0);
    expect(Object.values(operator.counters.resyncs).every((n) => n === 0)).toBe(true);
  });

  it('every emitted book snapshot equals the book rebuilt from the delta rows at the same update id', () => {
    const checks = checkSnapshotsAgainstDeltas(rows);
    const tops = checks.filter((c) => c.kind === 'top');
    const fulls = checks.filter((c) => c.kind === 'full');
    expect(tops.length).toBeGreaterThan(100);
    expect(fulls.length).toBeGreaterThan(10);
    for (const c of checks) {
      expect(c.refUpdateId, `${c.symbol} ${c.kind} @${c.snapshotTs}`).toBe(c.updateId);
      expect(c.emitted, `${c.symbol} ${c.kind} @${c.snapshotTs}`).toEqual(c.reference);
    }
    // A top snapshot holds top_n levels per side whenever the book is that deep.
    for (const c of tops) expect(c.emitted.bids.length).toBe(Math.min(20, c.reference.bids.length));
  });

  it('snapshot rows sit on the 100 ms / 1 s receive-clock grid, before the diff that crossed it', () => {
    const bad: unknown[] = [];
    let n = 0;
    for (const r of rows) {
      if (!('snapshot_kind' in r)) continue;
      n++;
      const grid = r.snapshot_kind === 'top' ? 100_000 : 1_000_000;
      if (r.snapshot_ts % grid !== 0 || r.ingest_ts >= r.snapshot_ts) bad.push(r);
    }
    expect(n).toBeGreaterThan(1000);
    expect(bad).toEqual([]);
  });

  it('delta rows chain: each diff continues the previous one by the venue rule', () => {
    const lastBySymbol = new Map<string, number>();
    for (const r of rows) {
      if ('snapshot_kind' in r) continue;
      const prev = lastBySymbol.get(r.symbol);
      if (!r.is_snapshot && prev !== undefined && r.last_update_id !== prev) {
        if (set.exchange === 'binance') {
          expect(r.prev_update_id).toBeNull();
          expect(r.first_update_id).toBeLessThanOrEqual(prev + 1);
        } else {
          // the first diff after a snapshot straddles it; later ones chain by pu
          expect(r.prev_update_id === prev || r.first_update_id <= prev).toBe(true);
        }
      }
      lastBySymbol.set(r.symbol, r.last_update_id);
    }
  });

  it('matches the golden rows (regenerate: npx tsx libs/normalize/test/book/fixtures.ts --golden)', () => {
    const golden = readFileSync(goldenPath(set.name), 'utf8').trimEnd().split('\n');
    const lines = goldenLines(set.exchange, records);
    expect(lines.length).toBe(golden.length);
    for (let i = 0; i < lines.length; i++) expect(lines[i], `line ${i + 1}`).toBe(golden[i]);
  });
});
