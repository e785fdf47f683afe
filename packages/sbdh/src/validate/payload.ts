import { parseXml, rootElement } from '@ehmi/xml';
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
    let resource: unknown;
    try {
      resource = JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, ''));
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
    return issues;
  }
  if (mime.endsWith('xml')) {
    try {
      const root = rootElement(
        parseXml(decodeText(bytes, envelope.binaryContent.encoding), { source: 'the BinaryContent payload' }),
      );
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
  const header = bundle.entry?.[0]?.resource;
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

/**
 * Payload text in its declared encoding: the XML declaration's, else BinaryContent@encoding, else UTF-8
 * (BinaryContentType allows UTF-8 and ISO-8859-1; MedCom's samples carry ISO-8859-1 FHIR XML).
 */
export function decodeText(bytes: Buffer, encoding: string | undefined): string {
  const head = bytes.subarray(0, 200).toString('latin1');
  const declared = /^\s*<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']/i.exec(head)?.[1] ?? encoding ?? 'UTF-8';
  return /^(iso-?8859-?1|latin-?1)$/i.test(declared) ? bytes.toString('latin1') : bytes.toString('utf8');
}
