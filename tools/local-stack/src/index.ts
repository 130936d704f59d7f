export { startLocalLake, downloadCurrentFiles } from './lake.js';
export type { LocalLake } from './lake.js';
export { queryParquet } from './query.js';
