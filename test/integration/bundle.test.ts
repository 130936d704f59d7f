/**
 * The images run the esbuild bundle, not the TypeScript sources: build collector-ticks the way
 * `npm run build` does and run it against the fake venues. It must write exactly the golden rows.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeExchange } from '@cryptoflow/fake-exchange';
import { ROOT, readTableRows, waitFor, withoutIngestTs } from './helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('bundled app', () => {
  it('collector-ticks built with esbuild collects the golden trades', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bundle-'));
    const { buildApp } = (await import(join(ROOT, 'tools', 'build', 'build.mjs'))) as {
      buildApp: (app: string, out: string) => Promise<string>;
    };
    const bundle = await buildApp('collector-ticks', join(dir, 'main.js'));
    const captures = join(ROOT, 'test', 'fixtures', 'captures');
    const spot = new FakeExchange({
      venue: 'binance',
      captures: [join(captures, 'BINANCE.ws.1.0')],
      speed: 'max',
      startOn: 'manual',
    });
    const usdm = new FakeExchange({
      venue: 'binance-usdm',
      captures: [join(captures, 'BINANCE_FUTURES.ws.1.0')],
      speed: 'max',
      startOn: 'manual',
    });
    const [s, u] = await Promise.all([spot.listen(), usdm.listen()]);
    cleanups.push(
      () => spot.close(),
      () => usdm.close(),
    );
    const child = spawn(
      process.execPath,
      [
        bundle,
        '--config',
        join(ROOT, 'configs', 'local', 'collector-ticks.yaml'),
        `--exchanges.binance.ws_url=${s.wsUrl}`,
        `--exchanges.binance.rest_url=${s.restUrl}`,
        `--exchanges.binance-usdm.ws_url=${u.wsUrl}`,
        `--exchanges.binance-usdm.rest_url=${u.restUrl}`,
        `--sink.dir=${join(dir, 'lake')}`,
        `--channels.defaults.spill_dir=${join(dir, 'spill')}`,
        '--health.host=127.0.0.1',
        '--health.port=0',
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    cleanups.push(() => child.exitCode === null && child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    let url = '';
    await waitFor('the bundled collector to start', () => {
      url = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"collector started"/.exec(out)?.[1] ?? '';
      if (child.exitCode !== null) throw new Error(`bundle exited ${child.exitCode}:\n${out.slice(-2000)}`);
      return url !== '';
    });
    await waitFor('sockets open', async () => {
      const body = (await (await fetch(`${url}/ready`)).json()) as {
        checks: { name: string; ok: boolean }[];
      };
      return body.checks.find((c) => c.name === 'connected')?.ok === true;
    });
    spot.start();
    usdm.start();
    await Promise.all([spot.whenFinished(), usdm.whenFinished()]);
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const rows = (await readTableRows(join(dir, 'lake'), 'trades')).map(withoutIngestTs);
    const golden = readFileSync(join(ROOT, 'test', 'golden', 'ticks.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => withoutIngestTs(JSON.parse(l) as Record<string, unknown>));
    const key = (r: Record<string, unknown>) =>
      `${String(r['exchange'])}|${String(r['symbol'])}|${String(r['trade_id'])}`;
    expect(rows.map(key).sort()).toEqual(golden.map(key).sort());
    expect(rows.length).toBe(golden.length);
  });
});
