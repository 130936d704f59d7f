export { KafkaRowSink } from './row-sink.js';
export type { KafkaRowSinkOptions } from './row-sink.js';
