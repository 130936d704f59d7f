import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { TABLE_SCHEMAS } from '@cryptoflow/model';
import type { TableName } from '@cryptoflow/model';

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
  for (const file of parquetFiles(join(dir, table))) {
    const buf = readFileSync(file);
    const objs = (await parquetReadObjects({
      file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer,
      parsers: { timestampFromMicroseconds: (v: bigint) => Number(v) } as never,
    })) as Record<string, unknown>[];
    for (const r of objs) {
      const row: Record<string, unknown> = { table };
      for (const c of TABLE_SCHEMAS[table].columns)
        row[c.name] = typeof r[c.name] === 'bigint' ? Number(r[c.name]) : (r[c.name] ?? null);
      rows.push(row);
    }
  }
  return rows;
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
    child.once('exit', (code) =>
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
