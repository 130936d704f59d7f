import { hostname } from 'node:os';
import type { CommitterConfig } from '@cryptoflow/config';
import { CfError, isRetriable, sleep } from '@cryptoflow/core';
import type { Lease } from '@cryptoflow/idempotency';
import type { Logger } from '@cryptoflow/logger';
import { counter, gauge } from '@cryptoflow/metrics';
import type { Counter, Gauge, Registry } from '@cryptoflow/metrics';
import { isTableName } from '@cryptoflow/model';
import type { TableName } from '@cryptoflow/model';
import { commitIdOf, createLakeClients, dataFileOf } from './lake-clients.js';
import type { LakeClients } from './lake-clients.js';

export interface CommitterStats {
  batches: number;
  filesCommitted: number;
  /** Batches that turned out to be committed already (a crash between commit and ledger update). */
  recovered: number;
}

/**
 * Commits the files recorded in the ledger to their Iceberg tables: one writer per table (a fenced
 * lease in the ledger's table), few large commits (batches up to `batch.max_files`, waiting up to
 * `batch.max_wait_ms` for more). Every step is safe to crash in:
 * - the batch's commit id depends only on its files, so a re-run after a crash recommits the same
 *   batch under the same id and the catalog recognises its own snapshot instead of appending twice;
 * - the ledger marks files committed conditionally (uploaded → committed under this commit id, checked
 *   against the lease's fencing token), so a paused old holder cannot overwrite a newer one.
 */
export class Committer {
  readonly stats: CommitterStats = { batches: 0, filesCommitted: 0, recovered: 0 };
  private readonly lake: LakeClients;
  private readonly tables: TableName[];
  private readonly holder = `${hostname()}-${process.pid}`;
  private readonly leases = new Map<TableName, Lease>();
  private readonly oldestWaitingSince = new Map<TableName, number>();
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

  ready(): { ok: boolean; detail: Record<string, unknown> } {
    return {
      ok: this.lastError === undefined,
      detail: { leases: [...this.leases.keys()], lastError: this.lastError, ...this.stats },
    };
  }

  /** One pass over every table: take or renew its lease, then commit what is waiting. Returns files committed. */
  async runOnce(): Promise<number> {
    let committed = 0;
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
    for (const lease of this.leases.values())
      await this.lake.ledger.leases.release(lease).catch(() => undefined);
    this.leases.clear();
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
      this.oldestWaitingSince.delete(table);
      this.mLag.set({ table }, 0);
      return 0;
    }
    const oldest = Math.min(...waiting.map((e) => e.createdAtMs));
    this.mLag.set({ table }, Math.max(0, (Date.now() - oldest) / 1000));
    // Fewer, larger commits: wait for a full batch, or until the oldest file has waited long enough.
    if (waiting.length < max_files && Date.now() - oldest < max_wait_ms) return 0;
    // The index can lag the table (eventually consistent GSI): confirm each file's state first.
    const confirmed = await this.lake.ledger.getMany(waiting.map((e) => e.fileKey));
    const batch = [...confirmed.values()]
      .filter((e) => e.state === 'uploaded')
      .sort((a, b) => a.fileKey.localeCompare(b.fileKey));
    if (batch.length === 0) return 0;
    const keys = batch.map((e) => e.fileKey);
    const commitId = commitIdOf(table, keys);
    const catalog = this.lake.catalog as NonNullable<LakeClients['catalog']>;
    const result = await catalog.appendFiles(
      { namespace: this.lake.namespace, name: table },
      batch.map(dataFileOf),
      { commitId },
    );
    await this.lake.ledger.markCommitted(keys, result.snapshotId.toString(), commitId, lease);
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
