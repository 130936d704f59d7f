// The capture format is read by libs/ingest (the replayer needs it too); re-exported here for the server.
export { parseCapture, splitCombined, formatCaptureTime } from '@cryptoflow/ingest';
export type { CaptureRecord } from '@cryptoflow/ingest';
