// Deterministic generator of USD-M `markPrice@1s` and `forceOrder` frames, which the real captures lack.
// Layouts follow the venue docs:
//   https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Mark-Price-Stream
//     {"e":"markPriceUpdate","E":ms,"s":SYM,"p":mark,"i":index,"P":estSettle,"r":fundingRate,"T":nextFundingTime}
//   https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Liquidation-Order-Streams
//     {"e":"forceOrder","E":ms,"o":{"s","S","o":"LIMIT","f":"IOC","q","p","ap","X":"FILLED","l","z","T"}}
// Input: BINANCE_FUTURES.ws.1.0 (real aggTrades). Output: a capture-format file, SYNTHETIC (see captures README).
//   tsx tools/fake-exchange/src/synthesize.ts [input] [output]
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatCaptureTime, parseCapture, splitCombined } from './capture.js';

interface Trade {
  readonly at: number; // local receive µs
  readonly T: number; // trade time ms
  readonly price: string;
  readonly qty: string;
  readonly buyerIsMaker: boolean;
}

const EIGHT_HOURS_MS = 8 * 3_600_000;
const BASE_FUNDING = 0.0001; // 0.01% per 8 h, the USD-M default interest component
const FUNDING_CAP = 0.0075;

function decimals(s: string): number {
  const dot = s.indexOf('.');
  return dot < 0 ? 0 : s.length - dot - 1;
}

export function synthesize(captureText: string): string {
  const trades = new Map<string, Trade[]>();
  let firstAt = Infinity;
  let lastAt = -Infinity;
  for (const rec of parseCapture(captureText, 'BINANCE_FUTURES.ws.1.0')) {
    if (rec.kind !== 'ws-recv') continue;
    firstAt = Math.min(firstAt, rec.at);
    lastAt = Math.max(lastAt, rec.at);
    const split = splitCombined(rec.data);
    if (!split || !split.stream.endsWith('@aggTrade')) continue;
    const d = JSON.parse(split.data) as { s: string; p: string; q: string; T: number; m: boolean };
    const list = trades.get(d.s) ?? [];
    list.push({ at: rec.at, T: d.T, price: d.p, qty: d.q, buyerIsMaker: d.m });
    trades.set(d.s, list);
  }
  if (trades.size === 0) throw new Error('no aggTrade frames in the input capture');
  const symbols = [...trades.keys()].sort();
  const lines: { at: number; text: string }[] = [];

  // Mark price stream: one frame per whole second per symbol across the capture's span.
  const startSec = Math.ceil(firstAt / 1_000_000);
  const endSec = Math.floor(lastAt / 1_000_000);
  symbols.forEach((sym, k) => {
    const list = trades.get(sym)!;
    const dp = Math.max(...list.map((t) => decimals(t.price)));
    let idx = 0;
    let index = Number(list[0]!.price); // index tracks a slow average of traded prices
    let lastPrice = index;
    let premiumSum = 0;
    let premiumCount = 0;
    for (let sec = startSec; sec <= endSec; sec++) {
      const E = sec * 1000;
      let vwapNum = 0;
      let vwapDen = 0;
      while (idx < list.length && list[idx]!.T <= E) {
        const t = list[idx++]!;
        vwapNum += Number(t.price) * Number(t.qty);
        vwapDen += Number(t.qty);
        lastPrice = Number(t.price);
      }
      if (vwapDen > 0) index = index * 0.8 + (vwapNum / vwapDen) * 0.2;
      // Premium: last trade vs index, bounded like the venue's impact-price premium.
      const premium = Math.max(-0.0005, Math.min(0.0005, (lastPrice - index) / index));
      premiumSum += premium;
      premiumCount++;
      const mark = index * (1 + premium);
      const funding = Math.max(
        -FUNDING_CAP,
        Math.min(FUNDING_CAP, BASE_FUNDING + premiumSum / premiumCount / 3),
      );
      const nextFunding = (Math.floor(E / EIGHT_HOURS_MS) + 1) * EIGHT_HOURS_MS;
      const data = {
        e: 'markPriceUpdate',
        E,
        s: sym,
        p: Number(mark.toFixed(dp)).toFixed(8),
        P: index.toFixed(8),
        i: index.toFixed(8),
        r: funding.toFixed(8),
        T: nextFunding,
      };
      const stream = `${sym.toLowerCase()}@markPrice@1s`;
      // Receive time: event time plus a fixed per-symbol network delay (deterministic).
      lines.push({ at: E * 1000 + 35_000 + k * 1_700, text: JSON.stringify({ stream, data }) });
    }
  });

  // Liquidations: for each symbol, one at its largest traded quantity; the liquidated side is the taker side.
  for (const sym of symbols) {
    const list = trades.get(sym)!;
    let big = list[0]!;
    for (const t of list) if (Number(t.qty) > Number(big.qty)) big = t;
    const dp = decimals(big.price);
    const side = big.buyerIsMaker ? 'SELL' : 'BUY';
    // The order's limit price is its bankruptcy price, beyond the fill.
    const limit = Number(big.price) * (side === 'SELL' ? 0.997 : 1.003);
    const data = {
      e: 'forceOrder',
      E: big.T + 5,
      o: {
        s: sym,
        S: side,
        o: 'LIMIT',
        f: 'IOC',
        q: big.qty,
        p: limit.toFixed(dp),
        ap: big.price,
        X: 'FILLED',
        l: big.qty,
        z: big.qty,
        T: big.T,
      },
    };
    lines.push({
      at: big.at + 1_000,
      text: JSON.stringify({ stream: `${sym.toLowerCase()}@forceOrder`, data }),
    });
  }

  lines.sort((a, b) => a.at - b.at || (a.text < b.text ? -1 : 1));
  const streams = symbols.flatMap((s) => [
    `${s.toLowerCase()}@markPrice@1s`,
    `${s.toLowerCase()}@forceOrder`,
  ]);
  const openAt = Math.min(firstAt, lines[0]!.at) - 1_000;
  const header = `wss://fstream.binance.com/market/stream?streams=${streams.join('/')} <-> ${formatCaptureTime(openAt)}`;
  return [header, ...lines.map((l) => `${formatCaptureTime(l.at)}: ${l.text}`)].join('\n') + '\n';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const here = dirname(fileURLToPath(import.meta.url));
  const input = resolve(
    process.argv[2] ?? '/work/shared/fixtures/real/cryptofeed-sample-data/BINANCE_FUTURES.ws.1.0',
  );
  const output = resolve(
    process.argv[3] ?? resolve(here, '../../../test/fixtures/captures/BINANCE_FUTURES.synthetic.ws.0'),
  );
  const text = synthesize(readFileSync(input, 'utf8'));
  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, text);
  process.stdout.write(`${JSON.stringify({ output, lines: text.split('\n').length - 1 })}\n`);
}
