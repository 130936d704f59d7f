import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import type { Consumer } from 'kafkajs';
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import type { CanonicalRow } from '@cryptoflow/model';
import { kafkaMockUnavailableReason, startKafkaMock } from '@cryptoflow/kafka-mock';
import type { KafkaMock } from '@cryptoflow/kafka-mock';
import { KafkaRowSink } from '../../src/kafka/index.js';
import { rowsFor } from '../fixtures.js';

const unavailable = await kafkaMockUnavailableReason();
if (unavailable) console.warn(`SKIPPING Kafka sink tests (install librdkafka-dev and gcc): ${unavailable}`);

const logger = createLogger({ app: 'test', level: 'silent' });
const keyOf = (r: CanonicalRow): string => `${r.exchange}|${r.symbol}`;

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((a, v) => a + v.value, 0);
}

async function histogramCount(registry: Registry, name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).filter((v) => (v as { metricName?: string }).metricName === `${name}_count`).reduce((a, v) => a + v.value, 0);
}

/** Consumes `count` messages from the beginning with a consumer group; returns them per key in arrival order. */
async function consume(brokers: string[], topic: string, count: number, group: string): Promise<{ perKey: Map<string, string[]>; partitionsByKey: Map<string, Set<number>> }> {
  const kafka = new Kafka({ clientId: 'test-consumer', brokers, logLevel: logLevel.NOTHING });
  const consumer: Consumer = kafka.consumer({ groupId: group, sessionTimeout: 10_000, heartbeatInterval: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const perKey = new Map<string, string[]>();
  const partitionsByKey = new Map<string, Set<number>>();
  let seen = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consumed ${seen} of ${count} messages in 45 s`)), 45_000);
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        const key = String(message.key);
        const list = perKey.get(key) ?? [];
        list.push(String(message.value));
        perKey.set(key, list);
        const parts = partitionsByKey.get(key) ?? new Set<number>();
        parts.add(partition);
        partitionsByKey.set(key, parts);
        if (++seen >= count) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return { perKey, partitionsByKey };
}

describe.skipIf(unavailable !== undefined)('KafkaRowSink against the librdkafka mock cluster', () => {
  let mock: KafkaMock;
  beforeAll(async () => {
    mock = await startKafkaMock({ topics: [{ name: 'cf.trades', partitions: 4 }, { name: 'cf.outage', partitions: 3 }] });
  });
  afterAll(async () => {
    await mock?.close();
  });

  it('produces every row once, keyed exchange|symbol, in per-key order, batched across awaits', async () => {
    const registry = new Registry();
    const sink = new KafkaRowSink({ brokers: mock.brokers, topic: 'cf.{table}', clientId: 'test', registry, logger, maxBatchRows: 2_000 });
    await sink.start();
    const rows = [...rowsFor('trades', 6_000, { seed: 7 })];
    // Written in small bursts with awaits in between, like a normalizer feeding the sink.
    for (let i = 0; i < rows.length; i += 50) {
      sink.writeMany(rows.slice(i, i + 50));
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    }
    await sink.flush();
    expect(sink.pending).toBe(0);
    expect(await metric(registry, 'kafka_rows_produced_total', { table: 'trades' })).toBe(rows.length);
    const requests = await histogramCount(registry, 'kafka_produce_batch_rows');
    expect(requests).toBeGreaterThan(1);
    expect(requests).toBeLessThan(rows.length / 20); // batched, not one send per row

    const { perKey, partitionsByKey } = await consume(mock.brokers, 'cf.trades', rows.length, 'g-order');
    const expected = new Map<string, string[]>();
    for (const r of rows) {
      const list = expected.get(keyOf(r)) ?? [];
      list.push(JSON.stringify(r));
      expected.set(keyOf(r), list);
    }
    expect(perKey.size).toBe(expected.size);
    for (const [key, values] of expected) {
      expect(perKey.get(key)).toEqual(values); // nothing lost, nothing duplicated, order kept
      expect(partitionsByKey.get(key)?.size).toBe(1);
    }
    await sink.close();
  });

  it('keeps rows and their order through a broker outage, counting the failed requests', async () => {
    const registry = new Registry();
    const sink = new KafkaRowSink({
      brokers: mock.brokers,
      topic: 'cf.outage',
      clientId: 'test-outage',
      registry,
      logger,
      kafkajsRetries: 1,
      requestTimeoutMs: 1_000,
      connectionTimeoutMs: 500,
      backoff: { baseMs: 50, maxMs: 200, factor: 2 },
    });
    await sink.start();
    const rows = [...rowsFor('trades', 900, { seed: 11 })];
    sink.writeMany(rows.slice(0, 300));
    await sink.flush();
    await mock.brokerDown(1);
    sink.writeMany(rows.slice(300, 600));
    // Wait until at least one produce request has failed against the downed broker.
    for (let i = 0; i < 200 && (await metric(registry, 'kafka_produce_errors_total')) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await metric(registry, 'kafka_produce_errors_total')).toBeGreaterThan(0);
    sink.writeMany(rows.slice(600));
    await mock.brokerUp(1);
    await sink.flush();
    await sink.close();

    const { perKey } = await consume(mock.brokers, 'cf.outage', rows.length, 'g-outage');
    // A trade's id is in trade_id or, for venues with text ids, trade_id_text.
    type Ids = { trade_id: number | null; trade_id_text: string | null };
    const idOf = (r: Ids): number | string => r.trade_id ?? (r.trade_id_text as string);
    const expected = new Map<string, (number | string)[]>();
    for (const r of rows) {
      const list = expected.get(keyOf(r)) ?? [];
      list.push(idOf(r as unknown as Ids));
      expected.set(keyOf(r), list);
    }
    expect(perKey.size).toBe(expected.size);
    // Nothing lost and order kept; a retried request may repeat a run of rows in Kafka, never reorder them.
    for (const [key, ids] of expected) {
      const got = (perKey.get(key) ?? []).map((v) => idOf(JSON.parse(v) as Ids));
      const firstSeen = got.filter((id, i) => got.indexOf(id) === i);
      expect(firstSeen, key).toEqual(ids);
    }
  });

  it('rejects bad config', () => {
    const registry = new Registry();
    expect(() => new KafkaRowSink({ brokers: [], topic: 't', clientId: 'c', registry, logger })).toThrow(/brokers/);
    expect(() => new KafkaRowSink({ brokers: ['127.0.0.1:1'], topic: 't', clientId: 'c', registry, logger, maxBatchRows: 10, maxBufferedRows: 5 })).toThrow(/maxBufferedRows/);
  });
});
