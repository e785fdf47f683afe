import type { ElementNode } from '../conformance/tree.ts';
import type { Discriminator, Json } from '../conformance/types.ts';
import { type FixedOrPattern, fixedOrPattern, satisfies } from './fixed-pattern.ts';
import type { Issue } from './issues.ts';
import { typeOfChoiceSuffix } from './primitives.ts';

/** An instance value with its FHIR type (known from the JSON property name for choice elements). */
export interface Typed {
  value: unknown;
  type: string | undefined;
}

/** What slice matching needs from the validator. */
export interface SliceHost {
  /** Child element nodes of `node` for values of `type` (snapshot children, else the type or profile's). */
  childrenOf(node: ElementNode, type?: string): ElementNode[];
  /** Root node of a profile or extension definition. */
  rootOf(url: string): ElementNode | undefined;
  conforms(resource: Json, profile: string): boolean;
  resolve(reference: string): Json | undefined;
  inValueSet(value: unknown, type: string | undefined, valueSet: string): boolean;
  /** No-discriminator slicing: whether the value validates against the slice. */
  matchesNode(item: Typed, slice: ElementNode): boolean;
}

type Expectation =
  | { kind: 'value'; fp: FixedOrPattern }
  | { kind: 'binding'; valueSet: string }
  | { kind: 'type'; types: string[] }
  | { kind: 'profile'; profiles: string[] }
  | { kind: 'exists'; exists: boolean }
  | { kind: 'none' };

/** Splits a FHIRPath discriminator path on dots outside parentheses and quotes. */
export function splitPath(path: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = false;
  let cur = '';
  for (const ch of path) {
    if (ch === "'") quote = !quote;
    if (!quote && ch === '(') depth++;
    if (!quote && ch === ')') depth--;
    if (ch === '.' && depth === 0 && !quote) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

const FN_ARG = {
  extension: /^extension\(\s*'?([^')]*)'?\s*\)$/,
  ofType: /^ofType\(\s*'?([^')]*)'?\s*\)$/,
};
const fnArg = (seg: string, fn: keyof typeof FN_ARG): string | undefined => FN_ARG[fn].exec(seg)?.[1];

/** One step of a discriminator path, read once per path (slices are matched for every repeating value). */
interface PathStep {
  /** The element name (`value` for `value[x]`), or the whole step when it is a function. */
  seg: string;
  url: string | undefined;
  ofType: string | undefined;
}
const pathSteps = new Map<string, PathStep[]>();
function stepsOf(path: string): PathStep[] {
  let steps = pathSteps.get(path);
  if (!steps) {
    steps = [];
    for (const part of splitPath(path)) {
      if (part === '$this') continue;
      // `value[x]` (element-id style, common in discriminators) names the choice element like `value`.
      const seg = part.endsWith('[x]') ? part.slice(0, -3) : part;
      steps.push({ seg, url: fnArg(seg, 'extension'), ofType: fnArg(seg, 'ofType') });
    }
    pathSteps.set(path, steps);
  }
  return steps;
}

/** Adds each value of a JSON property (one value or an array) with its type. */
function pushValues(next: Typed[], x: unknown, type: string | undefined): void {
  for (const y of Array.isArray(x) ? x : [x])
    if (y !== undefined && y !== null) next.push({ value: y, type });
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function childNamed(children: ElementNode[], name: string): { node: ElementNode; type?: string } | undefined {
  const exact = children.find((c) => c.name === name);
  if (exact) return { node: exact };
  for (const c of children) {
    if (!c.name.endsWith('[x]')) continue;
    const stem = c.name.slice(0, -3);
    if (name === stem) return { node: c };
    const t = c.def.type?.find((x) => `${stem}${cap(x.code)}` === name);
    if (t) return { node: c, type: t.code };
  }
  return undefined;
}

const cache = new WeakMap<ElementNode, Map<string, Expectation>>();

/** What a slice demands of the discriminator path (R4 profiling §5.1.0.4 "discriminator"). */
function expectation(slice: ElementNode, d: Discriminator, host: SliceHost): Expectation {
  const key = `${d.type}|${d.path}`;
  const hit = cache.get(slice)?.get(key);
  if (hit) return hit;
  let nodes: { node: ElementNode; type?: string }[] = [{ node: slice }];
  let resolved = false;
  for (const seg of splitPath(d.path)) {
    if (seg === '$this') continue;
    const next: { node: ElementNode; type?: string }[] = [];
    if (seg === 'resolve()') {
      resolved = true;
      for (const n of nodes) {
        for (const t of n.node.def.type ?? []) {
          for (const p of t.targetProfile ?? []) {
            const r = host.rootOf(p);
            if (r) next.push({ node: r });
          }
        }
      }
    } else if (fnArg(seg, 'extension') !== undefined) {
      const url = fnArg(seg, 'extension') as string;
      for (const n of nodes) {
        const ext = host.childrenOf(n.node, n.type).find((c) => c.name === 'extension');
        const s = ext?.slices.find((x) => x.def.type?.some((t) => t.profile?.includes(url)));
        if (s) next.push({ node: s });
        else {
          const r = host.rootOf(url);
          if (r) next.push({ node: r });
        }
      }
    } else if (fnArg(seg, 'ofType') !== undefined) {
      const t = fnArg(seg, 'ofType') as string;
      for (const n of nodes) next.push({ node: n.node, type: t });
    } else {
      for (const n of nodes) {
        const hit = childNamed(host.childrenOf(n.node, n.type), seg);
        if (!hit) continue;
        next.push(hit);
        // A path through a sliced element without naming the slice (`extension.value`): its slices count too.
        for (const s of hit.node.slices) next.push({ node: s, ...(hit.type ? { type: hit.type } : {}) });
      }
    }
    nodes = next;
    if (nodes.length === 0) break;
  }
  let e: Expectation = { kind: 'none' };
  const last = nodes[0];
  if (last) {
    if (d.type === 'value' || d.type === 'pattern') {
      let fp: FixedOrPattern | undefined;
      for (const n of nodes) {
        fp = fixedOrPattern(n.node.def);
        if (fp) break;
      }
      // An extension's url is fixed by its profile even when the snapshot does not spell it out.
      if (!fp && d.path.endsWith('url')) {
        const prof = slice.def.type?.find((t) => t.code === 'Extension')?.profile?.[0];
        if (prof) fp = { kind: 'fixed', property: 'fixedUri', value: prof };
      }
      const vs = nodes.map((n) => n.node.def.binding).find((b) => b?.strength === 'required' && b.valueSet);
      if (fp) e = { kind: 'value', fp };
      else if (vs?.valueSet) e = { kind: 'binding', valueSet: vs.valueSet };
    } else if (d.type === 'type') {
      const types = last.type ? [last.type] : (last.node.def.type ?? []).map((t) => t.code);
      // Through resolve() the walk ends on the roots of the target profiles, which carry no type: the type a
      // target must have is the one those profiles constrain (`$this.resolve()` slicing Reference(A) | Reference(B)).
      if (types.length === 0 && resolved) types.push(...new Set(nodes.map((n) => n.node.sd.type)));
      e = { kind: 'type', types };
    } else if (d.type === 'profile') {
      const profiles = nodes.flatMap((n) =>
        (n.node.def.type ?? []).flatMap((t) =>
          (resolved ? [] : (t.targetProfile ?? [])).concat(t.profile ?? []),
        ),
      );
      const fromRoot = resolved ? nodes.map((n) => n.node.sd.url) : [];
      e = { kind: 'profile', profiles: [...new Set([...profiles, ...fromRoot])] };
    } else if (d.type === 'exists') {
      e = { kind: 'exists', exists: (last.node.def.min ?? 0) > 0 };
      if (last.node.def.max === '0') e = { kind: 'exists', exists: false };
    }
  }
  const m = cache.get(slice) ?? new Map<string, Expectation>();
  m.set(key, e);
  cache.set(slice, m);
  return e;
}

/** Evaluates a discriminator path on an instance value (the subset of FHIRPath R4 allows there). */
function evaluate(item: Typed, path: string, host: SliceHost): Typed[] {
  let cur: Typed[] = [item];
  for (const { seg, url, ofType } of stepsOf(path)) {
    const next: Typed[] = [];
    for (const c of cur) {
      const v = c.value as Record<string, unknown> | undefined;
      if (seg === 'resolve()') {
        const ref = (v as { reference?: unknown } | undefined)?.reference;
        const r = typeof ref === 'string' ? host.resolve(ref) : undefined;
        if (r) next.push({ value: r, type: r.resourceType as string });
      } else if (url !== undefined) {
        for (const e of (v?.extension as Json[] | undefined) ?? [])
          if (e.url === url) next.push({ value: e, type: 'Extension' });
      } else if (ofType !== undefined) {
        const t = c.type ?? (v?.resourceType as string | undefined);
        if (t === ofType) next.push(c);
      } else if (v && typeof v === 'object') {
        if (seg in v) pushValues(next, v[seg], undefined);
        else {
          for (const k of Object.keys(v)) {
            if (k.startsWith(seg) && /^[A-Z]/.test(k.slice(seg.length))) {
              const t = k.slice(seg.length);
              pushValues(next, v[k], typeOfChoiceSuffix(t));
            }
          }
        }
      }
    }
    cur = next;
  }
  return cur;
}

function typeMatches(found: string | undefined, expected: string[]): boolean {
  if (!found) return false;
  return expected.some((t) => t === found || t.toLowerCase() === found.toLowerCase());
}

/** Whether an instance value belongs to the slice: every discriminator agrees (R4 profiling §5.1.0.4). */
export function inSlice(
  item: Typed,
  slice: ElementNode,
  discriminators: readonly Discriminator[],
  host: SliceHost,
): boolean | 'unknown' {
  if (discriminators.length === 0) return host.matchesNode(item, slice);
  for (const d of discriminators) {
    const e = expectation(slice, d, host);
    const found = evaluate(item, d.path, host);
    // A discriminator through resolve() on a reference that does not resolve (a resource validated on its
    // own, outside its Bundle): membership cannot be decided.
    if (found.length === 0 && d.path.includes('resolve()')) return 'unknown';
    switch (e.kind) {
      case 'value':
        if (!found.some((f) => satisfies(f.value, e.fp))) return false;
        break;
      case 'binding':
        if (!found.some((f) => host.inValueSet(f.value, f.type, e.valueSet))) return false;
        break;
      case 'type':
        if (!found.some((f) => typeMatches(f.type ?? ((f.value as Json)?.resourceType as string), e.types)))
          return false;
        break;
      case 'profile':
        if (!found.some((f) => e.profiles.some((p) => host.conforms(f.value as Json, p)))) return false;
        break;
      case 'exists':
        if (found.length > 0 !== e.exists) return false;
        break;
      default:
        // A slice whose discriminator value cannot be found: fall back to validating against the slice.
        if (!host.matchesNode(item, slice)) return false;
    }
  }
  return true;
}

/** The slice each value belongs to (first match in definition order), or undefined. */
export type Assignment = ElementNode | undefined | 'unknown';

export function assignSlices(items: readonly Typed[], entry: ElementNode, host: SliceHost): Assignment[] {
  const discriminators =
    entry.def.slicing?.discriminator ??
    (entry.name === 'extension' || entry.name === 'modifierExtension'
      ? [{ type: 'value' as const, path: 'url' }]
      : []);
  return items.map((item) => {
    let unknown = false;
    for (const s of entry.slices) {
      const r = inSlice(item, s, discriminators, host);
      if (r === true) return s;
      if (r === 'unknown') unknown = true;
    }
    return unknown ? 'unknown' : undefined;
  });
}

/** Slice cardinality, closed and ordered slicing (R4 ElementDefinition.slicing.rules / ordered). */
export function checkSlicing(
  entry: ElementNode,
  assigned: readonly Assignment[],
  expressionOf: (i: number) => string,
  parentExpression: string,
): Issue[] {
  const issues: Issue[] = [];
  // Slice counts are reported at the sliced element (`….identifier`), with its parent as related path.
  const at = `${parentExpression}.${entry.name.replace('[x]', '')}`;
  const related = [parentExpression];
  const rules = entry.def.slicing?.rules ?? 'open';
  const undecided = assigned.filter((a) => a === 'unknown').length;
  if (undecided > 0) {
    issues.push({
      severity: 'warning',
      code: 'incomplete',
      expression: at,
      related,
      message: `${undecided} value(s) of ${entry.def.path} could not be matched to slices: their references do not resolve here`,
    });
  }
  for (const s of entry.slices) {
    const n = assigned.filter((a) => a === s).length;
    const min = s.def.min ?? 0;
    const max = s.def.max ?? '*';
    if (n + undecided < min) {
      issues.push({
        severity: 'error',
        code: 'required',
        expression: at,
        related,
        message: `Slice '${s.def.sliceName}' of ${entry.def.path} needs at least ${min} value(s), found ${n}`,
      });
    }
    if (max !== '*' && n > Number(max)) {
      issues.push({
        severity: 'error',
        code: 'structure',
        expression: at,
        related,
        message: `Slice '${s.def.sliceName}' of ${entry.def.path} allows at most ${max} value(s), found ${n}`,
      });
    }
  }
  assigned.forEach((a, i) => {
    if (a === undefined && rules === 'closed' && undecided === 0) {
      issues.push({
        severity: 'error',
        code: 'structure',
        expression: expressionOf(i),
        message: `This value matches none of the slices of ${entry.def.path} (${entry.slices.map((s) => s.def.sliceName).join(', ')}), and the slicing is closed`,
      });
    }
  });
  if (entry.def.slicing?.ordered || rules === 'openAtEnd') {
    let last = -1;
    let sawUnmatched = false;
    assigned.forEach((a, i) => {
      if (a === undefined || a === 'unknown') {
        sawUnmatched = true;
        return;
      }
      const pos = entry.slices.indexOf(a);
      if ((entry.def.slicing?.ordered && pos < last) || (rules === 'openAtEnd' && sawUnmatched)) {
        issues.push({
          severity: 'error',
          code: 'structure',
          expression: expressionOf(i),
          message: `Slice '${a.def.sliceName}' is out of order in ${entry.def.path}`,
        });
      }
      last = Math.max(last, pos);
    });
  }
  return issues;
}
