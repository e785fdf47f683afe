import { parseXml, rootElement } from '@ehmi/xml';
import {
  FHIR_ACK_STANDARD,
  HEADER_VERSION,
  IG_STANDARDS,
  ORIGINAL_SCOPES,
  PARTY_AUTHORITY,
  PROCESS_ID,
  RECEIPT_SCOPE,
  RECEIPT_STANDARD,
  RECEIPT_TYPE_VERSION,
  RECEIPT_TYPES,
  SCOPE_TYPES,
} from '../constants.ts';
import { checkDocumentId } from '../document-id.ts';
import { EVENTS_WITHOUT_PATIENT } from '../fhir/message.ts';
import type { EhmiEnvelope, EnvelopeIssue, Scope } from '../model.ts';
import { hasOffset } from '../time.ts';
import { at, type EnvelopeKind, H, type Report } from './report.ts';
import { checkBinaryContent } from './rules-binary.ts';
import { checkReliableMessaging } from './rules-reliable.ts';

export type { EnvelopeKind } from './report.ts';

export function kindOf(envelope: EhmiEnvelope): EnvelopeKind {
  const s = envelope.documentIdentification.standard;
  return s === RECEIPT_STANDARD ? 'receipt' : s === FHIR_ACK_STANDARD ? 'acknowledgement' : 'message';
}

/**
 * The ehmiSBDH IG's rules that the XSD cannot express, per kind of envelope. Errors make the envelope invalid;
 * warnings name variants MedCom's own material shows (docs/specs/ehmi-core.md §2.3, §2.4, §2.9).
 */
export function checkRules(envelope: EhmiEnvelope): EnvelopeIssue[] {
  const issues: EnvelopeIssue[] = [];
  const error = (rule: string, element: string, message: string): void => {
    issues.push({ severity: 'error', rule, element, message });
  };
  const warning = (rule: string, element: string, message: string): void => {
    issues.push({ severity: 'warning', rule, element, message });
  };
  const kind = kindOf(envelope);
  const ig = envelope.profile === 'ehmi';
  const di = envelope.documentIdentification;

  // The GS1 schema leaves these free; the IG fixes them for every EHMI envelope (checked by the IG XSD otherwise).
  if (!ig) {
    if (envelope.headerVersion !== HEADER_VERSION) {
      error(
        'header-version',
        `${H}/HeaderVersion`,
        `HeaderVersion is '${envelope.headerVersion}', not ${HEADER_VERSION}`,
      );
    }
    for (const [name, p] of [
      ['Sender', envelope.sender],
      ['Receiver', envelope.receiver],
    ] as const) {
      if (p.authority !== PARTY_AUTHORITY) {
        error(
          'party-authority',
          `${H}/${name}/Identifier/@Authority`,
          `Authority is '${p.authority}', not ${PARTY_AUTHORITY}`,
        );
      }
    }
    warning(
      'standard-unlisted',
      `${H}/DocumentIdentification/Standard`,
      `Standard '${di.standard}' is not listed by the ehmiSBDH 2.0.1 XSD; checked against the GS1/PEPPOL base schema`,
    );
  }
  for (const [name, p] of [
    ['Sender', envelope.sender],
    ['Receiver', envelope.receiver],
  ] as const) {
    // "The value 0088: reflects that the type is GLN. The value after 0088: reflects the GLN number."
    const m = /^(\d{4}):(.+)$/.exec(p.value);
    if (!m)
      error(
        'party-identifier',
        `${H}/${name}/Identifier`,
        `'${p.value}' is not an ISO 6523 participant id (<scheme>:<id>)`,
      );
    else if (m[1] !== '0088')
      warning('party-scheme', `${H}/${name}/Identifier`, `scheme ${m[1]} is not GLN (0088)`);
    else if (!isGln(m[2]!))
      warning('party-gln', `${H}/${name}/Identifier`, `'${m[2]}' is not a valid 13-digit GLN`);
  }
  // The XSD types these as xs:string, so an empty value passes it; the IG gives each a value (the InstanceIdentifier
  // is the EnvelopeIdentifier that duplicate detection and receipts key on).
  for (const [name, value] of [
    ['Standard', di.standard],
    ['TypeVersion', di.typeVersion],
    ['InstanceIdentifier', di.instanceIdentifier],
    ['Type', di.type],
  ] as const) {
    if (value === '') error('empty', `${H}/DocumentIdentification/${name}`, `${name} is empty`);
  }
  if (!hasOffset(di.creationDateAndTime)) {
    warning(
      'datetime-offset',
      `${H}/DocumentIdentification/CreationDateAndTime`,
      'CreationDateAndTime has no UTC offset',
    );
  }

  // Scopes: known types, each at most once.
  const seen = new Map<string, Scope>();
  for (const s of envelope.scopes) {
    if (!(SCOPE_TYPES as readonly string[]).includes(s.type) && !ig) {
      error('scope-type', at(s.type), `unknown Scope Type '${s.type}'`);
    }
    if (seen.has(s.type)) error('scope-duplicate', at(s.type), `Scope ${s.type} occurs more than once`);
    // XDS-METADATA has its own placeholder rule (checkXds); every other scope is a name with a value.
    if (s.instanceIdentifier === '' && s.type !== 'XDS-METADATA') {
      error(
        'scope-empty',
        `${at(s.type)}/InstanceIdentifier`,
        `Scope ${s.type} has an empty InstanceIdentifier`,
      );
    }
    seen.set(s.type, s);
  }
  const has = (t: string): boolean => seen.has(t);
  const fhirPayload = /^application\/fhir\+(json|xml)$/.test(envelope.binaryContent.mimeType);
  for (const t of [
    'DOCUMENTID',
    'PROCESSID',
    'SENDERID',
    'RECEIVERID',
    'MESSAGEIDENTIFIER',
    'MESSAGEENVELOPEIDENTIFIER',
    'StatisticalInformation',
  ]) {
    if (has(t)) continue;
    // A receipt has no Bundle: its MESSAGEENVELOPEIDENTIFIER is only a generated id, and IG examples omit it.
    if (kind === 'receipt' && t === 'MESSAGEENVELOPEIDENTIFIER')
      warning('scope-missing', at(t), `Scope ${t} is missing`);
    // The IG maps the MedCom-messaging scopes from a FHIR message only; for OIOXML, EDIFACT or CDA payloads
    // (wrapPayload) that mapping is "described in a later version", so their absence is named, not fatal.
    else if (!ig && !fhirPayload && !['DOCUMENTID', 'PROCESSID', 'StatisticalInformation'].includes(t))
      warning(
        'scope-missing',
        at(t),
        `Scope ${t} is missing (no IG mapping for a ${envelope.binaryContent.mimeType} payload yet)`,
      );
    else error('scope-missing', at(t), `required Scope ${t} is missing`);
  }

  // DOCUMENTID: keep the identifier format as data and accept the known older forms (docs/architecture.md
  // "Identifiers").
  const documentId = seen.get('DOCUMENTID')?.instanceIdentifier;
  if (
    documentId !== undefined &&
    documentId !== '' &&
    (IG_STANDARDS as readonly string[]).includes(di.standard)
  ) {
    const c = checkDocumentId(documentId, di.standard, di.typeVersion);
    if (c.form === 'legacy') warning('variant-documentid', at('DOCUMENTID'), `${c.variant}: '${documentId}'`);
    if (c.form === 'mismatch') {
      error(
        'documentid',
        at('DOCUMENTID'),
        `'${documentId}' does not identify ${di.standard} ${di.typeVersion}`,
      );
    }
  }
  const processId = seen.get('PROCESSID')?.instanceIdentifier;
  if (processId !== undefined && processId !== PROCESS_ID) {
    if (processId === 'sdn-emergence')
      warning(
        'variant-processid',
        at('PROCESSID'),
        `PROCESSID 'sdn-emergence' in its older form (now ${PROCESS_ID})`,
      );
    else
      (ig ? error : warning)('processid', at('PROCESSID'), `PROCESSID is '${processId}', not ${PROCESS_ID}`);
  }

  // PATIENTID: "In message: yes, in receipt: no"; a MedCom Acknowledgement has no Patient.
  const patient = seen.get('PATIENTID');
  if (kind === 'receipt' && patient)
    error('patientid-receipt', at('PATIENTID'), 'PATIENTID does not apply to an EnvelopeReceipt');
  if (kind === 'message' && !patient && !EVENTS_WITHOUT_PATIENT.has(di.standard)) {
    error('patientid-missing', at('PATIENTID'), `a ${di.standard} envelope needs PATIENTID`);
  }
  if (
    patient &&
    patient.instanceIdentifier !== '' &&
    !/^\d{6}[0-9A-Za-z]{4}$/.test(patient.instanceIdentifier)
  ) {
    warning(
      'patientid-format',
      at('PATIENTID'),
      `'${patient.instanceIdentifier}' is neither a CPR nor an eCPR (10 characters)`,
    );
  }

  // ORIGINAL*: "Is only relevant when … Standard = ebbp-signals / acknowledgement-message".
  const originals = ORIGINAL_SCOPES.filter(has);
  if (kind === 'message') {
    for (const t of originals)
      error('original-in-message', at(t), `${t} only applies to acknowledgements and EnvelopeReceipts`);
  } else {
    const expected =
      kind === 'receipt'
        ? ORIGINAL_SCOPES
        : ORIGINAL_SCOPES.filter((t) => t !== 'ORIGINALENVELOPEIDENTIFIER');
    if (kind === 'receipt' && !has('ORIGINALMESSAGEIDENTIFIER')) {
      error(
        'original-missing',
        at('ORIGINALMESSAGEIDENTIFIER'),
        'an EnvelopeReceipt needs ORIGINALMESSAGEIDENTIFIER to correlate to its original',
      );
    }
    for (const t of expected) {
      if (!has(t) && !(kind === 'receipt' && t === 'ORIGINALMESSAGEIDENTIFIER')) {
        warning('original-missing', at(t), `${t} is missing`);
      }
    }
    if (kind === 'acknowledgement' && has('ORIGINALENVELOPEIDENTIFIER')) {
      warning(
        'original-envelope-in-ack',
        at('ORIGINALENVELOPEIDENTIFIER'),
        'ORIGINALENVELOPEIDENTIFIER is only relevant for EnvelopeReceipts',
      );
    }
  }

  // XDS-METADATA: only on the copy of a MedCom message to the document archive.
  const xds = seen.get('XDS-METADATA');
  if (xds) checkXds(xds, kind, error, warning);

  const stat = seen.get('StatisticalInformation')?.instanceIdentifier;
  if (
    stat !== undefined &&
    stat !== '' &&
    kind !== 'receipt' &&
    !stat.toLowerCase().startsWith(`mcm:${di.standard.toLowerCase()}`)
  ) {
    warning(
      'statistical-information',
      at('StatisticalInformation'),
      `'${stat}' is not "MCM:${di.standard}[#postfix]"`,
    );
  }

  if (kind === 'receipt') {
    if (!(RECEIPT_TYPES as readonly string[]).includes(di.type)) {
      if (di.type === 'SBDHReceiptAcknowledgement')
        warning(
          'variant-receipt-type',
          `${H}/DocumentIdentification/Type`,
          `Type '${di.type}' read as ReceiptAcknowledgement`,
        );
      else if (di.type === 'AcceptanceAcknowledgement')
        warning(
          'receipt-type',
          `${H}/DocumentIdentification/Type`,
          'AcceptanceAcknowledgement is not used in the Production Pilot',
        );
      else
        error(
          'receipt-type',
          `${H}/DocumentIdentification/Type`,
          `Type '${di.type}' is not ReceiptAcknowledgement or ReceiptException`,
        );
    }
    if (di.typeVersion !== RECEIPT_TYPE_VERSION) {
      error(
        'receipt-version',
        `${H}/DocumentIdentification/TypeVersion`,
        `TypeVersion is '${di.typeVersion}', not ${RECEIPT_TYPE_VERSION}`,
      );
    }
  } else if (ig && di.type !== 'Bundle') {
    error('type', `${H}/DocumentIdentification/Type`, `Type is '${di.type}', not Bundle, for a FHIR message`);
  }

  checkReliableMessaging(envelope, kind, seen.get(RECEIPT_SCOPE), error, warning);
  checkBinaryContent(envelope, kind, error, issues);
  return issues;
}

function checkXds(xds: Scope, kind: EnvelopeKind, error: Report, warning: Report): void {
  if (kind === 'receipt')
    error('xds-in-receipt', at('XDS-METADATA'), 'XDS-METADATA does not apply to EnvelopeReceipts');
  if (kind === 'acknowledgement')
    warning('xds-in-ack', at('XDS-METADATA'), 'XDS-METADATA only applies to MedCom messages, not receipts');
  if (xds.instanceIdentifier === '') {
    warning('xds-empty', at('XDS-METADATA'), 'XDS-METADATA is an empty placeholder');
    return;
  }
  const value = xds.instanceIdentifier;
  // JSON in the examples; the prose also shows `<DocumentReference>` XML in the CDATA.
  if (value.startsWith('<')) {
    try {
      const root = rootElement(parseXml(value, { source: 'XDS-METADATA' }));
      if (root.localName !== 'DocumentReference' || root.namespaceURI !== 'http://hl7.org/fhir') {
        error(
          'xds-content',
          at('XDS-METADATA'),
          `XDS-METADATA holds ${root.localName}, not a FHIR DocumentReference`,
        );
      }
    } catch (err) {
      error(
        'xds-content',
        at('XDS-METADATA'),
        `XDS-METADATA is not well-formed XML: ${(err as Error).message}`,
      );
    }
    return;
  }
  try {
    const doc = JSON.parse(value) as { resourceType?: unknown };
    if (doc.resourceType !== 'DocumentReference')
      error('xds-content', at('XDS-METADATA'), 'XDS-METADATA is not a DocumentReference');
  } catch {
    error('xds-content', at('XDS-METADATA'), 'XDS-METADATA is neither DocumentReference JSON nor XML');
  }
}

/** GS1 GLN: 13 digits with a mod-10 check digit. */
export function isGln(value: string): boolean {
  if (!/^\d{13}$/.test(value)) return false;
  const digits = [...value].map(Number);
  const sum = digits.slice(0, 12).reduce((acc, d, i) => acc + d * (i % 2 === 0 ? 1 : 3), 0);
  return (10 - (sum % 10)) % 10 === digits[12];
}
