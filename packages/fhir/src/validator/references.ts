import type { Json, TypeRef } from '../conformance/types.ts';
import type { Issue } from './issues.ts';

export interface BundleEntry {
  index: number;
  fullUrl?: string;
  /** The RESTful base of `fullUrl` (`http://x/fhir/` of `http://x/fhir/Patient/1`), when it has one. */
  base?: string;
  resource: Json;
}

/** Resources of a Bundle by `fullUrl` and by `Type/id`, for resolving references inside it. */
export interface BundleIndex {
  bundle: Json;
  type: string | undefined;
  entries: BundleEntry[];
  byFullUrl: Map<string, BundleEntry>;
  byTypeId: Map<string, BundleEntry[]>;
  byResource: Map<Json, BundleEntry>;
}

const RESTFUL = /^(.*\/)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

export function indexBundle(bundle: Json): BundleIndex {
  const idx: BundleIndex = {
    bundle,
    type: typeof bundle.type === 'string' ? bundle.type : undefined,
    entries: [],
    byFullUrl: new Map(),
    byTypeId: new Map(),
    byResource: new Map(),
  };
  const entries = Array.isArray(bundle.entry) ? (bundle.entry as Json[]) : [];
  entries.forEach((e, index) => {
    const resource = e?.resource as Json | undefined;
    if (!resource || typeof resource !== 'object') return;
    const entry: BundleEntry = { index, resource };
    if (typeof e.fullUrl === 'string') {
      entry.fullUrl = e.fullUrl;
      const base = RESTFUL.exec(e.fullUrl)?.[1];
      if (base) entry.base = base;
      idx.byFullUrl.set(e.fullUrl, entry);
    }
    if (typeof resource.resourceType === 'string' && typeof resource.id === 'string') {
      const key = `${resource.resourceType}/${resource.id}`;
      idx.byTypeId.set(key, [...(idx.byTypeId.get(key) ?? []), entry]);
    }
    idx.byResource.set(resource, entry);
    idx.entries.push(entry);
  });
  return idx;
}

/** The resource type a reference string names (`Patient/1`, `http://x/fhir/Patient/1`), if it is RESTful. */
export function referenceTargetType(reference: string): string | undefined {
  if (reference.startsWith('#') || reference.startsWith('urn:')) return undefined;
  return RESTFUL.exec(reference)?.[2];
}

/**
 * Resolves a reference from `from` (the resource holding it) following R4 bundle.html §2.36.4.1: contained
 * (`#id`), absolute (matched to `fullUrl`), relative against the RESTful base of the holder's `fullUrl`, and —
 * like the HL7 validator — a unique `Type/id` match when the holder's fullUrl is not RESTful.
 */
export function resolveReference(
  reference: string,
  from: Json | undefined,
  bundle: BundleIndex | undefined,
): Json | undefined {
  if (reference.startsWith('#')) {
    const contained = (from?.contained as Json[] | undefined) ?? [];
    return reference === '#' ? from : contained.find((c) => `#${c.id}` === reference);
  }
  if (!bundle) return undefined;
  const direct = bundle.byFullUrl.get(reference);
  if (direct) return direct.resource;
  const m = RESTFUL.exec(reference);
  if (!m || m[1]) return undefined; // absolute and not in the Bundle
  const base = from ? bundle.byResource.get(from)?.base : undefined;
  if (base) {
    const viaBase = bundle.byFullUrl.get(`${base}${m[2]}/${m[3]}`);
    if (viaBase) return viaBase.resource;
  }
  const byId = bundle.byTypeId.get(`${m[2]}/${m[3]}`);
  return byId?.length === 1 ? byId[0]?.resource : undefined;
}

export interface ReferenceCheck {
  /** The resource holding the reference (for contained and relative resolution). */
  holder: Json | undefined;
  bundle: BundleIndex | undefined;
  expression: string;
  /** The element's path in its base resource, e.g. `MessageHeader.focus`. */
  path?: string;
  /** Type of a canonical profile URL (`…/StructureDefinition/medcom-core-patient` → `Patient`). */
  typeOfProfile: (url: string) => string | undefined;
  /** Whether `resource` conforms to `profile`; returns the first error when it does not. */
  conforms: (resource: Json, profile: string) => string | undefined;
  isBaseProfile: (url: string) => boolean;
}

const NO_TARGETS: readonly string[] = [];

/**
 * Checks one Reference value: its target type against `targetProfile` (R4 references.html §2.3.0.1), that it
 * resolves inside a message or document Bundle (bundle.html §2.36.4: "resources referenced … SHALL be
 * included"; MedCom references are `aggregation = bundled`), and that a bundled target conforms to a target
 * profile.
 */
export function checkReference(value: Json, type: TypeRef, c: ReferenceCheck): Issue[] {
  const issues: Issue[] = [];
  const ref = value.reference;
  if (typeof ref !== 'string') return issues;
  const targets = type.targetProfile ?? NO_TARGETS;
  const target = resolveReference(ref, c.holder, c.bundle);
  // aggregation = bundled: "the reference is a reference to a resource in the same bundle" (R4
  // ElementDefinition.type.aggregation). Other references in a message may legitimately point outside it
  // (MedCom Provenance.entity.what names the previous message's MessageHeader): a warning.
  // R4 messaging.html §4.4.1.1 (and the HL7 validator's message check): the focus of a message is carried in it.
  const bundled =
    type.aggregation?.includes('bundled') === true ||
    (c.path === 'MessageHeader.focus' && c.bundle?.type === 'message');
  const inMessage = c.bundle?.type === 'message' || c.bundle?.type === 'document';
  // Outside any Bundle there is nothing to resolve against: aggregation applies to Bundle content only.
  if (!target && !ref.startsWith('#') && c.bundle && (bundled || inMessage)) {
    issues.push({
      severity: bundled ? 'error' : 'warning',
      code: 'not-found',
      expression: `${c.expression}.reference`,
      related: [c.expression],
      message: bundled
        ? `Reference '${ref}' must resolve inside the Bundle (${c.path === 'MessageHeader.focus' ? 'the focus of a message' : 'aggregation bundled'}) but matches no entry`
        : `Reference '${ref}' does not resolve to an entry of the ${c.bundle?.type} Bundle`,
    });
  }
  if (ref.startsWith('#') && !target) {
    issues.push({
      severity: 'error',
      code: 'not-found',
      expression: `${c.expression}.reference`,
      related: [c.expression],
      message: `Contained resource '${ref}' not found`,
    });
  }
  const literalType = (target?.resourceType as string | undefined) ?? referenceTargetType(ref);
  // Reference.type "SHALL" be the type of the target when both are given (R4 Reference.type); logical-model
  // URLs are left alone.
  const declared =
    typeof value.type === 'string'
      ? value.type.replace(/^http:\/\/hl7\.org\/fhir\/StructureDefinition\//, '')
      : undefined;
  if (declared && !declared.includes(':') && literalType && declared !== literalType) {
    issues.push({
      severity: 'error',
      code: 'structure',
      expression: `${c.expression}.type`,
      related: [c.expression],
      message: `Reference.type is '${declared}' but '${ref}' refers to a ${literalType}`,
    });
  }
  const actualType = literalType ?? (typeof value.type === 'string' ? value.type : undefined);
  if (targets.length === 0 || !actualType) return issues;
  // The target profiles that allow the type (all of them, in order, in the common case of one).
  let typeOk: string[] | undefined;
  for (const url of targets) {
    const t = c.typeOfProfile(url);
    if (t !== undefined && t !== actualType && t !== 'Resource') continue;
    if (typeOk) typeOk.push(url);
    else typeOk = [url];
  }
  if (typeOk === undefined) {
    issues.push({
      severity: 'error',
      code: 'structure',
      expression: `${c.expression}.reference`,
      related: [c.expression],
      message: `Reference to a ${actualType}, but only ${[...new Set(targets.map((t) => c.typeOfProfile(t)))].join(', ')} allowed`,
    });
    return issues;
  }
  if (target && !typeOk.some((url) => c.isBaseProfile(url))) {
    const failures: string[] = [];
    for (const url of typeOk) {
      const err = c.conforms(target, url);
      if (err === undefined) return issues;
      failures.push(`${url}: ${err}`);
    }
    issues.push({
      severity: 'error',
      code: 'structure',
      expression: c.expression,
      message: `The ${actualType} referenced by '${ref}' does not conform to ${failures.join('; or ')}`,
    });
  }
  return issues;
}

/**
 * `Bundle.entry.fullUrl` "SHALL NOT disagree with the id in the resource" (R4 Bundle.entry.fullUrl): a RESTful
 * fullUrl ends with the resource's type and id.
 */
export function checkFullUrls(bundle: BundleIndex, expression: string): Issue[] {
  const issues: Issue[] = [];
  for (const e of bundle.entries) {
    if (!e.fullUrl || e.fullUrl.startsWith('urn:')) continue;
    const m = RESTFUL.exec(e.fullUrl);
    if (!m) continue;
    const { resourceType, id } = e.resource;
    if (m[2] !== resourceType || (typeof id === 'string' && m[3] !== id)) {
      issues.push({
        severity: 'error',
        code: 'invalid',
        expression: `${expression}.entry[${e.index}].fullUrl`,
        message: `fullUrl ${e.fullUrl} disagrees with the resource (${String(resourceType)}/${String(id)})`,
      });
    }
  }
  return issues;
}

/** A message Bundle starts with its MessageHeader (R4 messaging.html §4.4.1: "the first resource … SHALL be a MessageHeader"). */
export function checkMessageBundle(bundle: Json, expression: string): Issue[] {
  if (bundle.type !== 'message') return [];
  const first = (bundle.entry as Json[] | undefined)?.[0]?.resource as Json | undefined;
  if (first?.resourceType === 'MessageHeader') return [];
  return [
    {
      severity: 'error',
      code: 'structure',
      expression: `${expression}.entry[0]`,
      related: [expression],
      message: `A message Bundle must start with a MessageHeader entry, found ${String(first?.resourceType ?? 'none')}`,
    },
  ];
}
