export {
  collectorConfigSchema,
  committerConfigSchema,
  channelSettingsSchema,
  sinkSchema,
  channelSettingsFor,
  BACKPRESSURE_POLICIES,
} from './schema.js';
export type {
  CollectorConfig,
  CommitterConfig,
  ChannelSettings,
  SinkConfig,
  ExchangeEndpointConfig,
} from './schema.js';
export { loadCollectorConfig, loadCommitterConfig, loadWith } from './load.js';
export type { LoadOptions } from './load.js';
