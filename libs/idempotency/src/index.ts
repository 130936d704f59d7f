export { FileLedger, UNCOMMITTED_INDEX } from './ledger.js';
export type { FileLedgerOptions, FileState, LedgerEntry, LedgerEntryInput, SeenOrPutResult } from './ledger.js';
export { LeaseStore } from './lease.js';
export type { Lease } from './lease.js';
export { DEFAULT_CALL_POLICY } from './retry.js';
export type { CallPolicy } from './retry.js';
export { isRetriableAwsError, isConditionalCheckFailed } from './dynamo-errors.js';
