import { hostname } from 'node:os';
import type { CommitterConfig } from '@cryptoflow/config';
import { CfError, isRetriable, sleep } from '@cryptoflow/core';
import type { Lease } from '@cryptoflow/idempotency';
import type { Logger } from '@cryptoflow/logger';
import { counter, gauge } from '@cryptoflow/metrics';
import type { Counter, Gauge, Registry } from '@cryptoflow/metrics';
import { isTableName } from '@cryptoflow/model';
import type { TableName } from '@cryptoflow/model';
import { AppendedFileIndex } from './committer-reconcile.js';
import { commitIdOf, createLakeClients, dataFileOf } from './lake-clients.js';
import type { LakeClients } from './lake-clients.js';

/** Clock skew allowed between a file's writer (ledger created_at) and the committer (snapshot time). */
const SKEW_MS = 10 * 60_000;

export interface CommitterStats {
  batches: number;
  filesCommitted: number;
  /** Batches that turned out to be committed already (a crash between commit and ledger update). */
  recovered: number;
  /** Files found already appended by an earlier snapshot of ours and marked committed under it. */
  reconciled: number;
}

/**
 * Commits the files recorded in the ledger to their Iceberg tables: one writer per table (a fenced
 * lease in the ledger's table), few large commits (batches up to `batch.max_files`, waiting up to
 * `batch.max_wait_ms` for more). Every step is safe to crash in:
 * - the batch's commit id depends only on its files, so a re-run after a crash recommits the same
 *   batch under the same id and the catalog recognises its own snapshot instead of appending twice;
 * - a batch whose commit landed but whose ledger update did not (a crash in between) may be chosen
 *   differently next time (more files have arrived); so before each commit the files are looked up in
 *   the table's own recent snapshots (AppendedFileIndex) and those found are marked committed under
 *   the snapshot that holds them instead of being appended again;
 * - the ledger marks files committed conditionally (uploaded → committed under this commit id, checked
 *   against the lease's fencing token), so a paused old holder cannot overwrite a newer one; the lease
 *   is renewed right before each commit so a holder commits only while its lease has most of its TTL.
 */
export class Committer {
  readonly stats: CommitterStats = { batches: 0, filesCommitted: 0, recovered: 0, reconciled: 0 };
  private readonly lake: LakeClients;
  private readonly tables: TableName[];
  private readonly holder = `${hostname()}-${process.pid}`;
  private readonly leases = new Map<TableName, Lease>();
  private readonly appended = new Map<TableName, AppendedFileIndex>();
  private catalogOkAtMs = 0;
  private catalogError: string | undefined;
  private readonly mBatches: Counter<'table'>;
  private readonly mFiles: Counter<'table'>;
  private readonly mLag: Gauge<'table'>;
  private readonly mLease: Gauge<'table'>;
  private lastError: string | undefined;

  constructor(
    private readonly config: CommitterConfig,
    private readonly deps: { registry: Registry; logger: Logger },
  ) {
    const bad = config.tables.filter((t) => !isTableName(t));
    if (bad.length > 0)
      throw new CfError(
        'CF_CONFIG_INVALID',
        `invalid config:\n  - tables: unknown table(s) ${bad.join(', ')}`,
        { context: { issues: [`tables: ${bad.join(', ')}`] } },
      );
    if (!config.sink.catalog)
      throw new CfError('CF_CONFIG_INVALID', 'invalid config:\n  - sink.catalog: required by the committer', {
        context: { issues: ['sink.catalog'] },
      });
    this.tables = config.tables as TableName[];
    this.lake = createLakeClients(config.sink, deps);
    const r = deps.registry;
    this.mBatches = counter(r, 'committer_batches_total', 'Iceberg append commits made by the committer.', [
      'table',
    ]);
    this.mFiles = counter(
      r,
      'committer_files_committed_total',
      'Files appended to Iceberg tables by the committer.',
      ['table'],
    );
    this.mLag = gauge(
      r,
      'committer_lag_seconds',
      'Age of the oldest file waiting to be committed (0 when none).',
      ['table'],
    );
    this.mLease = gauge(r, 'committer_lease_held', '1 while this committer holds the table lease.', [
      'table',
    ]);
  }

  async init(): Promise<void> {
    if (this.config.sink.ledger?.endpoint) await this.lake.ledger.ensureTable();
    const catalog = this.lake.catalog as NonNullable<LakeClients['catalog']>;
    await catalog.ensureNamespace(this.lake.namespace);
    for (const t of this.tables) await catalog.ensureModelTable(this.lake.namespace, t);
  }

  /** Ready = holds at least one table lease and the catalog answered within the last few polls. */
  ready(): { ok: boolean; detail: Record<string, unknown> } {
    const catalogReachable =
      this.catalogError === undefined &&
      Date.now() - this.catalogOkAtMs < Math.max(5 * this.config.batch.poll_interval_ms, 15_000);
    return {
      ok: this.leases.size > 0 && catalogReachable,
      detail: {
        leases: [...this.leases.keys()],
        catalogReachable,
        catalogError: this.catalogError,
        lastError: this.lastError,
        ...this.stats,
      },
    };
  }

  /** Tables whose lease this committer holds. */
  heldTables(): TableName[] {
    return [...this.leases.keys()];
  }

  /** One pass over every table: take or renew its lease, then commit what is waiting. Returns files committed. */
  async runOnce(): Promise<number> {
    let committed = 0;
    await this.probeCatalog();
    for (const table of this.tables) {
      try {
        const lease = await this.lease(table);
        if (!lease) continue; // another committer writes this table
        committed += await this.commitTable(table, lease);
        this.lastError = undefined;
      } catch (err) {
        this.lastError = `${table}: ${(err as Error).message}`;
        if (err instanceof CfError && err.code === 'CF_FENCED') {
          this.leases.delete(table);
          this.mLease.set({ table }, 0);
        }
        this.deps.logger.warn(
          { table, err: err instanceof CfError ? err.toJSON() : String(err) },
          'commit pass failed; retrying next pass',
        );
        if (!isRetriable(err) && !(err instanceof CfError && err.code === 'CF_FENCED')) throw err;
      }
    }
    return committed;
  }

  /** Runs passes until `signal` aborts; the in-flight commit finishes, then the leases are released. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const n = await this.runOnce();
      if (n === 0) await sleep(this.config.batch.poll_interval_ms, signal).catch(() => undefined);
    }
    await this.releaseLeases();
  }

  /** Gives up every lease held (a standby takes over at once instead of after `lease_ms`). */
  async releaseLeases(): Promise<void> {
    for (const [table, lease] of this.leases) {
      await this.lake.ledger.leases.release(lease).catch((err: unknown) =>
        this.deps.logger.warn({ table, err: String(err) }, 'lease release failed; it lapses after lease_ms'),
      );
      this.mLease.set({ table }, 0);
    }
    this.leases.clear();
  }

  /** Releases the SDK clients (after `run` returned). */
  close(): void {
    this.lake.destroy();
  }

  /** A cheap catalog call when no commit touched it recently, for /ready. */
  private async probeCatalog(): Promise<void> {
    if (Date.now() - this.catalogOkAtMs < this.config.batch.poll_interval_ms) return;
    try {
      await (this.lake.catalog as NonNullable<LakeClients['catalog']>).loadConfig();
      this.catalogOk();
    } catch (err) {
      this.catalogError = (err as Error).message;
    }
  }

  private catalogOk(): void {
    this.catalogOkAtMs = Date.now();
    this.catalogError = undefined;
  }

  private async lease(table: TableName): Promise<Lease | undefined> {
    const held = this.leases.get(table);
    const ttl = this.config.lease_ms;
    let lease: Lease | undefined;
    if (held && held.expiresAtMs - Date.now() > ttl / 3) return held;
    lease = held
      ? await this.lake.ledger.leases.renew(held, ttl)
      : await this.lake.ledger.leases.acquire(`committer/${table}`, this.holder, ttl);
    if (lease) this.leases.set(table, lease);
    this.mLease.set({ table }, lease ? 1 : 0);
    return lease;
  }

  private async commitTable(table: TableName, lease: Lease): Promise<number> {
    const { max_files, max_wait_ms } = this.config.batch;
    const waiting = await this.lake.ledger.listUncommitted(table, max_files);
    if (waiting.length === 0) {
      this.mLag.set({ table }, 0);
      return 0;
    }
    const oldest = Math.min(...waiting.map((e) => e.createdAtMs));
    this.mLag.set({ table }, Math.max(0, (Date.now() - oldest) / 1000));
    // Fewer, larger commits: wait for a full batch, or until the oldest file has waited long enough.
    if (waiting.length < max_files && Date.now() - oldest < max_wait_ms) return 0;
    // The index can lag the table (eventually consistent GSI): confirm each file's state first.
    const confirmed = await this.lake.ledger.getMany(waiting.map((e) => e.fileKey));
    let batch = [...confirmed.values()]
      .filter((e) => e.state === 'uploaded')
      .sort((a, b) => a.fileKey.localeCompare(b.fileKey));
    if (batch.length === 0) return 0;

    // Files an earlier snapshot of ours already appended (its ledger update was lost): mark, never re-append.
    const ident = { namespace: this.lake.namespace, name: table };
    const catalog = this.lake.catalog as NonNullable<LakeClients['catalog']>;
    const loaded = await catalog.loadTable(ident);
    this.catalogOk();
    let index = this.appended.get(table);
    if (!index) this.appended.set(table, (index = new AppendedFileIndex(table, this.lake.objects)));
    const since = Math.min(...batch.map((e) => e.createdAtMs)) - SKEW_MS;
    await index.refresh(loaded.metadata, since);
    const already = new Map<string, { snapshotId: string; commitId: string; keys: string[] }>();
    for (const e of batch) {
      const by = index.get(e.uri);
      if (!by) continue;
      let group = already.get(by.snapshotId);
      if (!group) already.set(by.snapshotId, (group = { ...by, keys: [] }));
      group.keys.push(e.fileKey);
    }
    if (already.size > 0) {
      for (const g of already.values()) {
        await this.lake.ledger.markCommitted(g.keys, g.snapshotId, g.commitId, lease);
        this.stats.reconciled += g.keys.length;
        this.deps.logger.warn(
          { table, files: g.keys.length, snapshotId: g.snapshotId, commitId: g.commitId },
          'files were already in the table (a commit whose ledger update was lost); marked committed',
        );
      }
      const done = new Set([...already.values()].flatMap((g) => g.keys));
      batch = batch.filter((e) => !done.has(e.fileKey));
      if (batch.length === 0) return 0;
    }
    index.prune(since);

    // Commit only with most of the lease left: a holder paused past its TTL must not append.
    const fresh = await this.lake.ledger.leases.renew(lease, this.config.lease_ms);
    this.leases.set(table, fresh);
    const keys = batch.map((e) => e.fileKey);
    const commitId = commitIdOf(table, keys);
    const result = await catalog.appendFiles(ident, batch.map((e) => dataFileOf(e)), { commitId });
    this.catalogOk();
    await this.lake.ledger.markCommitted(keys, result.snapshotId.toString(), commitId, fresh);
    this.stats.batches++;
    this.stats.filesCommitted += batch.length;
    if (!result.committed) this.stats.recovered++;
    this.mBatches.inc({ table });
    this.mFiles.inc({ table }, batch.length);
    this.deps.logger.info(
      {
        table,
        files: batch.length,
        snapshotId: result.snapshotId.toString(),
        commitId,
        replayed: !result.committed,
      },
      'committed',
    );
    return batch.length;
  }
}
