/**
 * Iceberg REST catalog client for Amazon S3 Tables (and any catalog serving the same subset).
 * Protocol: Apache Iceberg REST Catalog OpenAPI (rest-catalog-open-api.yaml); table format v2.
 */
import { CfError, DEFAULT_BACKOFF, backoffDelayMs, sleep } from '@cryptoflow/core';
import type { BackoffPolicy } from '@cryptoflow/core';
import { Registry, counter, histogram } from '@cryptoflow/metrics';
import type { Counter, Histogram } from '@cryptoflow/metrics';
import { icebergPartitionSpecJson, icebergSchemaJson } from '@cryptoflow/model';
import type { TableName } from '@cryptoflow/model';
import { fetch } from 'undici';
import type { Dispatcher } from 'undici';
import { parseJson, sameId, stringifyJson, toBigIntId } from './json.js';
import type { ManifestFileRecord } from './manifest.js';
import { readManifestList, writeDataManifest, writeManifestList } from './manifest.js';
import { planSchemaEvolution } from './evolve.js';
import type { CredentialsInput, RequestSigner } from './sigv4.js';
import { sigV4Signer } from './sigv4.js';
import { snapshotIdForCommit } from './snapshot-id.js';
import type {
  DataFileInput,
  IcebergSnapshot,
  IcebergTableMetadata,
  LoadedTable,
  ObjectStore,
  TableIdent,
} from './types.js';

export interface IcebergRestClientOptions {
  /** Catalog base URI, e.g. `https://s3tables.us-east-1.amazonaws.com/iceberg` or `http://127.0.0.1:8181`. */
  readonly uri: string;
  /** Warehouse: for S3 Tables the table bucket ARN. */
  readonly warehouse: string;
  /** Skip `/v1/config` discovery and use this prefix (unencoded). */
  readonly prefix?: string;
  readonly signer?: 'sigv4' | 'none';
  readonly region?: string;
  readonly credentials?: CredentialsInput;
  readonly dispatcher?: Dispatcher;
  /** Where manifests and manifest lists are written and parent manifest lists read. Required for `appendFiles`. */
  readonly objects?: ObjectStore;
  /** Metrics land here; a private registry when absent. */
  readonly registry?: Registry;
  /** Per-request timeout; a commit that times out is treated as "state unknown". Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Commit attempts before giving up (409 and state-unknown both count). Default 8. */
  readonly maxCommitAttempts?: number;
  /** Read-only requests (GET/HEAD) retried on 5xx/network errors. Default 4 attempts. */
  readonly maxReadAttempts?: number;
  readonly backoff?: BackoffPolicy;
  /** Injected for tests. */
  readonly random?: () => number;
  readonly now?: () => number;
  /** Extra headers on every request (e.g. a bearer token for a non-AWS catalog). */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface CreateTableOptions {
  readonly schema: unknown;
  readonly partitionSpec?: unknown;
  readonly writeOrder?: unknown;
  readonly properties?: Readonly<Record<string, string>>;
  readonly location?: string;
}

export interface AppendOptions {
  /** Stable id of this logical commit (e.g. the ledger batch id). Same id → same snapshot id → committed at most once. */
  readonly commitId: string;
  /** Extra snapshot summary properties (string values). */
  readonly summary?: Readonly<Record<string, string>>;
}

export interface AppendResult {
  readonly snapshotId: bigint;
  /** False when the commit id was already in the table (a replay or a lost answer): nothing was added. */
  readonly committed: boolean;
  readonly attempts: number;
  readonly sequenceNumber: bigint | null;
  readonly metadataLocation: string | null;
  readonly manifestListLocation: string | null;
}

interface ErrorBody {
  readonly error?: { readonly message?: string; readonly type?: string; readonly code?: number };
}

const COMMIT_BACKOFF: BackoffPolicy = { baseMs: 100, maxMs: 5_000, factor: 2 };
/** Snapshot summary key carrying our deterministic commit id (how a commit is recognised after a lost answer). */
export const COMMIT_ID_KEY = 'cryptoflow.commit-id';

/** Table properties every CryptoFlow table is created with. */
export const DEFAULT_TABLE_PROPERTIES: Readonly<Record<string, string>> = {
  'write.format.default': 'parquet',
  'write.parquet.compression-codec': 'snappy',
  'format-version': '2',
};

export class IcebergRestClient {
  private readonly base: string;
  private prefix: string | undefined;
  private readonly signer: RequestSigner | undefined;
  private readonly timeoutMs: number;
  private readonly maxCommitAttempts: number;
  private readonly maxReadAttempts: number;
  private readonly backoff: BackoffPolicy;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly commitLatency: Histogram<'table' | 'outcome'>;
  private readonly commitRetries: Counter<'reason'>;
  private configLoaded: Promise<void> | undefined;

  constructor(private readonly options: IcebergRestClientOptions) {
    this.base = options.uri.replace(/\/+$/, '');
    this.prefix = options.prefix;
    if (options.signer === 'sigv4') {
      if (!options.region)
        throw new CfError('CF_CONFIG_INVALID', 'iceberg.region: required when signer is sigv4');
      if (!options.credentials)
        throw new CfError('CF_CONFIG_INVALID', 'iceberg.credentials: required when signer is sigv4');
      this.signer = sigV4Signer({ region: options.region, credentials: options.credentials });
    }
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.maxCommitAttempts = options.maxCommitAttempts ?? 8;
    this.maxReadAttempts = options.maxReadAttempts ?? 4;
    this.backoff = options.backoff ?? COMMIT_BACKOFF;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    const registry = options.registry ?? new Registry();
    this.commitLatency = histogram(
      registry,
      's3tables_commit_latency_seconds',
      'Iceberg append commit latency, from first load to outcome.',
      ['table', 'outcome'],
    );
    this.commitRetries = counter(
      registry,
      's3tables_commit_retries_total',
      'Iceberg commit attempts retried, by reason (conflict = 409, state_unknown = 5xx/timeout).',
      ['reason'],
    );
  }

  // ---------------------------------------------------------------- config

  /** `GET /v1/config?warehouse=`: learns the route prefix (S3 Tables: the bucket ARN). */
  async loadConfig(): Promise<{
    defaults: Record<string, string>;
    overrides: Record<string, string>;
    endpoints?: string[];
  }> {
    const res = await this.request(
      'GET',
      `/v1/config?warehouse=${encodeURIComponent(this.options.warehouse)}`,
      undefined,
      { read: true },
    );
    const body = res.body as {
      defaults?: Record<string, string>;
      overrides?: Record<string, string>;
      endpoints?: string[];
    };
    const defaults = body.defaults ?? {};
    const overrides = body.overrides ?? {};
    if (this.options.prefix === undefined) this.prefix = overrides['prefix'] ?? defaults['prefix'] ?? '';
    return { defaults, overrides, ...(body.endpoints ? { endpoints: body.endpoints } : {}) };
  }

  private async ensureConfig(): Promise<void> {
    if (this.prefix !== undefined) return;
    this.configLoaded ??= this.loadConfig().then(
      () => undefined,
      (err: unknown) => {
        this.configLoaded = undefined;
        throw err;
      },
    );
    await this.configLoaded;
  }

  private async path(...segments: string[]): Promise<string> {
    await this.ensureConfig();
    const p = this.prefix ? `/v1/${encodeURIComponent(this.prefix)}` : '/v1';
    return p + segments.map((s) => `/${s}`).join('');
  }

  // ---------------------------------------------------------------- namespaces

  async listNamespaces(): Promise<string[][]> {
    const res = await this.request('GET', await this.path('namespaces'), undefined, { read: true });
    return ((res.body as { namespaces?: string[][] }).namespaces ?? []).map((n) => [...n]);
  }

  async createNamespace(namespace: string, properties: Readonly<Record<string, string>> = {}): Promise<void> {
    await this.request('POST', await this.path('namespaces'), { namespace: [namespace], properties });
  }

  async namespaceExists(namespace: string): Promise<boolean> {
    const res = await this.request(
      'HEAD',
      await this.path('namespaces', encodeURIComponent(namespace)),
      undefined,
      { read: true, allow404: true },
    );
    return res.status !== 404;
  }

  /** Create the namespace unless it exists (a concurrent creator's 409 counts as success). */
  async ensureNamespace(namespace: string, properties: Readonly<Record<string, string>> = {}): Promise<void> {
    if (await this.namespaceExists(namespace)) return;
    try {
      await this.createNamespace(namespace, properties);
    } catch (err) {
      if (!(err instanceof CfError && err.context['status'] === 409)) throw err;
    }
  }

  async dropNamespace(namespace: string): Promise<void> {
    await this.request('DELETE', await this.path('namespaces', encodeURIComponent(namespace)));
  }

  // ---------------------------------------------------------------- tables

  async listTables(namespace: string): Promise<TableIdent[]> {
    const res = await this.request(
      'GET',
      await this.path('namespaces', encodeURIComponent(namespace), 'tables'),
      undefined,
      { read: true },
    );
    const ids = (res.body as { identifiers?: { namespace: string[]; name: string }[] }).identifiers ?? [];
    return ids.map((i) => ({ namespace: i.namespace.join('.'), name: i.name }));
  }

  async createTable(namespace: string, name: string, options: CreateTableOptions): Promise<LoadedTable> {
    const body: Record<string, unknown> = {
      name,
      schema: options.schema,
      'stage-create': false,
      properties: { ...DEFAULT_TABLE_PROPERTIES, ...(options.properties ?? {}) },
    };
    if (options.partitionSpec !== undefined) body['partition-spec'] = options.partitionSpec;
    if (options.writeOrder !== undefined) body['write-order'] = options.writeOrder;
    if (options.location !== undefined) body['location'] = options.location;
    const res = await this.request(
      'POST',
      await this.path('namespaces', encodeURIComponent(namespace), 'tables'),
      body,
    );
    return toLoaded({ namespace, name }, res.body);
  }

  /** Create a canonical table from `libs/model` (schema with field ids, hourly partition spec). */
  async createModelTable(
    namespace: string,
    table: TableName,
    properties: Readonly<Record<string, string>> = {},
  ): Promise<LoadedTable> {
    return this.createTable(namespace, table, {
      schema: icebergSchemaJson(table),
      partitionSpec: icebergPartitionSpecJson(table),
      properties,
    });
  }

  /**
   * Load the model table, creating it first when absent (a concurrent creator's 409 → load), and evolve its
   * schema to the model's when it was created from an older one (`evolveModelTable`).
   */
  async ensureModelTable(
    namespace: string,
    table: TableName,
    properties: Readonly<Record<string, string>> = {},
  ): Promise<LoadedTable> {
    const ident = { namespace, name: table };
    if (await this.tableExists(ident)) return this.evolveModelTable(ident, table, await this.loadTable(ident));
    try {
      return await this.createModelTable(namespace, table, properties);
    } catch (err) {
      if (err instanceof CfError && err.context['status'] === 409) return this.evolveModelTable(ident, table);
      throw err;
    }
  }

  /**
   * Brings a table created from an older model schema up to the model's (libs/model `schemaVersion` bumped,
   * a column added) in one commit: `add-schema` with the model's fields + `set-current-schema` to it, asserting
   * the table uuid, its current schema id and its last assigned column id. A concurrent change is a 409: the
   * table is reloaded and planned again (usually another writer made the same change and nothing is left to
   * do). A table already at or past the model's schema is left alone; one that cannot evolve to it (a type
   * change, a reused id, a new required column) is CF_SCHEMA. See docs/adrs/0003-trade-ids.md.
   */
  async evolveModelTable(ident: TableIdent, table: TableName, loaded?: LoadedTable): Promise<LoadedTable> {
    const { 'schema-id': _assignedByCatalog, ...target } = icebergSchemaJson(table);
    const label = `${ident.namespace}.${ident.name}`;
    let current = loaded ?? (await this.loadTable(ident));
    for (let attempt = 1; attempt <= this.maxCommitAttempts + 1; attempt++) {
      const md = current.metadata;
      const schema = md.schemas.find((s) => s['schema-id'] === md['current-schema-id']);
      if (!schema) throw new CfError('CF_CATALOG', `${label}: current schema missing from metadata`);
      if (planSchemaEvolution(label, schema, md['last-column-id'], target.fields).kind === 'current') return current;
      try {
        await this.commitTable(
          ident,
          [
            { type: 'assert-table-uuid', uuid: md['table-uuid'] },
            { type: 'assert-current-schema-id', 'current-schema-id': md['current-schema-id'] },
            { type: 'assert-last-assigned-field-id', 'last-assigned-field-id': md['last-column-id'] },
          ],
          [
            { action: 'add-schema', schema: target },
            { action: 'set-current-schema', 'schema-id': -1 },
          ],
        );
      } catch (err) {
        const retry =
          err instanceof CfError &&
          (err.code === 'CF_CATALOG_CONFLICT' || err.code === 'CF_CATALOG_STATE_UNKNOWN') &&
          attempt < this.maxCommitAttempts;
        if (!retry) throw err;
        this.commitRetries.inc({ reason: err.code === 'CF_CATALOG_CONFLICT' ? 'conflict' : 'state_unknown' });
        await sleep(backoffDelayMs(attempt - 1, this.backoff, this.random));
      }
      // Committed, or unknown/conflicting: either way the table as it is now decides.
      current = await this.loadTable(ident);
    }
    throw new CfError('CF_CATALOG', `${label}: schema still differs from the model after ${this.maxCommitAttempts} evolutions`, {
      retriable: true,
      context: { table: label },
    });
  }

  async tableExists(ident: TableIdent): Promise<boolean> {
    const res = await this.request('HEAD', await this.tablePath(ident), undefined, {
      read: true,
      allow404: true,
    });
    return res.status !== 404;
  }

  async loadTable(ident: TableIdent): Promise<LoadedTable> {
    const res = await this.request('GET', await this.tablePath(ident), undefined, { read: true });
    return toLoaded(ident, res.body);
  }

  /** S3 Tables only supports purge=true drops. */
  async dropTable(ident: TableIdent, options: { purge: boolean } = { purge: true }): Promise<void> {
    await this.request('DELETE', `${await this.tablePath(ident)}?purgeRequested=${options.purge}`);
  }

  async renameTable(from: TableIdent, to: TableIdent): Promise<void> {
    await this.request('POST', await this.path('tables', 'rename'), {
      source: { namespace: [from.namespace], name: from.name },
      destination: { namespace: [to.namespace], name: to.name },
    });
  }

  /**
   * One commit attempt. 409 → CF_CATALOG_CONFLICT; 500/502/503/504, a timeout or a broken connection →
   * CF_CATALOG_STATE_UNKNOWN (the change may or may not have been applied); both retriable.
   */
  async commitTable(
    ident: TableIdent,
    requirements: readonly unknown[],
    updates: readonly unknown[],
  ): Promise<{ metadataLocation: string; metadata: IcebergTableMetadata }> {
    const res = await this.request(
      'POST',
      await this.tablePath(ident),
      { identifier: { namespace: [ident.namespace], name: ident.name }, requirements, updates },
      { commit: true },
    );
    const body = res.body as { 'metadata-location': string; metadata: IcebergTableMetadata };
    return { metadataLocation: body['metadata-location'], metadata: body.metadata };
  }

  private async tablePath(ident: TableIdent): Promise<string> {
    return this.path(
      'namespaces',
      encodeURIComponent(ident.namespace),
      'tables',
      encodeURIComponent(ident.name),
    );
  }

  // ---------------------------------------------------------------- append

  /**
   * Fast-append `files` as one snapshot on `main`, exactly once per `commitId`:
   * the snapshot id is derived from the commit id, and before every attempt the table is reloaded and
   * searched for that snapshot (by id and by the `cryptoflow.commit-id` summary key), so a commit whose
   * answer was lost (500/502/504/timeout) is recognised instead of applied twice. A 409 (someone else
   * committed first, e.g. S3 Tables compaction) rebuilds the manifest list on the new parent and retries.
   */
  async appendFiles(
    ident: TableIdent,
    files: readonly DataFileInput[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    const objects = this.options.objects;
    if (!objects)
      throw new CfError('CF_CONFIG_INVALID', 'iceberg.objects: an ObjectStore is required for appendFiles');
    if (files.length === 0)
      throw new CfError('CF_CATALOG', `appendFiles(${ident.namespace}.${ident.name}): no files to append`, {
        context: { commitId: options.commitId },
      });
    const paths = new Set<string>();
    for (const f of files) {
      if (paths.has(f.filePath))
        throw new CfError(
          'CF_CATALOG',
          `appendFiles: file ${f.filePath} listed twice in commit ${options.commitId}`,
          { context: { commitId: options.commitId } },
        );
      paths.add(f.filePath);
    }
    const tableLabel = `${ident.namespace}.${ident.name}`;
    const started = performance.now();
    const snapshotId = snapshotIdForCommit(options.commitId);
    const observe = (outcome: string): void =>
      this.commitLatency.observe({ table: tableLabel, outcome }, (performance.now() - started) / 1000);

    let manifest:
      | {
          location: string;
          record: Omit<ManifestFileRecord, 'sequence_number' | 'min_sequence_number'>;
          tableUuid: string;
        }
      | undefined;
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.maxCommitAttempts; attempt++) {
      let table: LoadedTable;
      try {
        table = await this.loadTable(ident);
      } catch (err) {
        observe('failed');
        throw err;
      }
      const md = table.metadata;
      const found = findCommit(md, snapshotId, options.commitId);
      if (found) {
        observe(attempt === 1 ? 'already_committed' : 'committed');
        return {
          snapshotId: toBigIntId(found['snapshot-id'], 'snapshot-id'),
          committed: attempt > 1,
          attempts: attempt,
          sequenceNumber:
            found['sequence-number'] === undefined
              ? null
              : toBigIntId(found['sequence-number'], 'sequence-number'),
          metadataLocation: table.metadataLocation,
          manifestListLocation: found['manifest-list'],
        };
      }
      try {
        const metadataDir = `${md.location.replace(/\/+$/, '')}/metadata`;
        if (!manifest || manifest.tableUuid !== md['table-uuid']) {
          const schema = md.schemas.find((s) => s['schema-id'] === md['current-schema-id']);
          const spec = md['partition-specs'].find((s) => s['spec-id'] === md['default-spec-id']);
          if (!schema || !spec)
            throw new CfError(
              'CF_CATALOG',
              `${tableLabel}: current schema or default spec missing from metadata`,
            );
          const written = writeDataManifest({ snapshotId, schema, spec, files });
          const location = await objects.put(`${metadataDir}/${hex(snapshotId)}-m0.avro`, written.bytes);
          manifest = {
            location,
            tableUuid: md['table-uuid'],
            record: { manifest_path: location, ...written.summary },
          };
        }
        const parent = currentSnapshot(md);
        const parentId = parent ? toBigIntId(parent['snapshot-id'], 'snapshot-id') : null;
        const parentManifests = parent
          ? readManifestList(await objects.get(parent['manifest-list']), parent['manifest-list'])
          : [];
        const sequenceNumber = toBigIntId(md['last-sequence-number'] ?? 0, 'last-sequence-number') + 1n;
        const listBytes = writeManifestList({
          snapshotId,
          parentSnapshotId: parentId,
          sequenceNumber,
          attempt,
          manifests: [
            { ...manifest.record, sequence_number: sequenceNumber, min_sequence_number: sequenceNumber },
            ...parentManifests,
          ],
        });
        // A new key per attempt: an earlier attempt whose answer was lost may still land, and must keep its own list.
        const listLocation = await objects.put(
          `${metadataDir}/snap-${hex(snapshotId)}-${attempt}-${sequenceNumber}.avro`,
          listBytes,
        );
        const snapshot = {
          'snapshot-id': snapshotId,
          ...(parentId === null ? {} : { 'parent-snapshot-id': parentId }),
          'sequence-number': sequenceNumber,
          'timestamp-ms': Math.max(this.now(), Number(md['last-updated-ms'] ?? 0)),
          'manifest-list': listLocation,
          summary: buildSummary(parent, files, options),
          'schema-id': md['current-schema-id'],
        };
        const committed = await this.commitTable(
          ident,
          [
            { type: 'assert-table-uuid', uuid: md['table-uuid'] },
            { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': parentId },
          ],
          [
            { action: 'add-snapshot', snapshot },
            { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': snapshotId },
          ],
        );
        observe('committed');
        return {
          snapshotId,
          committed: true,
          attempts: attempt,
          sequenceNumber,
          metadataLocation: committed.metadataLocation,
          manifestListLocation: listLocation,
        };
      } catch (err) {
        lastError = err;
        const reason =
          err instanceof CfError && err.code === 'CF_CATALOG_CONFLICT'
            ? 'conflict'
            : err instanceof CfError && err.code === 'CF_CATALOG_STATE_UNKNOWN'
              ? 'state_unknown'
              : undefined;
        if (!reason || !(err instanceof CfError) || !err.retriable) {
          observe('failed');
          throw err;
        }
        if (attempt === this.maxCommitAttempts) break;
        this.commitRetries.inc({ reason });
        await sleep(backoffDelayMs(attempt - 1, this.backoff, this.random));
      }
    }
    observe('failed');
    const code = lastError instanceof CfError ? lastError.code : 'CF_CATALOG';
    throw new CfError(
      code,
      `${tableLabel}: commit ${options.commitId} gave up after ${this.maxCommitAttempts} attempts`,
      {
        retriable: true,
        cause: lastError,
        context: { table: tableLabel, commitId: options.commitId, snapshotId: String(snapshotId) },
      },
    );
  }

  // ---------------------------------------------------------------- http

  private async request(
    method: 'GET' | 'HEAD' | 'POST' | 'DELETE',
    pathAndQuery: string,
    body?: unknown,
    opts: { read?: boolean; allow404?: boolean; commit?: boolean } = {},
  ): Promise<{ status: number; body: unknown }> {
    const attempts = opts.read ? this.maxReadAttempts : 1;
    let last: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0)
        await sleep(
          backoffDelayMs(
            attempt - 1,
            DEFAULT_BACKOFF.baseMs > 100 ? { ...DEFAULT_BACKOFF, baseMs: 100 } : DEFAULT_BACKOFF,
            this.random,
          ),
        );
      try {
        return await this.requestOnce(method, pathAndQuery, body, opts);
      } catch (err) {
        last = err;
        if (!(err instanceof CfError && err.retriable)) throw err;
      }
    }
    throw last;
  }

  private async requestOnce(
    method: string,
    pathAndQuery: string,
    body: unknown,
    opts: { allow404?: boolean; commit?: boolean },
  ): Promise<{ status: number; body: unknown }> {
    const url = new URL(this.base + pathAndQuery);
    const text = body === undefined ? undefined : stringifyJson(body);
    let headers: Record<string, string> = { accept: 'application/json', ...(this.options.headers ?? {}) };
    if (text !== undefined) headers['content-type'] = 'application/json';
    if (this.signer)
      headers = await this.signer.sign({
        method,
        url,
        headers,
        ...(text === undefined ? {} : { body: text }),
      });
    const context = { method, path: url.pathname };
    let res: Awaited<ReturnType<typeof fetch>>;
    let raw: string;
    try {
      res = await fetch(url, {
        method,
        headers,
        ...(text === undefined ? {} : { body: text }),
        signal: AbortSignal.timeout(this.timeoutMs),
        ...(this.options.dispatcher ? { dispatcher: this.options.dispatcher } : {}),
      });
      raw = method === 'HEAD' ? '' : await res.text();
    } catch (err) {
      // Timeout or broken connection: for a commit the server may have applied it.
      throw new CfError(
        opts.commit ? 'CF_CATALOG_STATE_UNKNOWN' : 'CF_CATALOG',
        `${method} ${url.pathname}: ${(err as Error).message}`,
        {
          retriable: true,
          cause: err,
          context,
        },
      );
    }
    if (res.ok || (opts.allow404 && res.status === 404)) {
      return { status: res.status, body: raw.length > 0 ? parseJson(raw) : undefined };
    }
    let parsed: ErrorBody = {};
    try {
      parsed = raw ? (parseJson(raw) as ErrorBody) : {};
    } catch {
      parsed = {};
    }
    const errCtx = {
      ...context,
      status: res.status,
      type: parsed.error?.type,
      serverMessage: parsed.error?.message ?? raw.slice(0, 200),
    };
    const msg = `${method} ${url.pathname} → ${res.status} ${parsed.error?.type ?? ''}: ${parsed.error?.message ?? raw.slice(0, 200)}`;
    if (opts.commit && res.status === 409)
      throw new CfError('CF_CATALOG_CONFLICT', msg, { retriable: true, context: errCtx });
    if (
      opts.commit &&
      (res.status === 500 || res.status === 502 || res.status === 503 || res.status === 504)
    ) {
      throw new CfError('CF_CATALOG_STATE_UNKNOWN', msg, { retriable: true, context: errCtx });
    }
    const retriable = res.status >= 500 || res.status === 429 || res.status === 419;
    throw new CfError('CF_CATALOG', msg, { retriable, context: errCtx });
  }
}

function toLoaded(ident: TableIdent, body: unknown): LoadedTable {
  const b = body as {
    'metadata-location'?: string | null;
    metadata?: IcebergTableMetadata;
    config?: Record<string, string>;
  };
  if (!b || !b.metadata)
    throw new CfError('CF_CATALOG', `load ${ident.namespace}.${ident.name}: response has no metadata`);
  return {
    ident,
    metadataLocation: b['metadata-location'] ?? null,
    metadata: b.metadata,
    config: b.config ?? {},
  };
}

/** The snapshot `main` points at (falls back to current-snapshot-id for catalogs without refs). */
export function currentSnapshot(md: IcebergTableMetadata): IcebergSnapshot | undefined {
  const id = md.refs?.['main']?.['snapshot-id'] ?? md['current-snapshot-id'];
  if (id === undefined || id === null || sameId(id, -1)) return undefined;
  const snap = md.snapshots?.find((s) => sameId(s['snapshot-id'], id));
  if (!snap)
    throw new CfError(
      'CF_CATALOG',
      `metadata: main points at snapshot ${String(id)} which is not in snapshots`,
    );
  return snap;
}

/**
 * Our commit is in the table if a snapshot with our id carries our commit id. Both must match: the id
 * alone could collide with a foreign snapshot (2^-63, but free to check). A snapshot expired by table
 * maintenance (S3 Tables: after 120 h) can no longer be found; the ledger is the long-term record.
 */
export function findCommit(
  md: IcebergTableMetadata,
  snapshotId: bigint,
  commitId: string,
): IcebergSnapshot | undefined {
  return md.snapshots?.find(
    (s) => sameId(s['snapshot-id'], snapshotId) && s.summary[COMMIT_ID_KEY] === commitId,
  );
}

function buildSummary(
  parent: IcebergSnapshot | undefined,
  files: readonly DataFileInput[],
  options: AppendOptions,
): Record<string, string> {
  let records = 0;
  let bytes = 0;
  const partitions = new Set<string>();
  for (const f of files) {
    records += f.recordCount;
    bytes += f.fileSizeInBytes;
    partitions.add(
      JSON.stringify(Object.entries(f.partition).map(([k, v]) => [k, v === null ? null : String(v)])),
    );
  }
  const summary: Record<string, string> = {
    ...(options.summary ?? {}),
    operation: 'append',
    [COMMIT_ID_KEY]: options.commitId,
    'added-data-files': String(files.length),
    'added-records': String(records),
    'added-files-size': String(bytes),
    'changed-partition-count': String(partitions.size),
  };
  const prev = parent?.summary ?? {};
  const total = (key: string, add: number): void => {
    const before = parent ? prev[key] : '0';
    if (before !== undefined && /^\d+$/.test(before)) summary[key] = String(BigInt(before) + BigInt(add));
  };
  total('total-data-files', files.length);
  total('total-records', records);
  total('total-files-size', bytes);
  total('total-delete-files', 0);
  total('total-position-deletes', 0);
  total('total-equality-deletes', 0);
  return summary;
}

function hex(id: bigint): string {
  return id.toString(16).padStart(16, '0');
}
