import type { OperationOutcome } from '@ehmi/errors';
import { checkPrimitive, shippedValidator, type Validator } from '@ehmi/fhir';

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
  /** A conforming event's shape (`shapeOf`), when it has one: the repository takes its digest from it. */
  shape?: EventShape;
}

/**
 * Where a varying value stood in an event (`shapeOf`): the `index`-th of the shape's values. Written as one mark
 * by `JSON.stringify` (the shape's key); the digest's canonical JSON writes its position (`eventDigest`).
 */
export class Varying {
  constructor(readonly index: number) {}
  toJSON(): string {
    return VARYING;
  }
}

/**
 * An event's shape: `key` its JSON with each varying value as one mark, `values` those values (`recorded` first,
 * then each entity's identifier value in order), `marked` the event with each of them a `Varying`.
 */
export interface EventShape {
  key: string;
  values: readonly string[];
  marked: Record<string, unknown>;
}

const bare = (p: string) => p.split('|')[0]!;

/** Event shapes remembered as conforming, at most (the least recently used out first). */
const SHAPES_KEPT = 1_000;
/**
 * A shape whose key is longer is neither remembered nor handed on (its event is validated and digested in full): a
 * station's real events are about 3 KB, and the shapes kept here and the repository's digest templates, one of each
 * per shape, stay under 2 × 1,000 × 16 Ki characters whatever events of up to the body limit a station sends.
 */
export const SHAPE_KEPT_CHARS = 16 * 1024;

/** Stands for a varying value in an event's shape. */
const VARYING = '\u0000';

/**
 * The shape of an event: its JSON with the values that differ from one event of a station to the next — `recorded`
 * (instant) and each entity's `what.identifier.value` (string) — replaced by one mark, or undefined when one of them
 * is not a plain JSON string (absent is fine: the shape says so). The EDS profiles and the base types they build on
 * look at these two values in one way only, as primitives of their type: no fixed value, pattern, binding, maximum
 * length, slice discriminator or invariant of either profile reads them (`test/eds/profiles.test.ts` holds this
 * against the profiles), and `dom-3` reads `reference`, `canonical`, `uri` and `url` descendants, not `string` or
 * `instant` ones. So two events of one shape conform alike when both have valid values there.
 */
function shapeOf(event: Record<string, unknown>): EventShape | undefined {
  const recorded = event.recorded;
  if (typeof recorded !== 'string' || '_recorded' in event) return undefined;
  const values = [recorded];
  let entity = event.entity;
  if (Array.isArray(entity)) {
    entity = entity.map((e: unknown) => {
      const what = (e as { what?: unknown } | null)?.what;
      const identifier = (what as { identifier?: unknown } | null | undefined)?.identifier;
      if (identifier === null || typeof identifier !== 'object' || Array.isArray(identifier)) return e;
      const id = identifier as Record<string, unknown>;
      if (!('value' in id) && !('_value' in id)) return e;
      if (typeof id.value !== 'string' || '_value' in id) throw NOT_PLAIN;
      const value = new Varying(values.length);
      values.push(id.value);
      return {
        ...(e as object),
        what: { ...(what as object), identifier: { ...id, value } },
      };
    });
  }
  const marked = { ...event, recorded: new Varying(0), entity };
  return { key: JSON.stringify(marked), values, marked };
}

const NOT_PLAIN = new Error('not a plain value');

function shapeOrNone(event: Record<string, unknown>): ReturnType<typeof shapeOf> {
  try {
    return shapeOf(event);
  } catch (err) {
    if (err === NOT_PLAIN) return undefined;
    throw err;
  }
}

/** Whether the varying values (`recorded` first) are valid where the shape puts them. */
function valuesValid(values: readonly string[]): boolean {
  // A value beginning with `#` could read as a local reference to a contained resource: never taken from a shape.
  return (
    values.every((v) => !v.startsWith('#')) &&
    checkPrimitive(values[0], 'instant') === undefined &&
    values.slice(1).every((v) => checkPrimitive(v, 'string') === undefined)
  );
}

/**
 * Checks an AuditEvent against the EDS profile it claims in meta.profile; when it claims none, against
 * EdsPatientDeliveryStatus if it has an `ehmiPatient` entity, else EdsBasicDeliveryStatus. A claim of any other
 * profile is refused: EDS stores delivery status events only. EDS applies no identifier rules of the registers
 * (the IG's own samples carry made-up GLNs such as `GLN-1234`): the profiles are the rule.
 */
export class EdsValidator {
  readonly #validator: Validator;
  /** Shapes of events that conformed (`shapeOf`): another event of the same shape needs only its values checked. */
  readonly #conforming = new Map<string, true>();
  #fullValidations = 0;

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

  /** Events checked by the profile validator in full (an event of a shape that conformed before is not one). */
  get fullValidations(): number {
    return this.#fullValidations;
  }

  /**
   * The event checked against its EDS profile. Every station sends events of a few shapes (its organisations, steps
   * and message types), each with its own time and ids: an event of a shape that conformed before has only those
   * values checked, as the validator checks them (`shapeOf`); any other event, and every one that fails, goes
   * through the profile validator, which words each finding. A conforming event's outcome then holds no warnings.
   */
  validate(event: Record<string, unknown>): ValidationResult {
    const { profiles, others } = this.profilesFor(event);
    const meta = { ...((event.meta as Record<string, unknown> | undefined) ?? {}), profile: profiles };
    const found = others.length === 0 ? shapeOrNone({ ...event, meta }) : undefined;
    const shape = found && found.key.length <= SHAPE_KEPT_CHARS ? found : undefined;
    if (shape && this.#conforming.has(shape.key) && valuesValid(shape.values)) {
      this.#conforming.delete(shape.key);
      this.#conforming.set(shape.key, true);
      return {
        ok: true,
        profiles,
        shape,
        outcome: {
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'information', code: 'informational', diagnostics: 'No issues detected' }],
        },
      };
    }
    this.#fullValidations++;
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
    const ok = errors.length === 0;
    if (ok && shape && valuesValid(shape.values)) {
      this.#conforming.set(shape.key, true);
      if (this.#conforming.size > SHAPES_KEPT) {
        const oldest = this.#conforming.keys().next().value;
        if (oldest !== undefined) this.#conforming.delete(oldest);
      }
      return { ok, profiles, outcome, shape };
    }
    return { ok, profiles, outcome };
  }
}
