import { randomUUID } from 'node:crypto';
import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CfError } from '@cryptoflow/core';
import type { Logger } from '@cryptoflow/logger';
import { isConditionalCheckFailed } from './dynamo-errors.js';
import { callWithRetries } from './retry.js';
import type { CallMetrics, CallPolicy } from './retry.js';

/** What a holder proves it owns: the fencing token grows by one on every takeover. */
export interface Lease {
  readonly resource: string;
  readonly holder: string;
  readonly token: number;
  readonly expiresAtMs: number;
}

export interface LeaseStoreDeps {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly logger: Logger;
  readonly policy: CallPolicy;
  readonly metrics: CallMetrics;
  /** Wall clock in ms; expiry is compared inside DynamoDB conditions against the caller's clock. */
  readonly nowMs: () => number;
}

const leasePk = (resource: string): string => `lease#${resource}`;

// Every attribute goes through a name placeholder: DynamoDB reserves hundreds of plain words.
const NAMES = {
  '#pk': 'pk',
  '#kind': 'kind',
  '#holder': 'holder',
  '#exp': 'expires_at_ms',
  '#nonce': 'nonce',
  '#fencing': 'fencing',
  '#checked': 'checked_at_ms',
} as const;

function namesIn(...expressions: string[]): Record<string, string> {
  const text = expressions.join(' ');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(NAMES)) if (text.includes(k)) out[k] = v;
  return out;
}

/**
 * One writer per resource (per Iceberg table for the committer), without DynamoDB TTL or transactions:
 *
 * - acquire: UpdateItem with `attribute_not_exists(pk) OR expires_at_ms < :now`; it sets the holder and
 *   expiry and increments `fencing`, returning the new token.
 * - renew / release / check: conditional on `holder = :me AND fencing = :token`, so once anyone has
 *   taken over, every write the old holder makes through this store fails with CF_FENCED.
 *
 * Clocks: expiry is the acquirer's wall clock. A takeover needs `now > expires_at_ms`, so holders
 * must renew well within the TTL (e.g. every ttl/3) and stop work when renewal fails; clock skew
 * between committers must stay far below the TTL.
 */
export class LeaseStore {
  constructor(private readonly deps: LeaseStoreDeps) {}

  /** The lease, or undefined when another holder's lease has not expired yet. */
  async acquire(resource: string, holder: string, ttlMs: number): Promise<Lease | undefined> {
    if (!(ttlMs > 0)) throw new CfError('CF_CONFIG_INVALID', `lease ttlMs: expected a positive number, got ${ttlMs}`);
    const now = this.deps.nowMs();
    const expiresAtMs = now + ttlMs;
    // A nonce tells our own landed-but-unacknowledged write from someone else's on a retry.
    const nonce = randomUUID();
    try {
      const out = await this.call('lease_acquire', () =>
        this.deps.client.send(
          new UpdateItemCommand({
            TableName: this.deps.tableName,
            Key: { pk: { S: leasePk(resource) } },
            UpdateExpression: 'SET #kind = :kind, #holder = :h, #exp = :exp, #nonce = :n, #fencing = if_not_exists(#fencing, :zero) + :one',
            ConditionExpression: 'attribute_not_exists(#pk) OR #exp < :now OR #nonce = :n',
            ExpressionAttributeNames: namesIn('#kind #holder #exp #nonce #fencing #pk'),
            ExpressionAttributeValues: {
              ':kind': { S: 'lease' },
              ':h': { S: holder },
              ':exp': { N: String(expiresAtMs) },
              ':n': { S: nonce },
              ':zero': { N: '0' },
              ':one': { N: '1' },
              ':now': { N: String(now) },
            },
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      const token = Number(out.Attributes?.fencing?.N);
      this.deps.logger.info({ resource, holder, token, expiresAtMs }, 'lease acquired');
      return { resource, holder, token, expiresAtMs };
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err;
      return undefined;
    }
  }

  /** Extends the lease; CF_FENCED when someone else has taken it over. */
  async renew(lease: Lease, ttlMs: number): Promise<Lease> {
    const expiresAtMs = this.deps.nowMs() + ttlMs;
    await this.fenced('lease_renew', lease, 'SET #exp = :exp', { ':exp': { N: String(expiresAtMs) } });
    return { ...lease, expiresAtMs };
  }

  /** Gives the lease up at once (expiry set to 0). Losing it already is not an error. */
  async release(lease: Lease): Promise<void> {
    try {
      await this.fenced('lease_release', lease, 'SET #exp = :zero', { ':zero': { N: '0' } });
    } catch (err) {
      if (!(err instanceof CfError && err.code === 'CF_FENCED')) throw err;
    }
  }

  /**
   * A write that succeeds only while `lease` is still the current, unexpired grant. Call it right
   * before acting on the lease (the committer calls it before each Iceberg commit and ledger update).
   */
  async check(lease: Lease): Promise<void> {
    const now = this.deps.nowMs();
    await this.fenced('lease_check', lease, 'SET #checked = :now', { ':now': { N: String(now) } }, '#exp > :now');
  }

  async current(resource: string): Promise<Lease | undefined> {
    const out = await this.call('lease_get', () =>
      this.deps.client.send(new GetItemCommand({ TableName: this.deps.tableName, Key: { pk: { S: leasePk(resource) } }, ConsistentRead: true })),
    );
    const item = out.Item;
    if (!item) return undefined;
    return { resource, holder: item.holder?.S ?? '', token: Number(item.fencing?.N ?? 0), expiresAtMs: Number(item.expires_at_ms?.N ?? 0) };
  }

  private async fenced(
    op: string,
    lease: Lease,
    update: string,
    values: Record<string, { N: string } | { S: string }>,
    extraCondition?: string,
  ): Promise<void> {
    const condition = `#holder = :h AND #fencing = :t${extraCondition ? ` AND ${extraCondition}` : ''}`;
    try {
      await this.call(op, () =>
        this.deps.client.send(
          new UpdateItemCommand({
            TableName: this.deps.tableName,
            Key: { pk: { S: leasePk(lease.resource) } },
            UpdateExpression: update,
            ConditionExpression: condition,
            ExpressionAttributeNames: namesIn(update, condition),
            ExpressionAttributeValues: { ...values, ':h': { S: lease.holder }, ':t': { N: String(lease.token) } },
          }),
        ),
      );
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err;
      const now = await this.current(lease.resource).catch(() => undefined);
      throw new CfError('CF_FENCED', `lease on ${lease.resource} lost: held ${lease.holder}#${lease.token}, now ${now ? `${now.holder}#${now.token}` : 'unknown'}`, {
        retriable: false,
        context: { resource: lease.resource, holder: lease.holder, token: lease.token, current: now },
      });
    }
  }

  private call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    return callWithRetries(op, 'CF_LEDGER', this.deps.policy, this.deps.metrics, fn, isConditionalCheckFailed);
  }
}
