/** FHIR identifier systems and codes EAS indexes by (ehmi-core §4.3). */

/** A FHIR resource as parsed JSON. */
export type Json = Record<string, unknown>;

export const SOR_SYSTEM = 'urn:oid:1.2.208.176.1.1';
/** Ydernummer (GP provider number): dk-core `Organization.identifier:Ydernummer` fixes this system. */
export const YDERNUMMER_SYSTEM = 'urn:oid:1.2.208.176.1.4';
/**
 * GLN systems seen in EHMI material: `https://www.gs1.org/gln` (MedCom messages, the EAS examples),
 * `http://www.gs1.org/gln` (EER's GLN identifier profile and examples), and GS1's OID.
 */
export const GLN_SYSTEMS = new Set(['https://www.gs1.org/gln', 'http://www.gs1.org/gln', 'urn:oid:1.3.88']);
/** SOR institution-owner types (dk.ehmi.terminology 1.2.0); `GeneralPractitioner` marks a GP practice. */
export const SOR_IO_TYPE_SYSTEM =
  'http://medcomehmi.dk/ig/terminology/CodeSystem/eer-sor-io-organization-type';

export const EAS_MESSAGING_ORGANIZATION =
  'http://medcomehmi.dk/ig/eas/StructureDefinition/eas-messaging-organization';

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function array(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** FHIR R4 `id` datatype: 1–64 of `[A-Za-z0-9\-.]`. */
export const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** The `<id>` of a reference `Device/<id>`, `…/Device/<id>` or `…/Device/<id>/_history/<v>`, else undefined. */
export function referencedId(reference: unknown, type: string): string | undefined {
  const ref = isObject(reference) ? str(reference.reference) : undefined;
  if (!ref) return undefined;
  const m = new RegExp(`(?:^|/)${type}/([A-Za-z0-9\\-.]{1,64})(?:/_history/[^/]+)?$`).exec(ref);
  return m?.[1];
}
