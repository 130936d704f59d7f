import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { CreateTableCommand, DescribeTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { createBucket, localDynamoClient, localS3Client, startDynamo, startFaultProxy, startS3 } from '../src/index.js';
import type { FaultProxy, LocalDynamo, LocalS3 } from '../src/index.js';

describe('stand-ins', () => {
  let dir: string;
  let s3: LocalS3;
  let dynamo: LocalDynamo;
  let proxy: FaultProxy;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cf-stand-ins-'));
    [s3, dynamo] = await Promise.all([startS3({ dir }), startDynamo()]);
    await createBucket(s3.endpoint, 'lake');
    await createBucket(s3.endpoint, 'lake'); // idempotent
    proxy = await startFaultProxy({ target: s3.endpoint });
  });
  afterAll(async () => {
    await Promise.all([proxy?.close(), s3?.close(), dynamo?.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('S3 lists past one page (needs the legacy OpenSSL provider in the s3rver process)', async () => {
    const client = localS3Client(s3.endpoint);
    for (let i = 0; i < 7; i++) {
      await client.send(new PutObjectCommand({ Bucket: 'lake', Key: `page/${i}`, Body: `v${i}` }));
    }
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: 'page/', MaxKeys: 3, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
      token = page.NextContinuationToken;
    } while (token);
    expect(keys).toEqual(['page/0', 'page/1', 'page/2', 'page/3', 'page/4', 'page/5', 'page/6']);
    client.destroy();
  });

  it('DynamoDB answers conditional writes', async () => {
    const client = localDynamoClient(dynamo.endpoint);
    await client.send(
      new CreateTableCommand({
        TableName: 'ttt',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    expect((await client.send(new DescribeTableCommand({ TableName: 'ttt' }))).Table?.TableStatus).toBe('ACTIVE');
    const put = new PutItemCommand({ TableName: 'ttt', Item: { pk: { S: 'a' } }, ConditionExpression: 'attribute_not_exists(pk)' });
    await client.send(put);
    await expect(client.send(put)).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    client.destroy();
  });

  it('fault proxy: 503 then pass-through, counted by rule, without reaching the upstream', async () => {
    const client = localS3Client(proxy.endpoint);
    const rule = proxy.inject({ method: 'PUT', path: '/lake/faulty', count: 2, fault: { kind: 'status', status: 503 } });
    const put = new PutObjectCommand({ Bucket: 'lake', Key: 'faulty', Body: 'x' });
    await expect(client.send(put)).rejects.toMatchObject({ name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
    await expect(client.send(new HeadObjectCommand({ Bucket: 'lake', Key: 'faulty' }))).rejects.toMatchObject({ name: 'NotFound' });
    await expect(client.send(put)).rejects.toMatchObject({ $metadata: { httpStatusCode: 503 } });
    await client.send(put);
    expect(rule.hits).toBe(2);
    expect(rule.remaining).toBe(0);
    const body = await (await client.send(new GetObjectCommand({ Bucket: 'lake', Key: 'faulty' }))).Body?.transformToString();
    expect(body).toBe('x');
    expect(proxy.seen.filter((r) => r.fault === 'status').length).toBe(2);
    client.destroy();
  });

  it('fault proxy: a reset before forwarding writes nothing; reset-after-forward writes but the caller fails', async () => {
    const client = localS3Client(proxy.endpoint);
    proxy.inject({ method: 'PUT', path: '/lake/reset-before', fault: { kind: 'reset' } });
    await expect(client.send(new PutObjectCommand({ Bucket: 'lake', Key: 'reset-before', Body: 'a' }))).rejects.toThrow();
    await expect(client.send(new HeadObjectCommand({ Bucket: 'lake', Key: 'reset-before' }))).rejects.toMatchObject({ name: 'NotFound' });

    proxy.inject({ method: 'PUT', path: '/lake/reset-after', fault: { kind: 'reset-after-forward' } });
    await expect(client.send(new PutObjectCommand({ Bucket: 'lake', Key: 'reset-after', Body: 'b' }))).rejects.toThrow();
    const head = await client.send(new HeadObjectCommand({ Bucket: 'lake', Key: 'reset-after' }));
    expect(head.ContentLength).toBe(1);
    client.destroy();
  });

  it('fault proxy: hang makes the client time out; delay only delays', async () => {
    const client = localS3Client(proxy.endpoint, { requestTimeoutMs: 300 });
    proxy.inject({ method: 'GET', path: /\/lake\/faulty$/, fault: { kind: 'hang' } });
    await expect(client.send(new GetObjectCommand({ Bucket: 'lake', Key: 'faulty' }))).rejects.toThrow();
    proxy.inject({ method: 'HEAD', path: '/lake/faulty', fault: { kind: 'delay', ms: 50 } });
    expect((await client.send(new HeadObjectCommand({ Bucket: 'lake', Key: 'faulty' }))).ContentLength).toBe(1);
    client.destroy();
  });

  it('the CLI starts everything and prints the endpoints as one JSON line', async () => {
    const cliDir = join(dir, 'cli');
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../src/cli.ts'), '--dir', cliDir, '--bucket', 'bkt1'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
    const endpoints = JSON.parse(line) as { s3: string; dynamodb: string; kafka: unknown };
    expect(endpoints.s3).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(endpoints.dynamodb).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(endpoints.kafka).toBeNull();
    const client = localS3Client(endpoints.s3);
    await client.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'k', Body: 'v' }));
    client.destroy();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  });
});
