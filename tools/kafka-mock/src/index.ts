export { startKafkaMock, buildKafkaMock, kafkaMockUnavailableReason } from './kafka-mock.js';
export type { KafkaMock, KafkaMockOptions, KafkaMockTopic } from './kafka-mock.js';
