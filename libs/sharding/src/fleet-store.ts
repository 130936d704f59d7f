import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ResourceNotFoundException,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CfError } from '@cryptoflow/core';
import type { CutAck, Member, PublishedHandovers, ReadyCut } from './handover.js';

/**
 * The fleet's DynamoDB items, and nothing else: one table shared by every group (`pk` = group, e.g.
 * `collector-ticks`), with `sk = meta` (the group's total_shards, written once) and one `sk = member#<id>` per
 * replica (its lease expiry and published handover state). Correctness rests on conditional writes on single
 * items only: no TTL (expired members are reaped with a conditional delete), no transactions.
 *
 * Member item attributes: `lease_expires_at` (ms), `host`, `leaving` (bool), and three maps keyed by shard:
 * `ready` {from: S, c: N} (a proposed cut), `acks` {to: S, p: N, c: N} (proposal and acknowledged cut),
 * `taken` N (the acknowledged cut written from).
 */

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });

export class FleetStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly group: string,
  ) {}

  /** Creates the table where it is missing (local and dev; Terraform owns it in AWS). */
  static async ensureTable(client: DynamoDBClient, table: string): Promise<void> {
    try {
      await client.send(new DescribeTableCommand({ TableName: table }));
      return;
    } catch (err) {
      if (!(err instanceof ResourceNotFoundException)) throw err;
    }
    await client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
  }

  /**
   * Stores `totalShards` in the group's meta item on first join; a later replica configured otherwise fails
   * (changing it would move every symbol).
   */
  async claimTotalShards(totalShards: number, nowMs: number): Promise<void> {
    const { client, table, group } = this;
    try {
      await client.send(
        new PutItemCommand({
          TableName: table,
          Item: { pk: S(group), sk: S('meta'), total_shards: N(totalShards), created_at: N(nowMs) },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const got = await client.send(
        new GetItemCommand({ TableName: table, Key: { pk: S(group), sk: S('meta') }, ConsistentRead: true }),
      );
      const stored = Number(got.Item?.['total_shards']?.N);
      if (stored !== totalShards) {
        throw new CfError(
          'CF_SHARDING',
          `sharding.total_shards is ${totalShards} but fleet ${group} was created with ${stored}: changing it would move every symbol; migrate explicitly (docs/operations/scale.md)`,
          { context: { group, configured: totalShards, stored } },
        );
      }
    }
  }

  /** A new member item with its first lease; fails if the id exists (ids are never reused). */
  async register(id: string, leaseExpiresAt: number, host: string): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          pk: S(this.group),
          sk: S(`member#${id}`),
          lease_expires_at: N(leaseExpiresAt),
          host: S(host),
          ready: { M: {} },
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  /**
   * Renews the lease to `leaseExpiresAt` with the published handover state, only while the stored lease is
   * still valid at `nowMs`. False when the condition failed: the member was reaped or its lease expired.
   */
  async renew(
    id: string,
    lease: { readonly nowMs: number; readonly leaseExpiresAt: number },
    state: PublishedHandovers & { readonly leaving: boolean },
  ): Promise<boolean> {
    const ready: Record<string, AttributeValue> = {};
    for (const [shard, r] of state.ready) ready[String(shard)] = { M: { from: S(r.from), c: N(r.cutUs) } };
    const acks: Record<string, AttributeValue> = {};
    for (const [shard, a] of state.acks)
      acks[String(shard)] = { M: { to: S(a.to), p: N(a.proposalUs), c: N(a.cutUs) } };
    const taken: Record<string, AttributeValue> = {};
    for (const [shard, cut] of state.taken) taken[String(shard)] = N(cut);
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: S(this.group), sk: S(`member#${id}`) },
          UpdateExpression:
            'SET lease_expires_at = :exp, ready = :ready, acks = :acks, taken = :taken, leaving = :leaving',
          ConditionExpression: 'attribute_exists(pk) AND lease_expires_at > :now',
          ExpressionAttributeValues: {
            ':exp': N(lease.leaseExpiresAt),
            ':now': N(lease.nowMs),
            ':ready': { M: ready },
            ':acks': { M: acks },
            ':taken': { M: taken },
            ':leaving': { BOOL: state.leaving },
          },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /** Every member item of the group, expired or not, decoded (strongly consistent read). */
  async members(): Promise<Member[]> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :g AND begins_with(sk, :m)',
        ExpressionAttributeValues: { ':g': S(this.group), ':m': S('member#') },
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).map(decodeMember);
  }

  /** Deletes a member whose lease expired by `nowMs` (conditional: a renewal in between wins). Best effort. */
  async reap(id: string, nowMs: number): Promise<void> {
    await this.client
      .send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: { pk: S(this.group), sk: S(`member#${id}`) },
          ConditionExpression: 'lease_expires_at <= :now',
          ExpressionAttributeValues: { ':now': N(nowMs) },
        }),
      )
      .catch(() => undefined);
  }

  /** Deletes our own member item on close. Best effort: an item left behind expires and is reaped. */
  async remove(id: string): Promise<void> {
    await this.client
      .send(
        new DeleteItemCommand({ TableName: this.table, Key: { pk: S(this.group), sk: S(`member#${id}`) } }),
      )
      .catch(() => undefined);
  }
}

function decodeMember(item: Record<string, AttributeValue>): Member {
  const id = (item['sk']?.S ?? '').slice('member#'.length);
  const ready = new Map<number, ReadyCut>();
  for (const [k, v] of Object.entries(item['ready']?.M ?? {}))
    ready.set(Number(k), { from: v.M?.['from']?.S ?? '', cutUs: Number(v.M?.['c']?.N) });
  const acks = new Map<number, CutAck>();
  for (const [k, v] of Object.entries(item['acks']?.M ?? {})) {
    const m = v.M ?? {};
    acks.set(Number(k), { to: m['to']?.S ?? '', proposalUs: Number(m['p']?.N), cutUs: Number(m['c']?.N) });
  }
  const taken = new Map<number, number>();
  for (const [k, v] of Object.entries(item['taken']?.M ?? {})) taken.set(Number(k), Number(v.N));
  return {
    id,
    leaseExpiresAt: Number(item['lease_expires_at']?.N ?? 0),
    ready,
    acks,
    taken,
    leaving: item['leaving']?.BOOL === true,
  };
}
