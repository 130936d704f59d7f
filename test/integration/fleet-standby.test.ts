/**
 * A replica killed with SIGKILL loses nothing when the fleet runs warm standbys (`fleet.standby: true`).
 *
 * Two collector-funding processes (A, B) in dynamic fleet mode with standby, writing to the local lake (s3rver,
 * dynalite ledger), against the fake USD-M venue replaying at recorded pace. Every shard is owned by one and
 * collected (buffered, not written) by the other. The one owning more of the shards with symbols is killed
 * with SIGKILL mid-replay; the other sees its lease expire, reads what it had recorded in the lake for those
 * shards, and writes the buffered rows it had not made durable. The recorded files of both, together, must hold exactly the golden rows: none missing (the
 * plain fleet loses a few here: fleet-scale.test.ts), none twice.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeExchange } from '@cryptoflow/fake-exchange';
import { startLocalLake } from '@cryptoflow/local-stack';
import { TABLE_SCHEMAS } from '@cryptoflow/model';
import { createShardHasher } from '@cryptoflow/sharding';
import { ROOT, readRecordedRows, startApp, waitFor } from './helpers.js';

const CAPTURES = join(ROOT, 'test', 'fixtures', 'captures');
const LEASE_MS = 3_000;
const HEARTBEAT_MS = 1_000;
const FLUSH_MS = 500;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Replica {
  readonly name: string;
  readonly child: ChildProcess;
  readonly url: string;
  readonly exited: Promise<number | null>;
  readonly output: () => string;
}

interface ReadyBody {
  ownership: { replicaId: string; shards: Record<string, string>; standby?: number[] };
}

describe('elastic fleet with warm standbys: SIGKILL of a replica during a replay', () => {
  it('loses no row and writes none twice', async () => {
    const lake = await startLocalLake({ tables: ['funding'] });
    cleanups.push(() => lake.close());
    const usdm = new FakeExchange({
      venue: 'binance-usdm',
      captures: [join(CAPTURES, 'BINANCE_FUTURES.ws.1.0'), join(CAPTURES, 'BINANCE_FUTURES.synthetic.ws.0')],
      speed: 1,
      startOn: 'manual',
    });
    const u = await usdm.listen();
    cleanups.push(() => usdm.close());

    const started: Replica[] = [];
    const logDir = mkdtempSync(join(tmpdir(), 'fleet-standby-logs-'));
    let passed = false;
    cleanups.push(() => {
      if (passed) return rmSync(logDir, { recursive: true, force: true });
      for (const r of started) writeFileSync(join(logDir, `${r.name}.log`), r.output());
      console.log(`fleet-standby: replica logs in ${logDir}`);
    });
    const start = async (name: string): Promise<Replica> => {
      const dir = mkdtempSync(join(tmpdir(), `fleet-standby-${name}-`));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const { child, healthUrl, output } = startApp(
        'collector-funding',
        [
          '--config',
          join(ROOT, 'configs', 'local', 'collector-funding.yaml'),
          `--exchanges.binance-usdm.ws_url=${u.wsUrl}`,
          `--exchanges.binance-usdm.rest_url=${u.restUrl}`,
          '--fleet.mode=dynamic',
          '--fleet.table=cf-fleet-standby',
          `--fleet.endpoint=${lake.dynamo.endpoint}`,
          `--fleet.lease_ms=${LEASE_MS}`,
          `--fleet.heartbeat_ms=${HEARTBEAT_MS}`,
          '--fleet.standby=true',
          ...lake.flags,
          '--sink.commit=committer',
          `--sink.flush_interval_ms=${FLUSH_MS}`,
          `--channels.defaults.spill_dir=${join(dir, 'spill')}`,
          '--health.host=127.0.0.1',
          '--health.port=0',
        ],
        lake.env,
      );
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      cleanups.push(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      const url = await healthUrl.catch((err: unknown) => {
        throw new Error(`${String(err)}\n${output()}`);
      });
      const replica = { name, child, url, exited, output };
      started.push(replica);
      return replica;
    };
    const ready = async (r: Replica): Promise<ReadyBody> =>
      (await (await fetch(`${r.url}/ready`)).json()) as ReadyBody;

    const first = await start('A');
    const second = await start('B');
    const t0 = Date.now();
    usdm.start();
    // Settled: every shard owned by exactly one replica and stood by for by the other.
    const owned = (x: ReadyBody): number[] =>
      Object.entries(x.ownership.shards)
        .filter(([, role]) => role === 'owned')
        .map(([s]) => Number(s));
    await waitFor(
      'ownership and standby settle over A and B',
      async () => {
        const [a, b] = [await ready(first), await ready(second)];
        const [ao, bo] = [owned(a), owned(b)];
        const same = (x: number[], y: number[]) =>
          JSON.stringify([...x].sort((p, q) => p - q)) === JSON.stringify([...y].sort((p, q) => p - q));
        return ao.length + bo.length === 16 && same(b.ownership.standby ?? [], ao) && same(a.ownership.standby ?? [], bo);
      },
      20_000,
    );
    // The victim is the replica owning more of the shards that have symbols (4 symbols on 16 shards): its
    // standby then has rows to recover whatever ids the replicas drew.
    const hasher = await createShardHasher();
    const symbolShards = new Set(
      ['SUSHIUSDT', 'AKROUSDT', 'KEEPUSDT', 'CTKUSDT'].map((sym) => hasher.shardId('binance-usdm', sym, 16)),
    );
    const busy = async (r: Replica) => owned(await ready(r)).filter((sh) => symbolShards.has(sh)).length;
    const [A, B] = (await busy(first)) >= (await busy(second)) ? [first, second] : [second, first];
    const aShards = owned(await ready(A));

    await new Promise((r) => setTimeout(r, Math.max(0, t0 + 9_000 - Date.now())));
    const killAt = Date.now() - t0;
    A.child.kill('SIGKILL');
    await A.exited;
    await waitFor(`${B.name} takes ${A.name} over`, async () => B.output().includes('fleet takeover: owner died'), 20_000);

    await usdm.whenFinished();
    await new Promise((r) => setTimeout(r, 1_500));
    // What the takeover did with B's buffer: rows A had not made durable written, the others skipped.
    const metrics = await (await fetch(`${B.url}/metrics`)).text();
    const takeoverRows = (outcome: string): number =>
      [...metrics.matchAll(new RegExp(`^fleet_takeover_rows_total\\{[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`, 'gm'))]
        .map((m) => Number(m[1]))
        .reduce((a, b) => a + b, 0);
    const recovered = takeoverRows('written');
    const skippedDurable = takeoverRows('durable');
    B.child.kill('SIGTERM');
    expect(await B.exited).toBe(0);

    // The union of what A and B recorded in the lake (files uploaded but never recorded do not count).
    const table = 'funding';
    const key = (row: Record<string, unknown>): string =>
      TABLE_SCHEMAS[table].naturalKey.map((c) => String(row[c])).join('|');
    const recorded = await readRecordedRows(lake, table);
    const written = new Map<string, number>();
    for (const r of recorded.rows) written.set(key(r), (written.get(key(r)) ?? 0) + 1);
    const golden = readFileSync(join(ROOT, 'test', 'golden', 'funding.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const goldenKeys = new Set(golden.map(key));
    const duplicates = [...written].filter(([, n]) => n > 1).map(([k]) => k);
    const missing = golden.map(key).filter((k) => !written.has(k));
    const invented = [...written.keys()].filter((k) => !goldenKeys.has(k));
    console.log(
      `fleet-standby: ${A.name} (killed) held shards [${aShards.join(',')}], SIGKILL at ${killAt} ms into the replay; ` +
        `${recorded.files} files; rows: golden ${golden.length}, written ${written.size}, duplicates ${duplicates.length}, ` +
        `missing ${missing.length}; ${B.name}'s takeover wrote ${recovered} rows (received after the kill, or never made ` +
        `durable by ${A.name}) and skipped ${skippedDurable} ${A.name} had recorded`,
    );
    expect(invented).toEqual([]);
    expect(duplicates).toEqual([]);
    expect(missing).toEqual([]);
    // The takeover really went through B's buffer (a plain fleet loses rows here: fleet-scale.test.ts).
    expect(recovered).toBeGreaterThan(0);
    passed = true;
  }, 120_000);
});
