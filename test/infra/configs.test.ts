import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCollectorConfig, loadCommitterConfig } from '@cryptoflow/config';
import { STREAMS, STREAM_EXCHANGES } from '@cryptoflow/model';
import { ROOT, blocks, loadAllTf } from './hcl.js';

const ENVS = ['dev', 'prod'] as const;

/** Plausible values for the CF_* overrides the deployment sets, to validate configs as the tasks see them. */
const SAMPLE: Record<string, string> = {
  CF_SINK__S3__BUCKET: 'cryptoflow-prod-data-123456789012',
  CF_SINK__S3__PREFIX: 'lake/',
  CF_SINK__S3__REGION: 'ap-northeast-1',
  CF_SINK__LEDGER__TABLE: 'cryptoflow-prod-ledger',
  CF_SINK__LEDGER__REGION: 'ap-northeast-1',
  CF_SINK__CATALOG__URI: 'https://s3tables.ap-northeast-1.amazonaws.com/iceberg',
  CF_SINK__CATALOG__WAREHOUSE: 'arn:aws:s3tables:ap-northeast-1:123456789012:bucket/cryptoflow-prod',
  CF_SINK__CATALOG__NAMESPACE: 'market_data',
  CF_FLEET__TABLE: 'cryptoflow-prod-fleet',
  CF_FLEET__MODE: 'dynamic',
  CF_EGRESS__DISCOVER: 'interfaces',
  CF_HEALTH__PORT: '9103',
  CF_CONFIG: '/app/configs/prod/x.yaml',
};

/** The CF_* keys deploy/ecs and the env roots put into task environments. */
async function deploymentOverrides(): Promise<{ common: string[]; collector: string[] }> {
  const files = await loadAllTf();
  const envLocals = files.filter((f) => f.path === 'infra/envs/prod/main.tf').flatMap((f) => (f.json['locals'] as Record<string, unknown>[]) ?? []);
  const taskEnv = envLocals.map((l) => l['task_environment']).find((v) => v !== undefined) as Record<string, unknown>;
  const common = Object.keys(taskEnv).filter((k) => k.startsWith('CF_'));
  const collectorDef = blocks(files, 'resource').find((r) => r.type === 'aws_ecs_task_definition' && r.name === 'collector');
  const text = JSON.stringify(collectorDef?.body ?? {});
  const collector = [...text.matchAll(/(CF_[A-Z_]+)\s*=/g)].map((m) => m[1]!).filter((k) => k !== 'CF_CONFIG');
  return { common, collector };
}

describe('configs/dev and configs/prod', () => {
  /** deploy/ecs/main.tf `stop_timeout_seconds` (test/infra/deploy.test.ts pins it). */
  const ECS_STOP_TIMEOUT_MS = 120_000;
  for (const env of ENVS) {
    it(`${env}: one collector config per stream plus the committer, nothing else`, () => {
      const want = [...STREAMS.map((s) => `collector-${s}.yaml`), 'committer.yaml'].sort();
      expect(readdirSync(join(ROOT, 'configs', env)).sort()).toEqual(want);
    });

    for (const stream of STREAMS) {
      it(`${env}: collector-${stream} validates, names its stream, reads only its venues, serves health on 9100, runs a dynamic fleet on S3`, () => {
        const file = join(ROOT, 'configs', env, `collector-${stream}.yaml`);
        const cfg = loadCollectorConfig({ file, env: {} });
        expect(cfg.app).toBe(`collector-${stream}`);
        expect(cfg.stream).toBe(stream);
        expect(Object.keys(cfg.exchanges).sort()).toEqual([...STREAM_EXCHANGES[stream]].sort());
        expect(cfg.health.port).toBe(9100);
        expect(cfg.fleet.mode).toBe('dynamic');
        expect(cfg.egress.discover).toBe('interfaces');
        expect(cfg.sink.kind).toBe('s3');
        expect(cfg.sink.catalog?.namespace).toBe('market_data');
        expect(cfg.channels.defaults.spill_dir.startsWith('/data/')).toBe(true);
        for (const ex of Object.values(cfg.exchanges)) expect(ex?.ws_url.startsWith('wss://')).toBe(true);
        // SIGTERM: the make-before-break handover, then the drain (every buffer flushed at once, uploaded),
        // must end before ECS sends SIGKILL; 20 s are left for the drain.
        const leaveMs = cfg.fleet.leave_timeout_ms ?? cfg.fleet.lease_ms * 6;
        expect(leaveMs).toBeLessThanOrEqual(ECS_STOP_TIMEOUT_MS - 20_000);
      });
    }

    it(`${env}: committer config validates and commits every model table`, () => {
      const cfg = loadCommitterConfig({ file: join(ROOT, 'configs', env, 'committer.yaml'), env: {} });
      expect([...cfg.tables].sort()).toEqual(['funding', 'futures_delta', 'futures_ob', 'liquidations', 'spot_delta', 'spot_ob', 'trades']);
      expect(cfg.sink.commit).toBe('committer');
    });
  }

  it('the CF_* overrides the deployment injects are valid config paths for collectors and the committer', async () => {
    const { common, collector } = await deploymentOverrides();
    expect(common.length).toBeGreaterThan(5);
    expect(collector).toEqual(expect.arrayContaining(['CF_HEALTH__PORT', 'CF_FLEET__MODE', 'CF_FLEET__TABLE', 'CF_EGRESS__DISCOVER']));
    for (const k of [...common, ...collector]) expect(SAMPLE[k], `no sample value for ${k}: add one above`).toBeDefined();
    const pick = (keys: string[]) => Object.fromEntries(keys.map((k) => [k, SAMPLE[k]]));
    for (const stream of STREAMS) {
      const cfg = loadCollectorConfig({ file: join(ROOT, 'configs/prod', `collector-${stream}.yaml`), env: pick([...common, ...collector]) });
      expect(cfg.sink.s3?.bucket).toBe(SAMPLE['CF_SINK__S3__BUCKET']);
      expect(cfg.health.port).toBe(9103);
    }
    // The committer gets only the common keys (its schema has no fleet or egress).
    const committer = loadCommitterConfig({ file: join(ROOT, 'configs/prod/committer.yaml'), env: pick(common) });
    expect(committer.sink.catalog?.warehouse).toBe(SAMPLE['CF_SINK__CATALOG__WAREHOUSE']);
  });

  it('the YAML files stay readable: no tab characters', () => {
    for (const env of ENVS) {
      for (const f of readdirSync(join(ROOT, 'configs', env))) expect(readFileSync(join(ROOT, 'configs', env, f), 'utf8')).not.toContain('\t');
    }
  });
});
