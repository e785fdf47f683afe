import type { Conformance } from '../conformance/conformance.ts';
import type {
  CodeSystem,
  Concept,
  ExpansionContains,
  ValueSet,
  ValueSetInclude,
} from '../conformance/types.ts';

/** yes / no, or unknown when the value set or a code system it draws on is not loaded (never a silent pass). */
export interface Membership {
  result: 'yes' | 'no' | 'unknown';
  /** For `unknown`: what is missing, e.g. "CodeSystem http://loinc.org is not loaded". */
  reason?: string;
}

interface Expansion {
  codes: Map<string, Set<string>>;
  /** Systems whose codes cannot be listed here, with the reason. */
  unknown: Map<string, string>;
}

// Code systems defined by grammar rather than by a list (R4 terminologies-systems.html): checked by syntax.
const GRAMMARS: Record<string, RegExp> = {
  'urn:ietf:bcp:13': /^[A-Za-z0-9][\w!#$&^.+-]*\/[A-Za-z0-9][\w!#$&^.+-]*(\s*;.*)?$/,
  'urn:ietf:bcp:47': /^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/,
};

interface FlatSystem {
  concepts: Map<string, Concept>;
  children: Map<string, string[]>;
  complete: boolean;
}

/**
 * Answers "is this code in this value set / code system" from the loaded ValueSets and CodeSystems
 * (R4 valueset.html §4.9.5 compose: include by concept list, whole system, filter and imported value sets).
 *
 * @example
 * new Terminology(conformance).inValueSet('http://hl7.org/fhir/ValueSet/observation-status', undefined, 'final');
 */
export class Terminology {
  readonly #conformance: Conformance;
  readonly #expansions = new Map<string, Expansion | string>();
  readonly #systems = new Map<string, FlatSystem | undefined>();
  #implicit: Map<string, ValueSet> | undefined;
  readonly #loaded = new Map<string, boolean>();
  #loadedGeneration = -1;

  constructor(conformance: Conformance) {
    this.#conformance = conformance;
  }

  /** Looks a code up in a loaded CodeSystem; `unknown` when the system is not loaded or not complete. */
  codeInSystem(system: string, code: string): Membership {
    const g = GRAMMARS[system];
    if (g) return { result: g.test(code) ? 'yes' : 'no' };
    const flat = this.#system(system);
    if (!flat) return { result: 'unknown', reason: `CodeSystem ${system} is not loaded` };
    if (flat.concepts.has(code)) return { result: 'yes' };
    return flat.complete
      ? { result: 'no' }
      : { result: 'unknown', reason: `CodeSystem ${system} is not complete` };
  }

  /** Whether (system, code) is in the value set; with no system, whether any included system has the code. */
  inValueSet(valueSetUrl: string, system: string | undefined, code: string): Membership {
    const exp = this.#expand(valueSetUrl);
    if (typeof exp === 'string') return { result: 'unknown', reason: exp };
    if (system !== undefined) {
      if (exp.codes.get(system)?.has(code)) return { result: 'yes' };
      // '*': an imported value set we do not have may hold any system.
      const why = exp.unknown.get(system) ?? exp.unknown.get('*');
      if (why) {
        const g = GRAMMARS[system];
        if (g) return { result: g.test(code) ? 'yes' : 'no' };
        return { result: 'unknown', reason: why };
      }
      return { result: 'no' };
    }
    for (const codes of exp.codes.values()) if (codes.has(code)) return { result: 'yes' };
    for (const [sys, why] of exp.unknown) {
      const g = GRAMMARS[sys];
      if (g ? g.test(code) : true) return g ? { result: 'yes' } : { result: 'unknown', reason: why };
    }
    return { result: 'no' };
  }

  /** Whether the value set is loaded (remembered per URL while no resource is added to the conformance). */
  hasValueSet(url: string): boolean {
    if (this.#loadedGeneration !== this.#conformance.generation) {
      this.#loaded.clear();
      this.#loadedGeneration = this.#conformance.generation;
    }
    let has = this.#loaded.get(url);
    if (has === undefined) {
      has = this.#valueSet(url) !== undefined;
      this.#loaded.set(url, has);
    }
    return has;
  }

  #valueSet(url: string): ValueSet | undefined {
    const found = this.#conformance.valueSet(url) ?? this.#conformance.valueSet(url.split('|')[0] ?? url);
    if (found) return found;
    // The implicit value set of a CodeSystem (R4 codesystem.html: CodeSystem.valueSet = "all codes").
    if (!this.#implicit) {
      this.#implicit = new Map();
      for (const r of this.#conformance.summaries()) {
        if (
          r.resourceType === 'CodeSystem' &&
          typeof r.valueSet === 'string' &&
          !this.#implicit.has(r.valueSet)
        ) {
          this.#implicit.set(r.valueSet, {
            resourceType: 'ValueSet',
            url: r.valueSet,
            compose: { include: [{ system: r.url }] },
          });
        }
      }
    }
    return this.#implicit.get(url.split('|')[0] ?? url);
  }

  #system(url: string): FlatSystem | undefined {
    if (this.#systems.has(url)) return this.#systems.get(url);
    const cs: CodeSystem | undefined = this.#conformance.codeSystem(url);
    let flat: FlatSystem | undefined;
    if (cs && cs.content !== 'not-present') {
      flat = { concepts: new Map(), children: new Map(), complete: cs.content === 'complete' || !cs.content };
      const walk = (list: Concept[] | undefined, parent: string | undefined) => {
        for (const c of list ?? []) {
          flat?.concepts.set(c.code, c);
          if (parent !== undefined)
            flat?.children.set(parent, [...(flat.children.get(parent) ?? []), c.code]);
          for (const p of c.property ?? []) {
            if ((p.code === 'parent' || p.code === 'subsumedBy') && p.valueCode) {
              flat?.children.set(p.valueCode, [...(flat.children.get(p.valueCode) ?? []), c.code]);
            }
          }
          walk(c.concept, c.code);
        }
      };
      walk(cs.concept, undefined);
    }
    this.#systems.set(url, flat);
    return flat;
  }

  #descendants(flat: FlatSystem, code: string, includeSelf: boolean): Set<string> {
    const out = new Set<string>();
    const stack = [code];
    while (stack.length > 0) {
      const c = stack.pop() as string;
      if (out.has(c)) continue;
      out.add(c);
      stack.push(...(flat.children.get(c) ?? []));
    }
    if (!includeSelf) out.delete(code);
    return out;
  }

  #include(inc: ValueSetInclude, exp: Expansion, depth: number): void {
    for (const vs of inc.valueSet ?? []) {
      const sub = this.#expand(vs, depth + 1);
      if (typeof sub === 'string') {
        exp.unknown.set(inc.system ?? '*', sub);
        continue;
      }
      for (const [s, codes] of sub.codes) exp.codes.set(s, new Set([...(exp.codes.get(s) ?? []), ...codes]));
      for (const [s, why] of sub.unknown) exp.unknown.set(s, why);
    }
    const system = inc.system;
    if (!system) return;
    const target = exp.codes.get(system) ?? new Set<string>();
    exp.codes.set(system, target);
    if (inc.concept) {
      for (const c of inc.concept) target.add(c.code);
      return;
    }
    const flat = this.#system(system);
    if (!flat || (!flat.complete && !inc.filter)) {
      exp.unknown.set(
        system,
        flat ? `CodeSystem ${system} is not complete` : `CodeSystem ${system} is not loaded`,
      );
      return;
    }
    let codes = new Set(flat.concepts.keys());
    for (const f of inc.filter ?? []) {
      if (
        (f.op === 'is-a' || f.op === 'descendent-of') &&
        (f.property === 'concept' || f.property === 'code')
      ) {
        const d = this.#descendants(flat, f.value, f.op === 'is-a');
        codes = new Set([...codes].filter((c) => d.has(c)));
      } else if (f.op === 'is-not-a') {
        const d = this.#descendants(flat, f.value, true);
        codes = new Set([...codes].filter((c) => !d.has(c)));
      } else if (f.op === 'in' && f.property === 'concept') {
        const allowed = new Set(f.value.split(','));
        codes = new Set([...codes].filter((c) => allowed.has(c)));
      } else if (f.op === '=' || f.op === 'regex') {
        const test = (v: string | undefined) =>
          v !== undefined && (f.op === '=' ? v === f.value : new RegExp(`^${f.value}$`).test(v));
        codes = new Set(
          [...codes].filter((c) => {
            if (f.property === 'code') return test(c);
            const concept = flat.concepts.get(c);
            return concept?.property?.some(
              (p) => p.code === f.property && test(p.valueCode ?? p.valueString),
            );
          }),
        );
      } else {
        exp.unknown.set(system, `filter ${f.property} ${f.op} ${f.value} on ${system} is not supported`);
        return;
      }
    }
    if (!flat.complete) exp.unknown.set(system, `CodeSystem ${system} is not complete`);
    for (const c of codes) target.add(c);
  }

  #expand(url: string, depth = 0): Expansion | string {
    const cached = this.#expansions.get(url);
    if (cached !== undefined) return cached;
    const vs = this.#valueSet(url);
    let result: Expansion | string;
    if (!vs) result = `ValueSet ${url} is not loaded`;
    else if (depth > 10) result = `ValueSet ${url} imports too deeply`;
    else {
      const exp: Expansion = { codes: new Map(), unknown: new Map() };
      if (vs.compose) {
        for (const inc of vs.compose.include ?? []) this.#include(inc, exp, depth);
        for (const exc of vs.compose.exclude ?? []) {
          if (exc.system && exc.concept)
            for (const c of exc.concept) exp.codes.get(exc.system)?.delete(c.code);
        }
      } else {
        const walk = (list: ExpansionContains[] | undefined) => {
          for (const c of list ?? []) {
            if (c.system && c.code)
              exp.codes.set(c.system, (exp.codes.get(c.system) ?? new Set()).add(c.code));
            walk(c.contains);
          }
        };
        walk(vs.expansion?.contains);
      }
      result = exp;
    }
    this.#expansions.set(url, result);
    return result;
  }
}
