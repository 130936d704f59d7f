/**
 * The four book collectors over real sockets against the fake venues: `startCollector` in-process, the
 * captures replayed by FakeExchange, Parquet written to a temp dir and read back with hyparquet.
 *
 * Oracle: a venue model built from the capture alone (its recorded REST snapshot + every recorded diff,
 * in order) knows the venue's true book at every update id. Checked on every run:
 *  - every `*-ob` book (top and full) equals the venue book at the row's `update_id` (top 20 levels);
 *  - the `*-delta` rows, rebuilt with no other input, equal the venue book at each update id, chain by
 *    the venue rule inside each snapshot epoch, and agree with the ob rows at the same update id;
 *  - with faults (dropped frames, duplicates, dropped connections, 429/418 on the snapshot endpoint)
 *    the collector heals in place and the counters in its registry show what happened.
 *
 * The fake runs with `depth: 'live'`: REST depth answers the venue's book at its clock (recorded snapshot +
 * every recorded diff reached), as a real venue does, so a resync in the middle of the stream can heal. The
 * venue model below rebuilds the same book independently, as the oracle.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCollectorConfig } from '@cryptoflow/config';
import { FakeExchange, parseCapture, splitCombined } from '@cryptoflow/fake-exchange';
import { createLogger } from '@cryptoflow/logger';
import { createRegistry } from '@cryptoflow/metrics';
import type { Registry } from '@cryptoflow/metrics';
import type { Stream, TableName } from '@cryptoflow/model';
import { startCollector } from '@cryptoflow/runtime';
import type { Collector } from '@cryptoflow/runtime';
import { ROOT, readTableRows, waitFor } from './helpers.js';

const CAPTURES = join(ROOT, 'test', 'fixtures', 'captures');
const TOP = 20;

interface Market {
  readonly name: string;
  readonly venue: 'binance' | 'binance-usdm';
  readonly captures: readonly string[];
  readonly symbols: readonly string[];
  readonly delta: Stream;
  readonly ob: Stream;
  readonly deltaTable: TableName;
  readonly obTable: TableName;
  /** The busiest depth stream: faults aimed at it are sure to hit diffs. */
  readonly busy: { symbol: string; stream: string };
}

const MARKETS: readonly Market[] = [
  {
    name: 'spot',
    venue: 'binance',
    captures: ['BINANCE.ws.1.0', 'BINANCE.http.0.0'],
    symbols: ['NKNUSDT', 'BLZETH', 'LRCBTC', 'RUNEEUR'],
    delta: 'spot-delta',
    ob: 'spot-ob',
    deltaTable: 'spot_delta',
    obTable: 'spot_ob',
    busy: { symbol: 'NKNUSDT', stream: 'nknusdt@depth@100ms' },
  },
  {
    name: 'usd-m',
    venue: 'binance-usdm',
    captures: ['BINANCE_FUTURES.ws.1.0', 'BINANCE_FUTURES.http.0.0'],
    symbols: ['SUSHIUSDT', 'AKROUSDT', 'KEEPUSDT', 'CTKUSDT'],
    delta: 'futures-delta',
    ob: 'futures-ob',
    deltaTable: 'futures_delta',
    obTable: 'futures_ob',
    busy: { symbol: 'SUSHIUSDT', stream: 'sushiusdt@depth@100ms' },
  },
];

// ------------------------------------------------------------------------------------------------ venue model

interface Diff {
  at: number;
  E: number;
  U: number;
  u: number;
  pu: number | null;
  b: [string, string][];
  a: [string, string][];
}
type Top = { bids: [number, number][]; asks: [number, number][] };

function topOf(bids: Map<number, number>, asks: Map<number, number>, n: number): Top {
  const side = (m: Map<number, number>, desc: boolean): [number, number][] =>
    [...m.entries()].sort((x, y) => (desc ? y[0] - x[0] : x[0] - y[0])).slice(0, n);
  return { bids: side(bids, true), asks: side(asks, false) };
}

/** The venue's book per symbol, from the capture: recorded snapshot, then every recorded diff in order. */
class VenueModel {
  private readonly base = new Map<string, { L: number; at: number; body: Record<string, unknown> }>();
  private readonly diffs = new Map<string, Diff[]>();
  /** Top levels after each update id the venue reached (the oracle). */
  readonly topAt = new Map<string, Map<number, Top>>();

  constructor(private readonly market: Market) {
    for (const f of market.captures) {
      for (const rec of parseCapture(readFileSync(join(CAPTURES, f), 'utf8'), f)) {
        if (rec.kind === 'http' && rec.url.includes('/depth')) {
          const symbol = new URL(rec.url).searchParams.get('symbol')!;
          const body = JSON.parse(rec.body) as Record<string, unknown>;
          if (!this.base.has(symbol))
            this.base.set(symbol, { L: body['lastUpdateId'] as number, at: rec.at, body });
        } else if (rec.kind === 'ws-recv') {
          const split = splitCombined(rec.data);
          if (!split || !split.stream.includes('@depth')) continue;
          const d = JSON.parse(split.data) as Record<string, unknown>;
          const symbol = d['s'] as string;
          const list = this.diffs.get(symbol) ?? [];
          list.push({
            at: rec.at,
            E: d['E'] as number,
            U: d['U'] as number,
            u: d['u'] as number,
            pu: (d['pu'] as number | undefined) ?? null,
            b: d['b'] as [string, string][],
            a: d['a'] as [string, string][],
          });
          this.diffs.set(symbol, list);
        }
      }
    }
    for (const [symbol, { L, body }] of this.base) {
      const bids = new Map<number, number>();
      const asks = new Map<number, number>();
      for (const [p, q] of body['bids'] as [string, string][]) bids.set(Number(p), Number(q));
      for (const [p, q] of body['asks'] as [string, string][]) asks.set(Number(p), Number(q));
      const tops = new Map<number, Top>([[L, topOf(bids, asks, TOP)]]);
      for (const d of this.after(symbol)) {
        for (const [p, q] of d.b) Number(q) === 0 ? bids.delete(Number(p)) : bids.set(Number(p), Number(q));
        for (const [p, q] of d.a) Number(q) === 0 ? asks.delete(Number(p)) : asks.set(Number(p), Number(q));
        tops.set(d.u, topOf(bids, asks, TOP));
      }
      this.topAt.set(symbol, tops);
    }
  }

  /** Recorded diffs the venue applied after its recorded snapshot (spot: u > L; USD-M: u >= L). */
  after(symbol: string): Diff[] {
    const L = this.base.get(symbol)!.L;
    const usdm = this.market.venue === 'binance-usdm';
    return (this.diffs.get(symbol) ?? []).filter((d) => (usdm ? d.u >= L : d.u > L));
  }

  lastUpdateId(symbol: string): number {
    const list = this.after(symbol);
    return list.length ? list[list.length - 1]!.u : this.base.get(symbol)!.L;
  }
}

// ------------------------------------------------------------------------------------------------ harness

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Run {
  readonly fake: FakeExchange;
  readonly model: VenueModel;
  readonly delta: { collector: Collector; registry: Registry; dir: string };
  readonly ob: { collector: Collector; registry: Registry; dir: string };
}

async function startRun(market: Market, speed: number): Promise<Run> {
  const fake = new FakeExchange({
    venue: market.venue,
    captures: market.captures.map((f) => join(CAPTURES, f)),
    speed,
    startOn: 'manual',
    depth: 'live',
  });
  const { wsUrl, restUrl } = await fake.listen();
  cleanups.push(() => fake.close());
  const model = new VenueModel(market);
  const start = async (stream: Stream): Promise<Run['delta']> => {
    const dir = mkdtempSync(join(tmpdir(), `books-${stream}-`));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const config = loadCollectorConfig({
      value: {
        app: `collector-${stream}`,
        stream,
        exchanges: { [market.venue]: { symbols: market.symbols, ws_url: wsUrl, rest_url: restUrl } },
        channels: { defaults: { spill_dir: join(dir, 'spill') } },
        egress: { ips: ['127.0.0.1'] },
        // Both collectors of a market share one source IP and so one REST budget (50 % of the venue's
        // weight per minute). At depth 1000 that is one snapshot a second; the captures run 5-6x faster
        // than recorded, the budget does not, so the tests ask for 100 levels (10x cheaper on spot).
        book: { snapshot_limit: 100 },
        sink: { kind: 'local', dir: join(dir, 'lake'), flush_interval_ms: 60_000 },
        health: { host: '127.0.0.1', port: 0 },
        log: { level: 'warn' },
      },
    });
    const registry = createRegistry({ app: config.app });
    const logger = createLogger({ app: config.app, level: 'warn' });
    const collector = await startCollector(config, {
      app: config.app,
      logger,
      registry,
      version: { app: config.app, version: 'test', gitSha: 'test' },
    });
    cleanups.push(() => collector.stop()); // idempotent
    return { collector, registry, dir };
  };
  const [delta, ob] = await Promise.all([start(market.delta), start(market.ob)]);
  for (const c of [delta, ob]) {
    await waitFor('collector connected', async () => {
      const body = (await (await fetch(`${c.collector.health.url}/ready`)).json()) as {
        checks: { name: string; ok: boolean }[];
      };
      return body.checks.find((k) => k.name === 'connected')?.ok === true;
    });
  }
  return { fake, model, delta, ob };
}

/** Sum of a metric's values whose labels include `match`. */
async function metric(registry: Registry, name: string, match: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  let sum = 0;
  for (const v of m?.values ?? []) {
    if (Object.entries(match).every(([k, want]) => String(v.labels[k]) === want)) sum += v.value;
  }
  return sum;
}

type Counters = Record<
  | 'gaps'
  | 'duplicates'
  | 'outOfOrder'
  | 'snapshotsUsed'
  | 'resyncGap'
  | 'resyncReconnect'
  | 'resyncStale'
  | 'resyncCrossed'
  | 'rateLimited'
  | 'banned',
  number
>;

async function counters(registry: Registry): Promise<Counters> {
  return {
    gaps: await metric(registry, 'seq_gaps_total'),
    duplicates: await metric(registry, 'seq_duplicates_total'),
    outOfOrder: await metric(registry, 'seq_out_of_order_total'),
    snapshotsUsed: await metric(registry, 'book_snapshots_used_total'),
    resyncGap: await metric(registry, 'book_resyncs_total', { reason: 'gap' }),
    resyncReconnect: await metric(registry, 'book_resyncs_total', { reason: 'reconnect' }),
    resyncStale: await metric(registry, 'book_resyncs_total', { reason: 'stale_snapshot' }),
    resyncCrossed: await metric(registry, 'book_resyncs_total', { reason: 'crossed' }),
    rateLimited: await metric(registry, 'rest_rate_limited_total', { status: '429' }),
    banned: await metric(registry, 'rest_rate_limited_total', { status: '418' }),
  };
}

/** Plays the whole timeline, lets the sockets drain, stops both collectors (drain + flush). */
async function finish(run: Run): Promise<void> {
  await run.fake.whenFinished();
  await new Promise((r) => setTimeout(r, 400));
  await Promise.all([run.delta.collector.stop(), run.ob.collector.stop()]);
}

// ------------------------------------------------------------------------------------------------ checks

type Row = Record<string, unknown>;

interface DeltaCheck {
  /** symbol → update id → top levels of the book rebuilt from delta rows alone. */
  readonly tops: Map<string, Map<number, Top>>;
  /** Snapshot epochs (is_snapshot groups) per symbol. */
  readonly epochs: Map<string, number>;
  readonly lastU: Map<string, number>;
  /** First update id each symbol's delta book existed at (its first snapshot). */
  readonly firstU: Map<string, number>;
  readonly diffs: number;
}

/**
 * Rebuild each symbol's book from the delta rows alone (a new is_snapshot group clears it; rows apply
 * in order), check the venue chain inside each epoch, and check the rebuilt book against the venue model
 * at every update id.
 */
function checkDeltas(market: Market, rows: readonly Row[], model: VenueModel): DeltaCheck {
  const usdm = market.venue === 'binance-usdm';
  const tops = new Map<string, Map<number, Top>>();
  const epochs = new Map<string, number>();
  const lastU = new Map<string, number>();
  const firstU = new Map<string, number>();
  let diffs = 0;
  const bySymbol = new Map<string, Row[]>();
  for (const r of rows) {
    const s = r['symbol'] as string;
    bySymbol.set(s, [...(bySymbol.get(s) ?? []), r]);
  }
  // Files are per (table, hour of exchange_ts, shard) and a spot snapshot carries its receive time (the
  // venue sends none), so file order is not emission order. The documented rebuild order is
  // (last_update_id, snapshot rows first); it is total because emitted ids only increase.
  for (const list of bySymbol.values()) list.sort(deltaOrder);
  for (const [symbol, list] of bySymbol) {
    const bids = new Map<number, number>();
    const asks = new Map<number, number>();
    const at = new Map<number, Top>();
    tops.set(symbol, at);
    let prev: { first: number; last: number; snapshot: boolean } | null = null;
    const close = (): void => {
      if (!prev) return;
      const t = topOf(bids, asks, TOP);
      at.set(prev.last, t);
      const want = model.topAt.get(symbol)?.get(prev.last);
      expect(want, `${symbol}: update id ${prev.last} is one the venue reached`).toBeDefined();
      expect(t, `${symbol}: delta rebuild at ${prev.last} equals the venue book`).toEqual(want);
    };
    for (const r of list) {
      const first = r['first_update_id'] as number;
      const last = r['last_update_id'] as number;
      const snap = r['is_snapshot'] as boolean;
      const sameGroup = prev !== null && prev.first === first && prev.last === last && prev.snapshot === snap;
      if (!sameGroup) {
        close();
        if (snap) {
          bids.clear();
          asks.clear();
          epochs.set(symbol, (epochs.get(symbol) ?? 0) + 1);
          expect(r['prev_update_id'], `${symbol}: snapshot rows have no previous id`).toBeNull();
        } else {
          expect(prev, `${symbol}: the first delta rows come from a snapshot`).not.toBeNull();
          const p = prev!;
          // Inside an epoch each diff continues the previous one by the venue rule.
          if (p.snapshot) {
            if (usdm)
              expect(first <= p.last && p.last <= last, `${symbol}: first diff straddles the snapshot`).toBe(
                true,
              );
            else
              expect(
                first <= p.last + 1 && p.last + 1 <= last,
                `${symbol}: first diff straddles the snapshot`,
              ).toBe(true);
          } else if (usdm) {
            expect(r['prev_update_id'], `${symbol}: pu chain at ${last}`).toBe(p.last);
          } else {
            expect(first, `${symbol}: U chain at ${last}`).toBe(p.last + 1);
          }
          diffs++;
        }
        prev = { first, last, snapshot: snap };
      }
      const m = r['side'] === 'bid' ? bids : asks;
      const price = r['price'] as number;
      const qty = r['qty'] as number;
      if (qty === 0) m.delete(price);
      else m.set(price, qty);
    }
    close();
    if (prev) lastU.set(symbol, prev.last);
    if (list[0]) firstU.set(symbol, list[0]['last_update_id'] as number);
  }
  return { tops, epochs, lastU, firstU, diffs };
}

function deltaOrder(a: Row, b: Row): number {
  return (
    (a['last_update_id'] as number) - (b['last_update_id'] as number) ||
    Number(b['is_snapshot']) - Number(a['is_snapshot'])
  );
}

/** Every ob book equals the venue book at its update id and, where the delta stream had one, the rebuilt book. */
function checkObs(
  rows: readonly Row[],
  model: VenueModel,
  deltas: DeltaCheck,
): { books: number; afterDeltaStart: number; againstDelta: number; lastU: Map<string, number> } {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const k = `${String(r['symbol'])}|${String(r['snapshot_kind'])}|${String(r['snapshot_ts'])}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  let againstDelta = 0;
  let afterDeltaStart = 0;
  const lastU = new Map<string, number>();
  for (const [k, g] of groups) {
    const symbol = g[0]!['symbol'] as string;
    const u = g[0]!['update_id'] as number;
    expect(new Set(g.map((r) => r['update_id'])).size, `${k}: one update id per book`).toBe(1);
    const levels = (side: string): [number, number][] =>
      g
        .filter((r) => r['side'] === side)
        .sort((a, b) => (a['level'] as number) - (b['level'] as number))
        .slice(0, TOP)
        .map((r) => [r['price'] as number, r['qty'] as number]);
    const got: Top = { bids: levels('bid'), asks: levels('ask') };
    const want = model.topAt.get(symbol)?.get(u);
    expect(want, `${k}: update id ${u} is one the venue reached`).toBeDefined();
    expect(got, `${k}: ob book at ${u} equals the venue book`).toEqual(want);
    if (u >= (deltas.firstU.get(symbol) ?? Infinity)) afterDeltaStart++;
    const fromDelta = deltas.tops.get(symbol)?.get(u);
    if (fromDelta) {
      expect(got, `${k}: ob book at ${u} equals the book rebuilt from delta rows`).toEqual(fromDelta);
      againstDelta++;
    }
    lastU.set(symbol, Math.max(lastU.get(symbol) ?? 0, u));
  }
  return { books: groups.size, afterDeltaStart, againstDelta, lastU };
}

async function readRun(
  market: Market,
  run: Run,
): Promise<{ delta: DeltaCheck; ob: ReturnType<typeof checkObs> }> {
  const deltaRows = await readTableRows(join(run.delta.dir, 'lake'), market.deltaTable);
  const obRows = await readTableRows(join(run.ob.dir, 'lake'), market.obTable);
  expect(deltaRows.length).toBeGreaterThan(0);
  expect(obRows.length).toBeGreaterThan(0);
  const delta = checkDeltas(market, deltaRows, run.model);
  const ob = checkObs(obRows, run.model, delta);
  return { delta, ob };
}

// ------------------------------------------------------------------------------------------------ tests

describe.each(MARKETS)('book collectors over real sockets: $name', (market) => {
  it(`clean run: ${market.delta} and ${market.ob} sync from REST snapshots; delta rebuild = ob tops = venue book`, async () => {
    const run = await startRun(market, 6);
    run.fake.start();
    await finish(run);
    const { delta, ob } = await readRun(market, run);
    for (const s of market.symbols) {
      expect(delta.epochs.get(s), `${s}: one snapshot epoch`).toBe(1);
      expect(delta.lastU.get(s), `${s}: delta rows reach the venue's last update`).toBe(
        run.model.lastUpdateId(s),
      );
    }
    expect(ob.books).toBeGreaterThan(100);
    // Once the delta collector has a book, every ob book has its twin rebuilt from the delta rows.
    expect(ob.againstDelta).toBe(ob.afterDeltaStart);
    expect(ob.againstDelta).toBeGreaterThan(ob.books / 2);
    for (const c of [run.delta, run.ob]) {
      const k = await counters(c.registry);
      expect(k).toMatchObject({
        gaps: 0,
        duplicates: 0,
        snapshotsUsed: 4,
        resyncGap: 0,
        resyncReconnect: 0,
        resyncStale: 0,
        resyncCrossed: 0,
      });
    }
  }, 30_000);

  it('dropped and duplicated frames: the gap resyncs from a fresh snapshot, duplicates are dropped and counted', async () => {
    const run = await startRun(market, 5);
    run.fake.start();
    await new Promise((r) => setTimeout(r, 1500));
    run.fake.faults.dropNextFrames(2, market.busy.stream);
    await new Promise((r) => setTimeout(r, 1500));
    run.fake.faults.duplicateNextFrames(3, market.busy.stream);
    await finish(run);
    const { delta, ob } = await readRun(market, run);
    for (const c of [run.delta, run.ob]) {
      const k = await counters(c.registry);
      expect(k.gaps, 'one gap').toBe(1);
      expect(k.resyncGap).toBe(1);
      expect(k.duplicates, 'three duplicates').toBe(3);
      expect(k.snapshotsUsed).toBeGreaterThanOrEqual(5);
    }
    expect(delta.epochs.get(market.busy.symbol), 'the busy symbol was rebuilt from a second snapshot').toBe(
      2,
    );
    for (const s of market.symbols) {
      expect(delta.lastU.get(s), `${s}: healed: delta rows reach the venue's last update`).toBe(
        run.model.lastUpdateId(s),
      );
    }
    expect(ob.lastU.get(market.busy.symbol)).toBe(run.model.lastUpdateId(market.busy.symbol));
    expect(ob.againstDelta).toBeGreaterThan(50);
  }, 30_000);

  it('dropped connections: the collector reconnects; books that lost diffs resync (reason reconnect), the others resume', async () => {
    const run = await startRun(market, 5);
    run.fake.start();
    await new Promise((r) => setTimeout(r, 2000));
    run.fake.faults.dropConnections();
    // Frames sent while a client is away are lost to it; make sure the busy book loses some: the fake
    // drops these once the clients are back (a drop counts only frames that had a recipient).
    run.fake.faults.dropNextFrames(2, market.busy.stream);
    await finish(run);
    const { delta, ob } = await readRun(market, run);
    for (const c of [run.delta, run.ob]) {
      const k = await counters(c.registry);
      expect(await metric(c.registry, 'ws_reconnects_total'), 'reconnected').toBeGreaterThanOrEqual(1);
      expect(k.resyncReconnect, 'the busy book lost diffs across the reconnect').toBeGreaterThanOrEqual(1);
      expect(k.resyncGap, 'a break right after a reconnect is counted as reconnect, not gap').toBe(0);
      expect(k.resyncReconnect).toBeLessThanOrEqual(market.symbols.length);
    }
    // Every resync shows in the delta table as a new snapshot epoch, and nothing else does.
    const epochs = [...delta.epochs.values()].reduce((a, n) => a + n, 0);
    expect(epochs).toBe((await counters(run.delta.registry)).snapshotsUsed);
    expect(delta.epochs.get(market.busy.symbol)).toBeGreaterThanOrEqual(2);
    // A symbol heals with its next diffs: only those with plenty of them after the drop are sure to (RUNEEUR
    // has two diffs in all; losing them with the socket leaves nothing to sync on, as on the venue).
    for (const s of market.symbols.filter((x) => run.model.after(x).length >= 100))
      expect(delta.lastU.get(s), `${s} healed`).toBe(run.model.lastUpdateId(s));
    expect(ob.lastU.get(market.busy.symbol)).toBe(run.model.lastUpdateId(market.busy.symbol));
  }, 30_000);

  it('429 then 418 on the snapshot endpoint: Retry-After is honoured per IP, no restart, the books sync afterwards', async () => {
    const run = await startRun(market, 5);
    const sockets = run.fake.log.wsConnections.length;
    run.fake.faults.rateLimitRest(1, 1);
    run.fake.faults.banRest(1, 1);
    run.fake.start();
    const live = async (r: Registry): Promise<boolean> =>
      (await metric(r, 'book_keys', { state: 'live' })) === 4;
    await waitFor(
      'every book live',
      async () => (await live(run.ob.registry)) && (await live(run.delta.registry)),
      20_000,
    );
    await finish(run);
    const { delta, ob } = await readRun(market, run);
    const both = [await counters(run.delta.registry), await counters(run.ob.registry)];
    expect(
      both.reduce((a, k) => a + k.rateLimited, 0),
      'one 429',
    ).toBe(1);
    expect(
      both.reduce((a, k) => a + k.banned, 0),
      'one 418',
    ).toBe(1);
    // Both collectors share the source IP and so one snapshot budget: after the refusals (answered to
    // requests already in flight) nothing reaches the venue until Retry-After (1 s) has passed.
    const depth = run.fake.log.restRequests.filter((r) => r.path.includes('/depth'));
    const refused = depth.filter((r) => r.status === 429 || r.status === 418);
    const lastRefusal = Math.max(...refused.map((r) => r.at));
    const firstOk = Math.min(...depth.filter((r) => r.status === 200).map((r) => r.at));
    expect(refused).toHaveLength(2);
    expect(firstOk - lastRefusal).toBeGreaterThanOrEqual(1_000_000 - 50_000);
    expect(run.fake.log.wsConnections.length, 'no socket reopened: healed in place').toBe(sockets);
    for (const s of market.symbols) expect(delta.lastU.get(s)).toBe(run.model.lastUpdateId(s));
    expect(ob.againstDelta).toBeGreaterThan(50);
  }, 30_000);
});
