// Bundles every app's src/main.ts into apps/<app>/dist/main.js (one file per app, what the images run).
// Workspace libs are bundled from source; packages with native code stay external.
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = new URL('../..', import.meta.url).pathname;
export const APPS = readdirSync(join(root, 'apps')).filter((a) =>
  existsSync(join(root, 'apps', a, 'src', 'main.ts')),
);
const external = ['@duckdb/node-api', 'classic-level', 'bufferutil', 'utf-8-validate', 'kerberos', 'snappy'];

/** Bundles one app; `outfile` defaults to apps/<app>/dist/main.js. */
export async function buildApp(app, outfile = join(root, 'apps', app, 'dist', 'main.js')) {
  await build({
    entryPoints: [join(root, 'apps', app, 'src', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    external,
    logLevel: 'warning',
    // CJS dependencies bundled into ESM need require/__dirname.
    banner: {
      js: "import { createRequire as __cfCreateRequire } from 'node:module'; import { fileURLToPath as __cfFileURLToPath } from 'node:url'; import { dirname as __cfDirname } from 'node:path'; const require = __cfCreateRequire(import.meta.url); const __filename = __cfFileURLToPath(import.meta.url); const __dirname = __cfDirname(__filename);",
    },
  });
  return outfile;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  for (const app of APPS) console.log(`built ${await buildApp(app)}`);
}
