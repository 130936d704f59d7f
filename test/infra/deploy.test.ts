import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { STREAMS } from '@cryptoflow/model';
import { ROOT, blocks, loadAllTf, parseTf } from './hcl.js';
import type { Json } from './hcl.js';

const APPS = readdirSync(join(ROOT, 'apps'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(ROOT, 'apps', d.name, 'package.json')))
  .map((d) => d.name)
  .sort();
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const contract = JSON.parse(read('deploy/metrics-contract.json')) as { metrics: Record<string, { source: { prometheus: string } }>; autoscaling: { metric: string } };

describe('images', () => {
  it('knows the apps', () => {
    expect(APPS).toEqual([...STREAMS.map((s) => `collector-${s}`), 'committer', 'replayer'].sort());
  });

  it('the build bundles every app into apps/<app>/dist/main.js (the path the image copies)', async () => {
    const build = read('tools/build/build.mjs');
    // The default output of buildApp(app) is the path the Dockerfile copies.
    expect(build).toMatch(/outfile = join\(root, 'apps', app, 'dist', 'main\.js'\)/);
    const { APPS: built } = (await import(join(ROOT, 'tools/build/build.mjs'))) as { APPS: string[] };
    const missing = APPS.filter((a) => !built.includes(a));
    expect(missing, `apps without src/main.ts are not bundled, so their images have no entry point: ${missing.join(', ')}`).toEqual([]);
  });

  it('after a build, every image entry point exists (skipped per app when apps/<app>/dist is absent)', () => {
    const built = APPS.filter((a) => existsSync(join(ROOT, 'apps', a, 'dist')));
    for (const a of built) expect(existsSync(join(ROOT, 'apps', a, 'dist', 'main.js')), `apps/${a}/dist/main.js`).toBe(true);
    if (built.length === 0) console.info('test/infra: no apps/*/dist yet (run `npm run build`); entry points checked through the build config only');
  });

  it('the Dockerfile is multi-stage, runs distroless Node 20 as non-root, checks /live without a shell', () => {
    const df = read('deploy/docker/Dockerfile');
    const froms = [...df.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]!);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(froms.at(-1)).toMatch(/^gcr\.io\/distroless\/nodejs20-debian12(:nonroot)?$/);
    const runtime = df.slice(df.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/^USER (nonroot|65532)/m);
    expect(runtime).not.toMatch(/^RUN /m); // no shell in distroless
    expect(runtime).toMatch(/^COPY --from=build \/src\/apps\/\$\{APP\}\/dist\/ \/app\/dist\/$/m);
    expect(runtime).toMatch(/^CMD \["\/app\/dist\/main\.js"\]$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*CMD \["\/nodejs\/bin\/node", "\/app\/healthcheck\.mjs"\]$/m);
    expect(runtime).toContain('COPY deploy/docker/healthcheck.mjs /app/healthcheck.mjs');
    expect(read('deploy/docker/healthcheck.mjs')).toContain('/live');
  });

  it('every app has a bake target building the runtime stage with APP set, and the default group builds them all', async () => {
    const bake = await parseTf('docker-bake.hcl', read('deploy/docker/docker-bake.hcl'));
    const targets = bake['target'] as Record<string, Json[]>;
    const group = ((bake['group'] as Record<string, Json[]>)['default'] ?? [])[0] ?? {};
    expect([...(group['targets'] as string[])].sort()).toEqual(APPS);
    for (const app of APPS) {
      const t = targets[app]?.[0];
      expect(t, `no bake target ${app}`).toBeDefined();
      expect((t!['args'] as Json)['APP']).toBe(app);
      expect(t!['inherits']).toEqual(['_base']);
    }
    expect(targets['_base']?.[0]?.['dockerfile']).toBe('deploy/docker/Dockerfile');
  });
});

describe('deploy/ecs', () => {
  it('runs a service for every stream in both envs, plus the committer service and the replayer task', async () => {
    for (const env of ['dev', 'prod']) {
      const tfvars = await parseTf('t.tfvars', read(`infra/envs/${env}/terraform.tfvars`));
      const streams = tfvars['streams'] as Record<string, { health_port: number; max_replicas: number }>;
      expect(Object.keys(streams).sort(), env).toEqual([...STREAMS].sort());
      const ports = Object.values(streams).map((s) => s.health_port);
      expect(new Set(ports).size, `${env}: host networking needs a distinct health port per stream`).toBe(ports.length);
      const maxReplicas = Math.max(...Object.values(streams).map((s) => s.max_replicas));
      expect(tfvars['host_count'] as number, `${env}: one task per host per stream, plus a spare`).toBeGreaterThan(maxReplicas);
    }
    const files = await loadAllTf();
    const ecs = blocks(files.filter((f) => f.dir === 'deploy/ecs'), 'resource');
    const names = ecs.map((r) => `${r.type}.${r.name}`);
    expect(names).toEqual(
      expect.arrayContaining(['aws_ecs_service.collector', 'aws_ecs_service.committer', 'aws_ecs_task_definition.replayer', 'aws_appautoscaling_policy.occupancy']),
    );
  });

  it('gives every container the ECS maximum stop timeout (120 s) to drain and flush, and the /live check', async () => {
    const files = await loadAllTf();
    const ecsFiles = files.filter((f) => f.dir === 'deploy/ecs');
    const locals = ecsFiles.flatMap((f) => (f.json['locals'] as Json[] | undefined) ?? []);
    expect(locals.find((l) => 'stop_timeout_seconds' in l)?.['stop_timeout_seconds']).toBe(120);
    const defs = blocks(ecsFiles, 'resource').filter((r) => r.type === 'aws_ecs_task_definition');
    expect(defs).toHaveLength(3);
    for (const d of defs) {
      const cd = String(d.body['container_definitions']);
      expect(cd, d.name).toContain('stopTimeout = local.stop_timeout_seconds');
    }
    const hc = JSON.stringify(locals.find((l) => 'health_check' in l)?.['health_check']);
    expect(hc).toContain('/app/healthcheck.mjs');
  });

  it('every container publishes the EMF metrics (the autoscaling metric and the alarms read them) in its env', async () => {
    const files = await loadAllTf();
    const ecsFiles = files.filter((f) => f.dir === 'deploy/ecs');
    const locals = ecsFiles.flatMap((f) => (f.json['locals'] as Json[] | undefined) ?? []);
    const env = String(locals.find((l) => 'base_environment' in l)?.['base_environment']);
    expect(env).toMatch(/CRYPTOFLOW_EMF *= *"?1/);
    expect(env).toContain('CRYPTOFLOW_ENV');
    const defs = blocks(ecsFiles, 'resource').filter((r) => r.type === 'aws_ecs_task_definition');
    for (const d of defs) expect(String(d.body['container_definitions']), d.name).toContain('local.base_environment');
  });
});

describe('deploy/k8s, compose, systemd', () => {
  const base = read('deploy/k8s/base/kustomization.yaml');
  const docs = (parseYaml(base) as { resources: string[] }).resources.flatMap((r) =>
    parseAllDocuments(read(`deploy/k8s/base/${r}`)).map((d) => d.toJS() as Json & { kind: string; metadata: { name: string }; spec: Json }),
  );

  it('base has a hardened Deployment with /live and /ready probes for every collector and the committer', () => {
    const deployments = docs.filter((d) => d.kind === 'Deployment');
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual([...STREAMS.map((s) => `collector-${s}`), 'committer'].sort());
    for (const d of deployments) {
      const pod = ((d.spec['template'] as Json)['spec'] ?? {}) as Json & { containers: Json[] };
      expect((pod['securityContext'] as Json)['runAsNonRoot']).toBe(true);
      expect(pod['terminationGracePeriodSeconds'] as number).toBeGreaterThanOrEqual(120);
      const c = pod.containers[0]!;
      expect(((c['livenessProbe'] as Json)['httpGet'] as Json)['path']).toBe('/live');
      expect(((c['readinessProbe'] as Json)['httpGet'] as Json)['path']).toBe('/ready');
      expect(String(c['image'])).toBe(`cryptoflow/${d.metadata.name}:latest`);
    }
  });

  it('every collector has an HPA on the adapter metric derived from the contract\'s source metric', () => {
    const hpas = docs.filter((d) => d.kind === 'HorizontalPodAutoscaler');
    expect(hpas.map((h) => h.metadata.name).sort()).toEqual(STREAMS.map((s) => `collector-${s}`).sort());
    const adapter = read('deploy/k8s/prometheus-adapter-rules.yaml');
    const source = contract.metrics[contract.autoscaling.metric]!.source.prometheus;
    expect(adapter).toContain(`seriesQuery: '${source}{`);
    for (const h of hpas) {
      const metric = ((h.spec['metrics'] as Json[])[0]!['pods'] as Json)['metric'] as Json;
      expect(metric['name']).toBe('cryptoflow_channel_occupancy_max');
      expect(adapter).toContain(`as: ${String(metric['name'])}`);
    }
  });

  it('both overlays pin an image for every Deployment', () => {
    for (const env of ['dev', 'prod']) {
      const k = parseYaml(read(`deploy/k8s/overlays/${env}/kustomization.yaml`)) as { images: { name: string }[]; resources: string[] };
      expect(k.resources).toContain('../../base');
      expect(k.images.map((i) => i.name).sort()).toEqual([...STREAMS.map((s) => `cryptoflow/collector-${s}`), 'cryptoflow/committer'].sort());
    }
  });

  it('compose builds every app from the shared Dockerfile with its APP and a 120 s stop grace', () => {
    const c = parseYaml(read('deploy/compose/compose.yaml'), { merge: true }) as { services: Record<string, Json> };
    expect(Object.keys(c.services).sort()).toEqual(APPS);
    for (const [name, s] of Object.entries(c.services)) {
      const build = s['build'] as Json;
      expect(build['dockerfile']).toBe('deploy/docker/Dockerfile');
      expect((build['args'] as Json)['APP']).toBe(name);
      expect(s['stop_grace_period']).toBe('120s');
    }
  });

  it('the systemd unit runs the bundle and waits for the drain', () => {
    const unit = read('deploy/systemd/cryptoflow@.service');
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node .*\/opt\/cryptoflow\/%i\/dist\/main\.js$/m);
    expect(Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1])).toBeGreaterThanOrEqual(120);
    expect(unit).toMatch(/^User=cryptoflow$/m);
  });
});
