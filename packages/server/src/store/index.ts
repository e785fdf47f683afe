export { type BlobRef, BlobStore, type PutOptions, recordBlob } from './blobs.ts';
export { type Engine, openStore, type Store, type StoreOptions } from './db.ts';
export { migrateToLatest } from './migrations.ts';
export { type EnqueueOptions, type Job, JobQueue, type JobStatus, type QueueOptions } from './queue.ts';
export type { BlobsTable, Database, JobsTable } from './types.ts';
export { type JobHandler, Worker, type WorkerOptions } from './worker.ts';
