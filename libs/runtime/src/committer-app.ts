import { existsSync } from 'node:fs';
import { loadCommitterConfig } from '@cryptoflow/config';
import type { CommitterConfig } from '@cryptoflow/config';
import { startHealthServer } from '@cryptoflow/health';
import { Committer } from './committer.js';
import { emfOptionsFromEnv, startEmfPublisher } from './emf.js';
import { exitOnConfigError, runApp } from './process.js';

/** `apps/committer`: config from `--config` / CF_CONFIG (default configs/local/committer.yaml), health server, commit loop until SIGTERM. */
export async function runCommitterApp(argv = process.argv.slice(2), env = process.env): Promise<void> {
  let config: CommitterConfig;
  let emf: ReturnType<typeof emfOptionsFromEnv>;
  try {
    const fallback = 'configs/local/committer.yaml';
    const hasConfigArg =
      argv.some((a) => a === '--config' || a.startsWith('--config=')) || env['CF_CONFIG'] !== undefined;
    config = loadCommitterConfig({
      file: hasConfigArg || !existsSync(fallback) ? undefined : fallback,
      env,
      argv,
    });
    // CommitLatency (per table) reaches CloudWatch from here: in committer mode no collector commits.
    emf = emfOptionsFromEnv(env);
  } catch (err) {
    exitOnConfigError(err);
  }
  await runApp(config.app, config.log.level, async (ctx) => {
    const committer = new Committer(config, ctx);
    await committer.init();
    const health = await startHealthServer({
      host: config.health.host,
      port: config.health.port,
      registry: ctx.registry,
      version: ctx.version,
      checks: [{ name: 'committing', check: () => committer.ready() }],
    });
    ctx.logger.info({ url: health.url, tables: config.tables }, 'committer started');
    const publisher = emf ? startEmfPublisher({ ...emf, registry: ctx.registry, logger: ctx.logger }) : undefined;
    try {
      await committer.run(ctx.shutdown);
    } finally {
      health.setDraining(true);
      await health.close();
      committer.close();
      await publisher?.stop();
    }
    ctx.logger.info(committer.stats, 'committer stopped');
  });
}
