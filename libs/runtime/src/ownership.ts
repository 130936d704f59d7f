import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { CollectorConfig } from '@cryptoflow/config';
import type { Logger } from '@cryptoflow/logger';
import { FleetMembership, StaticOwnership } from '@cryptoflow/sharding';
import type { ShardHasher, ShardOwnership } from '@cryptoflow/sharding';

/** Static `replica_index/replica_count` from config, or dynamic fleet membership through DynamoDB leases. */
export async function createOwnership(
  config: CollectorConfig,
  hasher: ShardHasher,
  logger: Logger,
): Promise<ShardOwnership> {
  if (config.fleet.mode === 'static') {
    return new StaticOwnership({
      totalShards: config.sharding.total_shards,
      replicaIndex: config.sharding.replica_index,
      replicaCount: config.sharding.replica_count,
    });
  }
  const client = new DynamoDBClient({
    region: config.sink.ledger?.region ?? process.env['AWS_REGION'] ?? 'us-east-1',
    ...(config.fleet.endpoint ? { endpoint: config.fleet.endpoint } : {}),
  });
  const table = config.fleet.table as string; // required by the config schema in dynamic mode
  if (config.fleet.endpoint) await FleetMembership.ensureTable(client, table);
  const fleet = await FleetMembership.join({
    client,
    table,
    group: config.app,
    totalShards: config.sharding.total_shards,
    hasher,
    leaseMs: config.fleet.lease_ms,
    heartbeatMs: config.fleet.heartbeat_ms,
    standby: config.fleet.standby,
    onFenced: (reason) => logger.error({ reason }, 'fenced: lease lost, giving up every shard and rejoining'),
    onHandover: (event) => logger.info(event, `fleet handover: cut ${event.kind}`),
  });
  logger.info(fleet.describe(), 'joined fleet');
  return fleet;
}
