import type { Conformance } from '../conformance/conformance.ts';
import { type ElementNode, elementTree } from '../conformance/tree.ts';
import type { Json, StructureDefinition } from '../conformance/types.ts';
import type { Issue } from './issues.ts';

/** The element an extension sits on: its FHIR type, its path in the base definition, its FHIRPath. */
export interface ExtensionHost {
  type: string;
  /** Base path of the element (`Patient.address`), or the resource type for a resource. */
  path: string;
  /** FHIRPath of the element in the instance (`Bundle.entry[1].resource.address[0]`). */
  expression: string;
  /** The resource the element belongs to. */
  resourceType: string | undefined;
  /** The url of the extension when the host is itself an extension (a complex extension's parts). */
  url?: string | undefined;
}

// R4 4.0.1's own snapshots (copied by the IG Publisher and SUSHI into every profile) put structuredefinition-fhir-type
// (context ElementDefinition.type.code) and regex (context ElementDefinition, Questionnaire.item) on
// ElementDefinition.type; later versions of these extensions allow it, and the HL7 validator accepts that use.
const CONTEXT_ERRATA: Record<string, string[]> = {
  'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type': ['ElementDefinition.type'],
  'http://hl7.org/fhir/StructureDefinition/regex': ['ElementDefinition.type'],
};

/** The type and its ancestors (`Age` → `Quantity` → `Element`), by baseDefinition. */
function typeChain(conformance: Conformance, type: string): string[] {
  const out: string[] = [];
  let sd: StructureDefinition | undefined = conformance.typeDefinition(type);
  while (sd && out.length < 10) {
    out.push(sd.type);
    sd = sd.baseDefinition ? conformance.structureDefinition(sd.baseDefinition) : undefined;
  }
  return out.length > 0 ? out : [type];
}

/**
 * Whether the extension may be used on the host (R4 StructureDefinition.context: `element` contexts name a type,
 * an ancestor type or an element path; `extension` contexts name the extension it may be part of). `fhirpath`
 * contexts are not evaluated here and allow the use.
 */
function contextAllows(conformance: Conformance, sd: StructureDefinition, host: ExtensionHost): boolean {
  const contexts = [
    ...((sd as { context?: { type?: string; expression?: string }[] }).context ?? []),
    ...(CONTEXT_ERRATA[sd.url] ?? []).map((expression) => ({ type: 'element', expression })),
  ];
  if (contexts.length === 0) return true;
  const chain = typeChain(conformance, host.type);
  // The instance path without indices, from the resource down: `Bundle.entry[1].resource.address[0]` → `address`.
  const tail = host.expression
    .replace(/\[\d+\]/g, '')
    .split(/\.(?:resource|contained)\./)
    .pop()
    ?.split('.')
    .slice(1)
    .join('.');
  return contexts.some(({ type, expression: e }) => {
    if (!e || type === 'fhirpath') return true;
    if (type === 'extension') return host.url === e || (host.type === 'Extension' && e === 'Extension');
    if (e === 'Element' || chain.includes(e) || e === host.path) return true;
    if (
      host.resourceType &&
      (e === `${host.resourceType}.${tail}` || e === `${host.resourceType}.${tail}.extension`)
    )
      return true;
    // `Observation.extension` style: the extension may sit on the named element.
    return e.endsWith('.extension') && (chain.includes(e.slice(0, -10)) || e.slice(0, -10) === host.path);
  });
}

/**
 * The child definitions an extension is checked against: the definition its `url` names, when the slice it
 * matched did not already declare a profile (R4 extensibility.html §2.4: every extension is defined by the
 * StructureDefinition at its url). An unknown url is a warning; an unknown modifier extension an error.
 */
export function extensionChildren(
  conformance: Conformance,
  obj: Json,
  node: ElementNode,
  children: ElementNode[],
  expression: string,
  out: Issue[],
  host?: ExtensionHost,
): ElementNode[] {
  const declared = node.def.type?.some((t) => t.profile?.length);
  if (declared || typeof obj.url !== 'string') return children;
  // A part of a complex extension (relative url such as `code`) is defined by its slice in the extension's
  // definition, which the walk checks it against (R4 extensibility §2.4.1.1 "complex extensions").
  const parts = node.parentSlicing ? [node] : node.slices;
  if (parts.some((p) => p.children.find((c) => c.name === 'url')?.def.fixedUri === obj.url)) return children;
  const sd = conformance.structureDefinition(obj.url);
  if (!sd) {
    // R4 extensibility §2.4.1: a modifier extension the receiver does not know cannot be safely ignored.
    const modifier = node.name === 'modifierExtension';
    out.push({
      severity: modifier ? 'error' : 'warning',
      code: 'not-supported',
      expression,
      message: modifier
        ? `Unknown modifier extension ${obj.url}: it may change the meaning of the element, so it cannot be ignored`
        : `Unknown extension ${obj.url}; its content was not checked`,
    });
    return children;
  }
  if (host && !contextAllows(conformance, sd, host)) {
    const allowed = ((sd as { context?: { expression?: string }[] }).context ?? []).map((c) => c.expression);
    out.push({
      severity: 'error',
      code: 'structure',
      expression,
      message: `Extension ${obj.url} is not allowed on ${host.path === host.type ? host.path : `${host.path} (${host.type})`}; its context allows ${allowed.join(', ')}`,
    });
  }
  const root = elementTree(sd);
  return root.children;
}
