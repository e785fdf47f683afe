import { EhmiError } from '@ehmi/errors';
import { parseXml, rootElement } from '@ehmi/xml';
import {
  buildEnvelope,
  type EnvelopeMetadata,
  type EnvelopeStamp,
  type OriginalReference,
} from './build/envelope.ts';
import { serializeEnvelope } from './build/serialize.ts';
import { fhirDocumentId } from './document-id.ts';
import type { EhmiEnvelope } from './model.ts';

/** Payload families of EHMI ("EHMI operates with 4 types of standards": FHIR, eb, OIOXML, Edifact) plus CDA. */
export type PayloadKind = 'fhir-json' | 'fhir-xml' | 'oioxml' | 'edifact' | 'cda' | 'other';

/** Default BinaryContent mimeType per payload kind. */
export const PAYLOAD_MIME_TYPES: Readonly<Record<PayloadKind, string>> = {
  'fhir-json': 'application/fhir+json',
  'fhir-xml': 'application/fhir+xml',
  oioxml: 'application/xml',
  edifact: 'application/edifact',
  cda: 'application/xml',
  other: 'application/octet-stream',
};

/** Explicit metadata for a payload the pilot XSD does not list yet; the same envelope structure, other values. */
export interface PayloadMetadata extends EnvelopeStamp {
  kind: PayloadKind;
  /** GLN (or `0088:<GLN>`) of sender and receiver. */
  sender: string;
  receiver: string;
  /** DocumentIdentification/Standard, e.g. `carecommunication-message`, an OIOXML letter type, an EDIFACT type. */
  standard: string;
  typeVersion: string;
  /** DOCUMENTID; for FHIR payloads the IG's form is the default. Required otherwise. */
  documentId?: string;
  /** DocumentIdentification/Type ("[Message-starttag]"): default `Bundle` for FHIR, the XML root, the UNH type. */
  type?: string;
  processId?: string;
  patientId?: string;
  senderSor?: string;
  receiverSor?: string;
  messageIdentifier?: string;
  messageEnvelopeIdentifier?: string;
  original?: OriginalReference;
  statisticalInformation?: string;
  requestReceipt?: boolean;
  mimeType?: string;
  encoding?: string;
}

/**
 * Wrap any payload from explicit metadata: other MedCom FHIR messages, OIOXML, EDIFACT, CDA. The structure is the
 * ehmiSBDH's; when the Standard or mimeType is outside the pilot XSD's lists, the envelope is written for the
 * GS1/PEPPOL base schema (BinaryContent as PEPPOL's `bc:BinaryContent`), which the IG keeps compatible.
 *
 * @example
 * const xml = wrapPayload(oioxmlBytes, {
 *   kind: 'oioxml', sender: '5790000123117', receiver: '5790000127092', standard: 'DIS01',
 *   typeVersion: 'XD0131', documentId: 'urn:dk:medcom:oioxml:DIS01', patientId: '0101010227',
 * });
 */
export function wrapPayload(payload: string | Uint8Array, metadata: PayloadMetadata): string {
  return serializeEnvelope(payloadEnvelope(payload, metadata));
}

/** {@link wrapPayload}, returning the typed envelope. */
export function payloadEnvelope(payload: string | Uint8Array, metadata: PayloadMetadata): EhmiEnvelope {
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  if (bytes.length === 0)
    throw new EhmiError('EHMI_VALIDATION_FAILED', 'the payload is empty', { expression: ['BinaryContent'] });
  const fhir = metadata.kind === 'fhir-json' || metadata.kind === 'fhir-xml';
  const documentId =
    metadata.documentId ??
    (fhir
      ? fhirDocumentId(metadata.standard, metadata.typeVersion)
      : required(
          'documentId',
          `a ${metadata.kind} payload needs an explicit DOCUMENTID (its SMP document type)`,
        ));
  const meta: EnvelopeMetadata = {
    sender: metadata.sender,
    receiver: metadata.receiver,
    standard: metadata.standard,
    typeVersion: metadata.typeVersion,
    type: metadata.type ?? defaultType(metadata.kind, bytes),
    documentId,
    mimeType: metadata.mimeType ?? PAYLOAD_MIME_TYPES[metadata.kind],
  };
  const copy = <K extends keyof EnvelopeMetadata>(key: K, value: EnvelopeMetadata[K] | undefined): void => {
    if (value !== undefined) meta[key] = value;
  };
  copy('processId', metadata.processId);
  copy('patientId', metadata.patientId);
  copy('senderId', metadata.senderSor);
  copy('receiverId', metadata.receiverSor);
  copy('messageIdentifier', metadata.messageIdentifier);
  copy('messageEnvelopeIdentifier', metadata.messageEnvelopeIdentifier);
  copy('original', metadata.original);
  copy('statisticalInformation', metadata.statisticalInformation);
  copy('requestReceipt', metadata.requestReceipt);
  copy('encoding', metadata.encoding);
  copy('instanceIdentifier', metadata.instanceIdentifier);
  copy('creationDateAndTime', metadata.creationDateAndTime);
  copy('now', metadata.now);
  copy('timeZone', metadata.timeZone);
  return buildEnvelope(meta, bytes);
}

function required(name: string, message: string): never {
  throw new EhmiError('EHMI_VALIDATION_FAILED', message, { expression: [name] });
}

/** "Type: [Message-starttag]": the XML root's local name, EDIFACT's UNH message type, `Bundle` for FHIR. */
function defaultType(kind: PayloadKind, bytes: Buffer): string {
  if (kind === 'fhir-json' || kind === 'fhir-xml') return 'Bundle';
  if (kind === 'oioxml' || kind === 'cda') {
    const text = bytes.toString(
      /encoding=["']iso-8859-1["']/i.test(bytes.subarray(0, 200).toString('latin1')) ? 'latin1' : 'utf8',
    );
    return rootElement(parseXml(text, { source: `the ${kind} payload` })).localName ?? 'unknown';
  }
  if (kind === 'edifact') {
    const m = /UNH\+[^+']*\+([A-Z0-9]+)/.exec(bytes.toString('latin1'));
    if (m) return m[1]!;
  }
  return required('type', `give DocumentIdentification/Type for a ${kind} payload`);
}
