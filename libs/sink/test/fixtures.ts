import type {
  CanonicalRow,
  FundingRow,
  FuturesBookRow,
  FuturesDeltaRow,
  LiquidationRow,
  SpotBookRow,
  SpotDeltaRow,
  TableName,
  TradeRow,
} from '@cryptoflow/model';

/** 2021-10-12T00:00:00Z in µs: the hour of the cryptofeed sample captures. */
export const T0 = Date.UTC(2021, 9, 12, 0, 0, 0) * 1000;

/** Small deterministic PRNG (mulberry32) so fixtures are the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPOT = ['BTCUSDT', 'ETHUSDT', 'NKNUSDT', 'BLZETH', 'LRCBTC', 'RUNEEUR'];
const USDM = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'DOGEUSDT'];
const BASE: Record<string, number> = { BTCUSDT: 57321.5, ETHUSDT: 3512.17, NKNUSDT: 0.4312, BLZETH: 0.0000512, LRCBTC: 0.00000998, RUNEEUR: 8.91, SOLUSDT: 152.3, DOGEUSDT: 0.2371 };

/** Venue ids live in far-apart ranges per symbol (as on Binance). */
const idBase = (s: string): number => {
  let h = 7;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) % 1_000_003;
  return 1_000_000_000 + h * 1000;
};

const round = (v: number, d: number): number => Math.round(v * 10 ** d) / 10 ** d;

export interface FixtureOptions {
  readonly seed?: number;
  /** Start time (µs). Rows advance ~1 ms each, so 200k rows stay within one hour of T0. */
  readonly start?: number;
  readonly stepMicros?: number;
}

/**
 * `n` realistic rows of a table: several symbols interleaved, per-symbol increasing ids and times,
 * prices on a random walk with venue-like decimals, and nulls in every optional column (about 1 in 5).
 */
export function rowsFor<T extends TableName>(table: T, n: number, opts: FixtureOptions = {}): CanonicalRow[] {
  const rnd = prng(opts.seed ?? 42);
  const start = opts.start ?? T0;
  const step = opts.stepMicros ?? 997;
  const out: CanonicalRow[] = [];
  const ids = new Map<string, number>();
  const px = new Map<string, number>();
  const nextId = (s: string, by = 1): number => {
    const v = (ids.get(s) ?? idBase(s)) + by;
    ids.set(s, v);
    return v;
  };
  const walk = (s: string): number => {
    const p = (px.get(s) ?? BASE[s] ?? 1) * (1 + (rnd() - 0.5) * 0.0004);
    px.set(s, p);
    return p;
  };
  const maybe = <V>(v: V): V | null => (rnd() < 0.2 ? null : v);
  for (let i = 0; i < n; i++) {
    const ts = start + i * step;
    const ingest = ts + 1500 + Math.floor(rnd() * 4000);
    switch (table) {
      case 'trades': {
        const usdm = rnd() < 0.5;
        const symbol = (usdm ? USDM : SPOT)[Math.floor(rnd() * (usdm ? USDM.length : SPOT.length))] as string;
        // One market in ten publishes ids that are not integers (Bybit derivatives: UUIDs): they go to trade_id_text.
        const text = rnd() < 0.1;
        const id = nextId(`${text}${usdm}${symbol}`);
        const first = text ? null : maybe(id * 3);
        const row: TradeRow = {
          table: 'trades', exchange: text ? 'bybit-linear' : usdm ? 'binance-usdm' : 'binance', symbol, exchange_ts: ts, ingest_ts: ingest, trade_ts: ts - 3000,
          trade_id: text ? null : id, first_trade_id: first, last_trade_id: first === null ? null : first + Math.floor(rnd() * 3),
          price: round(walk(symbol), 2), qty: round(rnd() * 2, 5), side: rnd() < 0.5 ? 'buy' : 'sell',
          trade_id_text: text ? `4c1d2e3f-0000-4000-8000-${id.toString(16).padStart(12, '0')}` : null,
        };
        out.push(row);
        break;
      }
      case 'liquidations': {
        const symbol = USDM[Math.floor(rnd() * USDM.length)] as string;
        const qty = round(rnd() * 10, 3);
        const row: LiquidationRow = {
          table: 'liquidations', exchange: 'binance-usdm', symbol, exchange_ts: ts, ingest_ts: ingest, trade_ts: ts - 10,
          side: rnd() < 0.5 ? 'buy' : 'sell', order_type: 'LIMIT', time_in_force: 'IOC', orig_qty: qty,
          price: round(walk(symbol), 2), avg_price: round(walk(symbol), 2), order_status: rnd() < 0.9 ? 'FILLED' : 'PARTIALLY_FILLED',
          last_filled_qty: qty, filled_qty: qty,
        };
        out.push(row);
        break;
      }
      case 'funding': {
        const symbol = USDM[i % USDM.length] as string;
        const row: FundingRow = {
          table: 'funding', exchange: 'binance-usdm', symbol, exchange_ts: ts, ingest_ts: ingest,
          mark_price: round(walk(symbol), 4), index_price: maybe(round(walk(symbol), 4)), est_settle_price: maybe(round(walk(symbol), 4)),
          funding_rate: maybe(round((rnd() - 0.3) * 0.0002, 8)), next_funding_ts: maybe(Date.UTC(2021, 9, 12, 8) * 1000),
        };
        out.push(row);
        break;
      }
      case 'spot_delta':
      case 'futures_delta': {
        const futures = table === 'futures_delta';
        const symbol = (futures ? USDM : SPOT)[Math.floor(i / 7) % (futures ? USDM.length : SPOT.length)] as string;
        // ~7 levels change per event: rows of one event share update ids
        const eventStart = i % 7 === 0;
        const prev = ids.get(symbol) ?? 5_000_000_000;
        const last = eventStart ? nextId(symbol, 1 + Math.floor(rnd() * 20)) : prev;
        const snap = i < 14 && i % 7 < 7 && i < 7;
        const side = rnd() < 0.5 ? 'bid' : 'ask';
        const mid = walk(symbol);
        const row = {
          table, exchange: futures ? 'binance-usdm' : 'binance', symbol, exchange_ts: ts, ingest_ts: ingest, side,
          price: round(side === 'bid' ? mid * (1 - rnd() * 0.002) : mid * (1 + rnd() * 0.002), 2),
          qty: rnd() < 0.3 ? 0 : round(rnd() * 5, 4),
          first_update_id: snap ? last : last - Math.floor(rnd() * 5), last_update_id: last,
          prev_update_id: futures && !snap ? maybe(last - 20) : null, is_snapshot: snap,
        } as SpotDeltaRow | FuturesDeltaRow;
        out.push(row);
        break;
      }
      case 'spot_ob':
      case 'futures_ob': {
        const futures = table === 'futures_ob';
        const symbol = (futures ? USDM : SPOT)[Math.floor(i / 40) % 3] as string;
        const level = i % 20;
        const side = i % 40 < 20 ? 'bid' : 'ask';
        const mid = BASE[symbol] ?? 1;
        const row = {
          table, exchange: futures ? 'binance-usdm' : 'binance', symbol, exchange_ts: ts, ingest_ts: ingest,
          snapshot_ts: Math.floor(ts / 1_000_000) * 1_000_000, update_id: 7_000_000_000 + Math.floor(i / 40),
          snapshot_kind: i % 400 < 40 ? 'full' : 'top', side, level,
          price: round(side === 'bid' ? mid - level * 0.01 : mid + level * 0.01, 2), qty: round(rnd() * 3, 4),
        } as SpotBookRow | FuturesBookRow;
        out.push(row);
        break;
      }
    }
  }
  return out;
}
