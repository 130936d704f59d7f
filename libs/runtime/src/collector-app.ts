import { existsSync } from 'node:fs';
import { loadCollectorConfig } from '@cryptoflow/config';
import type { CollectorConfig } from '@cryptoflow/config';
import { CfError } from '@cryptoflow/core';
import { STREAM_TABLE } from '@cryptoflow/model';
import type { Stream } from '@cryptoflow/model';
import { buildOperators } from '@cryptoflow/normalize';
import { startCollector } from './collector.js';
import { exitOnConfigError, runApp } from './process.js';

/**
 * Entry point of every `apps/collector-*` binary. Config comes from `--config <file>` or CF_CONFIG
 * (default `configs/local/<app>.yaml`), then env CF_* and `--key.path=value` flags; an invalid config
 * prints every problem and exits 2 before anything connects.
 */
export async function runCollectorApp(
  app: string,
  stream: Stream,
  argv = process.argv.slice(2),
  env = process.env,
): Promise<void> {
  let config: CollectorConfig;
  try {
    const fallback = `configs/local/${app}.yaml`;
    const hasConfigArg =
      argv.some((a) => a === '--config' || a.startsWith('--config=')) || env['CF_CONFIG'] !== undefined;
    config = loadCollectorConfig({
      file: hasConfigArg || !existsSync(fallback) ? undefined : fallback,
      env,
      argv,
    });
    // Operator config is validated with the rest, before anything connects.
    buildOperators(config.normalize.operators, STREAM_TABLE[config.stream]);
    if (config.stream !== stream) {
      throw new CfError(
        'CF_CONFIG_INVALID',
        `invalid config:\n  - stream: ${app} collects ${stream}, the config says ${config.stream}`,
        {
          context: { issues: [`stream: expected ${stream}`] },
        },
      );
    }
  } catch (err) {
    exitOnConfigError(err);
  }
  await runApp(config.app || app, config.log.level, async (ctx) => {
    const collector = await startCollector(config, ctx);
    await new Promise<void>((resolve) =>
      ctx.shutdown.addEventListener('abort', () => resolve(), { once: true }),
    );
    const summary = await collector.stop();
    ctx.logger.info(
      { rows: summary.rows, files: summary.files.length, byTable: summary.byTable },
      'drained and flushed',
    );
  });
}
