import { randomUUID } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import {
  BUSINESS_SERVICE_REQUEST,
  type EnvelopeProfile,
  GLN_PREFIX,
  HEADER_VERSION,
  IG_ENCODINGS,
  IG_MIME_TYPES,
  IG_STANDARDS,
  NS,
  PARTY_AUTHORITY,
  PROCESS_ID,
  RECEIPT_SCOPE,
  RESPONSE_TIME_MINUTES,
  SCOPE_IDENTIFIER,
  SERVICE_TRANSACTION_FIXED,
  XDS_SCOPE_IDENTIFIER,
} from '../constants.ts';
import type { EhmiEnvelope, Scope } from '../model.ts';
import { addMinutes, formatDateTime, isXsdDateTime } from '../time.ts';

/** The ORIGINAL* scopes of an acknowledgement or receipt ("Scope – message metadata - what"). */
export interface OriginalReference {
  messageIdentifier?: string;
  messageEnvelopeIdentifier?: string;
  standard?: string;
  version?: string;
  /** Only for ebbp-signal receipts ("Is only relevant when … ebbp-signals"). */
  envelopeIdentifier?: string;
}

/** When and under which id the envelope is created; defaults are a new UUID v4 and now. */
export interface EnvelopeStamp {
  /** `DocumentIdentification/InstanceIdentifier` (the EnvelopeIdentifier). */
  instanceIdentifier?: string;
  /** `DocumentIdentification/CreationDateAndTime`, an xs:dateTime with offset. */
  creationDateAndTime?: string;
  /** Clock for the creation time when `creationDateAndTime` is not given. */
  now?: Date;
  /** IANA zone whose UTC offset the creation time is written in; default Europe/Copenhagen. */
  timeZone?: string;
}

/** Everything an envelope carries, already mapped; {@link buildEnvelope} turns it into the typed envelope. */
export interface EnvelopeMetadata extends EnvelopeStamp {
  /** GLN or `0088:<GLN>`. */
  sender: string;
  receiver: string;
  standard: string;
  typeVersion: string;
  /** `DocumentIdentification/Type`: `Bundle` for FHIR, the root/start tag otherwise. */
  type: string;
  documentId: string;
  processId?: string;
  patientId?: string;
  /** SOR ids for SENDERID / RECEIVERID. */
  senderId?: string;
  receiverId?: string;
  messageIdentifier?: string;
  messageEnvelopeIdentifier?: string;
  original?: OriginalReference;
  /** Default `MCM:<Standard>`. */
  statisticalInformation?: string;
  /** DocumentReference JSON for the archive copy. */
  xdsMetadata?: string;
  /** Add the `EHMI-ReceiptAcknowledgement`/`Request` scope (default true: "default mode"). */
  requestReceipt?: boolean;
  mimeType: string;
  encoding?: string;
}

/** `0088:<GLN>` from a GLN or an already prefixed value. */
export function partyValue(gln: string, role: string): string {
  const v = gln.trim();
  if (v === '')
    throw new EhmiError('EHMI_VALIDATION_FAILED', `the ${role} GLN is empty`, { expression: [role] });
  return v.includes(':') ? v : `${GLN_PREFIX}${v}`;
}

/**
 * The profile an envelope can be valid under: the IG's XSD when it lists the Standard and the BinaryContent
 * mimeType/encoding, else the GS1/PEPPOL base ("none of which is breaking to a validation against the original
 * specification with the PEPPOL extensions", ehmiSBDH IG index).
 */
export function profileFor(
  standard: string,
  mimeType: string,
  encoding: string | undefined,
): EnvelopeProfile {
  return (IG_STANDARDS as readonly string[]).includes(standard) &&
    (IG_MIME_TYPES as readonly string[]).includes(mimeType) &&
    (encoding === undefined || (IG_ENCODINGS as readonly string[]).includes(encoding))
    ? 'ehmi'
    : 'gs1';
}

export function stampOf(stamp: EnvelopeStamp): { instanceIdentifier: string; creationDateAndTime: string } {
  const creationDateAndTime =
    stamp.creationDateAndTime ?? formatDateTime(stamp.now ?? new Date(), stamp.timeZone);
  if (!isXsdDateTime(creationDateAndTime)) {
    throw new EhmiError(
      'EHMI_VALIDATION_FAILED',
      `creation time '${creationDateAndTime}' is not an xs:dateTime`,
      {
        expression: ['DocumentIdentification/CreationDateAndTime'],
      },
    );
  }
  return { instanceIdentifier: stamp.instanceIdentifier ?? randomUUID(), creationDateAndTime };
}

function scope(type: string, value: string, identifier = SCOPE_IDENTIFIER): Scope {
  return { type, instanceIdentifier: value, identifier };
}

/** "Reliable messaging - BusinessService Request": correlation on the envelope itself, response due in 10 min. */
export function requestScope(instanceIdentifier: string, creationDateAndTime: string): Scope {
  return {
    ...scope(RECEIPT_SCOPE, 'Request'),
    correlationInformation: {
      requestingDocumentCreationDateTime: creationDateAndTime,
      requestingDocumentInstanceIdentifier: instanceIdentifier,
      expectedResponseDateTime: addMinutes(creationDateAndTime, RESPONSE_TIME_MINUTES),
    },
    businessService: {
      businessServiceName: BUSINESS_SERVICE_REQUEST,
      serviceTransaction: {
        TypeOfServiceTransaction: 'RequestingServiceTransaction',
        ...SERVICE_TRANSACTION_FIXED,
      },
    },
  };
}

/** Build the typed envelope (scopes in the order of the IG's examples) around a payload. */
export function buildEnvelope(meta: EnvelopeMetadata, payload: Uint8Array): EhmiEnvelope {
  const { instanceIdentifier, creationDateAndTime } = stampOf(meta);
  const scopes: Scope[] = [
    scope('DOCUMENTID', meta.documentId),
    scope('PROCESSID', meta.processId ?? PROCESS_ID),
  ];
  if (meta.patientId !== undefined) scopes.push(scope('PATIENTID', meta.patientId));
  if (meta.senderId !== undefined) scopes.push(scope('SENDERID', meta.senderId));
  if (meta.receiverId !== undefined) scopes.push(scope('RECEIVERID', meta.receiverId));
  if (meta.messageIdentifier !== undefined) scopes.push(scope('MESSAGEIDENTIFIER', meta.messageIdentifier));
  if (meta.messageEnvelopeIdentifier !== undefined) {
    scopes.push(scope('MESSAGEENVELOPEIDENTIFIER', meta.messageEnvelopeIdentifier));
  }
  const o = meta.original;
  if (o) {
    if (o.messageIdentifier !== undefined)
      scopes.push(scope('ORIGINALMESSAGEIDENTIFIER', o.messageIdentifier));
    if (o.messageEnvelopeIdentifier !== undefined) {
      scopes.push(scope('ORIGINALMESSAGEENVELOPEIDENTIFIER', o.messageEnvelopeIdentifier));
    }
    if (o.standard !== undefined) scopes.push(scope('ORIGINALMESSAGESTANDARD', o.standard));
    if (o.version !== undefined) scopes.push(scope('ORIGINALMESSAGEVERSION', o.version));
    if (o.envelopeIdentifier !== undefined)
      scopes.push(scope('ORIGINALENVELOPEIDENTIFIER', o.envelopeIdentifier));
  }
  scopes.push(scope('StatisticalInformation', meta.statisticalInformation ?? `MCM:${meta.standard}`));
  // "XDS-Metadata": Identifier dk-medcom-DocumentReference (the prose; the examples' dk-medcom-messaging is accepted).
  if (meta.xdsMetadata !== undefined)
    scopes.push(scope('XDS-METADATA', meta.xdsMetadata, XDS_SCOPE_IDENTIFIER));
  if (meta.requestReceipt !== false) scopes.push(requestScope(instanceIdentifier, creationDateAndTime));
  const encoding = meta.encoding ?? 'UTF-8';
  const profile = profileFor(meta.standard, meta.mimeType, encoding);
  return {
    profile,
    headerVersion: HEADER_VERSION,
    sender: { authority: PARTY_AUTHORITY, value: partyValue(meta.sender, 'Sender') },
    receiver: { authority: PARTY_AUTHORITY, value: partyValue(meta.receiver, 'Receiver') },
    documentIdentification: {
      standard: meta.standard,
      typeVersion: meta.typeVersion,
      instanceIdentifier,
      type: meta.type,
      multipleType: false,
      creationDateAndTime,
    },
    scopes,
    binaryContent: {
      mimeType: meta.mimeType,
      encoding,
      base64: Buffer.from(payload).toString('base64'),
      namespace: profile === 'ehmi' ? NS.sbdh : NS.peppol,
    },
  };
}
