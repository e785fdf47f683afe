// The callbacks the slicing, invariant and reference checks get from a validation run.
import { elementTree } from '../conformance/tree.ts';
import type { Json } from '../conformance/types.ts';
import type { InvariantHost } from './invariants.ts';
import type { Issue } from './issues.ts';
import { type BundleIndex, type ReferenceCheck, resolveReference } from './references.ts';
import type { SliceHost } from './slicing.ts';
import type { Env, Run } from './walker.ts';

export function invariantHost(run: Run, env: Env): InvariantHost {
  return {
    conformsTo: (resource, url) => run.conforms(resource, url) === undefined,
    resolve: (reference, holder) => resolveReference(reference, holder ?? env.resource, env.bundle),
    memberOf: (value, vs) => {
      const m = memberOf(run, value, vs);
      return m === 'unknown' ? `ValueSet ${vs} could not be checked` : m;
    },
  };
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

export function sliceHost(run: Run, env: Env): SliceHost {
  return {
    childrenOf: (node, type) => run.childrenOf(node, type),
    rootOf: (url) => {
      const sd = run.conformance.structureDefinition(url);
      return sd ? elementTree(sd) : undefined;
    },
    conforms: (value, url) => {
      if (!value || typeof value !== 'object') return false;
      if ('resourceType' in value) return run.conforms(value, url) === undefined;
      // A datatype profile (an Identifier slice `type = profile` on $this): walk the value against it.
      const sd = run.conformance.structureDefinition(url);
      if (!sd) return false;
      const root = elementTree(sd);
      const issues: Issue[] = [];
      const host = { type: sd.type, path: sd.type, expression: '$slice', resourceType: undefined };
      run.withHost(host, () => run.complex(value, root.children, '$slice', env, issues));
      run.checks({ value, type: sd.type }, root, '$slice', env, issues);
      return !issues.some((i) => i.severity === 'error');
    },
    resolve: (reference) => resolveReference(reference, env.resource, env.bundle),
    inValueSet: (value, _type, vs) => memberOf(run, value, vs) === true,
    matchesNode: (item, slice) => {
      const issues: Issue[] = [];
      run.item(item, undefined, slice, '$slice', env, issues);
      return !issues.some((i) => i.severity === 'error');
    },
  };
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
    return this.run.conformance.structureDefinition(url)?.type;
  }
  conforms(resource: Json, url: string): string | undefined {
    return this.run.conforms(resource, url);
  }
  isBaseProfile(url: string): boolean {
    return this.run.conformance.structureDefinition(url)?.derivation !== 'constraint';
  }
}

export function referenceCheck(run: Run, env: Env, expression: string, path: string): ReferenceCheck {
  return new RunReferenceCheck(run, env.resource, env.bundle, expression, path);
}
