import { startKafkaMock } from '@cryptoflow/kafka-mock';
import type { KafkaMock, KafkaMockTopic } from '@cryptoflow/kafka-mock';

export interface StartKafkaOptions {
  readonly topics: readonly KafkaMockTopic[];
  readonly brokers?: number;
}

/** librdkafka's mock cluster (see tools/kafka-mock); needs librdkafka-dev and gcc on the machine. */
export function startKafka(options: StartKafkaOptions): Promise<KafkaMock> {
  return startKafkaMock(options);
}
