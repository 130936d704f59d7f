export { startLocalLake, downloadCurrentFiles, queryLake, sinkFlags, lakeLocation } from './lake.js';
export type { LocalLake, LocalLakeOptions, LakeSinkFragment, LakeLocation, LakeQueryResult } from './lake.js';
export { queryParquet } from './query.js';
