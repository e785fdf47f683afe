import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OperationOutcome, OperationOutcomeIssue } from '@ehmi/errors';
import { shippedValidator, type Validator } from '@ehmi/fhir';
import { identifierIssues } from './identifiers.ts';

/** The resource types EER serves (ehmi-core §4.2). */
export const EER_TYPES = ['Organization', 'Endpoint', 'Device'] as const;
export type EerType = (typeof EER_TYPES)[number];

export function isEerType(type: string): type is EerType {
  return (EER_TYPES as readonly string[]).includes(type);
}

const EER = 'http://medcomehmi.dk/ig/eer/StructureDefinition/';

/** The EER profiles (dk.ehmi.eer 2.0.1-draft, ehmi-core §4.2), by resource type. */
export const EER_PROFILES: Record<EerType, readonly string[]> = {
  Organization: [`${EER}Eer.Messaging.Organization`, `${EER}Eer.SOR.Organization`],
  Endpoint: [`${EER}eer.dk.endpoint.messaging`, `${EER}eer.dk.sor.endpoint`],
  Device: [`${EER}EerDevice`],
};

/** The profile a write is checked against when its meta.profile names no EER profile. */
export const DEFAULT_PROFILE: Record<EerType, string> = {
  Organization: `${EER}Eer.Messaging.Organization`,
  Endpoint: `${EER}eer.dk.endpoint.messaging`,
  Device: `${EER}EerDevice`,
};

export { GLN_SYSTEMS, SOR_SYSTEM } from './identifiers.ts';

/** Extensions EER reads for propagation (dk.ehmi.eer 2.0.1-draft, and the AP certificate of its successor). */
export const EXT = {
  apSystem: `${EER}eer-dk-ap-system-extension`,
  mshSystem: `${EER}eer-dk-msh-system-extension`,
  euaSystem: `${EER}eer-dk-eua-system-extension`,
  /**
   * The AP's eDelivery certificate as the EER pilot configuration registers it for the SMP (`EER_AP_Technical_Details`,
   * extension `smp-public-key` with the base64 DER in `smp-public-certificate`). Not in the 2.0.1-draft snapshot, so
   * the validator warns "unknown extension" and lets it pass.
   */
  smpPublicKey: `${EER}smp-public-key`,
  smpPublicCertificate: `${EER}smp-public-certificate`,
} as const;

export interface ValidationResult {
  ok: boolean;
  outcome: OperationOutcome;
}

/** A check of the register's own, beyond the profiles: why `resource` may not be written (empty: it may). */
export type RegisterRule = (
  type: EerType,
  resource: Record<string, unknown>,
) => { expression: string; message: string }[];

/**
 * Checks a resource against the EER profiles it claims in meta.profile, or against the default EER profile of its
 * type when it claims none (other claimed profiles the validator knows, such as EAS's, are checked as well).
 */
export class EerValidator {
  readonly #validator: Validator;
  readonly #rules: RegisterRule | undefined;

  /** `rules`: the register's own checks beyond the profiles (the access points it may publish, publication.ts). */
  constructor(validator: Validator = shippedValidator(), rules?: RegisterRule) {
    this.#validator = validator;
    this.#rules = rules;
  }

  /** Loads the profiles now (the first validation otherwise pays for it: about a second). */
  warmUp(): void {
    this.#validator.conformance.structureDefinition(DEFAULT_PROFILE.Organization);
    this.validate('Device', { resourceType: 'Device' });
  }

  profilesFor(type: EerType, resource: Record<string, unknown>): string[] {
    const meta = resource.meta as { profile?: unknown } | undefined;
    const claimed = Array.isArray(meta?.profile)
      ? meta.profile.filter((p): p is string => typeof p === 'string')
      : [];
    const bare = (p: string) => p.split('|')[0]!;
    const eer = claimed.filter((p) => EER_PROFILES[type].includes(bare(p)));
    const others = claimed.filter((p) => !EER_PROFILES[type].includes(bare(p)));
    return [...(eer.length > 0 ? eer : [DEFAULT_PROFILE[type]]), ...others];
  }

  validate(type: EerType, resource: Record<string, unknown>): ValidationResult {
    const profiles = this.profilesFor(type, resource);
    // The profiles go in as meta.profile claims of a copy (the validator's `profile` option leaves an undefined
    // meta.profile behind when meta has other elements, which it then reports as not an array).
    const meta = { ...((resource.meta as Record<string, unknown> | undefined) ?? {}), profile: profiles };
    const issues = this.#validator.issues({ ...resource, meta });
    const unknown = profiles.filter((p) => !this.#validator.conformance.structureDefinition(p));
    for (const p of unknown) {
      // A claimed profile we cannot check is a profile the write does not demonstrably conform to.
      issues.push({
        severity: 'error',
        code: 'not-supported',
        expression: `${type}.meta.profile`,
        message: `Profile ${p} is not known to this register (EER profiles: ${EER_PROFILES[type].join(', ')})`,
      });
    }
    // The identifier rules (GLN check digit, SOR, CVR, ydernummer) apply to every write, whatever the profile.
    for (const p of identifierIssues(type, resource)) {
      issues.push({ severity: 'error', code: 'value', expression: p.expression, message: p.message });
    }
    if (this.#rules) {
      for (const p of this.#rules(type, resource)) {
        issues.push({
          severity: 'error',
          code: 'security',
          expression: p.expression,
          message: p.message,
        });
      }
    }
    const ok = !issues.some((i) => i.severity === 'error');
    const rank = (sev: string) => (sev === 'error' ? 0 : sev === 'warning' ? 1 : 2);
    const outcome: OperationOutcome = {
      resourceType: 'OperationOutcome',
      issue: [...issues]
        .sort((a, b) => rank(a.severity) - rank(b.severity))
        .map((i) => ({
          severity: i.severity,
          code: i.code as OperationOutcomeIssue['code'],
          diagnostics: i.profile ? `${i.message} (profile ${i.profile})` : i.message,
          details: { text: i.message },
          expression: [i.expression, ...(i.related ?? [])],
        })),
    };
    if (outcome.issue.length === 0)
      outcome.issue.push({
        severity: 'information',
        code: 'informational',
        diagnostics: 'No issues detected',
      });
    return { ok, outcome };
  }
}

/** SearchParameters EER serves beyond R4's (resources/eer/, see its PROVENANCE.md). */
export interface SearchParameterResource {
  resourceType: 'SearchParameter';
  url: string;
  code: string;
  base: string[];
  type: string;
  description?: string;
  expression?: string;
}

export const RESOURCES_DIR = fileURLToPath(new URL('../../resources/eer/', import.meta.url));

let searchParameters: SearchParameterResource[] | undefined;

export function eerSearchParameters(): SearchParameterResource[] {
  searchParameters ??= readdirSync(RESOURCES_DIR)
    .filter((f) => f.startsWith('SearchParameter-') && f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(RESOURCES_DIR, f), 'utf8')) as SearchParameterResource);
  return searchParameters;
}
