import { createShardHasher } from '../src/index.js';

/** shardId throughput on realistic symbol names (the partitioner caches per symbol; this is the cold cost). */
export async function run(): Promise<Record<string, number | string>> {
  const hasher = await createShardHasher();
  const symbols: string[] = [];
  for (let i = 0; i < 4096; i++) symbols.push(`SYM${i.toString(36).toUpperCase()}USDT`);
  const iterations = 2_000_000;
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink += hasher.shardId('binance', symbols[i & 4095]!, 1024); // warm-up
  const started = performance.now();
  for (let i = 0; i < iterations; i++) sink += hasher.shardId('binance', symbols[i & 4095]!, 1024);
  const seconds = (performance.now() - started) / 1000;
  const hashStarted = performance.now();
  for (let i = 0; i < iterations; i++) sink += Number(hasher.hash64(symbols[i & 4095]!) & 1n);
  const hashSeconds = (performance.now() - hashStarted) / 1000;
  if (sink === -1) console.log(sink); // keep the loops observable
  return {
    'shardId/s (1024 shards)': Math.round(iterations / seconds),
    'hash64/s': Math.round(iterations / hashSeconds),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await run());
}
