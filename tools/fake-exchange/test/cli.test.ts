import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, it, expect } from 'vitest';
import { WebSocket } from 'ws';

const REAL = '/work/shared/fixtures/real/cryptofeed-sample-data';
const MAIN = new URL('../src/main.ts', import.meta.url).pathname;

describe('fake-exchange CLI', () => {
  it('prints its URLs as one JSON line and can be driven through the admin API from another process', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        MAIN,
        '--venue',
        'binance',
        '--capture',
        `${REAL}/BINANCE.ws.1.0`,
        '--capture',
        `${REAL}/BINANCE.http.0.0`,
        '--speed',
        'max',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      const urls = JSON.parse(line) as { wsUrl: string; restUrl: string; port: number; adminUrl: string };
      expect(urls.wsUrl).toBe(`ws://127.0.0.1:${urls.port}`);
      const res = await fetch(`${urls.adminUrl}/faults`, {
        method: 'POST',
        body: JSON.stringify({ fault: 'dropNextFrames', n: 1 }),
      });
      expect(res.status).toBe(200);
      const got: string[] = [];
      const ws = new WebSocket(`${urls.wsUrl}/stream?streams=runeeur@depth@100ms`);
      ws.on('message', (d) => got.push(d.toString()));
      for (;;) {
        const stats = (await (await fetch(`${urls.adminUrl}/stats`)).json()) as {
          finished: boolean;
          framesSent: number;
        };
        if (stats.finished) {
          expect(stats.framesSent).toBe(1); // two recorded runeeur frames, the first dropped
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      ws.close();
      const log = (await (await fetch(`${urls.adminUrl}/log`)).json()) as {
        wsConnections: { path: string }[];
      };
      expect(log.wsConnections.map((c) => c.path)).toEqual(['/stream?streams=runeeur@depth@100ms']);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('reports every bad flag at once and exits 2', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--venue', 'kraken', '--speed=-1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err += String(d)));
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(2);
    expect(err).toMatch(/--venue/);
    expect(err).toMatch(/--capture/);
    expect(err).toMatch(/--speed/);
  });
});
