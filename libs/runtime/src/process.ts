import { CfError, isCfError } from '@cryptoflow/core';
import { createLogger } from '@cryptoflow/logger';
import type { Logger } from '@cryptoflow/logger';
import { createRegistry } from '@cryptoflow/metrics';
import type { Registry } from '@cryptoflow/metrics';
import { resolveVersion } from '@cryptoflow/health';
import type { VersionInfo } from '@cryptoflow/health';

export interface AppContext {
  readonly app: string;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly version: VersionInfo;
  /** Aborted on SIGTERM/SIGINT: the app drains and flushes, then `run` resolves. */
  readonly shutdown: AbortSignal;
}

export interface AppRunner {
  /** Starts the app; resolves when it has fully stopped after `shutdown` aborted (or on its own). */
  (ctx: AppContext): Promise<void>;
}

/**
 * The one place a binary touches the process: signals, exit codes, top-level errors.
 * A config error prints every problem and exits 2 before anything starts; a crash exits 1;
 * a clean drain after SIGTERM exits 0. A second signal forces exit (operator asked twice).
 */
export async function runApp(app: string, level: string, runner: AppRunner): Promise<void> {
  // The AWS SDK prints a Node 22 notice on every client; the deployment docs carry it once instead.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const version = resolveVersion(app);
  const logger = createLogger({ app, level, version: `${version.version}+${version.gitSha}` });
  const registry = createRegistry({ app, version: version.version, processMetrics: true });
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      logger.error({ signal }, 'second signal: exiting without finishing the drain');
      process.exit(130);
    }
    logger.info({ signal }, 'shutdown requested: draining channels and flushing files');
    controller.abort(new CfError('CF_INTERNAL', `received ${signal}`));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await runner({ app, logger, registry, version, shutdown: controller.signal });
    logger.info('stopped cleanly');
  } catch (err) {
    logger.fatal({ err: describeError(err) }, 'stopped on error');
    process.exitCode = isCfError(err, 'CF_CONFIG_INVALID') ? 2 : 1;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

export function describeError(err: unknown): Record<string, unknown> {
  if (err instanceof CfError) return { ...err.toJSON(), stack: err.stack };
  if (err instanceof Error) return { message: err.message, stack: err.stack };
  return { message: String(err) };
}

/** Config errors go to stderr plainly (not JSON) so a person reads every problem at once. */
export function exitOnConfigError(err: unknown): never {
  if (isCfError(err, 'CF_CONFIG_INVALID')) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
