import { pino } from 'pino';
import type { Logger, LoggerOptions } from 'pino';

export type { Logger };

/** Keys whose values never reach a log line, wherever they appear (two levels deep). */
export const REDACT_PATHS = [
  'apiKey', 'apiSecret', 'secret', 'password', 'token', 'authorization', 'accessKeyId', 'secretAccessKey', 'sessionToken',
  '*.apiKey', '*.apiSecret', '*.secret', '*.password', '*.token', '*.authorization', '*.accessKeyId', '*.secretAccessKey', '*.sessionToken',
  'headers.authorization', 'headers["x-mbx-apikey"]', 'headers["x-amz-security-token"]',
];

export interface CreateLoggerOptions {
  readonly app: string;
  readonly level?: string;
  readonly version?: string;
  /** Where lines go; default stdout. Tests pass a stream to read lines back. */
  readonly destination?: NodeJS.WritableStream;
}

export function createLogger(options: CreateLoggerOptions): Logger {
  const pinoOptions: LoggerOptions = {
    level: options.level ?? 'info',
    base: { app: options.app, version: options.version ?? 'dev', pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return options.destination ? pino(pinoOptions, options.destination as pino.DestinationStream) : pino(pinoOptions);
}

export interface ConnectionBindings {
  readonly exchange: string;
  readonly stream: string;
  readonly shard: number;
  readonly conn: string;
}

/**
 * One child per connection so every line about a socket carries who it is. Keys the parent already binds
 * are not bound again: pino would print them twice on every line.
 */
export function connectionLogger(parent: Logger, bindings: ConnectionBindings): Logger {
  const bound = parent.bindings();
  const fresh: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(bindings)) if (!(k in bound)) fresh[k] = v;
  return parent.child(fresh);
}

/**
 * Logs a given key once (per process, per logger): bad input can arrive thousands of times a second,
 * the counter carries the rate, the log carries one example.
 */
export class OnceLogger {
  private readonly seen = new Set<string>();
  constructor(private readonly logger: Logger, private readonly maxKeys = 10_000) {}

  warn(key: string, obj: Record<string, unknown>, msg: string): boolean {
    if (this.seen.has(key) || this.seen.size >= this.maxKeys) return false;
    this.seen.add(key);
    this.logger.warn(obj, msg);
    return true;
  }
}
