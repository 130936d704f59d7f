// Binance payloads → canonical rows.
// aggTrade (spot): https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams#aggregate-trade-streams
// aggTrade (USD-M): https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Aggregate-Trade-Streams
// forceOrder: https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Liquidation-Order-Streams
// markPriceUpdate: https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Mark-Price-Stream
import type { VenueMessage } from '@cryptoflow/ingest';
import type { FundingRow, LiquidationRow, TradeRow, TradeSide } from '@cryptoflow/model';
import type { FieldReader } from './fields.js';

/** aggTrade → TradeRow. `m` (buyer is maker) means the taker sold. */
export function mapAggTrade(msg: VenueMessage, f: FieldReader): TradeRow {
  const p = msg.payload;
  return {
    table: 'trades',
    exchange: msg.exchange,
    symbol: msg.symbol,
    exchange_ts: msg.exchangeTs,
    ingest_ts: msg.ingestTs,
    trade_ts: f.micros(p, 'T'),
    trade_id: f.int(p, 'a'),
    first_trade_id: f.int(p, 'f'),
    last_trade_id: f.int(p, 'l'),
    price: f.decimal(p, 'p'),
    qty: f.decimal(p, 'q'),
    side: f.bool(p, 'm') ? 'sell' : 'buy',
    // Properties in column order (field id 12 last): rows read back from Parquet come out the same way.
    trade_id_text: null,
  };
}

const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({});

/** forceOrder → LiquidationRow (the order object is `o`; the decoder has checked it is an object). */
export function mapForceOrder(msg: VenueMessage, f: FieldReader): LiquidationRow {
  const raw = msg.payload['o'];
  const o = raw !== null && typeof raw === 'object' ? (raw as Readonly<Record<string, unknown>>) : EMPTY;
  const side = f.str(o, 'S');
  return {
    table: 'liquidations',
    exchange: msg.exchange,
    symbol: msg.symbol,
    exchange_ts: msg.exchangeTs,
    ingest_ts: msg.ingestTs,
    trade_ts: f.micros(o, 'T'),
    side: tradeSide(side, f),
    order_type: f.str(o, 'o'),
    time_in_force: f.str(o, 'f'),
    orig_qty: f.decimal(o, 'q'),
    price: f.decimal(o, 'p'),
    avg_price: f.decimal(o, 'ap'),
    order_status: f.str(o, 'X'),
    last_filled_qty: f.decimal(o, 'l'),
    filled_qty: f.decimal(o, 'z'),
  };
}

/** markPriceUpdate → FundingRow. Delivery contracts send "" for `r` and 0 for `T`: both become null. */
export function mapMarkPrice(msg: VenueMessage, f: FieldReader): FundingRow {
  const p = msg.payload;
  const next = p['T'] === 0 ? null : f.micros(p, 'T');
  return {
    table: 'funding',
    exchange: msg.exchange,
    symbol: msg.symbol,
    exchange_ts: msg.exchangeTs,
    ingest_ts: msg.ingestTs,
    mark_price: f.decimal(p, 'p'),
    index_price: f.optionalDecimal(p, 'i'),
    est_settle_price: f.optionalDecimal(p, 'P'),
    funding_rate: f.optionalDecimal(p, 'r'),
    next_funding_ts: next,
  };
}

function tradeSide(venueSide: string, f: FieldReader): TradeSide {
  if (venueSide === 'BUY') return 'buy';
  if (venueSide === 'SELL') return 'sell';
  if (!f.failed) {
    f.reason = 'mistyped_field';
    f.field = 'S';
  }
  return 'buy';
}
