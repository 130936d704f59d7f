#!/usr/bin/env -S npx tsx
// `gen` writes the Terraform tables and data-contract docs from libs/model; `--check` exits 1 when they are stale.
import { checkGenerated, writeGenerated } from './files.js';

if (process.argv.includes('--check')) {
  const { changed, orphaned } = checkGenerated();
  if (changed.length + orphaned.length > 0) {
    for (const p of changed) console.error(`stale: ${p}`);
    for (const p of orphaned) console.error(`orphaned: ${p}`);
    console.error('run: npm run -w @cryptoflow/schema-gen gen');
    process.exit(1);
  }
  console.log('generated files are current');
} else {
  const written = writeGenerated();
  console.log(written.length === 0 ? 'generated files already current' : written.map((p) => `wrote ${p}`).join('\n'));
}
