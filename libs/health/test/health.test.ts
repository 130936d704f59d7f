import { afterEach, describe, expect, it } from 'vitest';
import { counter, createRegistry } from '@cryptoflow/metrics';
import { startHealthServer } from '../src/index.js';
import type { HealthServer } from '../src/index.js';

let server: HealthServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('health server', () => {
  it('is live at once, ready only when every check passes, and not ready while draining', async () => {
    let connected = false;
    const registry = createRegistry({ app: 'collector-ticks' });
    counter(registry, 'frames_received_total', 'frames').inc(3);
    server = await startHealthServer({
      host: '127.0.0.1',
      port: 0,
      registry,
      version: { app: 'collector-ticks', version: '1.0.0', gitSha: 'abc' },
      checks: [
        { name: 'connected', check: () => ({ ok: connected, detail: { sockets: connected ? 1 : 0 } }) },
      ],
      describe: () => ({ ownedShards: [0, 2] }),
    });
    expect((await fetch(`${server.url}/live`)).status).toBe(200);
    const notReady = await fetch(`${server.url}/ready`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toMatchObject({
      status: 'not ready',
      checks: [{ name: 'connected', ok: false }],
      ownedShards: [0, 2],
    });
    connected = true;
    expect((await fetch(`${server.url}/ready`)).status).toBe(200);
    server.setDraining(true);
    expect(await (await fetch(`${server.url}/ready`)).json()).toMatchObject({ status: 'draining' });
    expect(await (await fetch(`${server.url}/metrics`)).text()).toContain(
      'frames_received_total{app="collector-ticks"} 3',
    );
    expect(await (await fetch(`${server.url}/version`)).json()).toEqual({
      app: 'collector-ticks',
      version: '1.0.0',
      gitSha: 'abc',
    });
  });

  it('a throwing check is a failed check, not a crash', async () => {
    server = await startHealthServer({
      host: '127.0.0.1',
      port: 0,
      registry: createRegistry({ app: 't' }),
      version: { app: 't', version: '0', gitSha: 'x' },
      checks: [
        {
          name: 'writer',
          check: () => {
            throw new Error('disk gone');
          },
        },
      ],
    });
    const res = await fetch(`${server.url}/ready`);
    expect(res.status).toBe(503);
    expect(JSON.stringify(await res.json())).toContain('disk gone');
  });
});
