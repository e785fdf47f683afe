import type { Store } from '../store/index.ts';
/** Tables of the eds role (times in epoch milliseconds, as in store/types.ts). Migrations: ./migrations.ts. */

/**
 * One registered AuditEvent. EDS keeps no versions: an event is created once and never changed (no update, patch or
 * delete), so `content` is version 1 for good.
 */
export interface EdsEventsTable {
  /**
   * SHA-256 (hex) of the event's canonical content, without `id` and `meta`: the key, so a station that posts the
   * same event again (a retry after a timeout) finds the stored one instead of storing it twice.
   */
  digest: string;
  /** Server-assigned logical id (a time-ordered UUID, version 7: repository.ts `eventId`). */
  id: string;
  /** `AuditEvent.recorded` as epoch milliseconds (the `date` search parameter, `_sort=date`). */
  recorded: number;
  /** `AuditEvent.outcome` (`0` success, `8` serious failure). */
  outcome: string;
  /** When EDS stored it (meta.lastUpdated, `_sort=_lastUpdated`). */
  last_updated: number;
  /** JSON text of the event as stored (with id, meta.versionId and meta.lastUpdated). */
  content: string;
}

/**
 * Search index: one row per (parameter, value) of an event. `value` is the lower-cased text (string search:
 * case-insensitive, prefix), `raw` the text as registered (`:exact`, token). Parameters that start with `_` are
 * EDS's own (the organisations an event belongs to, for access; the identifiers `entityIdentifier` adds).
 */
export interface EdsSearchTable {
  event_id: string;
  param: string;
  value: string;
  raw: string;
}

export type EdsTables = {
  eds_events: EdsEventsTable;
  eds_search: EdsSearchTable;
};

/** The node's store as this role sees it. */
export type EdsStore = Store<EdsTables>;
