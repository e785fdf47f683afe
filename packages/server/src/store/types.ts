import type { ApTables } from '../ap/tables.ts';
import type { EasTables } from '../eas/tables.ts';
import type { EerTables } from '../eer/tables.ts';
import type { MshTables } from '../msh/tables.ts';
import type { SmpTables } from '../smp/tables.ts';

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

export interface CoreTables {
  jobs: JobsTable;
  blobs: BlobsTable;
}

/** Every table of the node: the core ones and each role's (declared in the role's `tables.ts`). */
export type Database = CoreTables & ApTables & MshTables & SmpTables & EerTables & EasTables;
