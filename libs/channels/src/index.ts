export { BoundedChannel, jsonSpillCodec } from './channel.js';
export type {
  BackpressurePolicy,
  SpillCodec,
  ChannelOptions,
  ChannelStats,
  StatsOptions,
} from './channel.js';
export { ChannelWatcher, ENQUEUE_DELAY_BUCKETS_SECONDS } from './watcher.js';
export type { ChannelWatcherOptions } from './watcher.js';
