import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TABLE_SCHEMAS, TABLES } from '@cryptoflow/model';
import { ROOT, blocks, loadAllTf, moduleVariables, parseTf, sub } from './hcl.js';
import type { Json, TfFile } from './hcl.js';
import { checkPolicyDocument } from './iam-check.js';

const META_ARGS = new Set(['source', 'version', 'providers', 'count', 'for_each', 'depends_on']);
const EXPECTED_MODULES = ['s3tables_bucket', 's3tables_tables', 'iam_writer', 'ddb_idem', 'ecr', 'ec2_multi_eni', 'eip_attach', 'observability', 'athena', 'ssm_params'];

function localsOf(files: readonly TfFile[], dir: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const f of files.filter((x) => x.dir === dir)) {
    for (const l of (f.json['locals'] as Json[] | undefined) ?? []) for (const [k, v] of Object.entries(l)) out.set(k, v);
  }
  return out;
}

describe('terraform: structure', () => {
  it('parses every .tf under infra/ and deploy/', async () => {
    const files = await loadAllTf();
    expect(files.length).toBeGreaterThan(30);
    for (const f of files) expect(Object.keys(f.json).length, `${f.path} parsed to nothing`).toBeGreaterThan(0);
  });

  it('has every module with main.tf, variables.tf, outputs.tf and README.md', () => {
    for (const m of EXPECTED_MODULES) {
      for (const f of ['main.tf', 'variables.tf', 'outputs.tf', 'README.md']) {
        expect(existsSync(join(ROOT, 'infra/modules', m, f)), `infra/modules/${m}/${f}`).toBe(true);
      }
    }
  });

  it('every module call points at an existing module and passes each required variable and no unknown one', async () => {
    const files = await loadAllTf();
    const calls = blocks(files, 'module');
    expect(calls.length).toBeGreaterThanOrEqual(2 * 11);
    for (const call of calls) {
      const where = `${call.file.path} module "${call.name}"`;
      const source = String(call.body['source']);
      expect(source.startsWith('.'), `${where}: local source expected, got ${source}`).toBe(true);
      const dir = normalize(join(call.file.dir, source));
      expect(files.some((f) => f.dir === dir), `${where}: no .tf files in ${dir}`).toBe(true);
      const vars = moduleVariables(files, dir);
      const passed = Object.keys(call.body).filter((k) => !META_ARGS.has(k));
      for (const [name, v] of vars) {
        if (v.required) expect(passed, `${where}: required variable ${name} of ${dir} not passed`).toContain(name);
      }
      for (const arg of passed) expect(vars.has(arg), `${where}: ${dir} has no variable ${arg}`).toBe(true);
    }
  });

  it('dev and prod compose the same modules with the same arguments (differences live in terraform.tfvars)', async () => {
    const files = await loadAllTf();
    const shape = (env: string) =>
      blocks(files.filter((f) => f.dir === `infra/envs/${env}`), 'module')
        .map((m) => `${m.name}:${String(m.body['source'])}:${Object.keys(m.body).sort().join(',')}`)
        .sort();
    expect(shape('prod')).toEqual(shape('dev'));
    const used = new Set(blocks(files.filter((f) => f.dir === 'infra/envs/prod'), 'module').map((m) => String(m.body['source'])));
    for (const m of EXPECTED_MODULES) expect(used, `prod does not use ${m}`).toContain(`../../modules/${m}`);
    expect(used).toContain('../../../deploy/ecs');
  });

  it('every variable has a type and a description; every output a description', async () => {
    const files = await loadAllTf();
    for (const v of blocks(files, 'variable')) {
      const where = `${v.file.path} variable "${v.name}"`;
      expect(v.body['type'], `${where}: no type`).toBeDefined();
      expect(String(v.body['description'] ?? '').trim().length, `${where}: no description`).toBeGreaterThan(10);
    }
    for (const o of blocks(files, 'output')) {
      expect(String(o.body['description'] ?? '').length, `${o.file.path} output "${o.name}": no description`).toBeGreaterThan(5);
    }
  });

  it('every env variable without a default is set in that env\'s terraform.tfvars', async () => {
    const files = await loadAllTf();
    for (const env of ['dev', 'prod']) {
      const tfvars = await parseTf('terraform.tfvars', readFileSync(join(ROOT, 'infra/envs', env, 'terraform.tfvars'), 'utf8'));
      for (const [name, v] of moduleVariables(files, `infra/envs/${env}`)) {
        if (v.required) expect(Object.keys(tfvars), `infra/envs/${env}/terraform.tfvars misses ${name}`).toContain(name);
      }
    }
  });
});

describe('terraform: IAM least privilege', () => {
  it('no Allow statement grants a wildcard action, or "*" as resource where the resource has an ARN', async () => {
    const files = await loadAllTf();
    const docs = blocks(files, 'data').filter((d) => d.type === 'aws_iam_policy_document');
    expect(docs.length).toBeGreaterThanOrEqual(8);
    const violations = docs.flatMap((d) => {
      const locals = localsOf(files, d.file.dir);
      return checkPolicyDocument(`${d.file.path} ${d.name}`, d.body, (n) => locals.get(n));
    });
    expect(violations).toEqual([]);
  });

  it('every policy attached in Terraform comes from an aws_iam_policy_document (so the rule above sees it)', async () => {
    const files = await loadAllTf();
    const attached: [string, string, unknown][] = [];
    for (const r of blocks(files, 'resource')) {
      if (r.type === 'aws_iam_role_policy' || r.type === 'aws_s3_bucket_policy') attached.push([r.file.path, r.name, r.body['policy']]);
      if (r.type === 'aws_iam_role') attached.push([r.file.path, r.name, r.body['assume_role_policy']]);
      if (r.type === 'aws_s3tables_table_bucket_policy') attached.push([r.file.path, r.name, r.body['resource_policy']]);
    }
    expect(attached.length).toBeGreaterThan(5);
    for (const [path, name, policy] of attached) {
      expect(String(policy), `${path} ${name}`).toMatch(/^\$\{data\.aws_iam_policy_document\.[a-z_]+(\[0\])?\.json\}$/);
    }
  });

  it('the checker itself rejects broad grants (guards against a vacuous pass)', async () => {
    const bad = await parseTf(
      'bad.tf',
      `data "aws_iam_policy_document" "x" {
        statement {
          actions   = ["s3:*"]
          resources = ["arn:aws:s3:::b/*"]
        }
        statement {
          actions   = ["dynamodb:PutItem"]
          resources = ["*"]
        }
        dynamic "statement" {
          for_each = [1]
          content {
            actions   = local.acts
            resources = ["arn:aws:s3:::b"]
          }
        }
      }`,
    );
    const doc = ((bad['data'] as Json)['aws_iam_policy_document'] as Json)['x'] as Json[];
    const v = checkPolicyDocument('bad', doc[0]!, (n) => (n === 'acts' ? ['*'] : undefined));
    expect(v.map((x) => x.problem)).toEqual([
      'wildcard action s3:*',
      'resource * for dynamodb:PutItem, which accept specific ARNs',
      'wildcard action *',
    ]);
  });
});

describe('terraform: tables match libs/model', () => {
  it('declares exactly the model tables, each with identical columns (names, types, required, field ids by position)', async () => {
    const files = await loadAllTf();
    const tables = blocks(files, 'resource').filter((r) => r.type === 'aws_s3tables_table');
    expect(tables.map((t) => t.name).sort()).toEqual([...TABLES].sort());
    for (const t of tables) {
      const schema = TABLE_SCHEMAS[t.name as keyof typeof TABLE_SCHEMAS];
      expect(t.body['name']).toBe(schema.table);
      expect(t.body['format']).toBe('ICEBERG');
      const fields = sub(sub(sub(sub(t.body, 'metadata')[0] ?? {}, 'iceberg')[0] ?? {}, 'schema')[0] ?? {}, 'field');
      // S3 Tables assigns field ids 1..n in declaration order; the model's ids must be those.
      const tf = fields.map((f, i) => ({ id: i + 1, name: f['name'], type: f['type'], required: f['required'] ?? false }));
      const model = schema.columns.map((c) => ({ id: c.id, name: c.name, type: c.type, required: c.required }));
      expect(tf, `table ${t.name}`).toEqual(model);
      const lifecycle = sub(t.body, 'lifecycle')[0] ?? {};
      expect(lifecycle['prevent_destroy'], `${t.name} must not be destroyable by a plan`).toBe(true);
    }
  });
});

describe('terraform: autoscaling and alarms use the metrics contract', () => {
  const contract = JSON.parse(readFileSync(join(ROOT, 'deploy/metrics-contract.json'), 'utf8')) as {
    namespace: string;
    autoscaling: { metric: string; statistic: string };
    metrics: Record<string, { dimensions: string[]; unit: string; source: { prometheus: string } }>;
  };

  it('the contract names one autoscaling metric it defines', () => {
    expect(contract.namespace).toMatch(/^[A-Za-z0-9/_.-]+$/);
    expect(Object.keys(contract.metrics)).toContain(contract.autoscaling.metric);
  });

  it('each contract metric derives from a Prometheus metric the code really declares', () => {
    const sources = [...readdirSync(join(ROOT, 'libs'))]
      .filter((l) => existsSync(join(ROOT, 'libs', l, 'src')))
      .flatMap((l) => walkTs(join(ROOT, 'libs', l, 'src')))
      .map((p) => readFileSync(p, 'utf8'))
      .join('\n');
    for (const [name, m] of Object.entries(contract.metrics)) {
      expect(sources, `${name}: source metric ${m.source.prometheus} not declared in libs/*/src`).toContain(`'${m.source.prometheus}'`);
    }
  });

  it('every ECS target-tracking policy tracks the contract metric: namespace, name, statistic, dimensions', async () => {
    const files = await loadAllTf();
    const policies = blocks(files, 'resource').filter((r) => r.type === 'aws_appautoscaling_policy');
    expect(policies.length).toBeGreaterThan(0);
    const metric = contract.metrics[contract.autoscaling.metric]!;
    for (const p of policies) {
      expect(p.body['policy_type']).toBe('TargetTrackingScaling');
      const cfg = sub(p.body, 'target_tracking_scaling_policy_configuration')[0] ?? {};
      const spec = sub(cfg, 'customized_metric_specification')[0];
      expect(spec, `${p.file.path} ${p.name}: no customized_metric_specification`).toBeDefined();
      expect(spec!['namespace']).toBe(contract.namespace);
      expect(spec!['metric_name']).toBe(contract.autoscaling.metric);
      expect(spec!['statistic']).toBe(contract.autoscaling.statistic);
      expect(spec!['unit']).toBe(metric.unit);
      expect(sub(spec!, 'dimensions').map((d) => d['name']).sort()).toEqual([...metric.dimensions].sort());
    }
  });

  it('every CloudWatch alarm watches a contract metric with exactly its dimensions', async () => {
    const files = await loadAllTf();
    const alarms = blocks(files, 'resource').filter((r) => r.type === 'aws_cloudwatch_metric_alarm');
    expect(alarms.map((a) => a.body['metric_name']).sort()).toEqual(['ChannelDropped', 'ChannelOccupancyMax', 'CommitLatency', 'RateLimited', 'SeqGaps']);
    const namespaces = localsOf(files, 'infra/modules/observability');
    for (const a of alarms) {
      const where = `${a.file.path} ${a.name}`;
      const ns = String(a.body['namespace']).replace(/^\$\{local\.(\w+)\}$/, (_, n: string) => String(namespaces.get(n)));
      expect(ns, where).toBe(contract.namespace);
      const m = contract.metrics[String(a.body['metric_name'])];
      expect(m, `${where}: ${String(a.body['metric_name'])} is not in deploy/metrics-contract.json`).toBeDefined();
      const dims = a.body['dimensions'];
      expect(typeof dims, `${where}: dimensions must be a literal map so they can be checked`).toBe('object');
      expect(Object.keys(dims as Json).sort(), where).toEqual([...m!.dimensions].sort());
    }
  });
});

function walkTs(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walkTs(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}
