#!/usr/bin/env -S npx tsx
/**
 * Starts every local AWS stand-in and prints their endpoints as one JSON line:
 *   {"s3":"http://127.0.0.1:p","dynamodb":"http://127.0.0.1:q","kafka":["127.0.0.1:r"]}
 *
 *   tsx tools/stand-ins/src/cli.ts [--dir .data/s3] [--bucket name]... [--topic name:partitions]...
 *
 * Runs until SIGINT/SIGTERM, then stops them all.
 */
import { parseArgs } from 'node:util';
import { startStandIns } from './stack.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '.data/s3' },
    bucket: { type: 'string', multiple: true, default: [] },
    topic: { type: 'string', multiple: true, default: [] },
  },
});
const topics = (values.topic ?? []).map((spec) => {
  const at = spec.lastIndexOf(':');
  return at < 0 ? { name: spec, partitions: 1 } : { name: spec.slice(0, at), partitions: Number(spec.slice(at + 1)) };
});
const stack = await startStandIns({ dir: values.dir ?? '.data/s3', buckets: values.bucket ?? [], topics });
process.stdout.write(`${JSON.stringify(stack.endpoints())}\n`);
const stop = (): void => void stack.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
