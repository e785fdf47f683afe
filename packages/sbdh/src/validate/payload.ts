import { parseXml, rootElement } from '@ehmi/xml';
import { GLN_PREFIX } from '../constants.ts';
import { type MedComMessageFacts, readMessageFacts } from '../fhir/message.ts';
import type { EhmiEnvelope, EnvelopeIssue } from '../model.ts';
import { scopeValue } from '../model.ts';

/**
 * The decoded BinaryContent must be what its mimeType says: FHIR JSON a JSON resource, XML types well-formed XML
 * (no DOCTYPE). For a FHIR JSON Bundle the identifiers the scopes repeat are compared (warnings: MedCom's examples
 * do not always agree with their payloads).
 */
export function checkPayload(envelope: EhmiEnvelope, bytes: Buffer): EnvelopeIssue[] {
  const issues: EnvelopeIssue[] = [];
  const error = (message: string): void => {
    issues.push({ severity: 'error', rule: 'payload', element: 'BinaryContent', message });
  };
  const mime = envelope.binaryContent.mimeType;
  if (mime === 'application/fhir+json' || mime.endsWith('+json') || mime === 'application/json') {
    let text: string;
    try {
      // FHIR JSON is UTF-8 (RFC 8259 §8.1): bytes that are not would be read as U+FFFD and pass unnoticed.
      text =
        envelope.binaryContent.encoding === 'ISO-8859-1'
          ? bytes.toString('latin1')
          : new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      error('BinaryContent is not valid UTF-8, as its encoding says');
      return issues;
    }
    let resource: unknown;
    try {
      resource = JSON.parse(text.replace(/^\uFEFF/, ''));
    } catch {
      error(`BinaryContent does not decode to JSON, as its mimeType ${mime} says`);
      return issues;
    }
    const r = resource as {
      resourceType?: unknown;
      id?: unknown;
      entry?: { resource?: { resourceType?: unknown; id?: unknown } }[];
    };
    if (mime === 'application/fhir+json' && typeof r?.resourceType !== 'string') {
      error('BinaryContent holds JSON without a resourceType, not a FHIR resource');
      return issues;
    }
    if (r.resourceType === 'Bundle') compareIds(envelope, r, issues);
    else if (envelope.documentIdentification.type === 'Bundle' && typeof r?.resourceType === 'string') {
      error(`BinaryContent holds a ${r.resourceType}, but Type says Bundle (a MedCom message is a Bundle)`);
    }
    return issues;
  }
  if (mime.endsWith('xml')) {
    try {
      const root = rootElement(
        parseXml(decodeText(bytes, envelope.binaryContent.encoding), { source: 'the BinaryContent payload' }),
      );
      if (
        root.namespaceURI === 'http://hl7.org/fhir' &&
        envelope.documentIdentification.type === 'Bundle' &&
        root.localName !== 'Bundle'
      ) {
        error(`BinaryContent holds a ${root.localName}, but Type says Bundle (a MedCom message is a Bundle)`);
      }
      if (mime === 'application/fhir+xml' && root.namespaceURI !== 'http://hl7.org/fhir') {
        // MedCom's 2025 samples label an OIOXML Emessage as application/fhir+xml: a mislabel, not a broken payload.
        issues.push({
          severity: 'warning',
          rule: 'payload-mimetype',
          element: 'BinaryContent/@mimeType',
          message: `mimeType is application/fhir+xml but the payload's root ${root.localName} is not in the FHIR namespace`,
        });
      }
    } catch (err) {
      error(`BinaryContent is not the ${mime} its mimeType says: ${(err as Error).message}`);
    }
  }
  return issues;
}

function compareIds(
  envelope: EhmiEnvelope,
  bundle: { id?: unknown; entry?: { resource?: { resourceType?: unknown; id?: unknown } }[] },
  issues: EnvelopeIssue[],
): void {
  const header = bundle.entry?.[0]?.resource as
    | { resourceType?: unknown; id?: unknown; eventCoding?: { code?: unknown } }
    | undefined;
  // The Standard is the message's event code (ehmiSBDH IG: MessageHeader.eventCoding.code): an envelope that names
  // another message kind than it carries would be routed and receipted as the wrong message.
  const event = header?.resourceType === 'MessageHeader' ? header.eventCoding?.code : undefined;
  const standard = envelope.documentIdentification.standard;
  if (typeof event === 'string' && baseCode(event) !== baseCode(standard)) {
    issues.push({
      severity: 'error',
      rule: 'payload-standard',
      element: 'StandardBusinessDocumentHeader/DocumentIdentification/Standard',
      message: `Standard '${standard}' differs from the payload's MessageHeader.eventCoding.code '${event}'`,
    });
  }
  compareFacts(envelope, bundle, issues);
  const pairs: [string, unknown][] = [
    ['MESSAGEENVELOPEIDENTIFIER', bundle.id],
    ['MESSAGEIDENTIFIER', header?.resourceType === 'MessageHeader' ? header.id : undefined],
  ];
  for (const [type, actual] of pairs) {
    const value = scopeValue(envelope, type);
    if (value !== undefined && typeof actual === 'string' && value !== actual) {
      issues.push({
        severity: 'warning',
        rule: 'payload-ids',
        element: `StandardBusinessDocumentHeader/BusinessScope/Scope[${type}]`,
        message: `'${value}' differs from the payload's ${type === 'MESSAGEIDENTIFIER' ? 'MessageHeader.id' : 'Bundle.id'} '${actual}'`,
      });
    }
  }
}

/** Event codes compare without case and without the `-message` suffix older identifiers leave out. */
function baseCode(code: string): string {
  return code.toLowerCase().replace(/-message$/, '');
}

/**
 * The header values the IG maps from the message (PATIENTID, SENDERID, RECEIVERID, the GLNs, TypeVersion) against
 * the payload. Warnings: MedCom's own examples carry envelope values that their payloads do not.
 */
function compareFacts(envelope: EhmiEnvelope, bundle: unknown, issues: EnvelopeIssue[]): void {
  let facts: MedComMessageFacts;
  try {
    facts = readMessageFacts(bundle, envelope.documentIdentification.typeVersion);
  } catch {
    return; // not a complete MedCom message: the FHIR validator's business, not the envelope's
  }
  const warn = (
    element: string,
    what: string,
    value: string | undefined,
    actual: string | undefined,
  ): void => {
    if (value === undefined || value === '' || actual === undefined || value === actual) return;
    issues.push({
      severity: 'warning',
      rule: 'payload-metadata',
      element,
      message: `'${value}' differs from the payload's ${what} '${actual}'`,
    });
  };
  const H = 'StandardBusinessDocumentHeader';
  const scope = (t: string): string => `${H}/BusinessScope/Scope[${t}]`;
  if (facts.versionSource === 'definition') {
    warn(
      `${H}/DocumentIdentification/TypeVersion`,
      'MessageHeader.definition version',
      envelope.documentIdentification.typeVersion,
      facts.version,
    );
  }
  warn(`${H}/Sender/Identifier`, 'sender GLN', envelope.sender.value, `${GLN_PREFIX}${facts.senderGln}`);
  warn(
    `${H}/Receiver/Identifier`,
    'receiver GLN',
    envelope.receiver.value,
    `${GLN_PREFIX}${facts.receiverGln}`,
  );
  warn(scope('SENDERID'), 'sender SOR id', scopeValue(envelope, 'SENDERID'), facts.senderSor);
  warn(scope('RECEIVERID'), 'receiver SOR id', scopeValue(envelope, 'RECEIVERID'), facts.receiverSor);
  warn(scope('PATIENTID'), 'Patient identifier', scopeValue(envelope, 'PATIENTID'), facts.patient?.value);
}

/**
 * Payload text in its declared encoding: the XML declaration's, else BinaryContent@encoding, else UTF-8
 * (BinaryContentType allows UTF-8 and ISO-8859-1; MedCom's samples carry ISO-8859-1 FHIR XML).
 */
export function decodeText(bytes: Buffer, encoding: string | undefined): string {
  const head = bytes.subarray(0, 200).toString('latin1');
  const declared = /^\s*<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']/i.exec(head)?.[1] ?? encoding ?? 'UTF-8';
  return /^(iso-?8859-?1|latin-?1)$/i.test(declared) ? bytes.toString('latin1') : bytes.toString('utf8');
}
