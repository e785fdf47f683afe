import { documentId, type IdentifierInput, type SmpIdentifier } from './identifier.ts';

/** The spellings of a MedCom document type identifier seen in MedCom's material (docs/specs/ehmi-core.md §2.3). */
export type MedcomDocumentForm =
  /** `urn:…:structuredefinition::<name>##urn:dk:medcom:fhir:<name>::<version>` (ehmiSBDH IG 2.x, EER, terminology). */
  | 'current'
  /** `urn:…:structuredefinition:<name>#urn:dk:medcom:fhir:<name>:<version>` (ehmiSMP page 2024: no `##`, no `::`). */
  | 'single-separator'
  /** `urn:…:structuredefinition:<name>:<version>` (older SBDH examples, EAS messageType, eDelivery code system). */
  | 'legacy';

export interface MedcomDocumentType {
  form: MedcomDocumentForm;
  /** The message name as written (`homecareobservation-message`, `acknowledgement`, `sbdhacknowledgement`). */
  name: string;
  /** The name all forms share: without `-message`, SBDH acknowledgements as `ehmisbdh-acknowledgement`. */
  canonicalName: string;
  version: string;
}

const VERSION = '([0-9]+(?:\\.[0-9]+)*)';
const NAME = '([A-Za-z][A-Za-z0-9-]*)';
const CURRENT = new RegExp(`^urn:[^#]+?::${NAME}##urn:[^#]+?:\\1::${VERSION}$`);
const SINGLE = new RegExp(`^urn:[^#]+?:${NAME}#urn:[^#]+?:\\1:${VERSION}$`);
const LEGACY = new RegExp(`^urn:dk:[^#]+?:${NAME}:${VERSION}$`);

function canonical(name: string): string {
  const n = name.toLowerCase();
  if (n === 'sbdhacknowledgement' || n === 'ehmisbdh-acknowledgement') return 'ehmisbdh-acknowledgement';
  return n.endsWith('-message') ? n.slice(0, -'-message'.length) : n;
}

/**
 * Recognises a MedCom document type identifier in any of its known spellings; undefined for anything else
 * (a Peppol or epSOS document type, say). The format "is still moving in MedCom's material"
 * (docs/architecture.md "Identifiers"), so this is data for matching, never a reason to refuse an identifier.
 *
 * @example
 * medcomDocumentType('urn:dk:healthcare:medcom:messaging:fhir:structuredefinition:homecareobservation-message:1.1');
 * // { form: 'legacy', name: 'homecareobservation-message', canonicalName: 'homecareobservation', version: '1.1' }
 */
export function medcomDocumentType(id: IdentifierInput): MedcomDocumentType | undefined {
  const value = typeof id === 'string' ? id.trim() : id.value;
  const forms: [MedcomDocumentForm, RegExp][] = [
    ['current', CURRENT],
    ['single-separator', SINGLE],
    ['legacy', LEGACY],
  ];
  for (const [form, re] of forms) {
    const m = re.exec(value);
    if (m) return { form, name: m[1]!, canonicalName: canonical(m[1]!), version: m[2]! };
  }
  return undefined;
}

/**
 * True when two document type identifiers name the same document: equal identifiers, or two MedCom spellings of
 * the same message and version (whatever their scheme: the scheme is as unsettled as the value).
 *
 * @example
 * sameDocumentType(
 *   documentId('urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::acknowledgement-message##urn:dk:medcom:fhir:acknowledgement-message::2.0'),
 *   documentId('urn:dk:healthcare:medcom:messaging:fhir:structuredefinition:acknowledgement:2.0'),
 * ); // true
 */
export function sameDocumentType(a: SmpIdentifier, b: SmpIdentifier): boolean {
  if (a.equals(b)) return true;
  const x = medcomDocumentType(a);
  const y = medcomDocumentType(b);
  return x !== undefined && y !== undefined && x.canonicalName === y.canonicalName && x.version === y.version;
}

/**
 * The current-form identifier of a MedCom FHIR message (ehmiSBDH IG 2.x DOCUMENTID).
 *
 * @example
 * medcomDocumentId('homecareobservation-message', '1.2').value;
 * // 'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message::1.2'
 */
export function medcomDocumentId(name: string, version: string, scheme?: string): SmpIdentifier {
  const value =
    canonical(name) === 'ehmisbdh-acknowledgement'
      ? `urn:dk:healthcare:messaging:oasis:ebxml:schema:xsd::ehmisbdh-acknowledgement##urn:dk:ehmi:sbdh:ehmisbdh-acknowledgement::${version}`
      : `urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::${name}##urn:dk:medcom:fhir:${name}::${version}`;
  return documentId(value, scheme ? { scheme } : {});
}

/**
 * True when two process identifiers name the same process: equal identifiers, or the same value under another
 * scheme, with EHMI's `sdn-emergence` and `urn:ehmi:sdn-emergence` taken as one (older SBDH examples use the short
 * form; docs/specs/ehmi-core.md §2.3).
 *
 * @example
 * sameProcess(processId('urn:ehmi:sdn-emergence'), processId('sdn-emergence')); // true
 */
export function sameProcess(a: SmpIdentifier, b: SmpIdentifier): boolean {
  if (a.equals(b)) return true;
  const norm = (v: string) => v.replace(/^urn:ehmi:/i, '');
  return norm(a.value) === norm(b.value);
}
