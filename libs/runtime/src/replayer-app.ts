import { existsSync } from 'node:fs';
import { loadCollectorConfig } from '@cryptoflow/config';
import type { CollectorConfig } from '@cryptoflow/config';
import { CfError } from '@cryptoflow/core';
import { isStream } from '@cryptoflow/model';
import { exitOnConfigError, runApp } from './process.js';
import { replay } from './replay.js';

const USAGE = `usage: replayer --stream <stream> --input <capture|jsonl> [--input ...] [--emit jsonl|parquet] [--out rows.jsonl]
                [--config configs/local/collector-<stream>.yaml] [--key.path=value ...]
  --emit jsonl     canonical rows as JSON Lines (default; --out required)
  --emit parquet   Parquet files under sink.dir (deterministic keys: same input, same files)`;

interface ReplayerArgs {
  stream: string;
  inputs: string[];
  emit: 'jsonl' | 'parquet';
  out: string | undefined;
  rest: string[];
}

export function parseReplayerArgs(argv: readonly string[]): ReplayerArgs {
  const args: ReplayerArgs = { stream: '', inputs: [], emit: 'jsonl', out: undefined, rest: [] };
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) problems.push(`${a}: expected a value`);
      return v ?? '';
    };
    if (a === '--stream') args.stream = value();
    else if (a === '--input') args.inputs.push(value());
    else if (a === '--out') args.out = value();
    else if (a === '--emit') {
      const v = value();
      if (v !== 'jsonl' && v !== 'parquet') problems.push(`--emit: expected jsonl or parquet, got ${v}`);
      else args.emit = v;
    } else args.rest.push(a);
  }
  if (!isStream(args.stream))
    problems.push(
      `--stream: expected one of ticks, spot-ob, spot-delta, futures-ob, futures-delta, liquidations, funding; got ${args.stream || 'nothing'}`,
    );
  if (args.inputs.length === 0) problems.push('--input: at least one recording is required');
  for (const f of args.inputs) if (!existsSync(f)) problems.push(`--input: ${f} does not exist`);
  if (args.emit === 'jsonl' && !args.out) problems.push('--out: required with --emit jsonl');
  if (problems.length > 0) {
    throw new CfError('CF_CONFIG_INVALID', `invalid arguments:\n  - ${problems.join('\n  - ')}\n${USAGE}`, {
      context: { issues: problems },
    });
  }
  return args;
}

/** `apps/replayer`: parses args, loads the stream's collector config, replays with a progress line on a terminal. */
export async function runReplayerApp(argv: readonly string[], env = process.env): Promise<void> {
  let args: ReplayerArgs;
  let config: CollectorConfig;
  try {
    args = parseReplayerArgs(argv);
    const hasConfig = args.rest.some((a) => a === '--config' || a.startsWith('--config='));
    config = loadCollectorConfig({
      file: hasConfig ? undefined : `configs/local/collector-${args.stream}.yaml`,
      env,
      argv: args.rest,
    });
  } catch (err) {
    exitOnConfigError(err);
  }
  await runApp('replayer', config.log.level === 'info' ? 'warn' : config.log.level, async (ctx) => {
    const tty = process.stderr.isTTY;
    const started = performance.now();
    const result = await replay({
      config,
      inputs: args.inputs,
      emit: args.emit,
      out: args.out,
      registry: ctx.registry,
      logger: ctx.logger,
      onProgress: (done, total) => {
        if (!tty) return;
        const s = (performance.now() - started) / 1000;
        process.stderr.write(
          `\r  ${done}/${total} items  ${Math.round(done / Math.max(s, 1e-3)).toLocaleString()} items/s`,
        );
      },
    });
    if (tty) process.stderr.write('\n');
    process.stdout.write(
      `${JSON.stringify({
        stream: config.stream,
        frames: result.frames,
        rows: result.rows,
        seconds: Number(result.seconds.toFixed(3)),
        framesPerSecond: Math.round(result.frames / result.seconds),
        decodeErrors: result.decodeErrors,
        byTable: result.byTable,
        files: result.files.length,
        out: args.out ?? config.sink.dir,
      })}\n`,
    );
  });
}
