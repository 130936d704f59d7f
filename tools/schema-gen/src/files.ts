import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allTableSchemas } from '@cryptoflow/model';
import { DATA_CONTRACTS_DIR, GENERATED_BANNER, generatedFiles } from './generate.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface StaleReport {
  /** Generated files missing on disk or with other content. */
  readonly changed: string[];
  /** Files that carry the generated banner but are no longer produced (a table was renamed). */
  readonly orphaned: string[];
}

function orphans(root: string, expected: ReadonlyMap<string, string>): string[] {
  const dir = join(root, DATA_CONTRACTS_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => `${DATA_CONTRACTS_DIR}/${f}`)
    .filter((p) => p.endsWith('.md') && !expected.has(p) && readFileSync(join(root, p), 'utf8').includes(GENERATED_BANNER));
}

/** Compares what libs/model generates with the files on disk. */
export function checkGenerated(root: string = REPO_ROOT): StaleReport {
  const files = generatedFiles(allTableSchemas());
  const changed: string[] = [];
  for (const [path, content] of files) {
    const abs = join(root, path);
    if (!existsSync(abs) || readFileSync(abs, 'utf8') !== content) changed.push(path);
  }
  return { changed, orphaned: orphans(root, files) };
}

/** Writes every generated file and removes orphaned ones; returns the paths written. */
export function writeGenerated(root: string = REPO_ROOT): string[] {
  const files = generatedFiles(allTableSchemas());
  const written: string[] = [];
  for (const [path, content] of files) {
    const abs = join(root, path);
    mkdirSync(dirname(abs), { recursive: true });
    if (!existsSync(abs) || readFileSync(abs, 'utf8') !== content) {
      writeFileSync(abs, content);
      written.push(path);
    }
  }
  for (const p of orphans(root, files)) rmSync(join(root, p));
  return written;
}
