import { spawn, execFile } from 'node:child_process';
import { mkdir, rename, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CfError } from '@cryptoflow/core';

const execFileP = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(here, 'kafka-mock.c');
const BUILD_DIR = join(here, '..', '.build');
const BINARY = join(BUILD_DIR, 'kafka-mock');

export interface KafkaMockTopic {
  readonly name: string;
  readonly partitions: number;
}

export interface KafkaMockOptions {
  readonly topics: readonly KafkaMockTopic[];
  /** Number of mock brokers (default 1). Replication factor is min(brokers, 3). */
  readonly brokers?: number;
}

export interface KafkaMock {
  /** `127.0.0.1:port` of every broker, for kafkajs `brokers`. */
  readonly brokers: string[];
  /** Takes a broker down (connections are closed and refused) until `brokerUp`. Ids start at 1. */
  brokerDown(id: number): Promise<void>;
  brokerUp(id: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Compiles the C program into `.build/` when it is missing or older than its source. The binary is
 * written under a temporary name and renamed, so concurrent test processes never run a half-written file.
 */
export async function buildKafkaMock(): Promise<string> {
  const [src, bin] = await Promise.all([stat(SOURCE), stat(BINARY).catch(() => undefined)]);
  if (bin && bin.mtimeMs >= src.mtimeMs) return BINARY;
  await mkdir(BUILD_DIR, { recursive: true });
  const tmp = `${BINARY}.${process.pid}.${Date.now()}`;
  try {
    await execFileP('gcc', ['-O2', '-Wall', '-o', tmp, SOURCE, '-lrdkafka']);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new CfError('CF_INTERNAL', `kafka-mock: gcc failed (is librdkafka-dev installed? apt-get install -y librdkafka-dev): ${stderr.slice(0, 400)}`, {
      cause: err,
    });
  }
  await rename(tmp, BINARY);
  return BINARY;
}

/** Why the mock cannot run here (no gcc / no librdkafka-dev), or undefined when it can. Tests skip on a reason. */
export async function kafkaMockUnavailableReason(): Promise<string | undefined> {
  try {
    await buildKafkaMock();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

export async function startKafkaMock(options: KafkaMockOptions): Promise<KafkaMock> {
  const binary = await buildKafkaMock();
  const args = ['--brokers', String(options.brokers ?? 1)];
  for (const t of options.topics) {
    if (!/^[A-Za-z0-9._-]+$/.test(t.name) || !Number.isInteger(t.partitions) || t.partitions < 1) {
      throw new CfError('CF_CONFIG_INVALID', `kafka-mock: bad topic ${JSON.stringify(t)}: expected name [A-Za-z0-9._-]+ and partitions ≥ 1`);
    }
    args.push('--topic', `${t.name}:${t.partitions}`);
  }
  // stdin stays a pipe: the program exits on EOF, so it dies with us even after kill -9.
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-2000);
  });
  const lines = createInterface({ input: child.stdout });
  const iterator = lines[Symbol.asyncIterator]();
  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code, signal) =>
      reject(new CfError('CF_INTERNAL', `kafka-mock exited (code ${code}, signal ${signal}): ${stderr.trim()}`)),
    );
    child.once('error', (err) => reject(new CfError('CF_INTERNAL', `kafka-mock failed to start: ${err.message}`, { cause: err })));
  });
  exited.catch(() => undefined);

  const first = await Promise.race([iterator.next(), exited]);
  if (first.done) throw new CfError('CF_INTERNAL', `kafka-mock printed nothing: ${stderr.trim()}`);
  const hello = JSON.parse(first.value) as { bootstraps: string };
  const brokers = hello.bootstraps.split(',').filter((b) => b.length > 0);

  // Commands are answered in order with one `ok` line each.
  let queue: Promise<unknown> = Promise.resolve();
  const command = (line: string): Promise<void> => {
    const run = queue.then(async () => {
      child.stdin.write(`${line}\n`);
      const answer = await Promise.race([iterator.next(), exited]);
      if (answer.done || answer.value !== 'ok') throw new CfError('CF_INTERNAL', `kafka-mock: '${line}' failed: ${stderr.trim()}`);
    });
    queue = run.catch(() => undefined);
    return run;
  };

  let closing: Promise<void> | undefined;
  return {
    brokers,
    brokerDown: (id) => command(`down ${id}`),
    brokerUp: (id) => command(`up ${id}`),
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(timer);
          lines.close();
          resolve();
        });
        child.stdin.end('quit\n');
      });
      return closing;
    },
  };
}
