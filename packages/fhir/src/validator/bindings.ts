import type { ElementDefinition } from '../conformance/types.ts';
import type { Issue } from './issues.ts';
import type { Membership, Terminology } from './terminology.ts';

interface Coding {
  system?: string;
  code?: string;
}

function codingsOf(value: unknown, type: string): Coding[] | undefined {
  if (type === 'code') return typeof value === 'string' ? [{ code: value }] : [];
  if (type === 'Coding') return [value as Coding];
  if (type === 'CodeableConcept') {
    // A `coding` that is not an array is reported by the walk (its shape); it gives no codes here.
    const coding = (value as { coding?: unknown }).coding;
    return Array.isArray(coding)
      ? coding.filter((c): c is Coding => typeof c === 'object' && c !== null)
      : [];
  }
  return undefined; // string, uri, Quantity: not checked against value sets here
}

function label(c: Coding): string {
  return c.system ? `${c.system}#${c.code}` : `'${c.code}'`;
}

/**
 * Checks a coded value against the element's binding (R4 terminologies.html §4.1.0.2: required — the code SHALL
 * be from the value set; extensible — SHALL be from it if a suitable code exists, so a miss is a warning).
 * A value set that is not loaded gives a warning naming it: the check is never silently skipped.
 */
export function checkBinding(
  value: unknown,
  type: string,
  def: ElementDefinition,
  terminology: Terminology,
  expression: string,
): Issue[] {
  const b = def.binding;
  if (!b?.valueSet || (b.strength !== 'required' && b.strength !== 'extensible')) return [];
  const codings = codingsOf(value, type);
  if (codings === undefined) return [];
  const vs = b.valueSet;
  const strong = b.strength === 'required';
  if (!terminology.hasValueSet(vs)) {
    return [
      {
        severity: 'warning',
        code: 'not-supported',
        expression,
        message: `Cannot check the ${b.strength} binding: ValueSet ${vs} is not loaded`,
      },
    ];
  }
  const withCode = codings.filter((c) => typeof c.code === 'string');
  if (withCode.length === 0) {
    if (strong && type === 'CodeableConcept') {
      return [
        {
          severity: 'error',
          code: 'code-invalid',
          expression,
          message: `No code given; a code from ValueSet ${vs} is required`,
        },
      ];
    }
    return [];
  }
  const results: [Coding, Membership][] = withCode.map((c) => [
    c,
    terminology.inValueSet(vs, c.system, c.code as string),
  ]);
  if (results.some(([, m]) => m.result === 'yes')) return [];
  const unknown = results.find(([, m]) => m.result === 'unknown');
  if (unknown) {
    return [
      {
        severity: 'warning',
        code: 'not-supported',
        expression,
        message: `Cannot check ${label(unknown[0])} against ValueSet ${vs}: ${unknown[1].reason}`,
      },
    ];
  }
  const what = withCode.map(label).join(', ');
  return [
    {
      severity: strong ? 'error' : 'warning',
      code: 'code-invalid',
      expression,
      message: strong
        ? `${what} is not in the required ValueSet ${vs}`
        : `${what} is not in the extensible ValueSet ${vs}; use a code from it when one fits`,
    },
  ];
}
