// The callbacks the slicing, invariant and reference checks get from a validation run.
import type { Conformance } from '../conformance/conformance.ts';
import { type ElementNode, elementTree } from '../conformance/tree.ts';
import type { Json } from '../conformance/types.ts';
import type { InvariantHost } from './invariants.ts';
import type { Issue } from './issues.ts';
import { type BundleIndex, type ReferenceCheck, resolveReference } from './references.ts';
import type { SliceHost, Typed } from './slicing.ts';
import type { Env, Run } from './walker.ts';

/** What FHIRPath's conformsTo(), resolve() and memberOf() ask of the run: methods, not closures per resource. */
class RunInvariantHost implements InvariantHost {
  constructor(
    private readonly run: Run,
    private readonly env: Env,
  ) {}
  conformsTo(resource: Json, url: string): boolean {
    return this.run.conforms(resource, url) === undefined;
  }
  resolve(reference: string, holder: Json | undefined): Json | undefined {
    return resolveReference(reference, holder ?? this.env.resource, this.env.bundle);
  }
  memberOf(value: unknown, vs: string): boolean | string {
    const m = memberOf(this.run, value, vs);
    return m === 'unknown' ? `ValueSet ${vs} could not be checked` : m;
  }
}

export function invariantHost(run: Run, env: Env): InvariantHost {
  return new RunInvariantHost(run, env);
}

export function memberOf(run: Run, value: unknown, vs: string): boolean | 'unknown' {
  const codings: { system?: string; code?: string }[] =
    typeof value === 'string'
      ? [{ code: value }]
      : Array.isArray((value as Json)?.coding)
        ? ((value as Json).coding as Json[])
        : [value as Json];
  let unknown = false;
  for (const c of codings) {
    if (typeof c?.code !== 'string') continue;
    const m = run.terminology.inValueSet(vs, typeof c.system === 'string' ? c.system : undefined, c.code);
    if (m.result === 'yes') return true;
    if (m.result === 'unknown') unknown = true;
  }
  return unknown ? 'unknown' : false;
}

/** What slice matching asks of the run: methods, not closures per resource. */
class RunSliceHost implements SliceHost {
  constructor(
    private readonly run: Run,
    private readonly env: Env,
  ) {}
  childrenOf(node: ElementNode, type?: string): ElementNode[] {
    return this.run.childrenOf(node, type);
  }
  rootOf(url: string): ElementNode | undefined {
    const sd = this.run.conformance.structureDefinition(url);
    return sd ? elementTree(sd) : undefined;
  }
  conforms(value: unknown, url: string): boolean {
    if (!value || typeof value !== 'object') return false;
    if ('resourceType' in value) return this.run.conforms(value as Json, url) === undefined;
    // A datatype profile (an Identifier slice `type = profile` on $this): walk the value against it.
    const sd = this.run.conformance.structureDefinition(url);
    if (!sd) return false;
    const root = elementTree(sd);
    const issues: Issue[] = [];
    const host = { type: sd.type, path: sd.type, expression: '$slice', resourceType: undefined };
    this.run.withHost(host, () => this.run.complex(value as Json, root.children, '$slice', this.env, issues));
    this.run.checks({ value, type: sd.type }, root, '$slice', this.env, issues);
    return !issues.some((i) => i.severity === 'error');
  }
  resolve(reference: string): Json | undefined {
    return resolveReference(reference, this.env.resource, this.env.bundle);
  }
  inValueSet(value: unknown, _type: string | undefined, vs: string): boolean {
    return memberOf(this.run, value, vs) === true;
  }
  matchesNode(item: Typed, slice: ElementNode): boolean {
    const issues: Issue[] = [];
    this.run.item(item, undefined, slice, '$slice', this.env, issues);
    return !issues.some((i) => i.severity === 'error');
  }
}

export function sliceHost(run: Run, env: Env): SliceHost {
  return new RunSliceHost(run, env);
}

/** The reference check's view of the run: methods, not closures made for every Reference met. */
class RunReferenceCheck implements ReferenceCheck {
  constructor(
    private readonly run: Run,
    readonly holder: Json | undefined,
    readonly bundle: BundleIndex | undefined,
    readonly expression: string,
    readonly path: string,
  ) {}
  typeOfProfile(url: string): string | undefined {
    return profileFacts(this.run.conformance, url).type;
  }
  conforms(resource: Json, url: string): string | undefined {
    return this.run.conforms(resource, url);
  }
  isBaseProfile(url: string): boolean {
    return profileFacts(this.run.conformance, url).base;
  }
}

/** A target profile's type, and whether it is a base definition (not a constraint), per conformance and URL. */
interface ProfileFacts {
  type: string | undefined;
  base: boolean;
}

const facts = new WeakMap<Conformance, { generation: number; byUrl: Map<string, ProfileFacts> }>();

function profileFacts(conformance: Conformance, url: string): ProfileFacts {
  let known = facts.get(conformance);
  if (known?.generation !== conformance.generation) {
    known = { generation: conformance.generation, byUrl: new Map() };
    facts.set(conformance, known);
  }
  let f = known.byUrl.get(url);
  if (!f) {
    const sd = conformance.structureDefinition(url);
    f = { type: sd?.type, base: sd?.derivation !== 'constraint' };
    known.byUrl.set(url, f);
  }
  return f;
}

export function referenceCheck(run: Run, env: Env, expression: string, path: string): ReferenceCheck {
  return new RunReferenceCheck(run, env.resource, env.bundle, expression, path);
}
