import { createHash } from 'node:crypto';

const MASK_63 = 0x7fff_ffff_ffff_ffffn;

/**
 * The snapshot id a commit id always maps to: the first 8 bytes of SHA-256(commitId), masked to a
 * positive 63-bit long (Iceberg ids are signed longs; negative ids confuse some readers). The same
 * commit retried after a crash yields the same id, so "did my commit land?" is a lookup by id.
 */
export function snapshotIdForCommit(commitId: string): bigint {
  if (commitId.length === 0) throw new TypeError('commitId must be a non-empty string');
  const id = createHash('sha256').update(commitId, 'utf8').digest().readBigUInt64BE(0) & MASK_63;
  return id === 0n ? 1n : id;
}
