import type { OperationOutcome } from '@ehmi/errors';
import { shippedValidator, type Validator } from '@ehmi/fhir';

const EDS = 'http://medcomehmi.dk/ig/eds/StructureDefinition/';
/** The delivery status of a receipt or acknowledgement: no patient (dk.ehmi.eds 1.0.2). */
export const BASIC_PROFILE = `${EDS}EdsBasicDeliveryStatus`;
/** The delivery status of a message about a patient: Basic with the `ehmiPatient` entity (the CPR). */
export const PATIENT_PROFILE = `${EDS}EdsPatientDeliveryStatus`;
export const EDS_PROFILES: readonly string[] = [BASIC_PROFILE, PATIENT_PROFILE];

export interface ValidationResult {
  ok: boolean;
  /** The profile(s) the event was checked against. */
  profiles: string[];
  outcome: OperationOutcome;
}

const bare = (p: string) => p.split('|')[0]!;

/**
 * Checks an AuditEvent against the EDS profile it claims in meta.profile; when it claims none, against
 * EdsPatientDeliveryStatus if it has an `ehmiPatient` entity, else EdsBasicDeliveryStatus. A claim of any other
 * profile is refused: EDS stores delivery status events only. EDS applies no identifier rules of the registers
 * (the IG's own samples carry made-up GLNs such as `GLN-1234`): the profiles are the rule.
 */
export class EdsValidator {
  readonly #validator: Validator;

  constructor(validator: Validator = shippedValidator()) {
    this.#validator = validator;
  }

  /** Loads the profiles now (the first validation otherwise pays for it). */
  warmUp(): void {
    this.#validator.conformance.structureDefinition(PATIENT_PROFILE);
    this.validate({ resourceType: 'AuditEvent' });
  }

  profilesFor(event: Record<string, unknown>): { profiles: string[]; others: string[] } {
    const meta = event.meta as { profile?: unknown } | undefined;
    const claimed = Array.isArray(meta?.profile)
      ? meta.profile.filter((p): p is string => typeof p === 'string')
      : [];
    const eds = claimed.filter((p) => EDS_PROFILES.includes(bare(p)));
    const others = claimed.filter((p) => !EDS_PROFILES.includes(bare(p)));
    if (eds.length > 0) return { profiles: eds, others };
    const entities = Array.isArray(event.entity) ? (event.entity as { type?: { code?: unknown } }[]) : [];
    const patient = entities.some((e) => e?.type?.code === 'ehmiPatient');
    return { profiles: [patient ? PATIENT_PROFILE : BASIC_PROFILE], others };
  }

  validate(event: Record<string, unknown>): ValidationResult {
    const { profiles, others } = this.profilesFor(event);
    const meta = { ...((event.meta as Record<string, unknown> | undefined) ?? {}), profile: profiles };
    const outcome = this.#validator.validate({ ...event, meta });
    for (const p of others) {
      outcome.issue.unshift({
        severity: 'error',
        code: 'not-supported',
        diagnostics: `Profile ${p} is not an EDS profile: EDS registers ${EDS_PROFILES.join(' or ')} only`,
        details: { text: `Profile ${p} is not an EDS profile` },
        expression: ['AuditEvent.meta.profile'],
      });
    }
    const errors = outcome.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');
    if (errors.length > 0) {
      // The validator's "No issues detected" stays only when there are none.
      outcome.issue = outcome.issue.filter(
        (i) => i.code !== 'informational' || i.diagnostics !== 'No issues detected',
      );
    }
    return { ok: errors.length === 0, profiles, outcome };
  }
}
