import type { FastifyRequest } from 'fastify';

/**
 * What a route adds to the audit record the node writes for every call (the HTTP plumbing records who called, the
 * method, the route, the query and the outcome by itself): the patient the call concerned, whether it is a
 * person-specific lookup to report to MinLog, and the FHIR operation and resource when the route knows them better
 * than its URL says.
 */
export interface AuditNote {
  /** The CPR of the patient the call read or wrote about (10 digits). */
  patient?: string;
  /** A person-specific lookup (a search by CPR, a lookup of a citizen's GP): flagged for MinLog reporting. */
  minlog?: boolean;
  /** The FHIR interaction or operation (`create`, `read`, `search-type`, `$getReceivingOrganizationByPatientId`). */
  operation?: string;
  /** The resource type, or `Type/id` of the resource the call concerned. */
  resource?: string;
  /** A short reason for a refusal or failure, never personal data (the outcome itself comes from the status). */
  detail?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** What the route noted for the audit record of this call (see {@link noteAudit}). */
    auditNote?: AuditNote;
  }
}

/** Add to this call's audit record; later notes win over earlier ones, key by key. */
export function noteAudit(request: FastifyRequest, note: AuditNote): void {
  request.auditNote = { ...request.auditNote, ...note };
}
