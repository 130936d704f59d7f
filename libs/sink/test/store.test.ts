import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isCfError } from '@cryptoflow/core';
import { LocalFileStore } from '../src/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cf-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const put = (key: string, text: string) => ({ key, bytes: new TextEncoder().encode(text), contentType: 'application/octet-stream', metadata: {} });

function allFiles(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(root.length + 1))
    .sort();
}

describe('LocalFileStore', () => {
  it('writes the bytes under the key and reports uri, size and base64 sha256', async () => {
    const store = new LocalFileStore({ dir });
    const s = await store.put(put('trades/exchange_ts_hour=2021-10-12T00/shard=003/a.parquet', 'hello'));
    expect(s.key).toBe('trades/exchange_ts_hour=2021-10-12T00/shard=003/a.parquet');
    expect(s.bytes).toBe(5);
    expect(s.checksumSha256).toBe(createHash('sha256').update('hello').digest('base64'));
    expect(readFileSync(fileURLToPath(s.uri), 'utf8')).toBe('hello');
    expect(allFiles(dir)).toEqual(['trades/exchange_ts_hour=2021-10-12T00/shard=003/a.parquet']); // no temp file left
  });

  it('same key + same bytes is a no-op success (replay after a crash)', async () => {
    const store = new LocalFileStore({ dir });
    const a = await store.put(put('t/x.parquet', 'abc'));
    const b = await store.put(put('t/x.parquet', 'abc'));
    expect(b).toEqual(a);
    const [c, d] = await Promise.all([store.put(put('t/y.parquet', 'zz')), store.put(put('t/y.parquet', 'zz'))]);
    expect(c).toEqual(d);
    expect(allFiles(dir)).toEqual(['t/x.parquet', 't/y.parquet']);
  });

  it('same key + different bytes fails with CF_SINK_IO (not retriable) and keeps the stored file', async () => {
    const store = new LocalFileStore({ dir });
    await store.put(put('t/x.parquet', 'abc'));
    for (const other of ['abd', 'abcd']) {
      const err = await store.put(put('t/x.parquet', other)).catch((e: unknown) => e);
      expect(isCfError(err, 'CF_SINK_IO')).toBe(true);
      expect((err as { retriable: boolean }).retriable).toBe(false);
    }
    expect(readFileSync(join(dir, 't/x.parquet'), 'utf8')).toBe('abc');
    // racing writers of one key with different bytes: exactly one wins, the other is refused
    const results = await Promise.allSettled([store.put(put('t/r.parquet', 'one')), store.put(put('t/r.parquet', 'two'))]);
    expect(results.filter((r) => r.status === 'fulfilled').length).toBe(1);
    expect(['one', 'two']).toContain(readFileSync(join(dir, 't/r.parquet'), 'utf8'));
    expect(allFiles(dir)).toEqual(['t/r.parquet', 't/x.parquet']);
  });

  it('rejects keys that escape the directory or are not canonical', async () => {
    const store = new LocalFileStore({ dir });
    for (const key of ['../evil', '/abs/path', 'a/../../b', 'a//b', './a', 'a\\b', '']) {
      await expect(store.put(put(key, 'x'))).rejects.toMatchObject({ code: 'CF_SINK_IO' });
    }
    expect(allFiles(dir)).toEqual([]);
  });

  it('maps file-system errors to CF_SINK_IO with errno and retriable set by kind', async () => {
    // a key whose parent is a regular file: mkdir fails with ENOTDIR/EEXIST — not retriable
    const store = new LocalFileStore({ dir });
    await store.put(put('f', 'x'));
    const err = await store.put(put('f/child.parquet', 'y')).catch((e: unknown) => e);
    expect(isCfError(err, 'CF_SINK_IO')).toBe(true);
    expect((err as { retriable: boolean }).retriable).toBe(false);
    expect((err as { context: { errno?: string } }).context.errno).toMatch(/ENOTDIR|EEXIST/);
  });
});
