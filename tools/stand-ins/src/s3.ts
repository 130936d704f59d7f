import { spawn } from 'node:child_process';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CfError } from '@cryptoflow/core';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 's3rver-child.mjs');

/** Any credentials work against the stand-ins; the SDK only needs some to sign. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const LOCAL_REGION = 'us-east-1';

export interface StartS3Options {
  /** Where s3rver keeps buckets and objects on disk (created if missing). Default: a fresh temp dir. */
  readonly dir?: string;
  /** Default 0: a port chosen by the OS. */
  readonly port?: number;
  /** Buckets created at start. */
  readonly buckets?: readonly string[];
}

export interface LocalS3 {
  /** `http://127.0.0.1:<port>`; use with `forcePathStyle: true`. */
  readonly endpoint: string;
  readonly dir: string;
  readonly pid: number;
  close(): Promise<void>;
}

/**
 * Starts s3rver 3.7.1 in a child Node process with `--openssl-legacy-provider` (paginated
 * ListObjectsV2 fails without it). A child also keeps S3 alive while a crash test kills the writers.
 */
export async function startS3(opts: StartS3Options = {}): Promise<LocalS3> {
  const options = { ...opts, dir: opts.dir ?? (await mkdtemp(join(tmpdir(), 'cf-s3-'))) };
  await mkdir(options.dir, { recursive: true });
  const child = spawn(
    process.execPath,
    [
      '--openssl-legacy-provider',
      CHILD,
      options.dir,
      String(options.port ?? 0),
      (options.buckets ?? []).join(','),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise<number>((resolve, reject) => {
    const onExit = (code: number | null): void =>
      reject(new CfError('CF_INTERNAL', `s3rver exited before listening (code ${code}): ${stderr.trim()}`));
    child.once('exit', onExit);
    child.once('error', reject);
    lines.once('line', (line) => {
      child.off('exit', onExit);
      try {
        resolve((JSON.parse(line) as { port: number }).port);
      } catch (err) {
        reject(new CfError('CF_INTERNAL', `s3rver printed ${line.slice(0, 200)}`, { cause: err }));
      }
    });
  });
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    dir: options.dir,
    pid: child.pid ?? -1,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(timer);
          lines.close();
          resolve();
        });
        child.stdin.end();
      });
      return closing;
    },
  };
}

/** An S3 client for a stand-in (or a fault proxy in front of one). */
export function localS3Client(
  endpoint: string,
  extra: { maxAttempts?: number; requestTimeoutMs?: number } = {},
): S3Client {
  return new S3Client({
    endpoint,
    region: LOCAL_REGION,
    forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: extra.maxAttempts ?? 1,
    ...(extra.requestTimeoutMs
      ? { requestHandler: { requestTimeout: extra.requestTimeoutMs, throwOnRequestTimeout: true } }
      : {}),
  });
}

/** Creates a bucket; an existing bucket we own is success. */
export async function createBucket(endpoint: string, bucket: string): Promise<void> {
  const client = localS3Client(endpoint);
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
  } finally {
    client.destroy();
  }
}
