import { randomUUID } from 'node:crypto';
import {
  BatchGetItemCommand,
  CreateTableCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { AttributeValue, QueryCommandInput, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CfError, sleep } from '@cryptoflow/core';
import type { Logger } from '@cryptoflow/logger';
import { counter, histogram } from '@cryptoflow/metrics';
import type { Counter, Registry } from '@cryptoflow/metrics';
import { isConditionalCheckFailed } from './dynamo-errors.js';
import { LeaseStore } from './lease.js';
import { DEFAULT_CALL_POLICY, callWithRetries } from './retry.js';
import type { CallMetrics, CallPolicy } from './retry.js';

export type FileState = 'uploaded' | 'committed';

/** What a writer records once a data file is durably in S3. */
export interface LedgerEntryInput {
  /** Deterministic object key of the data file (same input → same key). */
  readonly fileKey: string;
  /** Iceberg table name (libs/model TableName). */
  readonly table: string;
  /** Hour label of the partition, e.g. `2024-01-31T13`. */
  readonly hour: string;
  readonly shard: number;
  /** Full object URI, `s3://bucket/key`. */
  readonly uri: string;
  readonly rows: number;
  readonly bytes: number;
  /** Base64 SHA-256 of the object bytes. */
  readonly checksumSha256: string;
  /** Who uploaded it (app/instance), for forensics. */
  readonly writer: string;
  /**
   * The file's exchange_ts range (µs), when the writer knows it: the committer turns it into the data file's
   * lower/upper bounds so engines prune by time. Entries written before it was recorded have none.
   */
  readonly exchangeTsRange?: { readonly min: number; readonly max: number } | null;
}

export interface LedgerEntry extends LedgerEntryInput {
  readonly state: FileState;
  readonly createdAtMs: number;
  /** Iceberg snapshot id (63-bit, kept as a decimal string), once committed. */
  readonly snapshotId: string | null;
  /** Deterministic commit id from the snapshot summary, once committed. */
  readonly commitId: string | null;
  readonly committedAtMs: number | null;
}

export interface SeenOrPutResult {
  /** True when this call recorded the file; false when it was already recorded (same checksum). */
  readonly firstTime: boolean;
  /** The entry as stored (the earlier one on a duplicate). */
  readonly entry: LedgerEntry;
}

export interface FileLedgerOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly registry: Registry;
  readonly logger: Logger;
  /**
   * Write-sharding of the uncommitted index per table (default 16): one hot GSI partition per table
   * would cap a busy table at one partition's write rate; listUncommitted queries every shard.
   */
  readonly indexShards?: number;
  readonly policy?: CallPolicy;
  /** Wall clock in ms (tests pass their own to expire leases without waiting). */
  readonly nowMs?: () => number;
  /** Concurrent requests in markCommitted / getMany (default 16). */
  readonly concurrency?: number;
}

export const UNCOMMITTED_INDEX = 'uncommitted';
/**
 * Every file of one (table, hour, shard), committed or not (`sh_pk` = `table#hour#shard`, range `file_key`):
 * what a standby taking over a dead owner's shard reads to learn what the owner made durable.
 */
export const SHARD_HOUR_INDEX = 'by_shard_hour';

function shardHourKey(table: string, hour: string, shard: number): string {
  return `${table}#${hour}#${shard}`;
}

const filePk = (fileKey: string): string => `file#${fileKey}`;

/** FNV-1a: stable across processes and versions, so a file always lands in the same index shard. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const NAMES: Record<string, string> = {
  '#pk': 'pk',
  '#state': 'state',
  '#snap': 'snapshot_id',
  '#commit': 'commit_id',
  '#cat': 'committed_at_ms',
  '#fence': 'fence',
  '#g1pk': 'gsi1pk',
  '#g1sk': 'gsi1sk',
};

function namesIn(...expressions: string[]): Record<string, string> {
  const text = expressions.join(' ');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(NAMES)) if (text.includes(k)) out[k] = v;
  return out;
}

function fromItem(item: Record<string, AttributeValue>): LedgerEntry {
  const s = (k: string): string => item[k]?.S ?? '';
  const n = (k: string): number => Number(item[k]?.N ?? 'NaN');
  return {
    fileKey: s('file_key'),
    table: s('table_name'),
    hour: s('hour'),
    shard: n('shard'),
    uri: s('uri'),
    rows: n('rows'),
    bytes: n('bytes'),
    checksumSha256: s('checksum_sha256'),
    writer: s('writer'),
    state: s('state') as FileState,
    createdAtMs: n('created_at_ms'),
    snapshotId: item.snapshot_id?.S ?? null,
    commitId: item.commit_id?.S ?? null,
    committedAtMs: item.committed_at_ms?.N !== undefined ? Number(item.committed_at_ms.N) : null,
    exchangeTsRange:
      item.min_exchange_ts?.N !== undefined && item.max_exchange_ts?.N !== undefined
        ? { min: Number(item.min_exchange_ts.N), max: Number(item.max_exchange_ts.N) }
        : null,
  };
}

function validate(entry: LedgerEntryInput): void {
  const bad: string[] = [];
  if (!entry.fileKey) bad.push('fileKey: expected a non-empty string');
  if (!entry.table) bad.push('table: expected a non-empty string');
  if (!entry.hour) bad.push('hour: expected a non-empty string');
  if (!entry.uri) bad.push('uri: expected a non-empty string');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(entry.checksumSha256)) bad.push('checksumSha256: expected base64 SHA-256 (44 chars)');
  for (const k of ['shard', 'rows', 'bytes'] as const) {
    if (!Number.isSafeInteger(entry[k]) || entry[k] < 0) bad.push(`${k}: expected a non-negative integer, got ${entry[k]}`);
  }
  const range = entry.exchangeTsRange;
  if (range && (!Number.isSafeInteger(range.min) || !Number.isSafeInteger(range.max) || range.min > range.max))
    bad.push(`exchangeTsRange: expected integer µs with min <= max, got ${range.min}..${range.max}`);
  if (bad.length) throw new CfError('CF_LEDGER', `ledger entry ${entry.fileKey}: ${bad.join('; ')}`, { context: { fileKey: entry.fileKey } });
}

/**
 * The DynamoDB file ledger. One item per data file (`pk = file#<fileKey>`) moving uploaded → committed,
 * and lease items (`pk = lease#<resource>`) for the single committer per table. Correctness rests only
 * on conditional writes on single items: no TTL, no transactions.
 *
 * Uncommitted files are found through a sparse GSI (`uncommitted`): an uploaded file carries
 * `gsi1pk = uncommitted#<table>#<n>` (n = FNV-1a(fileKey) mod indexShards) and `gsi1sk = <hour>#<fileKey>`;
 * committing REMOVEs both, so the index holds only the work still to do, oldest hour first.
 */
export class FileLedger {
  readonly leases: LeaseStore;
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly logger: Logger;
  private readonly indexShards: number;
  private readonly policy: CallPolicy;
  private readonly concurrency: number;
  private readonly nowMs: () => number;
  private readonly metrics: CallMetrics;
  private readonly dupes: Counter<'table'>;
  private readonly puts: Counter<'table' | 'outcome'>;
  private readonly commits: Counter<'table'>;

  constructor(options: FileLedgerOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.logger = options.logger.child({ component: 'ledger', ledgerTable: options.tableName });
    this.indexShards = options.indexShards ?? 16;
    if (!Number.isInteger(this.indexShards) || this.indexShards < 1 || this.indexShards > 256) {
      throw new CfError('CF_CONFIG_INVALID', `ledger indexShards: expected an integer in 1..256, got ${options.indexShards}`);
    }
    this.policy = options.policy ?? DEFAULT_CALL_POLICY;
    this.concurrency = options.concurrency ?? 16;
    this.nowMs = options.nowMs ?? Date.now;
    const r = options.registry;
    this.metrics = {
      duration: histogram(r, 'ledger_request_duration_seconds', 'DynamoDB ledger request latency per attempt.', ['op']),
      errors: counter(r, 'ledger_errors_total', 'DynamoDB ledger request failures (retriable ones are retried).', ['op', 'retriable']),
    };
    this.dupes = counter(r, 'idempotency_dupe_total', 'Files recorded again with the same checksum (a replay or a retried flush).', ['table']);
    this.puts = counter(r, 'ledger_files_total', 'seenOrPut outcomes: first | dupe.', ['table', 'outcome']);
    this.commits = counter(r, 'ledger_files_committed_total', 'Files moved to committed.', ['table']);
    this.leases = new LeaseStore({
      client: this.client,
      tableName: this.tableName,
      logger: this.logger,
      policy: this.policy,
      metrics: this.metrics,
      nowMs: this.nowMs,
    });
  }

  /** Creates the ledger table with its index when missing (local/dev; in AWS Terraform owns it) and waits until ACTIVE. */
  async ensureTable(): Promise<void> {
    const describe = async (): Promise<{ status: string | undefined; hasIndex: boolean } | undefined> => {
      try {
        const out = await this.call('describe_table', () => this.client.send(new DescribeTableCommand({ TableName: this.tableName })));
        const names = (out.Table?.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName);
        const hasIndex = names.includes(UNCOMMITTED_INDEX) && names.includes(SHARD_HOUR_INDEX);
        return { status: out.Table?.TableStatus, hasIndex };
      } catch (err) {
        if (err instanceof CfError && (err.context as { awsError?: string }).awsError === 'ResourceNotFoundException') return undefined;
        throw err;
      }
    };
    let state = await describe();
    if (!state) {
      try {
        await this.call('create_table', () =>
          this.client.send(
            new CreateTableCommand({
              TableName: this.tableName,
              BillingMode: 'PAY_PER_REQUEST',
              AttributeDefinitions: [
                { AttributeName: 'pk', AttributeType: 'S' },
                { AttributeName: 'gsi1pk', AttributeType: 'S' },
                { AttributeName: 'gsi1sk', AttributeType: 'S' },
                { AttributeName: 'sh_pk', AttributeType: 'S' },
                { AttributeName: 'file_key', AttributeType: 'S' },
              ],
              KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
              GlobalSecondaryIndexes: [
                {
                  IndexName: UNCOMMITTED_INDEX,
                  KeySchema: [
                    { AttributeName: 'gsi1pk', KeyType: 'HASH' },
                    { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
                  ],
                  Projection: { ProjectionType: 'ALL' },
                },
                {
                  IndexName: SHARD_HOUR_INDEX,
                  KeySchema: [
                    { AttributeName: 'sh_pk', KeyType: 'HASH' },
                    { AttributeName: 'file_key', KeyType: 'RANGE' },
                  ],
                  Projection: { ProjectionType: 'ALL' },
                },
              ],
            }),
          ),
        );
        this.logger.info('ledger table created');
      } catch (err) {
        // Another process created it first.
        if (!(err instanceof CfError && (err.context as { awsError?: string }).awsError === 'ResourceInUseException')) throw err;
      }
    }
    for (let i = 0; i < 600; i++) {
      state = await describe();
      if (state?.status === 'ACTIVE') {
        if (!state.hasIndex) {
          throw new CfError(
            'CF_LEDGER',
            `ledger table ${this.tableName} exists without the '${UNCOMMITTED_INDEX}' (gsi1pk/gsi1sk) and '${SHARD_HOUR_INDEX}' (sh_pk/file_key) GSIs; see libs/idempotency/README.md`,
          );
        }
        return;
      }
      await sleep(Math.min(1_000, 50 * (i + 1)));
    }
    throw new CfError('CF_LEDGER', `ledger table ${this.tableName} did not become ACTIVE`, { retriable: true });
  }

  /**
   * Records a file once. The first call for a key stores it (`firstTime: true`); later calls with the same
   * checksum return the stored entry (`firstTime: false`, counted in idempotency_dupe_total). The same key
   * with a different checksum means two different files claim one deterministic key: CF_LEDGER, not retriable.
   */
  async seenOrPut(input: LedgerEntryInput): Promise<SeenOrPutResult> {
    validate(input);
    const nowMs = this.nowMs();
    // A token per call tells our own landed-but-unacknowledged put from someone else's on a retry.
    const putToken = randomUUID();
    const item: Record<string, AttributeValue> = {
      pk: { S: filePk(input.fileKey) },
      kind: { S: 'file' },
      file_key: { S: input.fileKey },
      table_name: { S: input.table },
      hour: { S: input.hour },
      shard: { N: String(input.shard) },
      uri: { S: input.uri },
      rows: { N: String(input.rows) },
      bytes: { N: String(input.bytes) },
      checksum_sha256: { S: input.checksumSha256 },
      writer: { S: input.writer },
      state: { S: 'uploaded' },
      created_at_ms: { N: String(nowMs) },
      put_token: { S: putToken },
      gsi1pk: { S: this.indexPk(input.table, input.fileKey) },
      gsi1sk: { S: `${input.hour}#${input.fileKey}` },
      sh_pk: { S: shardHourKey(input.table, input.hour, input.shard) },
      ...(input.exchangeTsRange
        ? {
            min_exchange_ts: { N: String(input.exchangeTsRange.min) },
            max_exchange_ts: { N: String(input.exchangeTsRange.max) },
          }
        : {}),
    };
    try {
      await this.call('put_file', () =>
        this.client.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: item,
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': 'pk' },
          }),
        ),
      );
      this.puts.inc({ table: input.table, outcome: 'first' });
      return { firstTime: true, entry: fromItem(item) };
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err;
    }
    const stored = await this.getItem(input.fileKey);
    if (!stored) {
      throw new CfError('CF_LEDGER', `ledger: ${input.fileKey} failed attribute_not_exists but cannot be read back`, {
        retriable: true,
        context: { fileKey: input.fileKey },
      });
    }
    const entry = fromItem(stored);
    if (stored.put_token?.S === putToken) {
      // Our own write landed; only its answer was lost.
      this.puts.inc({ table: input.table, outcome: 'first' });
      return { firstTime: true, entry };
    }
    if (entry.checksumSha256 !== input.checksumSha256) {
      throw new CfError(
        'CF_LEDGER',
        `ledger: ${input.fileKey} already recorded with checksum ${entry.checksumSha256} by ${entry.writer}, now ${input.checksumSha256} by ${input.writer}: two different files share one key`,
        { retriable: false, context: { fileKey: input.fileKey, stored: entry.checksumSha256, offered: input.checksumSha256 } },
      );
    }
    this.dupes.inc({ table: input.table });
    this.puts.inc({ table: input.table, outcome: 'dupe' });
    this.logger.debug({ fileKey: input.fileKey, state: entry.state }, 'ledger duplicate');
    return { firstTime: false, entry };
  }

  /** The entry (strongly consistent read), or undefined. */
  async get(fileKey: string): Promise<LedgerEntry | undefined> {
    const item = await this.getItem(fileKey);
    return item ? fromItem(item) : undefined;
  }

  /** Strongly consistent reads of many entries (BatchGetItem, 100 keys a request); missing keys are absent. */
  async getMany(fileKeys: readonly string[]): Promise<Map<string, LedgerEntry>> {
    const out = new Map<string, LedgerEntry>();
    const unique = [...new Set(fileKeys)];
    for (let i = 0; i < unique.length; i += 100) {
      let keys: Record<string, AttributeValue>[] = unique.slice(i, i + 100).map((k) => ({ pk: { S: filePk(k) } }));
      for (let round = 0; keys.length > 0; round++) {
        const res = await this.call('batch_get', () =>
          this.client.send(new BatchGetItemCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } })),
        );
        for (const item of res.Responses?.[this.tableName] ?? []) {
          const e = fromItem(item);
          out.set(e.fileKey, e);
        }
        keys = res.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
        if (keys.length > 0) {
          if (round >= 20) throw new CfError('CF_LEDGER', `ledger: BatchGetItem left ${keys.length} keys unprocessed after ${round + 1} rounds`, { retriable: true });
          await sleep(Math.min(1_000, 20 * 2 ** round));
        }
      }
    }
    return out;
  }

  /**
   * Every recorded file of one (table, hour, shard), whatever its state. Through a GSI, so eventually
   * consistent: a takeover reads it a lease after the dead owner's last write, far past index propagation.
   */
  async listShardHour(table: string, hour: string, shard: number): Promise<LedgerEntry[]> {
    const items = await this.queryAll('query_shard_hour', {
      IndexName: SHARD_HOUR_INDEX,
      KeyConditionExpression: 'sh_pk = :k',
      ExpressionAttributeValues: { ':k': { S: shardHourKey(table, hour, shard) } },
    });
    return items.map(fromItem);
  }

  /**
   * Up to `limit` files of `table` still in state uploaded, oldest hour first (by `<hour>#<fileKey>`).
   * Reads the GSI, which is eventually consistent in AWS: a file just committed can still show up
   * for a moment, so a committer confirms with `getMany` (consistent) before committing.
   */
  async listUncommitted(table: string, limit: number): Promise<LedgerEntry[]> {
    if (!Number.isInteger(limit) || limit < 1) throw new CfError('CF_CONFIG_INVALID', `listUncommitted limit: expected a positive integer, got ${limit}`);
    const perShard = await this.mapLimited(
      Array.from({ length: this.indexShards }, (_, n) => n),
      (n) =>
        this.queryAll(
          'query_uncommitted',
          {
            IndexName: UNCOMMITTED_INDEX,
            KeyConditionExpression: '#g1pk = :p',
            ExpressionAttributeNames: { '#g1pk': 'gsi1pk' },
            ExpressionAttributeValues: { ':p': { S: `uncommitted#${table}#${n}` } },
            ScanIndexForward: true,
          },
          limit,
        ),
    );
    const merged = perShard.flat();
    merged.sort((a, b) => ((a.gsi1sk?.S ?? '') < (b.gsi1sk?.S ?? '') ? -1 : (a.gsi1sk?.S ?? '') > (b.gsi1sk?.S ?? '') ? 1 : 0));
    return merged
      .slice(0, limit)
      .map(fromItem)
      .filter((e) => e.state === 'uploaded');
  }

  /** A Query on this table followed through its pages, up to `limit` items. */
  private async queryAll(
    op: string,
    input: Omit<QueryCommandInput, 'TableName' | 'Limit' | 'ExclusiveStartKey'>,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<Record<string, AttributeValue>[]> {
    const found: Record<string, AttributeValue>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.call(op, () =>
        this.client.send(
          new QueryCommand({
            ...input,
            TableName: this.tableName,
            ...(Number.isFinite(limit) ? { Limit: limit - found.length } : {}),
            ExclusiveStartKey: start,
          }),
        ),
      );
      found.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start && found.length < limit);
    return found;
  }

  /**
   * Moves files uploaded → committed with the Iceberg snapshot id and the commit id, each by a
   * conditional UpdateItem (`state = uploaded`, or already committed by this same commit id so a retry
   * after a crash is a no-op). With `lease`, the lease is checked first (CF_FENCED when lost) and each
   * file is stamped with the fencing token; a file stamped by a newer token rejects an older holder.
   * A file committed under another commit id is CF_LEDGER (not retriable): that file is in two snapshots.
   */
  async markCommitted(
    fileKeys: readonly string[],
    snapshotId: string,
    commitId: string,
    lease?: { readonly resource: string; readonly holder: string; readonly token: number; readonly expiresAtMs: number },
  ): Promise<void> {
    if (!/^-?\d{1,19}$/.test(snapshotId)) throw new CfError('CF_LEDGER', `markCommitted: snapshotId must be a decimal 64-bit integer string, got ${snapshotId}`);
    if (!commitId) throw new CfError('CF_LEDGER', 'markCommitted: commitId must not be empty');
    if (lease) await this.leases.check(lease);
    const now = this.nowMs();
    const fence = lease ? ' AND (attribute_not_exists(#fence) OR #fence <= :tok)' : '';
    const condition = `attribute_exists(#pk) AND (#state = :uploaded OR (#state = :committed AND #commit = :cid))${fence}`;
    const update = `SET #state = :committed, #snap = :sid, #commit = :cid, #cat = :now${lease ? ', #fence = :tok' : ''} REMOVE #g1pk, #g1sk`;
    const values: Record<string, AttributeValue> = {
      ':uploaded': { S: 'uploaded' },
      ':committed': { S: 'committed' },
      ':sid': { S: snapshotId },
      ':cid': { S: commitId },
      ':now': { N: String(now) },
      ...(lease ? { ':tok': { N: String(lease.token) } } : {}),
    };
    await this.mapLimited([...new Set(fileKeys)], async (fileKey) => {
      try {
        const out = await this.call('mark_committed', () =>
          this.client.send(
            new UpdateItemCommand({
              TableName: this.tableName,
              Key: { pk: { S: filePk(fileKey) } },
              UpdateExpression: update,
              ConditionExpression: condition,
              ExpressionAttributeNames: namesIn(update, condition),
              ExpressionAttributeValues: values,
              ReturnValues: 'ALL_NEW',
            }),
          ),
        );
        this.commits.inc({ table: out.Attributes?.table_name?.S ?? 'unknown' });
      } catch (err) {
        if (!isConditionalCheckFailed(err)) throw err;
        throw await this.explainCommitConflict(fileKey, commitId, lease?.token);
      }
      return undefined;
    });
  }

  private async explainCommitConflict(fileKey: string, commitId: string, token: number | undefined): Promise<CfError> {
    const item = await this.getItem(fileKey);
    if (!item) return new CfError('CF_LEDGER', `markCommitted: ${fileKey} is not in the ledger`, { context: { fileKey } });
    const fence = item.fence?.N !== undefined ? Number(item.fence.N) : undefined;
    if (token !== undefined && fence !== undefined && fence > token) {
      return new CfError('CF_FENCED', `markCommitted: ${fileKey} is fenced by token ${fence} > ${token}`, { context: { fileKey, fence, token } });
    }
    const e = fromItem(item);
    return new CfError(
      'CF_LEDGER',
      `markCommitted: ${fileKey} already committed in snapshot ${e.snapshotId} by commit ${e.commitId}, not ${commitId}: the file is in two commits`,
      { context: { fileKey, snapshotId: e.snapshotId, commitId: e.commitId, offeredCommitId: commitId } },
    );
  }

  private indexPk(table: string, fileKey: string): string {
    return `uncommitted#${table}#${fnv1a(fileKey) % this.indexShards}`;
  }

  private async getItem(fileKey: string): Promise<Record<string, AttributeValue> | undefined> {
    const out = await this.call('get_file', () =>
      this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { pk: { S: filePk(fileKey) } }, ConsistentRead: true })),
    );
    return out.Item;
  }

  private call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    return callWithRetries(op, 'CF_LEDGER', this.policy, this.metrics, fn, isConditionalCheckFailed);
  }

  private async mapLimited<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
    const results = new Array<R>(items.length);
    let next = 0;
    let failed: unknown;
    const worker = async (): Promise<void> => {
      while (failed === undefined && next < items.length) {
        const i = next++;
        try {
          results[i] = await fn(items[i] as T);
        } catch (err) {
          failed ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, items.length) }, worker));
    if (failed !== undefined) throw failed;
    return results;
  }
}
