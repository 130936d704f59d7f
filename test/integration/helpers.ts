import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parquetReadObjects } from 'hyparquet';
import { FileLedger } from '@cryptoflow/idempotency';
import { createLogger } from '@cryptoflow/logger';
import { Registry } from '@cryptoflow/metrics';
import { TABLE_SCHEMAS } from '@cryptoflow/model';
import type { TableName } from '@cryptoflow/model';
import { parseS3Uri } from '@cryptoflow/sink';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '@cryptoflow/stand-ins';

export const ROOT = join(import.meta.dirname, '..', '..');

/** Every Parquet file under a directory, recursively. */
export function parquetFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.parquet')) out.push(p);
    }
  };
  try {
    walk(dir);
  } catch {
    return [];
  }
  return out.sort();
}

/** Rows of a table's Parquet files as canonical row objects (numbers for longs and timestamps). */
export async function readTableRows(dir: string, table: TableName): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const file of parquetFiles(join(dir, table))) rows.push(...(await rowsOf(readFileSync(file), table)));
  return rows;
}

/** Canonical rows from Parquet bytes (numbers for longs and timestamps). */
async function rowsOf(bytes: Uint8Array, table: TableName): Promise<Record<string, unknown>[]> {
  const objs = (await parquetReadObjects({
    file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
    parsers: { timestampFromMicroseconds: (v: bigint) => Number(v) } as never,
  })) as Record<string, unknown>[];
  return objs.map((r) => {
    const row: Record<string, unknown> = { table };
    for (const c of TABLE_SCHEMAS[table].columns)
      row[c.name] = typeof r[c.name] === 'bigint' ? Number(r[c.name]) : (r[c.name] ?? null);
    return row;
  });
}

/**
 * Every row of a table's files recorded in a local lake's ledger and not committed yet (the tests that use it run
 * no committer), whoever wrote them; objects uploaded but never recorded do not count: they are never committed.
 * With the number of files.
 */
export async function readRecordedRows(
  lake: { readonly s3: { readonly endpoint: string }; readonly dynamo: { readonly endpoint: string }; readonly ledgerTable: string },
  table: TableName,
): Promise<{ rows: Record<string, unknown>[]; files: number }> {
  const dynamo = new DynamoDBClient({ endpoint: lake.dynamo.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const s3 = new S3Client({ endpoint: lake.s3.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, forcePathStyle: true });
  try {
    const ledger = new FileLedger({
      client: dynamo,
      tableName: lake.ledgerTable,
      registry: new Registry(),
      logger: createLogger({ app: 'test', level: 'silent' }),
    });
    const entries = await ledger.listUncommitted(table, 100_000);
    const rows: Record<string, unknown>[] = [];
    for (const e of entries) {
      const { bucket, key } = parseS3Uri(e.uri);
      const body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray();
      rows.push(...(await rowsOf(body, table)));
    }
    return { rows, files: entries.length };
  } finally {
    dynamo.destroy();
    s3.destroy();
  }
}

/** Starts an app binary with tsx; resolves with the child and a promise of its health URL (from its start log line). */
export function startApp(
  app: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; healthUrl: Promise<string>; output: () => string } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'apps', app, 'src', 'main.ts'), ...args],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const healthUrl = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"collector started"/.exec(out);
      if (m) resolve(m[1] as string);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    // 'close', not 'exit': it fires once stdout and stderr are drained, so the message carries the last words.
    child.once('close', (code) =>
      reject(new Error(`${app} exited with ${code} before starting:\n${out.slice(-2000)}`)),
    );
  });
  return { child, healthUrl, output: () => out };
}

export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Drops the receive time, which differs between a live run and the recording. */
export function withoutIngestTs(row: Record<string, unknown>): Record<string, unknown> {
  const { ingest_ts: _ignored, ...rest } = row;
  return rest;
}

/**
 * icebird maps `s3://b/k` to `https://b.s3.amazonaws.com/k`; route those requests to the local S3
 * (what DNS would do in AWS). Returns the function that restores the real fetch.
 */
export function routeS3ToLocal(endpoint: string): () => void {
  const realFetch = globalThis.fetch;
  globalThis.fetch = ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const m = /^https:\/\/([^./]+)\.s3\.amazonaws\.com\/(.*)$/.exec(url);
    return realFetch(m ? `${endpoint}/${m[1]}/${m[2]}` : input, init);
  }) as typeof fetch;
  return () => {
    globalThis.fetch = realFetch;
  };
}
