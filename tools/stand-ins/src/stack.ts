import { kafkaMockUnavailableReason } from '@cryptoflow/kafka-mock';
import type { KafkaMock, KafkaMockTopic } from '@cryptoflow/kafka-mock';
import { startDynamo } from './dynamo.js';
import type { LocalDynamo } from './dynamo.js';
import { createBucket, startS3 } from './s3.js';
import type { LocalS3 } from './s3.js';
import { startKafka } from './kafka.js';

export interface StartStandInsOptions {
  /** s3rver's directory. */
  readonly dir: string;
  readonly buckets?: readonly string[];
  /** Kafka topics; when absent or empty no broker is started. */
  readonly topics?: readonly KafkaMockTopic[];
  /** When true (default), a missing librdkafka skips Kafka with `kafkaSkipped` set instead of failing. */
  readonly kafkaOptional?: boolean;
}

export interface StandIns {
  readonly s3: LocalS3;
  readonly dynamo: LocalDynamo;
  readonly kafka: KafkaMock | undefined;
  /** Why Kafka did not start, when it did not. */
  readonly kafkaSkipped: string | undefined;
  /** What the CLI prints: endpoints only. */
  endpoints(): { s3: string; dynamodb: string; kafka: string[] | null; kafkaSkipped?: string };
  close(): Promise<void>;
}

export async function startStandIns(options: StartStandInsOptions): Promise<StandIns> {
  const [s3, dynamo] = await Promise.all([startS3({ dir: options.dir }), startDynamo()]);
  try {
    for (const bucket of options.buckets ?? []) await createBucket(s3.endpoint, bucket);
    let kafka: KafkaMock | undefined;
    let kafkaSkipped: string | undefined;
    if (options.topics && options.topics.length > 0) {
      const reason = options.kafkaOptional === false ? undefined : await kafkaMockUnavailableReason();
      if (reason) kafkaSkipped = reason;
      else kafka = await startKafka({ topics: options.topics });
    }
    return {
      s3,
      dynamo,
      kafka,
      kafkaSkipped,
      endpoints: () => ({
        s3: s3.endpoint,
        dynamodb: dynamo.endpoint,
        kafka: kafka ? kafka.brokers : null,
        ...(kafkaSkipped ? { kafkaSkipped } : {}),
      }),
      close: async () => {
        await Promise.all([s3.close(), dynamo.close(), kafka?.close()]);
      },
    };
  } catch (err) {
    await Promise.all([s3.close(), dynamo.close()]);
    throw err;
  }
}
