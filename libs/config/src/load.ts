import { readFileSync } from 'node:fs';
import { parse as parseYaml, parseDocument } from 'yaml';
import type { z } from 'zod';
import { CfError } from '@cryptoflow/core';
import { EXCHANGES, STREAMS } from '@cryptoflow/model';
import { collectorConfigSchema, committerConfigSchema } from './schema.js';
import type { CollectorConfig, CommitterConfig } from './schema.js';

export interface LoadOptions {
  /** YAML file; also taken from `--config <path>` in argv or CF_CONFIG in env. */
  readonly file?: string;
  /** Inline YAML/object instead of a file (tests, generated configs). */
  readonly value?: unknown;
  /** Environment: `CF_<PATH>` with `__` between levels, e.g. CF_SINK__FLUSH_INTERVAL_MS=1000. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** CLI args: `--config path`, `--sink.flush_interval_ms=1000` or `--set sink.flush_interval_ms=1000`. */
  readonly argv?: readonly string[];
}

const ENV_PREFIX = 'CF_';

/** Loads, overrides and validates; throws one CfError listing every problem by path. */
export function loadCollectorConfig(options: LoadOptions): CollectorConfig {
  return loadWith(collectorConfigSchema, options);
}

export function loadCommitterConfig(options: LoadOptions): CommitterConfig {
  return loadWith(committerConfigSchema, options);
}

export function loadWith<S extends z.ZodType>(schema: S, options: LoadOptions): z.infer<S> {
  const { file, overrides } = readArgs(options);
  const issues: string[] = [];
  let raw: unknown = options.value ?? {};
  if (file !== undefined) raw = readYamlFile(file);
  if (typeof options.value === 'string') raw = parseYaml(options.value) as unknown;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw configError(
      [
        `(root): expected a mapping of keys, got ${raw === null ? 'null' : Array.isArray(raw) ? 'a list' : typeof raw}`,
      ],
      file,
    );
  }
  const doc = structuredClone(raw) as Record<string, unknown>;
  const topLevel = new Set(Object.keys((schema as unknown as { shape?: Record<string, unknown> }).shape ?? {}));
  for (const [path, text, source] of [...envOverrides(options.env ?? {}, topLevel), ...overrides]) {
    try {
      setPath(doc, path, parseScalar(text));
    } catch (err) {
      issues.push(`${source}: ${(err as Error).message}`);
    }
  }
  const result = schema.safeParse(doc);
  if (!result.success) {
    for (const issue of result.error.issues) issues.push(`${formatPath(issue.path)}: ${issue.message}`);
  }
  if (issues.length > 0 || !result.success) throw configError(issues, file);
  return result.data;
}

function configError(issues: string[], file: string | undefined): CfError {
  const where = file ? ` in ${file}` : '';
  return new CfError('CF_CONFIG_INVALID', `invalid config${where}:\n  - ${issues.join('\n  - ')}`, {
    context: { file, issues },
  });
}

function readYamlFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CfError('CF_CONFIG_INVALID', `cannot read config file ${file}: ${(err as Error).message}`, {
      cause: err,
      context: { file },
    });
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map(
      (e) =>
        `${e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '(yaml)'}: ${e.message.split('\n')[0]}`,
    );
    throw configError(issues, file);
  }
  return doc.toJS() as unknown;
}

type Override = readonly [path: string[], text: string, source: string];

function readArgs(options: LoadOptions): { file: string | undefined; overrides: Override[] } {
  let file = options.file ?? options.env?.['CF_CONFIG'];
  const overrides: Override[] = [];
  const argv = options.argv ?? [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--')) continue;
    let body = arg.slice(2);
    if (body === 'config' || body === 'set') {
      const next = argv[++i];
      if (next === undefined) throw configError([`flag --${body}: expected a value`], file);
      if (body === 'config') {
        file = next;
        continue;
      }
      body = next;
    } else if (body.startsWith('config=')) {
      file = body.slice('config='.length);
      continue;
    }
    const eq = body.indexOf('=');
    if (eq <= 0) throw configError([`flag --${body}: expected --key.path=value`], file);
    overrides.push([body.slice(0, eq).split('.'), body.slice(eq + 1), `flag --${body.slice(0, eq)}`]);
  }
  return { file, overrides };
}

/**
 * `CF_<KEY>__…` for the config's own top-level keys only: other CF_* variables (CF_GIT_SHA and
 * CF_VERSION set by the image build, a test's CF_CRASH_ITERATIONS) are not config and are left alone.
 */
function envOverrides(env: Readonly<Record<string, string | undefined>>, topLevel: ReadonlySet<string>): Override[] {
  const out: Override[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || name === 'CF_CONFIG' || value === undefined) continue;
    const path = name
      .slice(ENV_PREFIX.length)
      .split('__')
      .map((s) => s.toLowerCase());
    if (topLevel.size > 0 && !topLevel.has(path[0] ?? '')) continue;
    out.push([path, value, `env ${name}`]);
  }
  return out.sort((a, b) => a[2].localeCompare(b[2]));
}

/** Env names cannot hold `-`, so `binance_usdm` matches an existing key `binance-usdm`. */
function resolveKey(obj: Record<string, unknown>, segment: string): string {
  if (segment in obj) return segment;
  const norm = segment.toLowerCase().replace(/-/g, '_');
  for (const key of Object.keys(obj)) if (key.toLowerCase().replace(/-/g, '_') === norm) return key;
  return HYPHENATED_IDS.get(norm) ?? segment;
}

/** Ids that contain `-` (venue markets, streams) and may appear as map keys not yet in the file. */
const HYPHENATED_IDS = new Map(
  [...EXCHANGES, ...STREAMS].filter((id) => id.includes('-')).map((id) => [id.replace(/-/g, '_'), id]),
);

function setPath(doc: Record<string, unknown>, path: string[], value: unknown): void {
  let cur: Record<string, unknown> = doc;
  for (let i = 0; i < path.length - 1; i++) {
    const key = resolveKey(cur, path[i] ?? '');
    const next = cur[key];
    if (next === undefined) cur[key] = {};
    else if (next === null || typeof next !== 'object' || Array.isArray(next)) {
      throw new Error(`cannot set ${path.join('.')}: ${path.slice(0, i + 1).join('.')} is not a mapping`);
    }
    cur = cur[key] as Record<string, unknown>;
  }
  cur[resolveKey(cur, path[path.length - 1] ?? '')] = value;
}

/** Override values are YAML scalars: `1000` is a number, `true` a boolean, `[A, B]` a list. */
function parseScalar(text: string): unknown {
  try {
    return parseYaml(text) as unknown;
  } catch {
    return text;
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}
