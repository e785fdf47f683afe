import type { Conformance } from '../conformance/conformance.ts';
import { type ElementNode, elementTree, findNode } from '../conformance/tree.ts';
import type { Json, TypeRef } from '../conformance/types.ts';
import { checkBinding } from './bindings.ts';
import { cardinalityHolds, cardinalityIssues, shapeIssue } from './cardinality.ts';
import { type ExtensionHost, extensionChildren } from './extensions.ts';
import { describeExpected, satisfies } from './fixed-pattern.ts';
import { invariantHost, referenceCheck, sliceHost } from './hosts.ts';
import { checkContainedReferenced, checkInvariants, type InvariantHost } from './invariants.ts';
import type { Issue } from './issues.ts';
import { planOf, typeCode } from './plan.ts';
import { checkNarrativeDiv, checkPrimitive, isPrimitiveType } from './primitives.ts';
import {
  type BundleIndex,
  checkFullUrls,
  checkMessageBundle,
  checkReference,
  indexBundle,
} from './references.ts';
import { assignSlices, checkSlicing, type SliceHost, type Typed } from './slicing.ts';
import type { Terminology } from './terminology.ts';

/** Where a resource sits: the outermost resource, the resource itself and the Bundle around it. */
export interface Env {
  root: Json;
  resource: Json;
  bundle: BundleIndex | undefined;
}

export { typeCode } from './plan.ts';

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * An element name (`code`, `valueQuantity`) → its definition among the children (and its position there), and the
 * type a choice names.
 */
type Lookup = Map<string, { node: ElementNode; index: number; type: string | undefined }>;
const lookups = new WeakMap<readonly ElementNode[], Lookup>();

/**
 * The names of a list of child definitions, built once per list: the first child in definition order that has
 * the name, or whose choice (`value[x]`) has a type the name's suffix spells (`valueQuantity`), wins.
 */
function lookupOf(children: readonly ElementNode[]): Lookup {
  let m = lookups.get(children);
  if (m) return m;
  m = new Map();
  for (const [index, c] of children.entries()) {
    if (!m.has(c.name)) m.set(c.name, { node: c, index, type: undefined });
    if (!c.name.endsWith('[x]')) continue;
    const prefix = c.name.slice(0, -3);
    for (const t of c.def.type ?? []) {
      const key = prefix + cap(typeCode(t));
      if (!m.has(key)) m.set(key, { node: c, index, type: typeCode(t) });
    }
  }
  lookups.set(children, m);
  return m;
}

/**
 * The positions of the children that have something to check when the object has no value for them: a minimum
 * above 0, or a slice with one (found once per child list).
 */
const requiredLists = new WeakMap<readonly ElementNode[], number[]>();
function requiredOf(children: readonly ElementNode[]): number[] {
  let out = requiredLists.get(children);
  if (!out) {
    out = [];
    for (const [i, c] of children.entries()) {
      if ((c.slices.length > 0 && planOf(c).requiredSlice) || !cardinalityHolds(0, c)) out.push(i);
    }
    requiredLists.set(children, out);
  }
  return out;
}

/** The values an object has for one child definition: the first name met, and any other (a second choice type). */
interface Given {
  index: number;
  child: ElementNode;
  key: string;
  type: string | undefined;
  more: { key: string; type: string | undefined }[] | undefined;
}

/** The `id` and `extension` definitions among a primitive's children (what its `_x` companion may hold). */
const primitiveElementChildren = new WeakMap<readonly ElementNode[], ElementNode[]>();
function elementChildrenOf(children: ElementNode[]): ElementNode[] {
  let out = primitiveElementChildren.get(children);
  if (!out) {
    out = children.filter((c) => c.name === 'id' || c.name === 'extension');
    primitiveElementChildren.set(children, out);
  }
  return out;
}

/**
 * What depends only on the conformance resources (which are not changed once loaded), shared by every run over
 * them: child definitions per element and type, and whether an element holds a resource.
 */
const perConformance = new WeakMap<
  Conformance,
  {
    generation: number;
    children: WeakMap<ElementNode, Map<string, ElementNode[]>>;
    resourceHolders: WeakMap<ElementNode, boolean>;
  }
>();

const NO_KEYS: readonly { key: string; type: string | undefined }[] = [];

function keysOf(g: Given): readonly { key: string; type: string | undefined }[] {
  return g.more ? [{ key: g.key, type: g.type }, ...g.more] : [g];
}

/** How many values a JSON property holds (an array's length, or one value, or none). */
function lengthOf(v: unknown): number {
  return Array.isArray(v) ? v.length : v === undefined ? 0 : 1;
}

/** The i-th value of a JSON property (a single value is the first). */
function at(v: unknown, i: number): unknown {
  return Array.isArray(v) ? v[i] : i === 0 ? v : undefined;
}

function isEmptyObject(obj: Json): boolean {
  for (const _ in obj) return false;
  return true;
}

/** Copies of a resource's issues (a cached result is shared, and the caller may tag issues with its own profile). */
function nested(list: Issue[]): Issue[] {
  return list.map((i) => ({ ...i, profile: i.profile ?? '' }));
}

/**
 * How deeply objects may nest (resources, elements, extensions): deeper content is reported, not walked. Real FHIR
 * stays far below (a Questionnaire's nested items are the deepest); hostile input must not exhaust the stack.
 */
export const MAX_DEPTH = 200;

/**
 * One validation run: walks instances against element trees, holding the caches that make a Bundle cheap
 * (each resource is validated against each profile once, whether by meta.profile, conformsTo() or a slice).
 */
export class Run {
  readonly #results = new Map<Json, Map<string, Issue[] | null>>();
  readonly #bundles = new Map<Json, BundleIndex>();
  readonly #where = new Map<Json, { expression: string; env: Env }>();
  readonly #children: WeakMap<ElementNode, Map<string, ElementNode[]>>;
  // The callbacks of one Env, made once (an Env is one resource against one profile).
  readonly #invariantHosts = new WeakMap<Env, InvariantHost>();
  readonly #resourceHolders: WeakMap<ElementNode, boolean>;
  readonly #sliceHosts = new WeakMap<Env, SliceHost>();
  #depth = 0;
  /** The element whose properties are being walked: the host of the extensions met there. */
  #host: ExtensionHost | undefined;

  constructor(
    readonly conformance: Conformance,
    readonly terminology: Terminology,
  ) {
    let shared = perConformance.get(conformance);
    if (shared?.generation !== conformance.generation) {
      shared = {
        generation: conformance.generation,
        children: new WeakMap(),
        resourceHolders: new WeakMap(),
      };
      perConformance.set(conformance, shared);
    }
    this.#children = shared.children;
    this.#resourceHolders = shared.resourceHolders;
  }

  /** Validates a resource against its base definition and `profiles`, recording where it sits. */
  resource(resource: Json, expression: string, env: Env, profiles: readonly string[], out: Issue[]): void {
    const type = resource.resourceType;
    if (typeof type !== 'string') {
      out.push({ severity: 'error', code: 'structure', expression, message: 'Missing resourceType' });
      return;
    }
    this.#where.set(resource, { expression, env });
    const base = this.conformance.typeDefinition(type);
    if (base?.kind !== 'resource') {
      out.push({
        severity: 'error',
        code: 'structure',
        expression,
        message: `Unknown resource type '${type}'`,
      });
      return;
    }
    // A malformed meta.profile (not an array) is reported by the walk; it claims nothing.
    const metaProfile = (resource.meta as Json | undefined)?.profile;
    const claimed = Array.isArray(metaProfile) ? (metaProfile as unknown[]) : [];
    const wanted = [...new Set([...claimed, ...profiles])];
    // A profile's snapshot carries every rule of the base, and may rebind an extensible binding: the base
    // definition is walked on its own only when no loaded profile applies (as the HL7 validator does).
    const loaded = wanted.filter(
      (p) => typeof p === 'string' && this.conformance.structureDefinition(p)?.type === type,
    );
    if (loaded.length === 0) out.push(...nested(this.against(resource, base.url)));
    for (const p of wanted) {
      if (typeof p !== 'string') continue;
      if (!this.conformance.structureDefinition(p)) {
        out.push({
          severity: 'warning',
          code: 'not-supported',
          expression: `${expression}.meta.profile`,
          message: this.conformance.problem(p)
            ? `Profile ${p} cannot be used (${this.conformance.problem(p)}); the ${type} was not checked against it`
            : `Profile ${p} is not loaded; the ${type} was not checked against it`,
        });
        continue;
      }
      out.push(...nested(this.against(resource, p)));
    }
  }

  /** The issues of one resource against one profile (cached; a cycle counts as conforming). */
  against(resource: Json, url: string): Issue[] {
    const cached = this.#results.get(resource)?.get(url);
    if (cached !== undefined) return cached ?? [];
    const m = this.#results.get(resource) ?? new Map<string, Issue[] | null>();
    this.#results.set(resource, m);
    m.set(url, null);
    const sd = this.conformance.structureDefinition(url);
    const where = this.#where.get(resource) ?? {
      expression: String(resource.resourceType),
      env: { root: resource, resource, bundle: undefined },
    };
    const issues: Issue[] = [];
    if (!sd) {
      issues.push({
        severity: 'error',
        code: 'not-found',
        expression: where.expression,
        message: this.conformance.problem(url)
          ? `Profile ${url} cannot be used: ${this.conformance.problem(url)}`
          : `Profile ${url} is not loaded`,
      });
    } else if (sd.type !== resource.resourceType) {
      issues.push({
        severity: 'error',
        code: 'structure',
        expression: where.expression,
        message: `Profile ${url} is for ${sd.type}, not ${String(resource.resourceType)}`,
      });
    } else {
      const env: Env = { ...where.env, resource };
      if (resource.resourceType === 'Bundle') {
        env.bundle = this.#bundle(resource);
        // Entries are known before they are walked: conformsTo() and slices may reach them first.
        for (const e of env.bundle.entries) {
          if (this.#where.has(e.resource)) continue;
          this.#where.set(e.resource, {
            expression: `${where.expression}.entry[${e.index}].resource`,
            env: { root: env.root, resource: e.resource, bundle: env.bundle },
          });
        }
      }
      const root = elementTree(sd);
      const host = { type: sd.type, path: sd.type, expression: where.expression, resourceType: sd.type };
      this.withHost(host, () => this.complex(resource, root.children, where.expression, env, issues));
      this.checks({ value: resource, type: sd.type }, root, where.expression, env, issues);
      // Rules of the resource itself, whichever definition is walked (duplicates collapse in the IssueList).
      issues.push(...checkContainedReferenced(resource, where.expression));
      if (resource.resourceType === 'Bundle' && env.bundle) {
        issues.push(...checkMessageBundle(resource, where.expression));
        issues.push(...checkFullUrls(env.bundle, where.expression));
      }
      const profile = sd.derivation === 'constraint' ? url : undefined;
      if (profile) for (const i of issues) i.profile ??= profile;
    }
    m.set(url, issues);
    return issues;
  }

  /** The first error of the resource against the profile, or undefined when it conforms. */
  conforms(resource: Json, url: string): string | undefined {
    const err = this.against(resource, url).find((i) => i.severity === 'error');
    return err ? `${err.message} (at ${err.expression})` : undefined;
  }

  #bundle(bundle: Json): BundleIndex {
    let idx = this.#bundles.get(bundle);
    if (!idx) {
      idx = indexBundle(bundle);
      this.#bundles.set(bundle, idx);
    }
    return idx;
  }

  /** Child element definitions for a value of `type` at `node` (snapshot, content reference, profile, type). */
  childrenOf(node: ElementNode, type?: string): ElementNode[] {
    if (node.children.length > 0) return node.children;
    const key = type ?? '';
    const hit = this.#children.get(node)?.get(key);
    if (hit) return hit;
    let out: ElementNode[] = [];
    if (node.def.contentReference) {
      out = findNode(node.sd, node.def.contentReference.replace(/^.*#/, ''))?.children ?? [];
    } else {
      const t = node.def.type?.find((x) => typeCode(x) === type) ?? node.def.type?.[0];
      const code = type ?? (t ? typeCode(t) : undefined);
      const profile =
        t?.profile?.length === 1 ? this.conformance.structureDefinition(t.profile[0] as string) : undefined;
      const sd = profile ?? (code ? this.conformance.typeDefinition(code) : undefined);
      if (sd) out = elementTree(sd).children;
    }
    const m = this.#children.get(node) ?? new Map<string, ElementNode[]>();
    m.set(key, out);
    this.#children.set(node, m);
    return out;
  }

  /** Runs `fn` with `host` as the element whose extensions are met (for extension contexts). @internal */
  withHost(host: ExtensionHost, fn: () => void): void {
    const outer = this.#host;
    this.#host = host;
    try {
      fn();
    } finally {
      this.#host = outer;
    }
  }

  /** Whether the element's types include a resource (contained, Bundle.entry.resource, …); once per node. */
  #holdsResource(node: ElementNode): boolean {
    let r = this.#resourceHolders.get(node);
    if (r === undefined) {
      r =
        node.def.type?.some((t) => this.conformance.typeDefinition(typeCode(t))?.kind === 'resource') ??
        false;
      this.#resourceHolders.set(node, r);
    }
    return r;
  }

  #invariantHost(env: Env): InvariantHost {
    let h = this.#invariantHosts.get(env);
    if (!h) {
      h = invariantHost(this, env);
      this.#invariantHosts.set(env, h);
    }
    return h;
  }

  #sliceHost(env: Env): SliceHost {
    let h = this.#sliceHosts.get(env);
    if (!h) {
      h = sliceHost(this, env);
      this.#sliceHosts.set(env, h);
    }
    return h;
  }

  #hostOf(type: string, node: ElementNode, expression: string, env: Env, url?: unknown): ExtensionHost {
    // One shape for every host (url set or not).
    return {
      type,
      path: planOf(node).hostPath,
      expression,
      resourceType: typeof env.resource.resourceType === 'string' ? env.resource.resourceType : undefined,
      url: typeof url === 'string' ? url : undefined,
    };
  }

  /** Validates the properties of a JSON object against the child definitions. @internal */
  complex(obj: Json, children: ElementNode[], expression: string, env: Env, out: Issue[]): void {
    if (this.#depth >= MAX_DEPTH) {
      out.push({
        severity: 'error',
        code: 'too-costly',
        expression,
        message: `Nested more than ${MAX_DEPTH} levels deep; the content below was not checked`,
      });
      return;
    }
    this.#depth++;
    try {
      this.#complex(obj, children, expression, env, out);
    } finally {
      this.#depth--;
    }
  }

  #complex(obj: Json, children: ElementNode[], expression: string, env: Env, out: Issue[]): void {
    const lookup = lookupOf(children);
    // The children the object has values for, in the order met (JSON objects usually follow definition order).
    const present: Given[] = [];
    // Most objects have no `_x` companion: then none is looked up (a lookup builds and interns the `_x` name).
    let companions = false;
    for (const key of Object.keys(obj)) {
      if (key === 'resourceType' || key === 'fhir_comments') continue;
      const companion = key.charCodeAt(0) === 95; // '_'
      if (companion) companions = true;
      const name = companion ? key.slice(1) : key;
      if (companion && name in obj) continue;
      const match = lookup.get(name);
      if (!match) {
        const choice = children.find((c) => c.name.endsWith('[x]') && name.startsWith(c.name.slice(0, -3)));
        out.push({
          severity: 'error',
          code: 'structure',
          expression: `${expression}.${name}`,
          message: choice
            ? `Type '${name.slice(choice.name.length - 3)}' is not allowed for ${choice.def.path} (allowed: ${(choice.def.type ?? []).map(typeCode).join(', ')})`
            : `Unknown element '${name}'`,
        });
        continue;
      }
      const same = present.find((g) => g.index === match.index);
      if (!same) {
        present.push({ index: match.index, child: match.node, key: name, type: match.type, more: undefined });
      } else if (same.more) same.more.push({ key: name, type: match.type });
      else same.more = [{ key: name, type: match.type }];
    }
    // JSON objects usually follow definition order: sorted only when they do not (a sort allocates its work array).
    for (let i = 1; i < present.length; i++) {
      if (present[i - 1]!.index > present[i]!.index) {
        present.sort((a, b) => a.index - b.index);
        break;
      }
    }
    // In definition order: each child with values, and each without that has a minimum or required slice (the
    // other children without values have nothing to check).
    const required = requiredOf(children);
    let p = 0;
    let r = 0;
    while (p < present.length || r < required.length) {
      const next = present[p];
      const nextRequired = required[r];
      let given: Given | undefined;
      let child: ElementNode;
      if (next !== undefined && (nextRequired === undefined || next.index <= nextRequired)) {
        if (next.index === nextRequired) r++;
        p++;
        given = next;
        child = next.child;
      } else {
        r++;
        child = children[nextRequired as number] as ElementNode;
      }
      // No value for this child: only its minimum (and required slices, below) can be broken.
      if (given === undefined && (child.slices.length === 0 || !planOf(child).requiredSlice)) {
        if (!cardinalityHolds(0, child)) out.push(...cardinalityIssues(0, child, expression));
        continue;
      }
      const keys = given === undefined ? NO_KEYS : keysOf(given);
      if (keys.length > 1) {
        out.push({
          severity: 'error',
          code: 'structure',
          expression: `${expression}.${keys[1]?.key}`,
          message: `Only one of ${keys.map((k) => k.key).join(', ')} is allowed (${child.def.path})`,
        });
      }
      // The values are counted (shape issues first, as they are met), then walked in order: no list of them is
      // built unless the element is sliced, which needs them again.
      let count = 0;
      for (const { key } of keys) {
        const values = obj[key];
        const exts = companions ? obj[`_${key}`] : undefined;
        const shape = shapeIssue(values, exts, child, `${expression}.${key}`);
        if (shape) out.push(shape);
        count += Math.max(lengthOf(values), lengthOf(exts));
      }
      if (!cardinalityHolds(count, child)) out.push(...cardinalityIssues(count, child, expression));
      const sliced = child.slices.length > 0 && count + (planOf(child).requiredSlice ? 1 : 0) > 0;
      const items: { item: Typed; ext: unknown; expression: string }[] | undefined = sliced ? [] : undefined;
      for (const { key, type } of keys) {
        const keyExpression = `${expression}.${key}`;
        const values = obj[key];
        const exts = companions ? obj[`_${key}`] : undefined;
        const repeating = Array.isArray(values) || Array.isArray(exts);
        const n = Math.max(lengthOf(values), lengthOf(exts));
        const itemType = type ?? planOf(child).defaultType;
        for (let i = 0; i < n; i++) {
          const item: Typed = { value: at(values, i) ?? undefined, type: itemType };
          const ext = at(exts, i) ?? undefined;
          const itemExpression = repeating ? `${keyExpression}[${i}]` : keyExpression;
          this.item(item, ext, child, itemExpression, env, out);
          items?.push({ item, ext, expression: itemExpression });
        }
      }
      if (items) {
        const assigned = assignSlices(
          items.map((i) => i.item),
          child,
          this.#sliceHost(env),
        );
        assigned.forEach((slice, i) => {
          const it = items[i];
          if (slice && slice !== 'unknown' && it) this.item(it.item, it.ext, slice, it.expression, env, out);
        });
        out.push(...checkSlicing(child, assigned, (i) => items[i]?.expression ?? expression, expression));
      }
    }
  }

  /** Validates one value (plus its `_x` primitive extension object) against an element definition. @internal */
  item(item: Typed, ext: unknown, node: ElementNode, expression: string, env: Env, out: Issue[]): void {
    const { value } = item;
    let type = item.type;
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'resourceType' in value) {
      const r = value as Json;
      const t = node.def.type?.find((x) => typeCode(x) === r.resourceType) ?? node.def.type?.[0];
      const profiles = t?.profile ?? [];
      this.resource(r, expression, { ...env, resource: r }, profiles, out);
      return;
    }
    if (value === null) {
      out.push({ severity: 'error', code: 'structure', expression, message: 'null is not allowed here' });
      return;
    }
    // A resource element (contained, Bundle.entry.resource, Parameters.parameter.resource) needs a resourceType:
    // without one it would pass as an empty Resource.
    if (typeof value === 'object' && !Array.isArray(value) && this.#holdsResource(node)) {
      out.push({
        severity: 'error',
        code: 'structure',
        expression,
        message: `Missing resourceType: ${node.def.path} holds a resource`,
      });
      return;
    }
    if (type === undefined && node.def.type && node.def.type.length > 1) {
      out.push({
        severity: 'error',
        code: 'structure',
        expression,
        message: `Cannot tell the type of ${node.def.path}`,
      });
      return;
    }
    type ??= node.def.type?.[0] ? typeCode(node.def.type[0]) : 'BackboneElement';
    if (isPrimitiveType(type)) {
      if (value !== undefined) {
        const problem = checkPrimitive(value, type);
        if (problem) out.push({ severity: 'error', code: 'value', expression, message: problem });
        const narrative =
          type === 'xhtml' && typeof value === 'string' ? checkNarrativeDiv(value) : undefined;
        if (narrative) out.push({ severity: 'error', code: 'invariant', expression, message: narrative });
        const max = node.def.maxLength;
        if (typeof value === 'string' && max !== undefined && value.length > max) {
          out.push({
            severity: 'error',
            code: 'too-long',
            expression,
            message: `Longer than maxLength ${max} (${value.length} characters)`,
          });
        }
      }
      if (ext !== undefined) {
        if (typeof ext !== 'object' || ext === null) {
          out.push({
            severity: 'error',
            code: 'structure',
            expression: `${expression}`,
            message: 'The _ companion of a primitive must be an object',
          });
        } else {
          const elementChildren = elementChildrenOf(this.childrenOf(node, type));
          const outer = this.#host;
          this.#host = this.#hostOf(type, node, expression, env);
          try {
            this.complex(ext as Json, elementChildren, expression, env, out);
          } finally {
            this.#host = outer;
          }
        }
      }
      if (value === undefined && (ext === undefined || Object.keys(ext as object).length === 0)) {
        out.push({
          severity: 'error',
          code: 'invariant',
          expression,
          message: 'ele-1: the element has neither a value nor extensions',
        });
      }
    } else if (typeof value !== 'object' || Array.isArray(value)) {
      out.push({
        severity: 'error',
        code: 'structure',
        expression,
        message: `Expected a ${type} object, found ${JSON.stringify(value)?.slice(0, 40)}`,
      });
      return;
    } else {
      const obj = value as Json;
      if (isEmptyObject(obj)) {
        out.push({
          severity: 'error',
          code: 'invariant',
          expression,
          message: 'ele-1: the element has neither a value nor children',
        });
      }
      let children = this.childrenOf(node, type);
      if (type === 'Extension' || type === 'modifierExtension')
        children = extensionChildren(this.conformance, obj, node, children, expression, out, this.#host);
      const outer = this.#host;
      this.#host = this.#hostOf(type, node, expression, env, obj.url);
      try {
        this.complex(obj, children, expression, env, out);
      } finally {
        this.#host = outer;
      }
      if (
        type === 'Extension' &&
        obj.extension !== undefined &&
        Object.keys(obj).some((k) => k.startsWith('value'))
      ) {
        out.push({
          severity: 'error',
          code: 'invariant',
          expression,
          message: 'ext-1: an extension has either extensions or a value[x], not both',
        });
      }
      if (type === 'Reference') {
        const t = node.def.type?.find((x) => x.code === 'Reference') as TypeRef;
        const path = node.def.base?.path ?? node.def.path;
        out.push(...checkReference(obj, t, referenceCheck(this, env, expression, path)));
      }
      if (type === 'Coding' && typeof obj.system === 'string' && typeof obj.code === 'string') {
        const m = this.terminology.codeInSystem(obj.system, obj.code);
        if (m.result === 'no') {
          out.push({
            severity: 'error',
            code: 'code-invalid',
            expression,
            message: `Unknown code '${obj.code}' in CodeSystem ${obj.system}`,
          });
        }
      }
    }
    this.checks({ value, type }, node, expression, env, out);
  }

  /** fixed/pattern, binding and invariants of the node, for a value of the given type. @internal */
  checks(item: Typed, node: ElementNode, expression: string, env: Env, out: Issue[]): void {
    const { value, type } = item;
    if (value === undefined) return;
    const plan = planOf(node);
    const fp = plan.fixedOrPattern;
    if (fp && !satisfies(value, fp)) {
      out.push({
        severity: 'error',
        code: 'value',
        expression,
        message: `Value ${describeExpected({ ...fp, value })} does not match the ${fp.kind === 'fixed' ? 'fixed value' : 'pattern'} ${describeExpected(fp)}`,
      });
    }
    if (type && node.def.binding)
      out.push(...checkBinding(value, type, node.def, this.terminology, expression));
    const constraints = plan.constraints;
    if (constraints.length > 0) {
      const base =
        !type || type === 'BackboneElement' || type === 'Element'
          ? (node.def.base?.path ?? node.def.path)
          : type;
      out.push(
        ...checkInvariants(
          constraints,
          { value, base, expression, resource: env.resource, root: env.root },
          this.#invariantHost(env),
        ),
      );
    }
  }
}
