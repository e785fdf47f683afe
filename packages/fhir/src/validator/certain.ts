import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import type { Json } from '../conformance/types.ts';

/**
 * A FHIRPath invariant decided on the JSON without fhirpath.js, **only when the answer is certain to be "holds"**.
 *
 * Profiles' invariants are mostly a few shapes: paths tested with `exists()` / `empty()` / `count()`, `where()` on
 * a string `=`, `ofType()` on a choice, joined by `and` / `or` / `implies` (org-1 `(identifier.count() +
 * name.count()) > 0`, dk-core-organization-mandatory-identifier `identifier.where(system='…' or …).exists()`,
 * dk-core-observation-mandatory-units `value.ofType(Quantity).value.exists() implies …`, obs-7, bdl-1/2/9–12,
 * sev-1, dom-2/4/5). fhirpath.js spends 10–35 µs on each of those per resource (typed nodes, a context per call);
 * this test reads the same JSON in well under a microsecond.
 *
 * It evaluates the subset below to a collection, or to `unknown` as soon as anything could be read differently by
 * fhirpath.js: a primitive's `_x` companion, a choice element reached by its plain name (outside `ofType()` on the
 * focus, where the R4 model names the choice), `null`, an empty or nested array, a value of an unexpected JSON type,
 * a date-like string in `=`, a decimal in arithmetic, a multi-item operand, any other function, operator or
 * variable. The answer is used only when it is `true`: a rule that fails (or cannot be decided here) is evaluated by
 * fhirpath.js, which words the finding, so the findings are those of the expressions themselves.
 */
export type CertainTest = (
  value: Json,
  base: string,
  host?: CertainHost,
  holder?: Json | undefined,
) => boolean;

/**
 * The validator's answers to `resolve()`, `conformsTo()` and `memberOf()`, the same ones FHIRPath gets (the
 * invariant host, with the resource that holds the value). Without one, expressions using them are not decided.
 */
export interface CertainHost {
  /** The resource a reference names, inside the Bundle or the holder (undefined: not found). */
  resolve(reference: string, holder: Json | undefined): Json | undefined;
  conformsTo(resource: Json, url: string): boolean;
  /** true/false, or a string naming what is missing. */
  memberOf(value: unknown, valueSet: string): boolean | string;
}

// Evaluation is synchronous; conformsTo() validates another resource, whose own tests set and restore these.
let current: CertainHost | undefined;
let currentHolder: Json | undefined;

/** Compiles the expression once (undefined when it uses anything outside the subset). */
export function certainTest(expression: string): CertainTest | undefined {
  let ast: AstNode;
  try {
    ast = fhirpath.parse(expression) as AstNode;
  } catch {
    return undefined;
  }
  const ev = compile(ast, true);
  if (!ev) return undefined;
  return (value, base, host, holder) => {
    const outer = current;
    const outerHolder = currentHolder;
    current = host;
    currentHolder = holder;
    try {
      const r = ev([value], base);
      return Array.isArray(r) && r.length === 1 && r[0] === true;
    } finally {
      current = outer;
      currentHolder = outerHolder;
    }
  };
}

interface AstNode {
  type: string;
  text?: string;
  children?: AstNode[];
}

const UNKNOWN = Symbol('unknown');
/** A boolean or empty, without an error, whose value is not known here (`hasValue()` on a value). */
const SOME = Symbol('some boolean');
type Result = unknown[] | typeof UNKNOWN | typeof SOME;
/** `focus`: the input collection; `base`: the FHIRPath type the expression is evaluated on. */
type Ev = (focus: unknown[], base: string) => Result;

const ELEMENT = /^[a-z][A-Za-z0-9]*$/;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPrimitive = (v: unknown): v is string | number | boolean =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
/** fhirpath.js compares date, dateTime and time values as such, not as strings. */
const DATE_LIKE = /^(\d{4}(-|$)|\d\d:|T\d|@)/;

/** A single boolean, or empty (null); anything else is not decided here (fhirpath.js converts or throws). */
function logical(r: Result): boolean | null | typeof UNKNOWN | typeof SOME {
  if (r === UNKNOWN || r === SOME) return r;
  if (r.length > 1) return UNKNOWN;
  if (r.length === 0) return null;
  return typeof r[0] === 'boolean' ? r[0] : UNKNOWN;
}

/** Whether an object has a choice element `name[x]` spelled with a type suffix (`valueQuantity` for `value`). */
function hasChoiceKey(o: Json, name: string): boolean {
  for (const key in o) {
    if (key.length > name.length && key.startsWith(name)) {
      const c = key.charCodeAt(name.length);
      if (c >= 65 && c <= 90) return true;
    }
  }
  return false;
}

/** The children `name` of each item (FHIR JSON: a value or an array of values), or unknown. `companion`: `_name`. */
function member(focus: unknown[], name: string, companion: string): Result {
  const out: unknown[] = [];
  for (const n of focus) {
    if (!isObject(n)) return UNKNOWN;
    if (n[companion] !== undefined || hasChoiceKey(n, name)) return UNKNOWN;
    const x = n[name];
    if (x === undefined) continue;
    if (Array.isArray(x)) {
      if (x.length === 0) return UNKNOWN;
      for (const y of x) {
        if (y === null || y === undefined || Array.isArray(y)) return UNKNOWN;
        out.push(y);
      }
    } else if (x === null) return UNKNOWN;
    else out.push(x);
  }
  return out;
}

/**
 * A choice element by its plain name (`value` for `valueQuantity`, …) when the model says `base.name` is one; its
 * values under the names of the model's types. Undefined when it is not a choice of the base.
 */
function choiceMember(
  focus: unknown[],
  name: string,
  companion: string,
  types: readonly string[] | undefined,
): Result | undefined {
  if (!types) return undefined;
  const out: unknown[] = [];
  for (const n of focus) {
    if (!isObject(n) || n[name] !== undefined) return UNKNOWN;
    for (const key in n) {
      if (!key.startsWith(name) && !key.startsWith(companion)) continue;
      const suffix = key.slice(name.length);
      // `_valueString`, or a suffix that is not one of the choice's types: read differently by fhirpath.js.
      if (key.charAt(0) === '_' || !types.includes(suffix)) {
        const c = key.charCodeAt(name.length);
        if (key.charAt(0) === '_' || (c >= 65 && c <= 90)) return UNKNOWN;
        continue;
      }
      const x = n[key];
      if (x === null || Array.isArray(x)) return UNKNOWN;
      out.push(x);
    }
  }
  return out;
}

/** The R4 model's types of the choice `base.name` (undefined: not a choice there), looked up once per base. */
function choiceTypesOf(name: string): (base: string) => readonly string[] | undefined {
  const known = new Map<string, readonly string[] | null>();
  return (base) => {
    let types = known.get(base);
    if (types === undefined) {
      types = (r4.choiceTypePaths[`${base}.${name}`] as readonly string[] | undefined) ?? null;
      known.set(base, types);
    }
    return types ?? undefined;
  };
}

function memberName(n: AstNode | undefined): string | undefined {
  if (n?.type !== 'MemberInvocation') return undefined;
  const name = n.text?.replace(/^`(.*)`$/, '$1');
  return name && ELEMENT.test(name) ? name : undefined;
}

/** `name` of a plain `TermExpression > InvocationTerm > MemberInvocation`. */
function termMember(n: AstNode | undefined): string | undefined {
  if (n?.type !== 'TermExpression' || n.children?.length !== 1) return undefined;
  const t = n.children[0];
  return t?.type === 'InvocationTerm' && t.children?.length === 1 ? memberName(t.children[0]) : undefined;
}

/** A function invocation: its name and argument nodes. */
function functionOf(n: AstNode | undefined): { name: string; args: AstNode[] } | undefined {
  if (n?.type !== 'FunctionInvocation') return undefined;
  const f = n.children?.[0];
  const id = f?.children?.[0];
  if (f?.type !== 'Functn' || id?.type !== 'Identifier' || !id.text) return undefined;
  const params = f.children?.[1];
  if (f.children && f.children.length > 2) return undefined;
  if (params && params.type !== 'ParamList') return undefined;
  return { name: id.text, args: params?.children ?? [] };
}

/** A type name argument (`Quantity` in `ofType(Quantity)`). */
function typeName(n: AstNode | undefined): string | undefined {
  if (n?.type !== 'TermExpression' || n.children?.length !== 1) return undefined;
  const t = n.children[0];
  const m = t?.type === 'InvocationTerm' && t.children?.length === 1 ? t.children[0] : undefined;
  return m?.type === 'MemberInvocation' && m.text && /^[A-Z][A-Za-z]+$/.test(m.text) ? m.text : undefined;
}

/** The value of a `LiteralTerm`: a plain string, a small integer or a boolean. */
function literalValue(n: AstNode | undefined): { value: unknown } | undefined {
  const l = n?.type === 'LiteralTerm' && n.children?.length === 1 ? n.children[0] : undefined;
  if (l?.type === 'StringLiteral' && l.text && /^'[^'\\]*'$/.test(l.text))
    return { value: l.text.slice(1, -1) };
  if (l?.type === 'NumberLiteral' && l.text && /^\d{1,9}$/.test(l.text)) return { value: Number(l.text) };
  if (l?.type === 'BooleanLiteral' && (l.text === 'true' || l.text === 'false'))
    return { value: l.text === 'true' };
  return undefined;
}

function literal(n: AstNode): Ev | undefined {
  const l = literalValue(n);
  if (!l) return undefined;
  const out = [l.value];
  return () => out;
}

/**
 * `onFocus`: the node is evaluated on the expression's own input (the constraint's element), where the base type
 * says which choice types `value` may have; inside `where()` the input is another element's items.
 */
function compile(n: AstNode, onFocus: boolean): Ev | undefined {
  const k = n.children ?? [];
  switch (n.type) {
    case 'EntireExpression':
      return k.length === 1 && k[0] ? compile(k[0], onFocus) : undefined;
    case 'TermExpression': {
      const t = k[0];
      if (k.length !== 1 || !t) return undefined;
      if (t.type === 'LiteralTerm') return literal(t);
      if (t.type === 'ParenthesizedTerm')
        return t.children?.length === 1 && t.children[0] ? compile(t.children[0], onFocus) : undefined;
      if (t.type === 'InvocationTerm' && t.children?.length === 1) {
        const inv = t.children[0];
        const name = memberName(inv);
        const companion = `_${name}`;
        if (name && !onFocus) return (focus) => member(focus, name, companion);
        // On the focus, `value` may be a choice (`Observation.value[x]`): the R4 model's types for the base say.
        if (name) {
          const typesOf = choiceTypesOf(name);
          return (focus, base) =>
            choiceMember(focus, name, companion, typesOf(base)) ?? member(focus, name, companion);
        }
        const fn = functionOf(inv);
        if (fn) return invoke(fn, (focus) => focus);
      }
      return undefined;
    }
    case 'InvocationExpression': {
      const [a, b] = k;
      if (k.length !== 2 || !a || !b) return undefined;
      const fn = functionOf(b);
      // `value.ofType(Quantity)` on the focus: the choice element by the R4 model's types for the base.
      const choice = onFocus ? termMember(a) : undefined;
      if (choice && fn?.name === 'ofType' && fn.args.length === 1) {
        const type = typeName(fn.args[0]);
        if (!type) return undefined;
        const key = choice + type;
        const keyCompanion = `_${key}`;
        const typesOf = choiceTypesOf(choice);
        return (focus, base) => {
          if (!typesOf(base)?.includes(type)) return UNKNOWN;
          const out: unknown[] = [];
          for (const o of focus) {
            if (!isObject(o) || o[keyCompanion] !== undefined) return UNKNOWN;
            const x = o[key];
            if (x === undefined) {
              if (hasChoiceKey(o, choice) || o[choice] !== undefined) return UNKNOWN;
              continue;
            }
            // Another type of the same choice beside it is read differently: not decided here.
            for (const other in o) if (other !== key && other.startsWith(choice)) return UNKNOWN;
            if (!isObject(x)) return UNKNOWN;
            out.push(x);
          }
          return out;
        };
      }
      const input = compile(a, onFocus);
      if (!input) return undefined;
      const name = memberName(b);
      if (name) {
        const companion = `_${name}`;
        return (focus, base) => {
          const r = input(focus, base);
          return Array.isArray(r) ? member(r, name, companion) : UNKNOWN;
        };
      }
      return fn ? invoke(fn, input) : undefined;
    }
    case 'IndexerExpression': {
      // `entry[0]`: the item at a literal index, or nothing.
      const [a, b] = k;
      const index = b ? literalValue(b.children?.[0])?.value : undefined;
      const input = k.length === 2 && a ? compile(a, onFocus) : undefined;
      if (!input || typeof index !== 'number') return undefined;
      return (focus, base) => {
        const r = input(focus, base);
        if (!Array.isArray(r)) return UNKNOWN;
        return index < r.length ? [r[index]] : [];
      };
    }
    case 'AndExpression':
    case 'OrExpression':
    case 'ImpliesExpression':
    case 'XorExpression': {
      const [a, b] = k.map((x) => compile(x, onFocus));
      if (k.length !== 2 || !a || !b) return undefined;
      const op = n.type === 'ImpliesExpression' ? 'implies' : n.text;
      if (op !== 'and' && op !== 'or' && op !== 'implies' && op !== 'xor') return undefined;
      return (focus, base) => {
        // fhirpath.js evaluates both sides: neither may be outside the subset (it could throw).
        const x = logical(a(focus, base));
        if (x === UNKNOWN) return UNKNOWN;
        const y = logical(b(focus, base));
        if (y === UNKNOWN) return UNKNOWN;
        return threeValued(op, x, y);
      };
    }
    case 'EqualityExpression': {
      const [a, b] = k.map((x) => compile(x, onFocus));
      if (k.length !== 2 || !a || !b || (n.text !== '=' && n.text !== '!=')) return undefined;
      const negate = n.text === '!=';
      return (focus, base) => {
        const x = a(focus, base);
        const y = b(focus, base);
        if (!Array.isArray(x) || !Array.isArray(y)) return UNKNOWN;
        if (x.length === 0 || y.length === 0) return [];
        if (x.length > 1 || y.length > 1) return UNKNOWN;
        const [p, q] = [x[0], y[0]];
        if (!isPrimitive(p) || typeof p !== typeof q) return UNKNOWN;
        if (typeof p === 'string' && (DATE_LIKE.test(p) || DATE_LIKE.test(q as string))) return UNKNOWN;
        if (typeof p === 'number' && !(Number.isInteger(p) && Number.isInteger(q))) return UNKNOWN;
        return [(p === q) !== negate];
      };
    }
    case 'InequalityExpression':
    case 'AdditiveExpression': {
      const [a, b] = k.map((x) => compile(x, onFocus));
      const op = n.text;
      if (k.length !== 2 || !a || !b) return undefined;
      if (!['<', '>', '<=', '>=', '+', '-'].includes(op ?? '')) return undefined;
      return (focus, base) => {
        const x = a(focus, base);
        const y = b(focus, base);
        if (!Array.isArray(x) || !Array.isArray(y)) return UNKNOWN;
        if (x.length === 0 || y.length === 0) return [];
        const [p, q] = [x[0], y[0]];
        // Integers only: decimals carry precision in fhirpath.js, strings and dates compare by their own rules.
        if (x.length > 1 || y.length > 1 || !Number.isSafeInteger(p) || !Number.isSafeInteger(q))
          return UNKNOWN;
        const [i, j] = [p as number, q as number];
        switch (op) {
          case '<':
            return [i < j];
          case '>':
            return [i > j];
          case '<=':
            return [i <= j];
          case '>=':
            return [i >= j];
          case '+':
            return [i + j];
          default:
            return [i - j];
        }
      };
    }
    default:
      return undefined;
  }
}

/** FHIRPath's three-valued and, or, xor, implies; `SOME` (an unknown boolean) decides only where it cannot matter. */
function threeValued(op: string, x: boolean | null | typeof SOME, y: boolean | null | typeof SOME): Result {
  switch (op) {
    case 'and':
      if (x === false || y === false) return [false];
      if (x === true && y === true) return [true];
      return x === SOME || y === SOME ? SOME : [];
    case 'or':
      if (x === true || y === true) return [true];
      if (x === false && y === false) return [false];
      return x === SOME || y === SOME ? SOME : [];
    case 'xor':
      return x === null || y === null ? [] : x === SOME || y === SOME ? SOME : [x !== y];
    default: // implies
      if (x === false || y === true) return [true];
      if (x === true) return y === null ? [] : y === SOME ? SOME : [y];
      return x === SOME || y === SOME ? SOME : [];
  }
}

/** Functions that give nothing on an empty input without evaluating their arguments (fhirpath.js maps over it). */
const EMPTY_IN_EMPTY_OUT = new Set([
  'where',
  'select',
  'ofType',
  'as',
  'resolve',
  'memberOf',
  'conformsTo',
  'first',
  'last',
  'tail',
  'distinct',
  'extension',
]);

/** Resource types are subtypes of nothing but DomainResource and Resource. */
const ABSTRACT = new Set(['Resource', 'DomainResource']);

/** The resource type of an item when it is a resource (undefined: not decided here). */
function resourceTypeOf(item: unknown): string | undefined {
  return isObject(item) && typeof item.resourceType === 'string' ? item.resourceType : undefined;
}

/** Functions this test reads itself; any other function is not decided, except on an empty input (above). */
function invoke(fn: { name: string; args: AstNode[] }, input: Ev): Ev | undefined {
  const own = ownFunction(fn);
  // Criteria (`where`, `select`, `exists`, `all`) are evaluated per item, so not at all on an empty input; other
  // arguments are evaluated at once by fhirpath.js, so only literals and type names are allowed.
  const macro = ['where', 'select', 'exists', 'all'].includes(fn.name);
  const plainArgs = fn.args.every((a) => literalValue(a.children?.[0]) !== undefined || typeName(a));
  const emptyKnown = (macro || plainArgs) && (EMPTY_IN_EMPTY_OUT.has(fn.name) || macro);
  if (!own && !emptyKnown) return undefined;
  const onEmpty: Result = fn.name === 'all' ? [true] : fn.name === 'exists' ? [false] : [];
  return (focus, base) => {
    const r = input(focus, base);
    if (!Array.isArray(r)) return UNKNOWN;
    if (r.length === 0 && emptyKnown) return onEmpty;
    return own ? own(r, base) : UNKNOWN;
  };
}

type Own = (input: unknown[], base: string) => Result;

function ownFunction({ name, args }: { name: string; args: AstNode[] }): Own | undefined {
  if (args.length === 0) {
    switch (name) {
      case 'exists':
        return (r) => [r.length > 0];
      case 'empty':
        return (r) => [r.length === 0];
      case 'count':
        return (r) => [r.length];
      case 'not':
        return (r) => {
          const x = logical(r);
          return x === UNKNOWN || x === SOME ? UNKNOWN : x === null ? [] : [!x];
        };
      case 'hasValue':
        // Empty: false. Otherwise fhirpath.js asks the model whether the node is primitive: a boolean either way.
        return (r) => (r.length === 0 ? [false] : SOME);
      case 'first':
        return (r) => r.slice(0, 1);
      case 'resolve':
        // A reference (a string, or a Reference's `reference`) the host finds; one it cannot is left to FHIRPath,
        // which reports the invariant as not decidable.
        return (r) => {
          const host = current;
          if (!host) return UNKNOWN;
          const out: unknown[] = [];
          for (const item of r) {
            const ref = typeof item === 'string' ? item : isObject(item) ? item.reference : undefined;
            if (isObject(item) && item._reference !== undefined) return UNKNOWN;
            if (typeof ref !== 'string') continue;
            const target = host.resolve(ref, currentHolder);
            if (!isObject(target)) return UNKNOWN;
            out.push(target);
          }
          return out;
        };
      default:
        return undefined;
    }
  }
  const arg = args[0];
  if (args.length !== 1 || !arg) return undefined;
  if (name === 'where' || name === 'exists' || name === 'all') {
    // The criteria on each item as its own focus (not the constraint's element: no choice types known there).
    // Criteria outside the subset still allow the empty input (`invoke`).
    const criteria = compile(arg, false);
    if (!criteria) return undefined;
    return (r, base) => {
      const out: unknown[] = [];
      for (const item of r) {
        const c = logical(criteria([item], base));
        if (c === UNKNOWN || c === SOME) return UNKNOWN;
        if (c === true) out.push(item);
        else if (name === 'all') return UNKNOWN;
      }
      return name === 'exists' ? [out.length > 0] : name === 'all' ? [true] : out;
    };
  }
  if (name === 'ofType' || name === 'is') {
    // On resources (`entry.resource.ofType(Provenance)`): the type is the resourceType.
    const type = typeName(arg);
    if (!type || ABSTRACT.has(type)) return undefined;
    return (r) => {
      if (name === 'is' && r.length !== 1) return UNKNOWN;
      const out: unknown[] = [];
      for (const item of r) {
        const t = resourceTypeOf(item);
        if (t === undefined) return UNKNOWN;
        if (t === type) out.push(item);
      }
      return name === 'is' ? [out.length === 1] : out;
    };
  }
  if (name === 'conformsTo' || name === 'memberOf') {
    const url = arg.type === 'TermExpression' ? literalValue(arg.children?.[0])?.value : undefined;
    if (typeof url !== 'string') return undefined;
    return (r) => {
      const host = current;
      if (!host) return UNKNOWN;
      const out: unknown[] = [];
      for (const item of r) {
        if (name === 'conformsTo') {
          if (resourceTypeOf(item) === undefined) return UNKNOWN;
          out.push(host.conformsTo(item as Json, url));
        } else {
          const m = host.memberOf(item, url);
          if (typeof m !== 'boolean') return UNKNOWN;
          out.push(m);
        }
      }
      return out;
    };
  }
  if (name === 'extension') {
    const value = arg.type === 'TermExpression' ? literalValue(arg.children?.[0])?.value : undefined;
    if (typeof value !== 'string') return undefined;
    return (r) => {
      const exts = member(r, 'extension', '_extension');
      if (!Array.isArray(exts)) return UNKNOWN;
      const out: unknown[] = [];
      for (const e of exts) {
        if (!isObject(e) || typeof e.url !== 'string') return UNKNOWN;
        if (e.url === value) out.push(e);
      }
      return out;
    };
  }
  return undefined;
}
