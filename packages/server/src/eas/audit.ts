import { randomUUID } from 'node:crypto';
import type { AccessClaims } from '../authz.ts';
import type { EasAuditTable, EasStore } from './tables.ts';

/**
 * What became of a person-specific lookup: `found` (answered), `not-found` (no GP, or the GP is not a known
 * organisation), `refused` (no certificate, no valid token, or a token without the scope), `failed` (bad input or
 * an error of EAS's own).
 */
export type EasAuditOutcome = 'found' | 'not-found' | 'refused' | 'failed';

export interface EasAuditEntry {
  /** The operation's code, without `$`. */
  operation: string;
  outcome: EasAuditOutcome;
  /** The CPR asked about (10 digits); undefined when the request was refused or failed before it was read. */
  cpr?: string | undefined;
  /** The verified access token; undefined without `authorization`, or when the token was refused. */
  access?: AccessClaims | undefined;
  /** The subject of the TLS client certificate presented, if any. */
  certificate?: string | undefined;
  /** The HTTP status answered. */
  status: number;
  /** The error code or reason; never the CPR. */
  detail?: string | undefined;
}

export interface EasAuditRecord {
  id: string;
  at: Date;
  clientId: string | null;
  /** `cvr`, `org_name` and the SOR/GLN contexts of the token, as JSON. */
  organisation: Record<string, unknown> | null;
  certificate: string | null;
  operation: string;
  cpr: string | null;
  outcome: EasAuditOutcome;
  status: number;
  detail: string | null;
}

/**
 * The audit log of EAS's person-specific lookups (docs/specs/security.md 1c: EAS "must implement standardized audit
 * log"; 1d: record refusals and failures with their true outcome, best effort): who asked (client id and
 * organisation from the token, the certificate subject), what (the operation), about whom (the CPR), the outcome
 * and when. Append-only: this module only inserts and reads; nothing in EAS updates or deletes a row.
 *
 * The CPR is stored as it is, not hashed: the log exists to answer "who looked this citizen up" (MinLog), so it
 * must be searchable by CPR, and an unkeyed hash of a 10-digit number that starts with a date is reversed by trying
 * every number in minutes, so it would hide nothing. The table is as sensitive as `eas_patient_gp`, which holds
 * CPRs too, and is protected the same way (the database's access control).
 */
export class EasAudit {
  readonly #store: EasStore;
  readonly #now: () => number;

  constructor(store: EasStore, now: () => number = Date.now) {
    this.#store = store;
    this.#now = now;
  }

  async record(entry: EasAuditEntry): Promise<void> {
    const org = entry.access?.organisation;
    await this.#store.db
      .insertInto('eas_audit')
      .values({
        id: randomUUID(),
        at: this.#now(),
        client_id: entry.access?.clientId ?? null,
        organisation: org ? JSON.stringify(org) : null,
        certificate: entry.certificate ?? null,
        operation: entry.operation,
        cpr: entry.cpr ?? null,
        outcome: entry.outcome,
        status: entry.status,
        detail: entry.detail ?? null,
      })
      .execute();
  }

  /** The entries by time (rows of the same millisecond in no set order); those about one CPR when given. */
  async list(filter: { cpr?: string } = {}): Promise<EasAuditRecord[]> {
    let q = this.#store.db.selectFrom('eas_audit').selectAll();
    if (filter.cpr !== undefined) q = q.where('cpr', '=', filter.cpr);
    const rows = await q.orderBy('at').orderBy('id').execute();
    return rows.map((r: EasAuditTable) => ({
      id: r.id,
      at: new Date(Number(r.at)),
      clientId: r.client_id,
      organisation: r.organisation ? (JSON.parse(r.organisation) as Record<string, unknown>) : null,
      certificate: r.certificate,
      operation: r.operation,
      cpr: r.cpr,
      outcome: r.outcome as EasAuditOutcome,
      status: Number(r.status),
      detail: r.detail,
    }));
  }
}
