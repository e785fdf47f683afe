import type { Kysely } from 'kysely';

/** Times are milliseconds since the epoch (bigint on PostgreSQL, integer on SQLite) so one schema fits both. */
export interface JobsTable {
  id: string;
  queue: string;
  /** JSON text: the job's arguments. */
  payload: string;
  status: 'ready' | 'running' | 'done' | 'dead';
  attempts: number;
  max_attempts: number;
  run_at: number;
  lease_until: number | null;
  lease_token: string | null;
  locked_by: string | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

export interface BlobsTable {
  /** `sha256:<hex>` of the content. */
  hash: string;
  size: number;
  created_at: number;
  /** The content of a blob kept in its row (up to `ROW_BLOB_BYTES`); null for one kept as a file. */
  content: Uint8Array | null;
}

export interface CoreTables {
  jobs: JobsTable;
  blobs: BlobsTable;
}

/**
 * A database handle or transaction typed with some role's tables. The store's own API (the job queue, the blob
 * store) takes any of them: each role sees its own tables, the store works on `jobs` and `blobs` underneath.
 */
// biome-ignore lint/suspicious/noExplicitAny: any role's table types; the store reads only its own tables
export type AnyDb = Kysely<any>;

/** The store's own tables in the handle a role passed. */
export function coreDb(db: AnyDb): Kysely<CoreTables> {
  return db as Kysely<CoreTables>;
}
