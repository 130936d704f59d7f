/**
 * Scale-step simulation: 1024 shards, 1 → 64 replicas. Prints shards moved per step by rendezvous
 * hashing against the modulo rule (`shard % replica_count`) and the ideal (1024 / N).
 */
import { createShardHasher, movedShards, rendezvousAssignment } from '../src/index.js';

export async function run(): Promise<Record<string, number | string>> {
  const hasher = await createShardHasher();
  const total = 1024;
  const ids = Array.from({ length: 64 }, (_, i) => `replica-${i.toString().padStart(2, '0')}`);
  let prev = rendezvousAssignment(hasher, total, ids.slice(0, 1));
  let sumRv = 0;
  let sumMod = 0;
  const figures: Record<string, number | string> = {};
  const started = performance.now();
  for (let n = 2; n <= 64; n++) {
    const next = rendezvousAssignment(hasher, total, ids.slice(0, n));
    const rv = movedShards(prev, next);
    let mod = 0;
    for (let s = 0; s < total; s++) if (s % (n - 1) !== s % n) mod++;
    sumRv += rv;
    sumMod += mod;
    if ([2, 3, 4, 8, 16, 32, 64].includes(n))
      figures[`${n - 1}→${n} replicas: moved rendezvous / modulo / ideal`] =
        `${rv} / ${mod} / ${Math.round(total / n)}`;
    prev = next;
  }
  figures['total moved 1→64: rendezvous'] = sumRv;
  figures['total moved 1→64: modulo'] = sumMod;
  figures['assignment time for 1024 shards × 64 replicas (ms)'] = Number(
    ((performance.now() - started) / 63).toFixed(2),
  );
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) console.table(await run());
