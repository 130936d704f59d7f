import { Kafka, Partitioners, logLevel as KafkaLogLevel } from 'kafkajs';
import type { KafkaConfig, LogEntry, Message, Producer, TopicMessages } from 'kafkajs';
import { CfError, backoffDelayMs, sleep } from '@cryptoflow/core';
import type { BackoffPolicy } from '@cryptoflow/core';
import type { Logger } from '@cryptoflow/logger';
import { counter, gauge, histogram } from '@cryptoflow/metrics';
import type { Counter, Gauge, Histogram, Registry } from '@cryptoflow/metrics';
import type { CanonicalRow } from '@cryptoflow/model';

export interface KafkaRowSinkOptions {
  readonly brokers: readonly string[];
  /** Topic name; `{table}` is replaced by the row's table (`cf.{table}` → `cf.trades`). */
  readonly topic: string;
  readonly clientId: string;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Constant labels on the kafka_* metrics. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Rows per produce request at most (default 5,000). */
  readonly maxBatchRows?: number;
  /** Rows held while Kafka is slow or down; beyond it new rows are dropped and counted (default 200,000). */
  readonly maxBufferedRows?: number;
  /** Wait this long after the first row of an idle buffer before sending, to fill batches (default 0: next turn of the event loop). */
  readonly lingerMs?: number;
  /** Backoff between attempts of a failed batch (after kafkajs' own retries). */
  readonly backoff?: BackoffPolicy;
  /** Per-request timeout and kafkajs retry settings. */
  readonly requestTimeoutMs?: number;
  readonly connectionTimeoutMs?: number;
  readonly kafkajsRetries?: number;
  /** Extra kafkajs client settings (ssl, sasl) for real clusters. */
  readonly kafka?: Partial<Pick<KafkaConfig, 'ssl' | 'sasl'>>;
}

const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 100, maxMs: 5_000, factor: 2 };

/**
 * Only a broker's definite, non-retriable protocol answer (message too large, not authorized, invalid
 * topic...) stops the sink. Connection loss, timeouts and kafkajs giving up its own retries are
 * retried forever: the broker comes back and the batch goes out in order.
 */
function isFatalKafkaError(err: unknown): boolean {
  for (let e = err as { name?: string; retriable?: boolean; cause?: unknown; originalError?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.name === 'KafkaJSProtocolError' && e.retriable === false) return true;
    e = (e.originalError ?? e.cause) as typeof e;
  }
  return false;
}

function kafkaLogLevelToPino(level: number): 'error' | 'warn' | 'info' | 'debug' {
  switch (level) {
    case KafkaLogLevel.ERROR:
    case KafkaLogLevel.NOTHING:
      return 'error';
    case KafkaLogLevel.WARN:
      return 'warn';
    case KafkaLogLevel.INFO:
      return 'info';
    default:
      return 'debug';
  }
}

/**
 * Optional real-time sink: canonical rows as JSON to Kafka, keyed `exchange|symbol` so every row of a
 * symbol lands in one partition, in the order written.
 *
 * - `write(row)` is synchronous and cheap: rows go to a queue; one drain loop sends them with
 *   `acks: -1` in batches of up to `maxBatchRows`, so rows that arrive while a request is in flight
 *   ride the next request (batching across awaits, never one send per row).
 * - Order: exactly one produce request is in flight (`maxInFlightRequests: 1`), and a failed batch is
 *   retried (with backoff) before anything after it, so per-key order holds through broker failures.
 * - Bounded memory: past `maxBufferedRows` new rows are dropped (order of what is kept holds) and counted in
 *   `kafka_rows_dropped_total`. Kafka is the real-time side channel; the lake (S3 + Iceberg) is the
 *   record and never depends on it.
 *
 * Not the kafkajs idempotent producer: the librdkafka mock we test against does not support it
 * through kafkajs, and with one request in flight retries do not reorder. A retried request whose
 * first attempt landed can duplicate rows in Kafka; consumers dedupe on the row's natural key.
 */
export class KafkaRowSink {
  private readonly producer: Producer;
  private readonly topic: string;
  private readonly perTable: boolean;
  private readonly logger: Logger;
  private readonly maxBatch: number;
  private readonly maxBuffered: number;
  private readonly lingerMs: number;
  private readonly backoff: BackoffPolicy;
  private readonly labels: Readonly<Record<string, string>>;
  private readonly produced: Counter<string>;
  private readonly errors: Counter<string>;
  private readonly dropped: Counter<string>;
  private readonly buffered: Gauge<string>;
  private readonly batchRows: Histogram<string>;
  private readonly sendSeconds: Histogram<string>;

  // Queue as an array with a moving head: no per-row allocation beyond the array slot.
  private queue: (CanonicalRow | undefined)[] = [];
  private head = 0;
  private draining: Promise<void> | undefined;
  private scheduled = false;
  private started = false;
  private closed = false;
  private fatal: CfError | undefined;
  private waiters: (() => void)[] = [];
  private droppedSinceLog = 0;

  constructor(options: KafkaRowSinkOptions) {
    if (options.brokers.length === 0) throw new CfError('CF_CONFIG_INVALID', 'kafka.brokers: expected at least one broker');
    if (!options.topic) throw new CfError('CF_CONFIG_INVALID', 'kafka.topic: expected a topic name');
    this.topic = options.topic;
    this.perTable = options.topic.includes('{table}');
    this.maxBatch = options.maxBatchRows ?? 5_000;
    this.maxBuffered = options.maxBufferedRows ?? 200_000;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) throw new CfError('CF_CONFIG_INVALID', `kafka.maxBatchRows: expected a positive integer, got ${options.maxBatchRows}`);
    if (!Number.isInteger(this.maxBuffered) || this.maxBuffered < this.maxBatch) {
      throw new CfError('CF_CONFIG_INVALID', `kafka.maxBufferedRows: expected an integer ≥ maxBatchRows (${this.maxBatch}), got ${options.maxBufferedRows}`);
    }
    this.lingerMs = options.lingerMs ?? 0;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.labels = options.labels ?? {};
    this.logger = options.logger.child({ component: 'kafka-sink', topic: options.topic });

    const names = Object.keys(this.labels).sort();
    const r = options.registry;
    this.produced = counter(r, 'kafka_rows_produced_total', 'Rows acknowledged by Kafka (acks=-1).', [...names, 'table']);
    this.errors = counter(r, 'kafka_produce_errors_total', 'Failed produce requests (the batch is retried).', [...names, 'reason']);
    this.dropped = counter(r, 'kafka_rows_dropped_total', 'Rows dropped because the Kafka buffer was full.', names);
    this.buffered = gauge(r, 'kafka_buffered_rows', 'Rows waiting to be produced.', names);
    this.batchRows = histogram(r, 'kafka_produce_batch_rows', 'Rows per produce request.', names, [1, 10, 100, 500, 1_000, 5_000, 10_000, 50_000]);
    this.sendSeconds = histogram(r, 'kafka_produce_duration_seconds', 'Produce request latency (until all replicas acked).', names);

    const logger = this.logger;
    const kafka = new Kafka({
      clientId: options.clientId,
      brokers: [...options.brokers],
      connectionTimeout: options.connectionTimeoutMs ?? 3_000,
      requestTimeout: options.requestTimeoutMs ?? 30_000,
      retry: { retries: options.kafkajsRetries ?? 5, initialRetryTime: 100, maxRetryTime: 5_000 },
      logLevel: KafkaLogLevel.WARN,
      logCreator: () => (entry: LogEntry) => {
        const { message, ...extra } = entry.log;
        logger[kafkaLogLevelToPino(entry.level)]({ kafka: entry.namespace, ...extra }, String(message));
      },
      ...(options.kafka ?? {}),
    });
    this.producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      maxInFlightRequests: 1,
      idempotent: false,
      allowAutoTopicCreation: false,
    });
  }

  async start(): Promise<void> {
    if (this.started) return;
    await this.producer.connect();
    this.started = true;
    this.logger.info('kafka producer connected');
    this.schedule();
  }

  /** Queues a row; never blocks. Throws once the sink is closed or has failed for good. */
  write(row: CanonicalRow): void {
    if (this.closed) throw new CfError('CF_CHANNEL_CLOSED', 'KafkaRowSink.write after close');
    if (this.fatal) throw this.fatal;
    if (this.queue.length - this.head >= this.maxBuffered) {
      this.drop();
      return;
    }
    this.queue.push(row);
    this.schedule();
  }

  writeMany(rows: readonly CanonicalRow[]): void {
    for (let i = 0; i < rows.length; i++) this.write(rows[i] as CanonicalRow);
  }

  /** Rows queued and not yet acknowledged. */
  get pending(): number {
    return this.queue.length - this.head;
  }

  /** Resolves when every row written so far is acknowledged by Kafka. */
  async flush(): Promise<void> {
    if (this.fatal) throw this.fatal;
    if (this.pending === 0 && !this.draining) return;
    await new Promise<void>((resolve) => {
      this.waiters.push(resolve);
      this.schedule();
    });
    if (this.fatal) throw this.fatal;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.started) await this.flush().catch(() => undefined);
    this.closed = true;
    await this.producer.disconnect();
    this.logger.info({ unsent: this.pending }, 'kafka producer closed');
  }

  private schedule(): void {
    if (this.scheduled || this.draining || !this.started) return;
    this.scheduled = true;
    const run = (): void => {
      this.scheduled = false;
      this.draining = this.drain().finally(() => {
        this.draining = undefined;
        if (this.pending > 0 && !this.closed) this.schedule();
        else this.wake();
      });
    };
    if (this.lingerMs > 0) setTimeout(run, this.lingerMs);
    else setImmediate(run);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private async drain(): Promise<void> {
    let attempt = 0;
    while (this.pending > 0) {
      this.buffered.set(this.labels, this.pending);
      const end = Math.min(this.queue.length, this.head + this.maxBatch);
      const batch = this.buildBatch(this.head, end);
      const stop = this.sendSeconds.startTimer(this.labels);
      try {
        await this.producer.sendBatch({ topicMessages: batch.topicMessages, acks: -1 });
      } catch (err) {
        stop();
        const reason = (err as { name?: string }).name ?? 'Error';
        this.errors.inc({ ...this.labels, reason });
        if (isFatalKafkaError(err)) {
          this.fatal = new CfError('CF_EGRESS', `kafka produce to ${this.topic} failed for good: ${(err as Error).message}`, { cause: err, context: { reason } });
          this.logger.error({ err: (err as Error).message, reason }, 'kafka produce failed for good; the Kafka sink stops');
          this.wake();
          return;
        }
        this.logger.warn({ err: (err as Error).message, reason, rows: end - this.head, attempt }, 'kafka produce failed; retrying the batch');
        if (this.closed) return;
        await sleep(backoffDelayMs(attempt++, this.backoff));
        continue;
      }
      stop();
      attempt = 0;
      // Rows leave the queue only once acknowledged.
      for (let i = batch.start; i < end; i++) this.queue[i] = undefined;
      this.head = end;
      for (const [table, n] of batch.perTable) this.produced.inc({ ...this.labels, table }, n);
      this.batchRows.observe(this.labels, batch.count);
      this.compact();
    }
  }

  private buildBatch(start: number, end: number): { start: number; count: number; topicMessages: TopicMessages[]; perTable: Map<string, number> } {
    const byTopic = new Map<string, Message[]>();
    const perTable = new Map<string, number>();
    let count = 0;
    for (let i = start; i < end; i++) {
      const row = this.queue[i];
      if (row === undefined) continue;
      const topic = this.perTable ? this.topic.replaceAll('{table}', row.table) : this.topic;
      let messages = byTopic.get(topic);
      if (!messages) byTopic.set(topic, (messages = []));
      messages.push({ key: `${row.exchange}|${row.symbol}`, value: JSON.stringify(row), headers: { table: row.table } });
      perTable.set(row.table, (perTable.get(row.table) ?? 0) + 1);
      count++;
    }
    const topicMessages: TopicMessages[] = [];
    for (const [topic, messages] of byTopic) topicMessages.push({ topic, messages });
    return { start, count, topicMessages, perTable };
  }

  private drop(): void {
    this.dropped.inc(this.labels);
    if (this.droppedSinceLog++ % 10_000 === 0) this.logger.warn({ maxBufferedRows: this.maxBuffered }, 'kafka buffer full: dropping new rows');
  }

  /** Called only between produce requests: no batch holds queue indexes then. */
  private compact(): void {
    this.buffered.set(this.labels, this.pending);
    // Reclaim the acknowledged prefix once it dominates, so the array does not grow without bound.
    if (this.head > 65_536 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
