/** The organisation lookups of EAS (docs/specs/security.md 1c: `EAS system/Organization.rs`). */
export const EAS_ORGANIZATION_SCOPE = 'system/Organization.rs';

/**
 * The lookup by CPR (`$getReceivingOrganizationByPatientId`): it tells the caller who a citizen's GP is, personal
 * data the organisation lookups do not touch, so it needs a scope of its own. EHMI names none (its EAS security page
 * lists only `system/Organization.rs`); `eas/patient-gp.r` is the network's own, in the style of the MSH's
 * `msh/messages.read`. Not the SMART `system/Patient.r`: EAS serves no Patient resources, and a client with Patient
 * read elsewhere must not get this lookup by accident.
 */
export const EAS_PATIENT_SCOPE = 'eas/patient-gp.r';

/** The operations that are person-specific: their own scope, and an audit row each. */
export const PATIENT_OPERATIONS: ReadonlySet<string> = new Set(['getReceivingOrganizationByPatientId']);

/** The admin API (EER's feed, the local CPR → GP table): `eas/index.write` (admin-scopes.ts). */
export { EAS_ADMIN_SCOPE } from '../admin-scopes.ts';
