import { RECEIPT_STANDARD } from './constants.ts';

/**
 * DOCUMENTID (SMP document type id), "DOCUMENTID for MedCom Messaging Messages": the current form
 * `urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::<code>##urn:dk:medcom:fhir:<code>::<version>`,
 * as in every 2025–2026 IG example and the terminology CodeSystem `ehmi-message-definition-uri`.
 */
export function fhirDocumentId(eventCode: string, version: string): string {
  return `urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::${eventCode}##urn:dk:medcom:fhir:${eventCode}::${version}`;
}

/** "DOCUMENTID for ehmiSBDH EnvelopeReceipt" (IG example value). */
export const RECEIPT_DOCUMENT_ID =
  'urn:dk:healthcare:messaging:oasis:ebxml:schema:xsd::ehmisbdh-acknowledgement##urn:dk:ehmi:sbdh:ehmisbdh-acknowledgement::1.0';

/** How a DOCUMENTID value relates to the envelope's Standard and TypeVersion. */
export type DocumentIdForm = 'current' | 'legacy' | 'mismatch';

export interface DocumentIdCheck {
  form: DocumentIdForm;
  /** Name of the variant when `form` is `legacy`. */
  variant?: string;
}

/**
 * Classify a DOCUMENTID against Standard/TypeVersion. The identifier format is still moving in MedCom's material
 * (docs/specs/ehmi-core.md §2.3), so older forms are data we recognise, not errors:
 * - `…structuredefinition:<code>:<version>` (older IG pages, terminology `edelivery-sbdh-documentid-type`);
 * - `…:prod:…structuredefinition:<code>#urn:dk:medcom:fhir:<code>:<version>` (ehmiSMP page, 2024: `##`/`::` removed);
 * - receipts: `urn:dk:healthcare:ehmi:messaging:envelope:xml:sbdhacknowledgement:1.0` and
 *   `urn:dk:healthcare:prod:messaging:oasis:ebxml:schema:xsd:SBDHReceiptAcknowledgement`.
 */
export function checkDocumentId(value: string, standard: string, typeVersion: string): DocumentIdCheck {
  const code = standard.toLowerCase();
  if (code === RECEIPT_STANDARD) {
    if (value === RECEIPT_DOCUMENT_ID) return { form: 'current' };
    if (
      /^urn:dk:healthcare:(prod:)?messaging:oasis:ebxml:schema:xsd:/i.test(value) ||
      /^urn:dk:healthcare:ehmi:messaging:envelope:xml:sbdhacknowledgement:/i.test(value)
    ) {
      return { form: 'legacy', variant: 'receipt DOCUMENTID in an older form' };
    }
    return { form: 'mismatch' };
  }
  if (value === fhirDocumentId(standard, typeVersion)) return { form: 'current' };
  const parsed = parseFhirDocumentId(value);
  if (!parsed || baseCode(parsed.code) !== baseCode(code)) return { form: 'mismatch' };
  // The 2024 SMP form numbers versions differently (`…homecareobservation:3.0`); elsewhere the version must agree.
  if (parsed.form !== 'SMP 2024 single-hash' && parsed.version !== typeVersion) return { form: 'mismatch' };
  if (parsed.form === 'current' && parsed.code === standard) return { form: 'current' };
  return {
    form: 'legacy',
    variant: `DOCUMENTID in the ${parsed.form === 'current' ? 'current form with another spelling' : parsed.form} form`,
  };
}

/** Event codes compare without case and without the `-message` suffix older identifiers leave out. */
function baseCode(code: string): string {
  return code.toLowerCase().replace(/-message$/, '');
}

interface ParsedDocumentId {
  code: string;
  version: string;
  form: 'current' | 'prose template' | 'older single-colon' | 'SMP 2024 single-hash';
}

/** Event code and version of a MedCom FHIR DOCUMENTID in any known form, or undefined. */
export function parseFhirDocumentId(value: string): ParsedDocumentId | undefined {
  let m =
    /^urn:dk:healthcare:(prod:)?(medcom:messaging|messaging:medcom):fhir:structuredefinition::([^#:]+)##urn:dk:medcom:fhir:([^#:]+)::(.+)$/i.exec(
      value,
    );
  if (m && m[3] === m[4]) {
    const current = m[1] === undefined && m[2] === 'medcom:messaging';
    return { code: m[3]!, version: m[5]!, form: current ? 'current' : 'prose template' };
  }
  m =
    /^urn:dk:healthcare:(?:prod:)?(?:medcom:messaging|messaging:medcom):fhir:structuredefinition:([^#:]+)#urn:dk:medcom:fhir:([^#:]+):(.+)$/i.exec(
      value,
    );
  if (m) return { code: m[1]!, version: m[3]!, form: 'SMP 2024 single-hash' };
  m =
    /^urn:dk:healthcare:(?:prod:)?(?:medcom:messaging|messaging:medcom):fhir:structuredefinition:([^#:]+):([0-9][^#:]*)$/i.exec(
      value,
    );
  if (m) return { code: m[1]!, version: m[2]!, form: 'older single-colon' };
  return undefined;
}
