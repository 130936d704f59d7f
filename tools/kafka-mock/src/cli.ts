#!/usr/bin/env -S npx tsx
/**
 * `tsx tools/kafka-mock/src/cli.ts rows:8 other:1` — starts a mock cluster, prints
 * `{"brokers":[...]}` on one line and runs until SIGINT/SIGTERM.
 */
import { startKafkaMock } from './kafka-mock.js';

const topics = process.argv.slice(2).map((spec) => {
  const [name = '', partitions = '1'] = spec.split(':');
  return { name, partitions: Number(partitions) };
});
const mock = await startKafkaMock({ topics });
process.stdout.write(`${JSON.stringify({ brokers: mock.brokers })}\n`);
const stop = (): void => void mock.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
