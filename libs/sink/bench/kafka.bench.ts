/**
 * Rows/s through the Kafka row sink (KafkaRowSink: JSON rows keyed exchange|symbol, acks=-1, batches
 * of up to 5,000, one request in flight for per-key order) into librdkafka's mock cluster.
 * `BENCH_KAFKA_ROWS` sets the row count (default 200,000). Needs librdkafka-dev and gcc
 * (tools/kafka-mock); without them the figure says why instead.
 */
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import type { TradeRow } from '@cryptoflow/model';
import { startKafka } from '@cryptoflow/stand-ins';
import { KafkaRowSink } from '../src/kafka/index.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT', 'XRPUSDT', 'DOGEUSDT', 'ADAUSDT', 'LINKUSDT'];

function trade(i: number): TradeRow {
  const ts = 1_717_200_000_000_000 + i * 1_000;
  return {
    table: 'trades',
    exchange: i % 2 === 0 ? 'binance' : 'binance-usdm',
    symbol: SYMBOLS[i % SYMBOLS.length] as string,
    exchange_ts: ts,
    ingest_ts: ts + 2_500,
    trade_ts: ts,
    trade_id: i,
    first_trade_id: i,
    last_trade_id: i,
    price: 67_000 + (i % 100) / 10,
    qty: 0.001 * ((i % 7) + 1),
    side: i % 3 === 0 ? 'sell' : 'buy',
    trade_id_text: null,
  };
}

export async function run(): Promise<Record<string, number | string>> {
  const rows = Number(process.env['BENCH_KAFKA_ROWS'] ?? '200000');
  let kafka;
  try {
    kafka = await startKafka({ topics: [{ name: 'cf.trades', partitions: 8 }] });
  } catch (err) {
    return { 'kafka produce rows/s': `skipped: ${(err as Error).message.split('\n')[0]}` };
  }
  const sink = new KafkaRowSink({
    brokers: kafka.brokers,
    topic: 'cf.{table}',
    clientId: 'bench',
    registry: new Registry(),
    logger: createLogger({ app: 'bench', level: 'error' }),
  });
  try {
    await sink.start();
    const batch = Array.from({ length: 1_000 }, (_, i) => trade(i));
    // Warm-up: metadata, connections, first batches.
    for (const r of batch) sink.write(r);
    await sink.flush();
    const started = performance.now();
    for (let i = 0; i < rows; i++) {
      sink.write(trade(i));
      // Let the drain loop run, as a live pipeline does between socket reads.
      if (i % 10_000 === 9_999) await new Promise((r) => setImmediate(r));
    }
    await sink.flush();
    const seconds = (performance.now() - started) / 1000;
    return {
      'kafka produce rows/s': Math.round(rows / seconds),
      'kafka rows': rows,
      'kafka broker': 'librdkafka mock cluster, 1 broker, 8 partitions, acks=-1',
    };
  } finally {
    await sink.close();
    await kafka.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await run();
  for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(24)} ${v}`);
}
