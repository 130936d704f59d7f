/**
 * Price-level order book for one symbol.
 *
 * Each side is a sorted pair of Float64Arrays (keys, quantities) ordered worst → best, so the best
 * level is the LAST element. Binance diffs concentrate near the top of the book, so an insert or a
 * delete there moves only the few elements between the touched index and the end
 * (`copyWithin`, a memmove), while lookup is a binary search. Asks are stored with negated prices
 * so both sides share one ascending comparison. A B-tree would give O(log n) inserts anywhere but
 * pays pointer chasing on every lookup and on top-N iteration; at the kept depth (≤ a few thousand
 * levels, updates near the top) the flat arrays win (figures in bench/book.bench.ts).
 *
 * Depth cap: at most `depthCap` levels per side are kept; inserting beyond the cap evicts the
 * farthest level (index 0), and a new level farther than every kept level of a full side is
 * not kept. Levels beyond the REST snapshot depth are only known once the venue updates them.
 */

export class BookSideLevels {
  /** Ascending keys: price for bids, -price for asks. Best level at index n-1. */
  private keys: Float64Array;
  private qtys: Float64Array;
  private n = 0;
  /** Levels evicted or refused because of the cap (for metrics). */
  evicted = 0;

  constructor(
    readonly isBid: boolean,
    readonly depthCap: number,
  ) {
    const initial = Math.min(depthCap, 1024);
    this.keys = new Float64Array(initial);
    this.qtys = new Float64Array(initial);
  }

  get size(): number {
    return this.n;
  }

  clear(): void {
    this.n = 0;
  }

  /** First index whose key is >= k. */
  private lowerBound(k: number): number {
    const keys = this.keys;
    // Updates concentrate at the top: probe the best level first.
    const n = this.n;
    if (n === 0 || k > keys[n - 1]!) return n;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid]! < k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private grow(): void {
    const cap = Math.min(this.depthCap, this.keys.length * 2);
    const keys = new Float64Array(cap);
    const qtys = new Float64Array(cap);
    keys.set(this.keys.subarray(0, this.n));
    qtys.set(this.qtys.subarray(0, this.n));
    this.keys = keys;
    this.qtys = qtys;
  }

  /** Set the total quantity at `price`; 0 removes the level. */
  set(price: number, qty: number): void {
    const k = this.isBid ? price : -price;
    const i = this.lowerBound(k);
    const n = this.n;
    const keys = this.keys;
    if (i < n && keys[i] === k) {
      if (qty === 0) {
        keys.copyWithin(i, i + 1, n);
        this.qtys.copyWithin(i, i + 1, n);
        this.n = n - 1;
      } else {
        this.qtys[i] = qty;
      }
      return;
    }
    if (qty === 0) return;
    if (n === this.depthCap) {
      this.evicted++;
      if (i === 0) return; // farther than every kept level: beyond the cap
      // Drop the farthest level (index 0), shift [1, i) down, insert at i-1.
      keys.copyWithin(0, 1, i);
      this.qtys.copyWithin(0, 1, i);
      keys[i - 1] = k;
      this.qtys[i - 1] = qty;
      return;
    }
    if (n === keys.length) this.grow();
    const ks = this.keys;
    const qs = this.qtys;
    ks.copyWithin(i + 1, i, n);
    qs.copyWithin(i + 1, i, n);
    ks[i] = k;
    qs[i] = qty;
    this.n = n + 1;
  }

  /** Price of the level `depth` steps from the best (0 = best); NaN when absent. */
  priceAt(depth: number): number {
    const idx = this.n - 1 - depth;
    if (depth < 0 || idx < 0) return NaN;
    const k = this.keys[idx]!;
    return this.isBid ? k : -k;
  }

  /** Quantity of the level `depth` steps from the best; NaN when absent. */
  qtyAt(depth: number): number {
    const idx = this.n - 1 - depth;
    if (depth < 0 || idx < 0) return NaN;
    return this.qtys[idx]!;
  }

  /** Quantity at an exact price, 0 when absent. */
  qtyOf(price: number): number {
    const k = this.isBid ? price : -price;
    const i = this.lowerBound(k);
    return i < this.n && this.keys[i] === k ? this.qtys[i]! : 0;
  }
}

export class OrderBook {
  readonly bids: BookSideLevels;
  readonly asks: BookSideLevels;
  /** `u` of the last event applied (the snapshot's lastUpdateId right after a reset). */
  updateId = -1;
  exchangeTs = 0;
  ingestTs = 0;

  constructor(readonly depthCap = 2000) {
    if (!Number.isInteger(depthCap) || depthCap < 1) throw new RangeError(`depthCap: expected positive integer, got ${depthCap}`);
    this.bids = new BookSideLevels(true, depthCap);
    this.asks = new BookSideLevels(false, depthCap);
  }

  clear(): void {
    this.bids.clear();
    this.asks.clear();
    this.updateId = -1;
  }

  /** Apply flat `[price, qty, ...]` arrays. */
  applyLevels(bids: readonly number[], asks: readonly number[]): void {
    for (let i = 0; i + 1 < bids.length; i += 2) this.bids.set(bids[i]!, bids[i + 1]!);
    for (let i = 0; i + 1 < asks.length; i += 2) this.asks.set(asks[i]!, asks[i + 1]!);
  }

  bestBid(): number {
    return this.bids.priceAt(0);
  }

  bestAsk(): number {
    return this.asks.priceAt(0);
  }

  /** Best bid >= best ask (both present): the book cannot be right. */
  isCrossed(): boolean {
    const b = this.bids.priceAt(0);
    const a = this.asks.priceAt(0);
    return b >= a; // NaN compares false: a one-sided book is not crossed
  }
}
