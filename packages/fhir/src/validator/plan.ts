import type { ElementNode } from '../conformance/tree.ts';
import type { Constraint, TypeRef } from '../conformance/types.ts';
import { type FixedOrPattern, fixedOrPattern } from './fixed-pattern.ts';
import { liveConstraints } from './invariants.ts';

/**
 * What the walk reads of one element definition for every value it checks there, worked out on the first value
 * and kept on the element's node (the conformance resources are not changed once loaded): a property read per
 * value instead of a look-up in a table per fact.
 */
export interface NodePlan {
  /** `min`, and `max` with Infinity for `*`. */
  readonly min: number;
  readonly max: number;
  /** The base definition lets the element repeat (its JSON form is an array). */
  readonly repeats: boolean;
  /** Below the root (`Patient.name`, not `Patient`). */
  readonly nested: boolean;
  /** A slice of the element has a minimum above 0. */
  readonly requiredSlice: boolean;
  /** The type of the element's values when their JSON name does not say it (undefined for a choice). */
  readonly defaultType: string | undefined;
  readonly fixedOrPattern: FixedOrPattern | undefined;
  /** The constraints the walk evaluates on each value (`liveConstraints`); empty for most elements. */
  readonly constraints: readonly Constraint[];
  /**
   * The element's path for extension contexts: its base path, or the element it is defined by reference to
   * (`QuestionnaireResponse.item.answer.item` → `QuestionnaireResponse.item`).
   */
  readonly hostPath: string;
}

const FHIR_TYPE_EXT = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';

/** The FHIR type code of a type reference (`id` for the System.String-typed `Resource.id`). */
export function typeCode(t: TypeRef): string {
  const ext = t.extension?.find((e) => e.url === FHIR_TYPE_EXT)?.valueUrl;
  return typeof ext === 'string' ? ext : t.code;
}

const NONE: readonly Constraint[] = [];

/** The node's plan, made on first use. */
export function planOf(node: ElementNode): NodePlan {
  let plan = node.plan;
  if (plan === undefined) {
    plan = makePlan(node);
    node.plan = plan;
  }
  return plan;
}

function makePlan(node: ElementNode): NodePlan {
  const def = node.def;
  const max = def.max ?? '*';
  const baseMax = def.base?.max ?? def.max ?? '1';
  return {
    min: def.min ?? 0,
    max: max === '*' ? Number.POSITIVE_INFINITY : Number(max),
    repeats: baseMax !== '1' && baseMax !== '0',
    nested: def.path.includes('.'),
    requiredSlice: node.slices.some((s) => (s.def.min ?? 0) > 0),
    // R4 4.0.1 types Resource.id as System.String/"string"; its definition says id (the HL7 validator agrees).
    defaultType:
      def.base?.path === 'Resource.id'
        ? 'id'
        : def.type?.length === 1
          ? typeCode(def.type[0] as TypeRef)
          : undefined,
    fixedOrPattern: fixedOrPattern(def),
    constraints: def.constraint ? liveConstraints(def.constraint) : NONE,
    hostPath: def.contentReference?.replace(/^.*#/, '') ?? def.base?.path ?? def.path,
  };
}
