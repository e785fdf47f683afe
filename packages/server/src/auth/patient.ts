import { errors } from 'oidc-provider';
import { CPR_NUMBER, PATIENT_CLAIM } from '../authz.ts';

/**
 * The RFC 9396 authorization details type of a token restricted to one patient: `{"type": "ehmi_patient",
 * "cpr": "<10 digits>"}`. EHMI names no such type; the token then carries the claim `ehmi:patient` that resource
 * servers read (`authz.ts` `AccessClaims.patient`) beside `authorization_details` (RFC 9396 §9.1).
 */
export const PATIENT_DETAILS_TYPE = 'ehmi_patient';

/** The members an `ehmi_patient` detail may have: a restriction it does not understand is refused, not ignored. */
const MEMBERS = new Set(['type', 'cpr']);

/** One `ehmi_patient` detail, as the token request carries it (RFC 9396 §5: invalid_authorization_details). */
export function validatePatientDetail(detail: Record<string, unknown>): void {
  const extra = Object.keys(detail).filter((k) => !MEMBERS.has(k));
  if (extra.length > 0) {
    throw new errors.InvalidAuthorizationDetails(
      `an ${PATIENT_DETAILS_TYPE} authorization detail has only "type" and "cpr", not ${extra.map((k) => `"${k}"`).join(', ')}`,
    );
  }
  if (typeof detail.cpr !== 'string' || !CPR_NUMBER.test(detail.cpr)) {
    throw new errors.InvalidAuthorizationDetails(
      `an ${PATIENT_DETAILS_TYPE} authorization detail names the patient by "cpr": 10 digits without a hyphen, not ${JSON.stringify(detail.cpr ?? null)}`,
    );
  }
}

/**
 * The authorization details of the access token (validated one by one before): at most one patient, since a token
 * is restricted to one patient or to none.
 */
export function patientDetailsOf(requested: unknown): Record<string, unknown>[] | undefined {
  if (typeof requested !== 'string') return undefined;
  const details = JSON.parse(requested) as Record<string, unknown>[];
  const patients = details.filter((d) => d.type === PATIENT_DETAILS_TYPE);
  if (patients.length > 1) {
    throw new errors.InvalidAuthorizationDetails(
      `a token is restricted to one patient: ask for one ${PATIENT_DETAILS_TYPE} authorization detail, not ${patients.length}`,
    );
  }
  return patients.map((d) => ({ type: PATIENT_DETAILS_TYPE, cpr: d.cpr }));
}

/** The claim `ehmi:patient` of a token with these authorization details; undefined when it names no patient. */
export function patientClaims(details: unknown): Record<string, unknown> | undefined {
  const patient = Array.isArray(details)
    ? (details as Record<string, unknown>[]).find((d) => d?.type === PATIENT_DETAILS_TYPE)
    : undefined;
  return patient ? { [PATIENT_CLAIM]: { cpr: patient.cpr } } : undefined;
}
