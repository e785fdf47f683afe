import { EhmiError } from '@ehmi/errors';
import { shippedConformance } from '@ehmi/fhir';
import { parseFhirDocumentId } from '@ehmi/sbdh';

/** EHMI's code system of message definitions: the document types (SMP DOCUMENTIDs) of the network. */
export const MESSAGE_DEFINITION_SYSTEM =
  'http://medcomehmi.dk/ig/terminology/CodeSystem/ehmi-message-definition-uri';

/** The payload family a document type belongs to, read from its identifier. */
export type DocumentFamily = 'fhir' | 'edifact' | 'oioxml' | 'ehmi';

/** A document type of `ehmi-message-definition-uri`, with the ehmiSBDH Standard and TypeVersion it implies. */
export interface MessageDefinition {
  /** The code as the code system spells it (for a FHIR message: as the client spelled it, see below). */
  code: string;
  display: string;
  family: DocumentFamily;
  /** DocumentIdentification/Standard: the FHIR event code, or the MedCom standard (`rpt01`, `xdis91`). */
  standard: string;
  /** DocumentIdentification/TypeVersion: the FHIR version, or the MedCom version code (`r0131k`, `xd9134l`). */
  typeVersion: string;
}

interface Index {
  version: string;
  byCode: Map<string, { code: string; display: string }>;
  fhir: { code: string; display: string; event: string; version: string }[];
}

let index: Index | undefined;

/** The code system as the FHIR package ships it (the terminology IG's), indexed once. */
function codes(): Index {
  if (index) return index;
  const cs = shippedConformance().resolve(MESSAGE_DEFINITION_SYSTEM, 'CodeSystem') as
    | { version?: string; concept?: { code: string; display?: string }[] }
    | undefined;
  if (!cs?.concept?.length) {
    throw new EhmiError(
      'EHMI_INTERNAL',
      `CodeSystem ${MESSAGE_DEFINITION_SYSTEM} is not shipped with @ehmi/fhir`,
    );
  }
  const byCode = new Map<string, { code: string; display: string }>();
  const fhir: Index['fhir'] = [];
  for (const c of cs.concept) {
    const entry = { code: c.code, display: c.display ?? c.code };
    byCode.set(c.code.toLowerCase(), entry);
    const parsed = parseFhirDocumentId(c.code);
    if (parsed) fhir.push({ ...entry, event: baseEvent(parsed.code), version: parsed.version });
  }
  index = { version: cs.version ?? '', byCode, fhir };
  return index;
}

/** FHIR event codes compare without case and without the `-message` suffix older identifiers leave out. */
function baseEvent(code: string): string {
  return code.toLowerCase().replace(/-message$/, '');
}

function familyOf(code: string): DocumentFamily | undefined {
  if (/^urn:dk:healthcare:(prod:)?(medcom:messaging|messaging:medcom):fhir:/i.test(code)) return 'fhir';
  if (/^urn:dk:healthcare:medcom:messaging:edifact:/i.test(code)) return 'edifact';
  if (/^urn:dk:healthcare:medcom:messaging:oioxml:/i.test(code)) return 'oioxml';
  if (/^urn:dk:healthcare:messaging:oasis:ebxml:/i.test(code)) return 'ehmi';
  return undefined;
}

/**
 * The message definition of a document type given at `POST /payloads` (ehmi-core §2.3 DOCUMENTID): it must be a code
 * of `ehmi-message-definition-uri`, compared without case for EDIFACT and OIOXML (the DOCUMENTID is then written as
 * the code system spells it, which is what the SMP publishes); a MedCom FHIR document type in another known spelling
 * (docs/architecture.md "Identifiers") is accepted when the code system has its event and version, and kept as
 * written. Standard and TypeVersion follow from the identifier: the FHIR event code and version, or, for
 * `…:<group>:<standard>:<version>` (EDIFACT `…:medrpt:rpt01:r0131k`, OIOXML `…:meddis:xdis91:xd9134l`), its last
 * two segments. Anything else is a 422 naming the code system.
 *
 * @example
 * messageDefinition('urn:dk:healthcare:medcom:messaging:edifact:medrpt:rpt01:r0131k');
 * // { family: 'edifact', standard: 'rpt01', typeVersion: 'r0131k', display: 'Laboratoriesvar', … }
 */
export function messageDefinition(documentType: string): MessageDefinition {
  const { byCode, fhir, version } = codes();
  const family = familyOf(documentType);
  const exact = byCode.get(documentType.toLowerCase());
  if (family === 'fhir') {
    const parsed = parseFhirDocumentId(documentType);
    const known =
      parsed && fhir.find((f) => f.event === baseEvent(parsed.code) && f.version === parsed.version);
    if (parsed && known) {
      return {
        code: documentType,
        display: known.display,
        family,
        standard: parsed.code,
        typeVersion: parsed.version,
      };
    }
  } else if (exact && family) {
    const segments = exact.code.split(':');
    return {
      code: exact.code,
      display: exact.display,
      family,
      standard: segments.at(-2)!,
      typeVersion: segments.at(-1)!,
    };
  }
  throw new EhmiError(
    'EHMI_VALIDATION_FAILED',
    `documentType ${documentType} is not a message definition of CodeSystem ${MESSAGE_DEFINITION_SYSTEM} (version ${version}); use one of its codes, e.g. urn:dk:healthcare:medcom:messaging:edifact:medrpt:rpt01:r0131k`,
    { expression: ['documentType'], details: { documentType, system: MESSAGE_DEFINITION_SYSTEM } },
  );
}
