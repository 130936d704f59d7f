import { readManifest, readManifestList, sameId } from '@cryptoflow/sink';
import type { IcebergTableMetadata, ObjectReader } from '@cryptoflow/sink';
import { COMMIT_ID_KEY } from '@cryptoflow/sink';

/** Snapshot summary key carrying our deterministic commit id (written by IcebergRestClient.appendFiles). */
export const COMMIT_ID_SUMMARY_KEY = COMMIT_ID_KEY;

/** Where a data file was appended: one of our own snapshots. */
export interface AppendedBy {
  readonly snapshotId: string;
  readonly commitId: string;
  readonly timestampMs: number;
}

/**
 * Which data files our own recent snapshots appended to a table, read from the table itself.
 *
 * The ledger says "uploaded" for a file whose commit landed when the writer died before
 * `markCommitted` (or whose markCommitted failed). Recommitting it in a different batch would add it
 * twice, so before every commit the committer asks this index and marks such files committed under the
 * snapshot that already holds them. Only snapshots made by our writers (summary carries a
 * `cf-<table>-` commit id) and not older than `sinceMs` are read, each once per process: the manifests
 * a snapshot added (`added_snapshot_id` = that snapshot) list exactly the files it appended.
 */
export class AppendedFileIndex {
  /** Snapshot id → its timestamp, for every snapshot read. */
  private readonly scanned = new Map<string, number>();
  private readonly byPath = new Map<string, AppendedBy>();

  constructor(
    private readonly table: string,
    private readonly objects: ObjectReader,
  ) {}

  /** Files known; for tests and /ready. */
  get size(): number {
    return this.byPath.size;
  }

  /** Reads snapshots of `metadata` made by our writers at or after `sinceMs` that were not read before. */
  async refresh(metadata: IcebergTableMetadata, sinceMs: number): Promise<number> {
    let read = 0;
    const prefix = `cf-${this.table}-`;
    for (const snap of metadata.snapshots ?? []) {
      const id = String(snap['snapshot-id']);
      if (this.scanned.has(id)) continue;
      const commitId = snap.summary[COMMIT_ID_SUMMARY_KEY];
      const ts = Number(snap['timestamp-ms']);
      if (!commitId?.startsWith(prefix) || ts < sinceMs) continue;
      const listLocation = snap['manifest-list'];
      const added: AppendedBy = { snapshotId: id, commitId, timestampMs: ts };
      for (const m of readManifestList(await this.objects.get(listLocation), listLocation)) {
        if (!sameId(m.added_snapshot_id, snap['snapshot-id'])) continue;
        for (const entry of readManifest(await this.objects.get(m.manifest_path)).entries) {
          if (entry.status === 1) this.byPath.set(entry.data_file.file_path, added);
        }
      }
      this.scanned.set(id, ts);
      read++;
    }
    return read;
  }

  get(filePath: string): AppendedBy | undefined {
    return this.byPath.get(filePath);
  }

  /** Forgets snapshots older than `beforeMs` (a later `refresh` with an older `sinceMs` reads them again). */
  prune(beforeMs: number): void {
    for (const [path, by] of this.byPath) if (by.timestampMs < beforeMs) this.byPath.delete(path);
    for (const [id, ts] of this.scanned) if (ts < beforeMs) this.scanned.delete(id);
  }
}
