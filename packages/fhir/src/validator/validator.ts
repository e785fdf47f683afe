import { EhmiError, type OperationOutcome } from '@ehmi/errors';
import type { Conformance } from '../conformance/conformance.ts';
import { shippedConformance } from '../conformance/load.ts';
import type { Json } from '../conformance/types.ts';
import { type Issue, IssueList, toOutcome } from './issues.ts';
import { impliedMessageProfile } from './message-profiles.ts';
import { Terminology } from './terminology.ts';
import { Run } from './walker.ts';

export interface ValidateOptions {
  /**
   * Profile(s) to validate the resource against instead of the ones it claims in `meta.profile` and the one
   * its message event implies. The base definition is always checked.
   */
  profile?: string | readonly string[];
}

export interface Validator {
  readonly conformance: Conformance;
  /** Validates a resource or message Bundle; see {@link createValidator}. */
  validate(resource: unknown, options?: ValidateOptions): OperationOutcome;
  /** The same findings as plain issues (severity, FHIRPath expression, message, profile). */
  issues(resource: unknown, options?: ValidateOptions): Issue[];
}

/**
 * A validator over a set of conformance resources. It checks the base definition, every profile the resource
 * claims (`meta.profile`) and, for a message Bundle, the profile its event implies: cardinality, types and
 * choice types, fixed and pattern values, slicing, extensions, required and extensible bindings, invariants
 * (FHIRPath, with `conformsTo()`, `resolve()` and `memberOf()`) and references inside the Bundle.
 *
 * @example
 * import { createValidator, loadConformance } from '@ehmi/fhir';
 * const validator = createValidator(loadConformance(['./my-profiles']));
 * const outcome = validator.validate(bundle);
 * const ok = !outcome.issue.some((i) => i.severity === 'error' || i.severity === 'fatal');
 */
export function createValidator(conformance: Conformance): Validator {
  const terminology = new Terminology(conformance);
  const issues = (resource: unknown, options: ValidateOptions = {}): Issue[] => {
    const list = new IssueList();
    if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) {
      list.add({
        severity: 'error',
        code: 'structure',
        expression: '$this',
        message: 'Not a FHIR resource (expected a JSON object)',
      });
      return list.items;
    }
    const r = resource as Json;
    const type = typeof r.resourceType === 'string' ? r.resourceType : 'Resource';
    const forced = options.profile === undefined ? undefined : [options.profile].flat();
    const profiles: string[] = [];
    if (forced) profiles.push(...forced);
    else {
      const implied = impliedMessageProfile(r, conformance);
      list.addAll(implied.issues);
      if (implied.profile) profiles.push(implied.profile);
    }
    const run = new Run(conformance, terminology);
    const out: Issue[] = [];
    const subject = forced ? { ...r, meta: { ...((r.meta as Json) ?? {}), profile: undefined } } : r;
    if (forced && subject.meta && Object.values(subject.meta).every((v) => v === undefined))
      delete subject.meta;
    try {
      run.resource(subject, type, { root: subject, resource: subject, bundle: undefined }, profiles, out);
    } catch (e) {
      // The walk stops at MAX_DEPTH; this catches what still exhausts the stack (FHIRPath over hostile input).
      if (!(e instanceof RangeError)) throw e;
      out.push({
        severity: 'error',
        code: 'too-costly',
        expression: type,
        message: `The ${type} is nested too deeply to validate (${e.message})`,
      });
    }
    for (const i of out) list.add(i.profile === '' ? withoutProfile(i) : i);
    return list.items;
  };
  return {
    conformance,
    issues,
    validate: (resource, options) => toOutcome(issues(resource, options)),
  };
}

function withoutProfile(i: Issue): Issue {
  const { profile: _p, ...rest } = i;
  return rest;
}

let shipped: Validator | undefined;

/**
 * Validates with the conformance resources shipped in `@ehmi/fhir` (R4, MedCom HomeCareObservation 1.2.1,
 * acknowledgement 2.0.3, messaging 3.0.0, core 2.4.0, dk-core 3.4.0, EHMI EDS/EER/EAS). Loads them on first use.
 *
 * @example
 * import { validateResource } from '@ehmi/fhir';
 * const outcome = validateResource(JSON.parse(text));
 */
export function validateResource(resource: unknown, options?: ValidateOptions): OperationOutcome {
  return shippedValidator().validate(resource, options);
}

/**
 * The validator over the shipped conformance resources, created on first use.
 *
 * @example
 * const errors = shippedValidator().issues(bundle).filter((i) => i.severity === 'error');
 */
export function shippedValidator(): Validator {
  shipped ??= createValidator(shippedConformance());
  return shipped;
}

/**
 * True when the outcome has no error or fatal issue (warnings allowed).
 *
 * @example
 * if (!isValid(validateResource(bundle))) reply('fatal-error');
 */
export function isValid(outcome: OperationOutcome): boolean {
  return !outcome.issue.some((i) => i.severity === 'error' || i.severity === 'fatal');
}

/**
 * Throws `EHMI_VALIDATION_FAILED` when the resource has errors (MedCom KR5.R: a profile failure is answered with
 * a negative acknowledgement). The error names the first problem; `expression` lists every error's FHIRPath and
 * `details.outcome` carries the whole OperationOutcome. Returns the outcome (warnings) otherwise.
 *
 * @example
 * try {
 *   assertValid(bundle);
 * } catch (e) {
 *   if (isEhmiError(e) && e.code === 'EHMI_VALIDATION_FAILED') sendAck('fatal-error', e.details.outcome);
 * }
 */
export function assertValid(
  resource: unknown,
  options?: ValidateOptions & { validator?: Validator },
): OperationOutcome {
  const v = options?.validator ?? shippedValidator();
  const issues = v.issues(resource, options);
  const outcome = toOutcome(issues);
  const errors = issues.filter((i) => i.severity === 'error');
  const first = errors[0];
  if (first) {
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more error(s))` : '';
    throw new EhmiError('EHMI_VALIDATION_FAILED', `${first.expression}: ${first.message}${more}`, {
      expression: errors.map((e) => e.expression),
      details: { outcome },
    });
  }
  return outcome;
}
