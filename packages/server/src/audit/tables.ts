import type { Store } from '../store/index.ts';

/**
 * One call to a server of the node (`audit_events`, append-only but for the retention sweep): the columns searched
 * on, and the whole record as JSON (`record`), from which the AuditEvent is built on read (`event.ts`).
 */
export interface AuditEventsTable {
  id: string;
  /** When the call was answered, epoch ms. */
  recorded: number;
  /** The server that answered (`msh`, `ap`, `eer`, `eas`, `smp`, `smp-admin`, `auth`, `node`, …). */
  service: string;
  client_id: string | null;
  /** The CPR of the patient the call concerned (10 digits), in clear: see DESIGN-NOTES, "Audit log". */
  patient: string | null;
  /** audit-event-outcome: `0` success, `4` minor failure (4xx), `8` serious failure (5xx). */
  outcome: string;
  status: number;
  request_id: string;
  /** The subtype code: a FHIR interaction (`read`, `search-type`, …), an operation (`$…`), or the HTTP method. */
  operation: string;
  /** `Type` or `Type/id` of the resource the call concerned, when known. */
  resource: string | null;
  /** 1: a person-specific lookup, reported to MinLog. */
  minlog: number;
  /** The {@link AuditRecord} as JSON. */
  record: string;
}

export type AuditTables = { audit_events: AuditEventsTable };

export type AuditStore = Store<AuditTables>;
