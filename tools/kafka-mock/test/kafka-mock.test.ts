import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaMockUnavailableReason, startKafkaMock } from '../src/index.js';
import type { KafkaMock } from '../src/index.js';

const unavailable = await kafkaMockUnavailableReason();
if (unavailable) console.warn(`SKIPPING kafka-mock tests: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('kafka-mock', () => {
  let mock: KafkaMock;
  beforeAll(async () => {
    mock = await startKafkaMock({ topics: [{ name: 'probe', partitions: 3 }] });
  });
  afterAll(async () => {
    await mock?.close();
  });

  it('serves the Kafka protocol on 127.0.0.1 with the topics it was given', async () => {
    expect(mock.brokers.length).toBe(1);
    expect(mock.brokers[0]).toMatch(/^127\.0\.0\.1:\d+$/);
    const kafka = new Kafka({ clientId: 'probe', brokers: mock.brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: ['probe'] });
    await admin.disconnect();
    expect(meta.topics[0]?.partitions.length).toBe(3);

    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'probe', acks: -1, messages: [{ key: 'k', value: 'hello' }] });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: 'probe-g' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'probe', fromBeginning: true });
    const got = await new Promise<string>((resolve) => {
      void consumer.run({ eachMessage: async ({ message }) => resolve(String(message.value)) });
    });
    await consumer.disconnect();
    expect(got).toBe('hello');
  });

  it('takes a broker down and up on command', async () => {
    await mock.brokerDown(1);
    await mock.brokerUp(1);
  });

  it('rejects a bad topic spec', async () => {
    await expect(startKafkaMock({ topics: [{ name: 'a b', partitions: 1 }] })).rejects.toThrow(/bad topic/);
  });
});
