import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { CfError, isCfError } from '@cryptoflow/core';
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import { createBucket, localS3Client, startFaultProxy, startS3 } from '@cryptoflow/stand-ins';
import type { FaultProxy, LocalS3 } from '@cryptoflow/stand-ins';
import { CircuitBreaker, S3FileStore, S3ObjectWriter } from '../../src/s3/index.js';
import type { S3FileStoreOptions } from '../../src/s3/index.js';

const logger = createLogger({ app: 'test', level: 'silent' });
const MiB = 1024 * 1024;
const FAST = { attempts: 4, backoff: { baseMs: 1, maxMs: 5, factor: 2 } };
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('base64');

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return (m?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((a, v) => a + v.value, 0);
}

describe('S3FileStore on s3rver through the fault proxy', () => {
  let dir: string;
  let s3: LocalS3;
  let proxy: FaultProxy;
  let direct: S3Client;
  let viaProxy: S3Client;
  let n = 0;
  const key = (): string => `trades/hour=2024-01-31T13/shard=3/f-${++n}.parquet`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cf-s3-'));
    s3 = await startS3({ dir });
    await createBucket(s3.endpoint, 'lake');
    proxy = await startFaultProxy({ target: s3.endpoint });
    direct = localS3Client(s3.endpoint);
    viaProxy = localS3Client(proxy.endpoint);
  });
  afterAll(async () => {
    direct?.destroy();
    viaProxy?.destroy();
    await proxy?.close();
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => proxy.clear());

  function store(over: Partial<S3FileStoreOptions> = {}): { store: S3FileStore; registry: Registry } {
    const registry = over.registry ?? new Registry();
    return {
      registry,
      store: new S3FileStore({
        client: viaProxy,
        bucket: 'lake',
        prefix: 'data',
        tags: { app: 'collector-ticks', table: 'trades' },
        partSizeBytes: 5 * MiB,
        retries: FAST,
        registry,
        logger,
        labels: { app: 'test' },
        ...over,
      }),
    };
  }
  const file = (k: string, bytes: Uint8Array) => ({ key: k, bytes, contentType: 'application/vnd.apache.parquet', metadata: { table: 'trades', rows: '42' } });
  const getBytes = async (k: string): Promise<Uint8Array> =>
    (await direct.send(new GetObjectCommand({ Bucket: 'lake', Key: k }))).Body!.transformToByteArray();

  it('stores an object with checksum, metadata and tags, and reports where it is', async () => {
    const { store: st, registry } = store();
    const bytes = randomBytes(300_000);
    const k = key();
    const stored = await st.put(file(k, bytes));
    expect(stored).toEqual({ key: `data/${k}`, uri: `s3://lake/data/${k}`, bytes: 300_000, checksumSha256: sha(bytes) });
    expect(Buffer.compare(Buffer.from(await getBytes(`data/${k}`)), bytes)).toBe(0);
    const head = await direct.send(new HeadObjectCommand({ Bucket: 'lake', Key: `data/${k}` }));
    expect(head.Metadata).toMatchObject({ table: 'trades', rows: '42', 'cf-sha256': sha(bytes) });
    expect(head.ContentType).toBe('application/vnd.apache.parquet');
    const tags = await direct.send(new GetObjectTaggingCommand({ Bucket: 'lake', Key: `data/${k}` }));
    expect(Object.fromEntries((tags.TagSet ?? []).map((t) => [t.Key, t.Value]))).toEqual({ app: 'collector-ticks', table: 'trades' });
    expect(await metric(registry, 's3_upload_bytes_total')).toBe(300_000);
  });

  it('a second put of the same bytes succeeds without uploading; other bytes under the key are refused', async () => {
    const { store: st, registry } = store();
    const bytes = randomBytes(10_000);
    const k = key();
    await st.put(file(k, bytes));
    const before = proxy.seen.length;
    const again = await st.put(file(k, bytes));
    expect(again.checksumSha256).toBe(sha(bytes));
    const sent = proxy.seen.slice(before);
    expect(sent.filter((r) => r.method === 'PUT' && !r.url.includes('tagging')).length).toBe(0);
    expect(await metric(registry, 's3_upload_dedup_total')).toBe(1);

    const err = await st.put(file(k, randomBytes(10_000))).catch((e: unknown) => e);
    expect(isCfError(err, 'CF_S3')).toBe(true);
    expect((err as CfError).retriable).toBe(false);
    expect(String((err as Error).message)).toMatch(/different content/);
    expect(Buffer.compare(Buffer.from(await getBytes(`data/${k}`)), bytes)).toBe(0);
  });

  it('recognises the same bytes written by someone else (no cf-sha256 metadata) through the ETag', async () => {
    const { store: st } = store();
    const bytes = randomBytes(5_000);
    const k = key();
    await direct.send(new PutObjectCommand({ Bucket: 'lake', Key: `data/${k}`, Body: bytes }));
    await expect(st.put(file(k, bytes))).resolves.toMatchObject({ checksumSha256: sha(bytes) });
    await expect(st.put(file(k, randomBytes(5_000)))).rejects.toMatchObject({ code: 'CF_S3', retriable: false });
  });

  it('uploads large files in parts with per-part retries and survives a lost CompleteMultipartUpload answer', async () => {
    const { store: st, registry } = store();
    const bytes = randomBytes(12 * MiB + 123);
    const k = key();
    const partFaults = proxy.inject({ method: 'PUT', path: `/lake/data/${k}`, when: (r) => (r.url ?? '').includes('partNumber='), count: 2, fault: { kind: 'status', status: 503 } });
    const lostComplete = proxy.inject({ method: 'POST', path: `/lake/data/${k}`, when: (r) => (r.url ?? '').includes('uploadId='), fault: { kind: 'reset-after-forward' } });
    const stored = await st.put(file(k, bytes));
    expect(partFaults.hits).toBe(2);
    expect(lostComplete.hits).toBe(1);
    expect(stored.checksumSha256).toBe(sha(bytes));
    expect(Buffer.compare(Buffer.from(await getBytes(`data/${k}`)), bytes)).toBe(0);
    const parts = proxy.seen.filter((r) => r.method === 'PUT' && r.url.includes('partNumber=') && r.path === `/lake/data/${k}` && r.fault === undefined);
    expect(parts.length).toBe(3); // 5 MiB + 5 MiB + 2 MiB, plus the 2 faulted attempts not counted here
    expect(await metric(registry, 's3_upload_retries_total', { op: 'upload_part' })).toBe(2);
    expect(await metric(registry, 's3_upload_retries_total', { op: 'complete_multipart' })).toBe(1);
  });

  it('retries 500s, resets and timeouts with jitter, then succeeds', async () => {
    const { store: st, registry } = store({ attemptTimeoutMs: 300 });
    const k = key();
    proxy.inject({ method: 'HEAD', path: `/lake/data/${k}`, count: 1, fault: { kind: 'hang' } });
    proxy.inject({ method: 'PUT', path: `/lake/data/${k}`, count: 1, fault: { kind: 'status', status: 500 } });
    proxy.inject({ method: 'PUT', path: `/lake/data/${k}`, count: 1, fault: { kind: 'reset' } });
    const bytes = randomBytes(1_000);
    await st.put(file(k, bytes));
    expect(Buffer.compare(Buffer.from(await getBytes(`data/${k}`)), bytes)).toBe(0);
    expect(await metric(registry, 's3_upload_retries_total')).toBe(3);
  });

  it('gives up after the configured attempts with a retriable CF_S3 and writes nothing', async () => {
    const { store: st, registry } = store();
    const k = key();
    proxy.inject({ method: 'PUT', path: `/lake/data/${k}`, count: Infinity, fault: { kind: 'status', status: 503 } });
    const err = await st.put(file(k, randomBytes(100))).catch((e: unknown) => e);
    expect(isCfError(err, 'CF_S3')).toBe(true);
    expect((err as CfError).retriable).toBe(true);
    expect(String((err as Error).message)).toMatch(/after 4 attempts/);
    await expect(direct.send(new HeadObjectCommand({ Bucket: 'lake', Key: `data/${k}` }))).rejects.toMatchObject({ name: 'NotFound' });
    expect(await metric(registry, 's3_upload_errors_total', { retriable: 'true' })).toBe(1);
  });

  it('opens the circuit after consecutive failures, fails fast, and closes after a good probe', async () => {
    let now = 0;
    const registry = new Registry();
    const breaker = new CircuitBreaker({ name: 's3:lake', failureThreshold: 3, coolDownMs: 5_000, nowMs: () => now });
    const { store: st } = store({ circuitBreaker: breaker, retries: { attempts: 10, backoff: FAST.backoff }, registry });
    const k = key();
    const outage = proxy.inject({ path: '/lake/', count: Infinity, fault: { kind: 'status', status: 500 } });
    const err = await st.put(file(k, randomBytes(100))).catch((e: unknown) => e);
    expect(isCfError(err, 'CF_CIRCUIT_OPEN')).toBe(true);
    expect((err as CfError).retriable).toBe(true);
    expect(outage.hits).toBe(3);
    expect(await metric(registry, 's3_circuit_state', { circuit: 's3:lake' })).toBe(1);

    const before = proxy.seen.length;
    await expect(st.put(file(k, randomBytes(100)))).rejects.toMatchObject({ code: 'CF_CIRCUIT_OPEN' });
    expect(proxy.seen.length).toBe(before); // nothing sent while open

    outage.cancel();
    now = 5_000;
    const bytes = randomBytes(100);
    await st.put(file(k, bytes));
    expect(breaker.state).toBe('closed');
    expect(await metric(registry, 's3_circuit_state', { circuit: 's3:lake' })).toBe(0);
  });

  it('refuses bad keys and bad config', async () => {
    const { store: st } = store();
    await expect(st.put(file('a/../b', new Uint8Array(1)))).rejects.toMatchObject({ code: 'CF_S3' });
    expect(() => store({ partSizeBytes: MiB })).toThrow(/partSizeBytes/);
  });

  it('S3ObjectWriter puts and gets manifests by s3:// location or bare key, with retries', async () => {
    const registry = new Registry();
    const w = new S3ObjectWriter({ client: viaProxy, bucket: 'lake', prefix: 'warehouse', retries: FAST, registry, logger });
    proxy.inject({ method: 'PUT', path: '/lake/warehouse/', count: 1, fault: { kind: 'status', status: 503 } });
    const bytes = randomBytes(2_000);
    const uri = await w.put('s3://lake/warehouse/db/t/metadata/snap-1.avro', bytes);
    expect(uri).toBe('s3://lake/warehouse/db/t/metadata/snap-1.avro');
    expect(Buffer.compare(Buffer.from(await w.get(uri)), bytes)).toBe(0);
    expect(await w.put('db/t/metadata/m1.avro', bytes)).toBe('s3://lake/warehouse/db/t/metadata/m1.avro');
    expect(await metric(registry, 's3_upload_retries_total', { op: 'put' })).toBe(1);
    await expect(w.get('s3://lake/warehouse/missing.avro')).rejects.toMatchObject({ code: 'CF_S3', retriable: false });
  });
});
