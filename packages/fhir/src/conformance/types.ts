/** The parts of the FHIR R4 conformance resources that the validator reads (https://hl7.org/fhir/R4/structuredefinition.html). */

export type Json = Record<string, unknown>;

export interface TypeRef {
  code: string;
  profile?: string[];
  targetProfile?: string[];
  aggregation?: string[];
  extension?: Json[];
}

export interface Discriminator {
  type: 'value' | 'exists' | 'pattern' | 'type' | 'profile';
  path: string;
}

export interface Slicing {
  discriminator?: Discriminator[];
  ordered?: boolean;
  rules?: 'closed' | 'open' | 'openAtEnd';
}

export interface Constraint {
  key: string;
  severity: 'error' | 'warning';
  human?: string;
  expression?: string;
  source?: string;
  bestPractice?: boolean;
  extension?: Json[];
}

export interface ElementDefinition {
  id?: string;
  path: string;
  sliceName?: string;
  min?: number;
  max?: string;
  base?: { path: string; min: number; max: string };
  type?: TypeRef[];
  contentReference?: string;
  binding?: { strength: 'required' | 'extensible' | 'preferred' | 'example'; valueSet?: string };
  constraint?: Constraint[];
  slicing?: Slicing;
  maxLength?: number;
  [key: string]: unknown;
}

export interface StructureDefinition {
  resourceType: 'StructureDefinition';
  id?: string;
  url: string;
  version?: string;
  name?: string;
  kind: 'primitive-type' | 'complex-type' | 'resource' | 'logical';
  abstract?: boolean;
  type: string;
  baseDefinition?: string;
  derivation?: 'specialization' | 'constraint';
  snapshot?: { element: ElementDefinition[] };
  differential?: { element: ElementDefinition[] };
}

export interface Concept {
  code: string;
  display?: string;
  concept?: Concept[];
  property?: { code: string; valueCode?: string; valueString?: string; valueBoolean?: boolean }[];
}

export interface CodeSystem {
  resourceType: 'CodeSystem';
  url: string;
  version?: string;
  content?: 'not-present' | 'example' | 'fragment' | 'complete' | 'supplement';
  caseSensitive?: boolean;
  valueSet?: string;
  concept?: Concept[];
}

export interface ValueSetInclude {
  system?: string;
  version?: string;
  concept?: { code: string }[];
  filter?: { property: string; op: string; value: string }[];
  valueSet?: string[];
}

export interface ValueSet {
  resourceType: 'ValueSet';
  url: string;
  version?: string;
  compose?: { include?: ValueSetInclude[]; exclude?: ValueSetInclude[] };
  expansion?: { contains?: ExpansionContains[] };
}

export interface ExpansionContains {
  system?: string;
  code?: string;
  contains?: ExpansionContains[];
}

/** A resource with a canonical URL, as indexed by {@link Conformance}. */
export type CanonicalResource = (StructureDefinition | CodeSystem | ValueSet | Json) & {
  resourceType: string;
  url: string;
  version?: string;
};
