export {
  type BlobGcOptions,
  type BlobReference,
  type BlobSweepOptions,
  type BlobSweepResult,
  collectBlobGarbage,
  sweepUnnamedBlobs,
} from './blob-gc.ts';
export {
  type BlobRef,
  type BlobSource,
  BlobStore,
  type BlobWriter,
  diskFull,
  noteBlob,
  type PutOptions,
  ROW_BLOB_BYTES,
  recordBlob,
  type StorageArea,
  type StorageFaults,
  storeBlob,
} from './blobs.ts';
export {
  type AnyStore,
  afterCommit,
  beforeCommit,
  type Engine,
  insertAtCommit,
  isUniqueViolation,
  onSavepointRollback,
  openStore,
  type Store,
  type StoreOptions,
  savepoint,
  storeView,
  writePending,
} from './db.ts';
export {
  commitsDurable,
  durableCommits,
  WalBarrier,
  type WalFaults,
} from './durability.ts';
export {
  boundAsIs,
  columnsOf,
  type FixedStatement,
  fixedStatement,
  insertRow,
  insertRows,
} from './fixed.ts';
export { migrateToLatest } from './migrations.ts';
export {
  backoffDelay,
  type EnqueueOptions,
  type Job,
  JobQueue,
  type JobStatus,
  type QueueOptions,
} from './queue.ts';
export { type AnyDb, type BlobsTable, type CoreTables, coreDb, type JobsTable } from './types.ts';
export {
  type BatchJobHandler,
  earliestNext,
  type IdleState,
  isPermanentFailure,
  type JobContext,
  type JobHandler,
  Worker,
  type WorkerOptions,
} from './worker.ts';
