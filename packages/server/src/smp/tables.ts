import type { Store } from '../store/index.ts';
/** Tables of the smp role (times in epoch milliseconds, as in store/types.ts). Migrations: ./migrations.ts. */

/** One row per published participant (a ServiceGroup; OASIS BDXR SMP 1.0 `ServiceGroupType`). */
export interface SmpServiceGroupsTable {
  /** `SmpIdentifier.key()`: scheme and value lower-cased (participant values are case-insensitive, POLICY 2). */
  participant_key: string;
  /** Scheme and value as published (served back as written). */
  participant_scheme: string;
  participant_value: string;
  created_at: number;
  updated_at: number;
}

/** One row per participant and document type (a ServiceMetadata; OASIS BDXR SMP 1.0 `ServiceMetadataType`). */
export interface SmpServiceMetadataTable {
  participant_key: string;
  /** `SmpIdentifier.key()` of the document type: scheme lower-cased, value as written (case-sensitive). */
  document_key: string;
  document_scheme: string;
  document_value: string;
  /** The unsigned ServiceMetadata, re-serialised from the published body; signed when served. */
  xml: string;
  created_at: number;
  updated_at: number;
}

export type SmpTables = {
  smp_service_groups: SmpServiceGroupsTable;
  smp_service_metadata: SmpServiceMetadataTable;
};

/** The node's store as this role sees it: its own tables (the queue and blob APIs reach the store's). */
export type SmpStore = Store<SmpTables>;
