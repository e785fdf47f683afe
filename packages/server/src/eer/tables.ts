import type { Store } from '../store/index.ts';
/** Tables of the eer role (times in epoch milliseconds, as in store/types.ts). Migrations: ./migrations.ts. */

/** The current version of each resource (a deleted one keeps its row, `deleted` = 1, so a read answers 410). */
export interface EerResourcesTable {
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: number;
  /** 1 when the current version is a deletion. */
  deleted: number;
  /** JSON text of the resource (with meta.versionId and meta.lastUpdated); null when deleted. */
  content: string | null;
}

/** Every version of every resource, the current one included (FHIR R4 http.html §3.1.0.12 `_history`). */
export interface EerHistoryTable {
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: number;
  /** The interaction that made this version: POST (create), PUT (update) or DELETE. */
  method: string;
  deleted: number;
  content: string | null;
}

/**
 * Search index of the current versions: one row per (parameter, value) of a resource. Token parameters keep
 * `system` ('' when the value has none) and `value`; reference parameters keep `Type/id` in `value`; string
 * parameters keep the lower-cased text in `value`.
 */
export interface EerSearchTable {
  resource_type: string;
  resource_id: string;
  param: string;
  system: string;
  value: string;
}

/** What propagation last published to the SMP for an organisation: one row per participant and document type. */
export interface EerSmpPublishedTable {
  organization_id: string;
  participant: string;
  document_type: string;
}

/** Where publishing an organisation to a target stands. */
export type PublicationStatus = 'pending' | 'published' | 'failed';

/**
 * The last publication of an organisation to one target (`smp`, `eas`): `pending` from the write that asked for it
 * (in that write's transaction) until an `eer.propagate` job ran, then `published` or `failed` with the reason.
 */
export interface EerPublicationTable {
  organization_id: string;
  target: string;
  status: PublicationStatus;
  /** The last write that asked for a publication. */
  requested_at: number;
  /** The last attempt (success or failure); null while none ran. */
  attempted_at: number | null;
  /** The last successful publication; null while none succeeded. */
  published_at: number | null;
  /** Failed attempts since the last success. */
  failures: number;
  /** 1 when the last failure was final: no retry follows (dead-lettered) until the next write. */
  gave_up: number;
  /** Why the last attempt failed; null after a success. */
  reason: string | null;
  /** JSON array: what the last successful publication left out and why; null when nothing. */
  notes: string | null;
}

export type EerTables = {
  eer_resources: EerResourcesTable;
  eer_history: EerHistoryTable;
  eer_search: EerSearchTable;
  eer_smp_published: EerSmpPublishedTable;
  eer_publication: EerPublicationTable;
};

/** The node's store as this role sees it: its own tables (the queue and blob APIs reach the store's). */
export type EerStore = Store<EerTables>;
