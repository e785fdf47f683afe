import { EhmiError } from '@ehmi/errors';
import type { FastifyRequest } from 'fastify';
import { type AccessClaims, mayReadPatientData } from '../authz.ts';

/**
 * The archive's scopes (SMART v2 syntax, as EDS's): searching and reading DocumentReferences needs
 * `system/DocumentReference.rs`, reading a document itself `system/Binary.r`.
 */
export const ARCHIVE_READ_SCOPE = 'system/DocumentReference.rs';
export const ARCHIVE_BINARY_SCOPE = 'system/Binary.r';

/** The scopes a request needs, any one of which suffices (the `scope` of `requireAccessToken`). */
export function archiveScopes(request: FastifyRequest): string[] | undefined {
  if (request.method !== 'GET' && request.method !== 'HEAD') return undefined; // 405 to anyone with a token
  return request.url.startsWith('/Binary') ? [ARCHIVE_BINARY_SCOPE] : [ARCHIVE_READ_SCOPE];
}

/** Whose documents a caller sees: every patient's, or one patient's (a token restricted to that patient). */
export interface ArchiveViewer {
  patient: string | undefined;
}

/**
 * Who is asking: every archived document is patient data, so a person's token needs the `patient-data`
 * entitlement (403 otherwise: nothing of the archive is not about a patient); a system client's token reads as its
 * scopes allow (the organisations' systems and the operator), a token restricted to one patient (`ehmi:patient`)
 * that patient's documents only. Undefined claims: the node serves without tokens (insecure).
 */
export function archiveViewer(claims: AccessClaims | undefined): ArchiveViewer {
  if (!mayReadPatientData(claims)) {
    throw new EhmiError(
      'EHMI_FORBIDDEN',
      'the archive holds patient data only: reading it needs the patient-data entitlement',
    );
  }
  return { patient: claims?.patient?.cpr };
}
