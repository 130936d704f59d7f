// Static view of the Terraform in infra/ and deploy/: every .tf parsed with @cdktf/hcl2json (offline, no
// providers), grouped by module directory. Shared by the infra tests.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** hcl2json's shape: blocks are arrays of objects keyed by label. */
export type Json = Record<string, unknown>;

export interface TfFile {
  readonly path: string; // repo-relative
  readonly dir: string; // repo-relative module directory
  readonly json: Json;
}

export function walk(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === '.terraform' || name === 'node_modules') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p, ext));
    else if (name.endsWith(ext)) out.push(p);
  }
  return out.sort();
}

export async function parseTf(path: string, text: string): Promise<Json> {
  return (await parse(path, text)) as Json;
}

let cache: Promise<TfFile[]> | undefined;
export function loadAllTf(): Promise<TfFile[]> {
  cache ??= (async () => {
    const files = [...walk(join(ROOT, 'infra'), '.tf'), ...walk(join(ROOT, 'deploy'), '.tf')];
    const out: TfFile[] = [];
    for (const abs of files) {
      const path = relative(ROOT, abs);
      out.push({ path, dir: dirname(path), json: await parseTf(path, readFileSync(abs, 'utf8')) });
    }
    return out;
  })();
  return cache;
}

/** Every block of `kind` (resource, data, module, variable, output) as [type?, name, body, file]. */
export function blocks(files: readonly TfFile[], kind: 'resource' | 'data'): { type: string; name: string; body: Json; file: TfFile }[];
export function blocks(files: readonly TfFile[], kind: 'module' | 'variable' | 'output'): { type: ''; name: string; body: Json; file: TfFile }[];
export function blocks(files: readonly TfFile[], kind: string): { type: string; name: string; body: Json; file: TfFile }[] {
  const out: { type: string; name: string; body: Json; file: TfFile }[] = [];
  for (const file of files) {
    const section = file.json[kind] as Json | undefined;
    if (!section) continue;
    if (kind === 'resource' || kind === 'data') {
      for (const [type, byName] of Object.entries(section)) {
        for (const [name, bodies] of Object.entries(byName as Json)) {
          for (const body of bodies as Json[]) out.push({ type, name, body, file });
        }
      }
    } else {
      for (const [name, bodies] of Object.entries(section)) {
        for (const body of bodies as Json[]) out.push({ type: '', name, body, file });
      }
    }
  }
  return out;
}

/** The single nested block `key` (hcl2json wraps each in an array). */
export function sub(body: Json, key: string): Json[] {
  const v = body[key];
  return Array.isArray(v) ? (v as Json[]) : [];
}

/** Variables of the module in `dir`, with whether each is required (no default). */
export function moduleVariables(files: readonly TfFile[], dir: string): Map<string, { required: boolean; body: Json }> {
  const vars = new Map<string, { required: boolean; body: Json }>();
  for (const v of blocks(files.filter((f) => f.dir === dir), 'variable')) {
    vars.set(v.name, { required: !('default' in v.body), body: v.body });
  }
  return vars;
}
