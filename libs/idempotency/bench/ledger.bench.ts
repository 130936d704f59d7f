/**
 * Ledger throughput against dynalite (in memory, same process): seenOrPut first-time and duplicate
 * rates, listUncommitted, markCommitted. dynalite is far slower than DynamoDB per request and has no
 * network; the figures compare versions of this code, not AWS.
 */
import { createHash } from 'node:crypto';
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import { localDynamoClient, startDynamo } from '@cryptoflow/stand-ins';
import { FileLedger } from '../src/index.js';

export async function run(): Promise<Record<string, number | string>> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const dynamo = await startDynamo();
  const client = localDynamoClient(dynamo.endpoint);
  try {
    const ledger = new FileLedger({ client, tableName: 'bench-ledger', registry: new Registry(), logger: createLogger({ app: 'bench', level: 'silent' }) });
    await ledger.ensureTable();
    const n = 2_000;
    const entries = Array.from({ length: n }, (_, i) => ({
      fileKey: `trades/2024-01-31T${String(10 + (i % 10)).padStart(2, '0')}/s${i % 8}/f${i}.parquet`,
      table: 'trades',
      hour: `2024-01-31T${String(10 + (i % 10)).padStart(2, '0')}`,
      shard: i % 8,
      uri: `s3://lake/f${i}`,
      rows: 1000,
      bytes: 1_000_000,
      checksumSha256: createHash('sha256').update(String(i)).digest('base64'),
      writer: 'bench',
    }));
    const parallel = async <T>(items: readonly T[], fn: (x: T) => Promise<unknown>, width = 32): Promise<void> => {
      let next = 0;
      await Promise.all(Array.from({ length: width }, async () => {
        while (next < items.length) await fn(items[next++] as T);
      }));
    };
    let t = performance.now();
    await parallel(entries, (e) => ledger.seenOrPut(e));
    const firstPerSec = n / ((performance.now() - t) / 1000);
    t = performance.now();
    await parallel(entries, (e) => ledger.seenOrPut(e));
    const dupePerSec = n / ((performance.now() - t) / 1000);
    t = performance.now();
    const listed = await ledger.listUncommitted('trades', 1_000);
    const listMs = performance.now() - t;
    t = performance.now();
    await ledger.markCommitted(listed.map((e) => e.fileKey), '1', 'bench-commit');
    const markPerSec = listed.length / ((performance.now() - t) / 1000);
    return {
      'ledger seenOrPut first-time files/s (32 concurrent)': Math.round(firstPerSec),
      'ledger seenOrPut duplicate files/s (32 concurrent)': Math.round(dupePerSec),
      'ledger listUncommitted 1000 of 2000 (ms)': Math.round(listMs),
      'ledger markCommitted files/s': Math.round(markPerSec),
    };
  } finally {
    client.destroy();
    await dynamo.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await run();
  for (const [k, v] of Object.entries(figures)) console.log(`${k}: ${v}`);
}
