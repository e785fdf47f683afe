import fhirpath, { type UserInvocationTable } from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import type { Constraint, Json } from '../conformance/types.ts';
import { type CertainTest, certainTest } from './certain.ts';
import type { Issue } from './issues.ts';

/** What FHIRPath functions need from the validator while an invariant is evaluated. */
export interface InvariantHost {
  /** `conformsTo(url)`: whether the resource validates against the profile. */
  conformsTo(resource: Json, url: string): boolean;
  /** `resolve()`: a reference inside the Bundle (or contained), from the holder resource. */
  resolve(reference: string, holder: Json | undefined): Json | undefined;
  /** `memberOf(url)`: true/false, or a string naming what is missing. */
  memberOf(value: unknown, valueSet: string): boolean | string;
}

interface Frame {
  host: InvariantHost;
  holder: Json | undefined;
  unknown?: string;
}

// Evaluation is synchronous, so the active host is a stack: conformsTo() validates another resource, whose
// own invariants push their frame and pop it before the outer expression continues.
const stack: Frame[] = [];
const top = (): Frame => {
  const f = stack[stack.length - 1];
  if (!f) throw new Error('FHIRPath function used outside validation');
  return f;
};

type Node = { constructor: { makeResNode: (...a: unknown[]) => unknown } };

const userInvocationTable: UserInvocationTable = {
  // FHIR R4 fhirpath.html §2.1.9.1.4 conformsTo(structure): true if the resource conforms to the profile.
  conformsTo: {
    fn: (inputs: unknown[], url: string) =>
      inputs.map((i) => {
        const r = fhirpath.util.valData(i) as Json | undefined;
        return typeof r === 'object' && r !== null && top().host.conformsTo(r, url);
      }),
    arity: { 1: ['String'] },
  },
  // §2.1.9.1.2 resolve(): here only inside the Bundle or the resource (no server is ever asked).
  resolve: {
    // ResourceNode inputs: their class makes the typed node for the resolved resource (ofType() needs it).
    internalStructures: true,
    arity: { 0: [] },
    fn: function (this: unknown, inputs: unknown[]) {
      const out: unknown[] = [];
      for (const i of inputs) {
        const v = fhirpath.util.valData(i) as unknown;
        const ref = typeof v === 'string' ? v : (v as { reference?: unknown } | undefined)?.reference;
        if (typeof ref !== 'string') continue;
        const r = top().host.resolve(ref, top().holder);
        // Unresolvable: the invariant cannot be decided here (a warning, not a false error).
        if (!r) top().unknown = `reference '${ref}' cannot be resolved`;
        if (r) out.push((i as Node).constructor.makeResNode(this, r, null, null, null, null));
      }
      return out;
    },
  },
  // §2.1.9.1.3 memberOf(valueset), against the loaded ValueSets.
  memberOf: {
    fn: (inputs: unknown[], url: string) =>
      inputs.map((i) => {
        const r = top().host.memberOf(fhirpath.util.valData(i), url);
        if (typeof r === 'string') {
          top().unknown = r;
          return false;
        }
        return r;
      }),
    arity: { 1: ['String'] },
  },
};

type Compiled = (resource: unknown, env?: Record<string, unknown>) => unknown[];
const compiled = new Map<string, Compiled | Error>();

function compile(base: string, expression: string): Compiled | Error {
  const key = `${base}\u0000${expression}`;
  let fn = compiled.get(key);
  if (!fn) {
    try {
      fn = fhirpath.compile({ base, expression }, r4, {
        userInvocationTable,
        traceFn: () => {},
      }) as unknown as Compiled;
    } catch (e) {
      fn = e instanceof Error ? e : new Error(String(e));
    }
    compiled.set(key, fn);
  }
  return fn;
}

interface AstNode {
  type: string;
  text?: string;
  start?: { line: number; column: number };
  children?: AstNode[];
}

const primitiveForms = new Map<string, string>();

/**
 * The expression as fhirpath.js must read it on a primitive element. The HL7 FHIRPath engine gives a primitive a
 * `value` child (the primitive itself), so profiles write `value.matches(…)` on a primitive element (dk-core
 * x-ecpr, MedCom medcom-uuidv4 2.4.0) and `(value.substring(0,1).toInteger()*1)+(value.substring(1,1)…` (EER
 * gln-modulus-10); fhirpath.js finds no `value` on a string, so every such path is empty. Each path that starts
 * with `value` on the focus (also inside parentheses, operators, and the arguments of a function called on the
 * focus) is rewritten to `$this`. A `value` after a dot (`extension.value`) or inside the arguments of a function
 * called on something else (`extension.where(value…)`) is another element's child and stays as written.
 */
export function primitiveExpression(expression: string): string {
  let out = primitiveForms.get(expression);
  if (out !== undefined) return out;
  out = expression;
  if (/\bvalue\b/.test(expression)) {
    let ast: AstNode | undefined;
    try {
      ast = fhirpath.parse(expression) as AstNode;
    } catch {
      // A syntax error: compiled as written, and reported as an expression that cannot be evaluated.
    }
    if (ast) out = rewriteValuePaths(expression, ast);
  }
  primitiveForms.set(expression, out);
  return out;
}

function rewriteValuePaths(expression: string, ast: AstNode): string {
  // fhirpath.js's parser gives 1-based lines and columns (ANTLR's column + 1), counted in code points.
  const chars = Array.from(expression);
  const lineStarts = [0];
  chars.forEach((ch, i) => {
    if (ch === '\n') lineStarts.push(i + 1);
  });
  const spans: { at: number; length: number }[] = [];
  const walk = (node: AstNode, onFocus: boolean): void => {
    const kids = node.children ?? [];
    if (node.type === 'InvocationExpression') {
      // `a.b`: only `a` is evaluated on the focus; `b` (and its arguments) on what `a` gave.
      if (kids[0]) walk(kids[0], onFocus);
      for (const k of kids.slice(1)) walk(k, false);
      return;
    }
    const first = kids[0];
    if (node.type === 'InvocationTerm' && onFocus && first?.type === 'MemberInvocation' && first.start) {
      const name = first.text ?? '';
      if (name === 'value' || name === '`value`') {
        const at = (lineStarts[first.start.line - 1] ?? Number.NaN) + first.start.column - 1;
        if (chars.slice(at, at + name.length).join('') === name) spans.push({ at, length: name.length });
      }
      return;
    }
    for (const k of kids) walk(k, onFocus);
  };
  walk(ast, true);
  for (const { at, length } of spans.sort((a, b) => b.at - a.at)) chars.splice(at, length, '$this');
  return chars.join('');
}

// Checked natively: ele-1, ext-1 (walker), txt-1/2 (primitives.ts; fhirpath.js has no htmlChecks()), dom-3 (below).
// dom-3 (contained resources are referenced) fails in fhirpath.js on `as()` over many nodes: checked natively.
const NATIVE = new Set(['ele-1', 'ext-1', 'txt-1', 'txt-2', 'dom-3']);

/** dom-3: every contained resource is referenced from the rest of the resource (or references the container). */
export function checkContainedReferenced(resource: Json, expression: string): Issue[] {
  const contained = resource.contained;
  if (!Array.isArray(contained) || contained.length === 0) return [];
  const refs = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      if (v.startsWith('#')) refs.add(v);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
  };
  for (const [k, v] of Object.entries(resource)) if (k !== 'contained') walk(v);
  const issues: Issue[] = [];
  contained.forEach((c: Json, i: number) => {
    if (refs.has(`#${String(c?.id)}`)) return;
    // "or the contained resource references the container" (R4 dom-3, reference = '#').
    if (JSON.stringify(c).includes('"#"')) return;
    issues.push({
      severity: 'error',
      code: 'invariant',
      expression: `${expression}.contained[${i}]`,
      message: `Invariant dom-3 failed: contained resource #${String(c?.id)} is not referenced from the containing resource`,
    });
  });
  return issues;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The entries of a Bundle when each is a JSON object (undefined: none; null: not plainly shaped). */
function plainEntries(bundle: Json): Json[] | null {
  const e = bundle.entry;
  if (e === undefined) return [];
  if (!Array.isArray(e) || !e.every(isObject)) return null;
  return e as Json[];
}

/**
 * A native test that a constraint certainly holds, for rules every Bundle and resource meets in the common case.
 * It only ever answers "holds" (true) or "run FHIRPath" (false): a violation is always found, and worded, by
 * FHIRPath, so the findings are those of the expressions themselves.
 */
type Holds = (value: Json, t: InvariantTarget) => boolean;

const NATIVE_HOLDS: Record<string, { expression: string; holds: Holds }> = {
  // dom-6 `text.\`div\`.exists()` holds when there is a narrative div (else FHIRPath reports it).
  'dom-6': {
    expression: 'text.`div`.exists()',
    holds: (v) => typeof (v.text as Json | undefined)?.div === 'string',
  },
  // bdl-3 / bdl-4: request (response) only in batch/transaction/history (responses); none in other Bundles.
  'bdl-3': {
    expression:
      "entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction' or %resource.type = 'history'))",
    holds: (v, t) =>
      v === t.resource &&
      typeof v.type === 'string' &&
      !['batch', 'transaction', 'history'].includes(v.type) &&
      (plainEntries(v)?.every((e) => e.request === undefined) ?? false),
  },
  'bdl-4': {
    expression:
      "entry.all(response.exists() = (%resource.type = 'batch-response' or %resource.type = 'transaction-response' or %resource.type = 'history'))",
    holds: (v, t) =>
      v === t.resource &&
      typeof v.type === 'string' &&
      !['batch-response', 'transaction-response', 'history'].includes(v.type) &&
      (plainEntries(v)?.every((e) => e.response === undefined) ?? false),
  },
  // bdl-7: no two entries with one fullUrl (no meta.versionId anywhere to tell them apart).
  'bdl-7': {
    expression:
      "(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId).isDistinct()",
    holds: (v) => {
      const entries = plainEntries(v);
      if (!entries) return false;
      const seen = new Set<string>();
      for (const e of entries) {
        if (e._fullUrl !== undefined) return false;
        const r = e.resource;
        if (r !== undefined) {
          if (!isObject(r)) return false;
          const meta = r.meta;
          if (
            meta !== undefined &&
            (!isObject(meta) || meta.versionId !== undefined || meta._versionId !== undefined)
          )
            return false;
        }
        if (e.fullUrl === undefined) continue;
        if (typeof e.fullUrl !== 'string' || seen.has(e.fullUrl)) return false;
        seen.add(e.fullUrl);
      }
      return true;
    },
  },
  // bdl-5: an entry holding a resource.
  'bdl-5': {
    expression: 'resource.exists() or request.exists() or response.exists()',
    holds: (v) => isObject(v.resource) && typeof v.resource.resourceType === 'string',
  },
  // bdl-8: a fullUrl without a version.
  'bdl-8': {
    expression: "fullUrl.exists() implies fullUrl.contains('/_history/').not()",
    holds: (v) =>
      v._fullUrl === undefined &&
      (v.fullUrl === undefined || (typeof v.fullUrl === 'string' && !v.fullUrl.includes('/_history/'))),
  },
};

/**
 * An expression whose result on a primitive depends on the value alone (no environment variable, no function
 * that reaches the Bundle, the terminology or the clock): its outcome on one value is remembered.
 */
const IMPURE =
  /%|resolve|conformsTo|memberOf|now\(|today\(|timeOfDay|trace|defineVariable|descendants|children/;

/** What is prepared once per constraint: native rules, shortcuts, compiled forms per FHIRPath base. */
interface Prepared {
  skip: boolean;
  holds: Holds | undefined;
  certain: CertainTest | undefined;
  /** `${primitive ? 'p' : 'o'}${base}` → compiled expression. */
  compiled: Map<string, Compiled | Error>;
  pureOnPrimitive: boolean;
}

const prepared = new WeakMap<Constraint, Prepared>();

function prepare(c: Constraint): Prepared {
  let p = prepared.get(c);
  if (!p) {
    const native = NATIVE_HOLDS[c.key];
    const expression = c.expression ?? '';
    p = {
      skip: !c.expression || NATIVE.has(c.key),
      holds: native && native.expression === expression ? native.holds : undefined,
      certain: c.expression && !NATIVE.has(c.key) ? certainTest(expression) : undefined,
      compiled: new Map(),
      pureOnPrimitive: !IMPURE.test(primitiveExpression(expression)),
    };
    prepared.set(c, p);
  }
  return p;
}

const liveLists = new WeakMap<readonly Constraint[], readonly Constraint[]>();

/**
 * The constraints of a list that {@link checkInvariants} evaluates (those with an expression, less the rules the
 * walk checks natively: ele-1, ext-1, txt-1/2, dom-3), worked out once per list. Most elements carry only ele-1,
 * so most have none.
 */
export function liveConstraints(constraints: readonly Constraint[]): readonly Constraint[] {
  let live = liveLists.get(constraints);
  if (!live) {
    live = constraints.filter((c) => !prepare(c).skip);
    liveLists.set(constraints, live);
  }
  return live;
}

/**
 * Whether a constraint holds without running FHIRPath: the Bundle rules above in the common case, and rules of the
 * shapes `certain.ts` decides (R4 dom-2/4/5 `contained.….empty()` when nothing is contained, org-1, the dk-core
 * identifier and unit rules …) when their answer is certainly true.
 */
function trivially(p: Prepared, value: unknown, t: InvariantTarget, host: InvariantHost): boolean {
  if (!isObject(value)) return false;
  if (p.holds) return p.holds(value, t);
  if (!p.certain) return false;
  return p.certain(value, t.base, host, t.resource);
}

/** Outcomes of value-only expressions on primitive values: `base \0 expression \0 type:value`. */
const primitiveOutcomes = new Map<string, { ok: boolean; error: string | undefined }>();
const MAX_PRIMITIVE_OUTCOMES = 20_000;

let shortcutCheck: string[] | undefined;

/**
 * Tests only: every constraint a shortcut says holds is evaluated by FHIRPath as well, and each one FHIRPath does
 * not find true is added to `into` (undefined: off). @internal
 */
export function checkShortcuts(into: string[] | undefined): void {
  shortcutCheck = into;
}

export interface InvariantTarget {
  value: unknown;
  /** FHIRPath type context for the model, e.g. `MessageHeader.destination` or `Coding`. */
  base: string;
  expression: string;
  resource: Json | undefined;
  root: Json | undefined;
}

/**
 * Evaluates the element's invariants on one value (R4 conformance-rules §"Constraints": the expression SHALL
 * evaluate to true). Best-practice rules such as dom-6 are warnings, as in the HL7 validator.
 */
export function checkInvariants(
  constraints: readonly Constraint[],
  t: InvariantTarget,
  host: InvariantHost,
): Issue[] {
  const issues: Issue[] = [];
  const primitive = t.value === null || typeof t.value !== 'object';
  for (const c of constraints) {
    const p = prepare(c);
    if (p.skip) continue;
    const holds = trivially(p, t.value, t, host);
    if (holds && !shortcutCheck) continue;
    const expr = primitive ? primitiveExpression(c.expression as string) : (c.expression as string);
    const fnKey = `${primitive ? 'p' : 'o'}${t.base}`;
    let fn = p.compiled.get(fnKey);
    if (fn === undefined) {
      fn = compile(t.base, expr);
      p.compiled.set(fnKey, fn);
    }
    const frame: Frame = { host, holder: t.resource };
    let ok: boolean;
    let error: string | undefined;
    const memoKey =
      primitive && p.pureOnPrimitive && !(fn instanceof Error) && String(t.value).length <= 256
        ? `${t.base}\u0000${expr}\u0000${typeof t.value}:${String(t.value)}`
        : undefined;
    const memo = memoKey === undefined ? undefined : primitiveOutcomes.get(memoKey);
    if (memo) {
      ok = memo.ok;
      error = memo.error;
    } else if (fn instanceof Error) {
      ok = false;
      error = fn.message;
    } else {
      stack.push(frame);
      try {
        const r = fn(t.value, { resource: t.resource, rootResource: t.root });
        ok = r.length > 0 && r.every((x) => x === true);
      } catch (e) {
        ok = false;
        error = e instanceof Error ? e.message : String(e);
      } finally {
        stack.pop();
      }
      if (memoKey !== undefined) {
        if (primitiveOutcomes.size >= MAX_PRIMITIVE_OUTCOMES) primitiveOutcomes.clear();
        primitiveOutcomes.set(memoKey, { ok, error });
      }
    }
    if (holds) {
      if (!ok) shortcutCheck?.push(`${c.key} at ${t.expression} (${t.base}): ${c.expression}`);
      continue;
    }
    if (ok) continue;
    const best = c.bestPractice || c.key === 'dom-6';
    if (error !== undefined || frame.unknown) {
      issues.push({
        severity: 'warning',
        code: 'invariant',
        expression: t.expression,
        message: `Invariant ${c.key} could not be evaluated (${error ?? frame.unknown}): ${c.human ?? c.expression}`,
      });
      continue;
    }
    issues.push({
      severity: best || c.severity === 'warning' ? 'warning' : 'error',
      code: 'invariant',
      expression: t.expression,
      message: `Invariant ${c.key} failed: ${c.human ?? c.expression}`,
    });
  }
  return issues;
}
