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
}

/** Every table of the node. Later roles add theirs here, and a migration for each. */
export interface Database {
  jobs: JobsTable;
  blobs: BlobsTable;
}
