// The venue's current order book per symbol, for REST depth answers in `depth: 'live'` mode: a real venue
// answers with its book as of now, so a client that resyncs mid-stream gets a snapshot it can continue from.
// Built from the capture alone: the symbol's first recorded REST snapshot, advanced by every recorded
// diff-depth frame the timeline has reached (spot: events with u > lastUpdateId; USD-M: u >= lastUpdateId,
// per the venues' "how to manage a local order book" procedures).

type Level = readonly [price: string, qty: string];

export interface RecordedSnapshot {
  readonly at: number;
  readonly body: string;
}

export interface RecordedFrame {
  readonly at: number;
  readonly stream: string;
  readonly data: string;
}

interface Diff {
  readonly at: number;
  readonly E: number;
  readonly u: number;
  readonly b: readonly Level[];
  readonly a: readonly Level[];
}

interface BookState {
  readonly baseAt: number;
  next: number;
  lastUpdateId: number;
  eventTime: number;
  readonly bids: Map<number, Level>;
  readonly asks: Map<number, Level>;
}

/** Diff-depth streams (`sym@depth`, `sym@depth@100ms`), not partial books (`sym@depth20@100ms`). */
const DIFF_STREAM = /@depth(@\d+ms)?$/;

export class LiveBooks {
  private readonly diffs = new Map<string, Diff[]>();
  private readonly books = new Map<string, BookState>();

  constructor(
    private readonly venue: 'binance' | 'binance-usdm',
    private readonly snapshots: ReadonlyMap<string, readonly RecordedSnapshot[]>,
    frames: readonly RecordedFrame[],
  ) {
    for (const f of frames) {
      if (!DIFF_STREAM.test(f.stream)) continue;
      const d = JSON.parse(f.data) as { s?: string; E?: number; u?: number; b?: Level[]; a?: Level[] };
      if (typeof d.s !== 'string' || typeof d.u !== 'number' || !Array.isArray(d.b) || !Array.isArray(d.a)) continue;
      const list = this.diffs.get(d.s) ?? [];
      list.push({ at: f.at, E: d.E ?? 0, u: d.u, b: d.b, a: d.a });
      this.diffs.set(d.s, list);
    }
  }

  /**
   * The depth answer at venue time `position` (capture µs), top `limit` levels a side; undefined while the
   * timeline has not reached the symbol's first recorded snapshot (the caller waits, as for a recorded one).
   */
  bodyAt(symbol: string, position: number, limit: number): string | undefined {
    const book = this.bookFor(symbol, position);
    if (!book) return undefined;
    const usdm = this.venue === 'binance-usdm';
    const list = this.diffs.get(symbol) ?? [];
    // The timeline only moves forward: apply what it reached since the last answer.
    while (book.next < list.length && (list[book.next] as Diff).at <= position) {
      const d = list[book.next++] as Diff;
      if (usdm ? d.u < book.lastUpdateId : d.u <= book.lastUpdateId) continue;
      for (const l of d.b) apply(book.bids, l);
      for (const l of d.a) apply(book.asks, l);
      book.lastUpdateId = d.u;
      book.eventTime = d.E;
    }
    const out: Record<string, unknown> = { lastUpdateId: book.lastUpdateId };
    if (usdm) Object.assign(out, { E: book.eventTime, T: book.eventTime });
    out['bids'] = top(book.bids, limit, true);
    out['asks'] = top(book.asks, limit, false);
    return JSON.stringify(out);
  }

  private bookFor(symbol: string, position: number): BookState | undefined {
    const existing = this.books.get(symbol);
    if (existing) return position >= existing.baseAt ? existing : undefined;
    const base = this.snapshots.get(symbol)?.[0];
    if (!base || position < base.at) return undefined;
    const body = JSON.parse(base.body) as { lastUpdateId: number; E?: number; bids: Level[]; asks: Level[] };
    const book: BookState = {
      baseAt: base.at,
      next: 0,
      lastUpdateId: body.lastUpdateId,
      eventTime: body.E ?? 0,
      bids: new Map(body.bids.map((l) => [Number(l[0]), l])),
      asks: new Map(body.asks.map((l) => [Number(l[0]), l])),
    };
    this.books.set(symbol, book);
    return book;
  }
}

function apply(side: Map<number, Level>, level: Level): void {
  const price = Number(level[0]);
  if (Number(level[1]) === 0) side.delete(price);
  else side.set(price, level);
}

function top(side: Map<number, Level>, limit: number, descending: boolean): Level[] {
  return [...side.entries()]
    .sort((x, y) => (descending ? y[0] - x[0] : x[0] - y[0]))
    .slice(0, limit)
    .map((e) => e[1]);
}
