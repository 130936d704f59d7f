/**
 * `npm run bench`: runs every benchmark in one process and prints its figures.
 * A benchmark is a module under libs/<lib>/bench/ or test/bench/ named *.bench.ts exporting
 * `run(): Promise<Record<string, number | string>>`. Pass name filters to run a subset:
 * `npm run bench -- parquet book`.
 */
import { readdirSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '..', '..');
const filters = process.argv.slice(2);

function benchFiles(): string[] {
  const files: string[] = [];
  for (const group of ['libs', 'tools', 'apps']) {
    for (const pkg of readdirSync(join(root, group))) {
      const dir = join(root, group, pkg, 'bench');
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir)) if (f.endsWith('.bench.ts')) files.push(join(dir, f));
    }
  }
  for (const f of readdirSync(join(root, 'test', 'bench'))) if (f.endsWith('.bench.ts')) files.push(join(root, 'test', 'bench', f));
  return files.filter((f) => filters.length === 0 || filters.some((flt) => f.includes(flt))).sort();
}

const format = (v: number | string): string =>
  typeof v === 'number' ? (Number.isInteger(v) ? v.toLocaleString('en-US') : v.toLocaleString('en-US', { maximumFractionDigits: 3 })) : v;

let failed = 0;
console.log(`CryptoFlow benchmarks — node ${process.version}, ${process.platform}/${process.arch}\n`);
for (const file of benchFiles()) {
  const name = relative(root, file);
  const mod = (await import(pathToFileURL(file).href)) as { run?: () => Promise<Record<string, number | string>> };
  if (typeof mod.run !== 'function') {
    console.log(`${name}: no run() export, skipped`);
    continue;
  }
  const started = performance.now();
  try {
    const figures = await mod.run();
    console.log(`## ${name} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    const width = Math.max(...Object.keys(figures).map((k) => k.length));
    for (const [k, v] of Object.entries(figures)) console.log(`  ${k.padEnd(width)}  ${format(v)}`);
    console.log('');
  } catch (err) {
    failed++;
    console.log(`## ${name} FAILED: ${(err as Error).stack ?? String(err)}\n`);
  }
}
console.log(`peak RSS of the bench process: ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MiB`);
if (failed > 0) process.exitCode = 1;
