#!/usr/bin/env -S npx tsx
// `gen` writes the Terraform tables and data-contract docs from libs/model; `--check` exits 1 when they are stale.
import { TABLE_SCHEMAS, isTableName } from '@cryptoflow/model';
import { checkGenerated, writeGenerated } from './files.js';
import { partitionSpecUpdate } from './generate.js';

const [command, table, uuid] = process.argv.slice(2);
if (command === 'partition-update') {
  // cf-schema-gen partition-update <table> <table-uuid>: prints the REST commit body (docs/operations/deploy.md).
  if (!table || !isTableName(table) || !uuid) {
    console.error('usage: cf-schema-gen partition-update <table> <table-uuid>');
    process.exit(2);
  }
  console.log(JSON.stringify(partitionSpecUpdate(TABLE_SCHEMAS[table], uuid), null, 2));
} else if (process.argv.includes('--check')) {
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
