import { gs1CheckDigit } from '@ehmi/smp';
import type { Json } from './repository.ts';

/** Identifier systems (ehmi-core §4.3). The GLN-ID slice fixes `http://`; MedCom messages write `https://`. */
export const SOR_SYSTEM = 'urn:oid:1.2.208.176.1.1';
export const GLN_SYSTEMS = ['http://www.gs1.org/gln', 'https://www.gs1.org/gln'] as const;
/** CVR (dk-core 3.4.0 CVRIdentifier, the EER Organization's CVR-ID slice). */
export const CVR_SYSTEM = 'http://cvr.dk';
/** Ydernummer (GP provider number) identifier system, as MedCom and EAS use it. */
export const YDERNUMMER_SYSTEM = 'urn:oid:1.2.208.176.1.4';

/** Why an identifier value breaks its system's rule; undefined when it does not. */
type Rule = (value: string) => string | undefined;

const gln: Rule = (v) => {
  // eer:input/fsh/terminology/gln.fsh GLN_Identifier "value obeys gln-length and gln-modulus-10" (dk-core 3.4.0).
  if (!/^\d{13}$/.test(v)) return `GLN ${v} is not 13 digits (gln-length)`;
  const check = gs1CheckDigit(v.slice(0, 12));
  if (check !== Number(v[12]))
    return `GLN ${v} has a wrong check digit: GS1 mod-10 gives ${check}, not ${v[12]} (gln-modulus-10)`;
  return undefined;
};

/**
 * The identifier rules the register checks at write, by identifier system. The profile validator does not apply
 * them: the EER slices take the rules from the identifier profile of the slice's type (GLN_Identifier,
 * dk-core SORIdentifier, CVRIdentifier), which it does not resolve (docs/specs/medcom-fhir.md §6).
 */
const RULES: Record<string, Rule> = {
  ...Object.fromEntries(GLN_SYSTEMS.map((s) => [s, gln])),
  // dk-core 3.4.0 SORIdentifier `min-digits-sor`: "SOR Identifiers are at minimum 11 digits long".
  [SOR_SYSTEM]: (v) =>
    /^\d{11,}$/.test(v) ? undefined : `SOR id ${v} is not 11 or more digits (min-digits-sor)`,
  // dk-core 3.4.0 CVRIdentifier `CVR-length` and `CVR-modulus-11` (weights 2 7 6 5 4 3 2 1).
  [CVR_SYSTEM]: (v) => {
    if (!/^\d{8}$/.test(v)) return `CVR ${v} is not 8 digits (CVR-length)`;
    const sum = [2, 7, 6, 5, 4, 3, 2, 1].reduce((acc, w, i) => acc + w * Number(v[i]), 0);
    return sum % 11 === 0 ? undefined : `CVR ${v} fails the modulus 11 check (CVR-modulus-11)`;
  },
  // The ydernummer as EAS takes it (`eas.patients[].gp.ydernummer`, `$getReceivingOrganizationByGPId` gpId):
  // digits, leading zeros allowed.
  [YDERNUMMER_SYSTEM]: (v) => (/^\d{1,7}$/.test(v) ? undefined : `ydernummer ${v} is not 1–7 digits`),
};

export interface IdentifierIssue {
  expression: string;
  message: string;
}

/**
 * Every Identifier in `resource` (any `{system, value}` whose system is one the register has a rule for, so
 * `Organization.identifier`, `Endpoint.identifier`, `Device.identifier` and identifiers inside references alike)
 * whose value breaks its system's rule, with the FHIRPath of the value.
 *
 * @example
 * identifierIssues('Endpoint', { identifier: [{ system: 'http://www.gs1.org/gln', value: '5790000121527' }] });
 * // [{ expression: 'Endpoint.identifier[0].value', message: 'GLN 5790000121527 has a wrong check digit: …' }]
 */
export function identifierIssues(type: string, resource: Json): IdentifierIssue[] {
  const issues: IdentifierIssue[] = [];
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) {
      for (const [i, item] of node.entries()) walk(item, `${path}[${i}]`);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const o = node as Json;
    const rule = typeof o.system === 'string' ? RULES[o.system] : undefined;
    if (rule && typeof o.value === 'string') {
      const message = rule(o.value);
      if (message) issues.push({ expression: `${path}.value`, message });
    }
    for (const [key, value] of Object.entries(o)) {
      if (typeof value === 'object') walk(value, `${path}.${key}`);
    }
  };
  for (const [key, value] of Object.entries(resource)) {
    if (key !== 'meta' && key !== 'text' && typeof value === 'object') walk(value, `${type}.${key}`);
  }
  return issues;
}

/** The SOR ids an Organization carries. */
export function sorIdsOf(resource: Json | undefined): string[] {
  const ids = Array.isArray(resource?.identifier) ? (resource.identifier as Json[]) : [];
  return [
    ...new Set(
      ids
        .filter((i) => i?.system === SOR_SYSTEM && typeof i.value === 'string')
        .map((i) => i.value as string),
    ),
  ];
}
