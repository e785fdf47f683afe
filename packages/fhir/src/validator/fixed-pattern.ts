import type { ElementDefinition } from '../conformance/types.ts';

export interface FixedOrPattern {
  kind: 'fixed' | 'pattern';
  /** `fixedCoding`, `patternUri`, … */
  property: string;
  value: unknown;
}

/** The `fixed[x]` or `pattern[x]` of an element, if any (R4 ElementDefinition.fixed[x] / pattern[x]). */
export function fixedOrPattern(def: ElementDefinition): FixedOrPattern | undefined {
  const known = found.get(def);
  if (known !== undefined) return known ?? undefined;
  let fp: FixedOrPattern | null = null;
  for (const k of Object.keys(def)) {
    if (k.startsWith('fixed') && k.length > 5) {
      fp = { kind: 'fixed', property: k, value: def[k] };
      break;
    }
    if (k.startsWith('pattern') && k.length > 7) {
      fp = { kind: 'pattern', property: k, value: def[k] };
      break;
    }
  }
  found.set(def, fp);
  return fp ?? undefined;
}

// Found once per element definition (conformance resources are not changed once loaded).
const found = new WeakMap<ElementDefinition, FixedOrPattern | null>();

/** fixed[x]: "the value SHALL be exactly the same as this value" — every element, nothing extra. */
export function equalsExactly(value: unknown, fixed: unknown): boolean {
  if (fixed === null || typeof fixed !== 'object') return value === fixed;
  if (Array.isArray(fixed)) {
    return (
      Array.isArray(value) &&
      value.length === fixed.length &&
      fixed.every((f, i) => equalsExactly(value[i], f))
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const a = Object.keys(value as object);
  const b = Object.keys(fixed as object);
  if (a.length !== b.length) return false;
  return b.every((k) =>
    equalsExactly((value as Record<string, unknown>)[k], (fixed as Record<string, unknown>)[k]),
  );
}

/**
 * pattern[x]: "each element in the instance SHALL have the value of the pattern when the pattern has it";
 * for repeating elements each pattern item must match some instance item (R4 ElementDefinition.pattern[x]).
 */
export function matchesPattern(value: unknown, pattern: unknown): boolean {
  if (pattern === null || typeof pattern !== 'object') return value === pattern;
  if (Array.isArray(pattern)) {
    const items = Array.isArray(value) ? value : value === undefined ? [] : [value];
    return pattern.every((p) => items.some((v) => matchesPattern(v, p)));
  }
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some((v) => matchesPattern(v, pattern));
  return Object.entries(pattern as Record<string, unknown>).every(([k, p]) =>
    matchesPattern((value as Record<string, unknown>)[k], p),
  );
}

/** Whether a value satisfies the element's fixed or pattern value (true when there is none). */
export function satisfies(value: unknown, fp: FixedOrPattern): boolean {
  return fp.kind === 'fixed' ? equalsExactly(value, fp.value) : matchesPattern(value, fp.value);
}

/** A short text of the expected value for messages. */
export function describeExpected(fp: FixedOrPattern): string {
  const s = JSON.stringify(fp.value);
  return s.length > 160 ? `${s.slice(0, 157)}...` : s;
}
