import { createHash, type KeyObject, type X509Certificate } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  type As4ProfileId,
  buildUserMessage,
  compressAttachment,
  createPMode,
  EBMS_URI,
  encryptAttachmentsText,
  envelopeXml,
  type MessagePartReference,
  type PMode,
  type Property,
  signEnvelopeText,
  writeAs4Message,
} from '@ehmi/as4';
import type { ByteSource } from '../contract.ts';

/** eDelivery AS4 1.15 §2.6.1 / ebCore Party Id Type for ISO 6523 ICD 0088 (GLN): eb:PartyId/@type. */
export const GLN_PARTY_TYPE = 'urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088';
/** The scheme of the four-corner properties' values (`0088:<GLN>`), as Peppol writes it. */
export const PARTICIPANT_SCHEME = 'iso6523-actorid-upis';

/** The AS4 payload's media type: the ehmiSBDH document is XML in UTF-8 (packages/sbdh serialises it so). */
export const PAYLOAD_MEDIA_TYPE = 'application/xml; charset=UTF-8';

/** `0088:<GLN>` → the GLN; another scheme is returned as it is. */
export function glnOf(participant: string): string {
  return participant.replace(/^iso6523-actorid-upis::/i, '').replace(/^0088:/, '');
}

/** Our signing key and certificate chain (leaf first). */
export interface SigningCredential {
  privateKey: KeyObject;
  chain: X509Certificate[];
}

export interface OutboundMessageInput {
  /** Fixed when the message was submitted; the same for every attempt (reception awareness). */
  messageId: string;
  /** eb:Timestamp; the submission time, so every attempt signs the same eb:Messaging. */
  timestamp: Date;
  /** `0088:<GLN>` of the sending and receiving organisations. */
  sender: string;
  receiver: string;
  process: string;
  documentType: string;
  serviceType?: string;
  trackingIdentifier?: string | undefined;
  /** The ehmiSBDH document: read twice (signature digest, then the HTTP body), never held whole. */
  payload: ByteSource;
  signing: SigningCredential;
  /** The receiving AP's certificate (discovery): the content key is encrypted to it. */
  recipientCertificate: X509Certificate;
  profile?: As4ProfileId;
}

export interface OutboundMessage {
  contentType: string;
  /** The MIME body; the payload streams through gzip and AES-GCM as it is read. */
  body: Readable;
  /** What we signed, for the receipt's NonRepudiationInformation check. */
  references: MessagePartReference[];
  pmode: PMode;
}

/** The sending P-Mode: One-Way/Push, the organisations' GLNs as parties, Service = PROCESSID, Action = DOCUMENTID. */
export function sendingPMode(
  input: Pick<
    OutboundMessageInput,
    'sender' | 'receiver' | 'process' | 'documentType' | 'serviceType' | 'profile'
  >,
): PMode {
  return createPMode({
    id: 'ehmi-send',
    profile: input.profile ?? 'edelivery-as4-1.15',
    initiator: {
      partyIds: [{ value: glnOf(input.sender), type: GLN_PARTY_TYPE }],
      role: EBMS_URI.defaultFrom,
    },
    responder: {
      partyIds: [{ value: glnOf(input.receiver), type: GLN_PARTY_TYPE }],
      role: EBMS_URI.defaultTo,
    },
    service: input.serviceType ? { value: input.process, type: input.serviceType } : { value: input.process },
    action: input.documentType,
  });
}

/**
 * Build one transmission of an outbound UserMessage, in the order eDelivery AS4 1.15 fixes: gzip the payload
 * (§2.2.3.3), sign eb:Messaging, Body and the attachment with a BinarySecurityToken (§2.2.6.2; X509PKIPathv1 as the
 * Dynamic Receiver enhancement §1.5.3 prefers), encrypt the attachment to the receiver (§2.2.6.3), write the MIME
 * body. Four Corner properties (§2.6.1): originalSender, finalRecipient, trackingIdentifier when given.
 * The Content-ID is derived from the MessageId, so every attempt signs the same references.
 *
 * @example
 * const msg = await buildOutboundMessage({ messageId, timestamp, sender, receiver, process, documentType,
 *   payload, signing, recipientCertificate });
 * await request(url, { method: 'POST', headers: { 'content-type': msg.contentType }, body: msg.body });
 */
export async function buildOutboundMessage(input: OutboundMessageInput): Promise<OutboundMessage> {
  const pmode = sendingPMode(input);
  const contentId = `payload-${createHash('sha256').update(input.messageId).digest('hex').slice(0, 32)}@ehmi`;
  // The payload is an ehmiSBDH document: XML that our serialiser writes in UTF-8 (`encoding="UTF-8"`). Its part
  // properties say so: MimeType application/xml, CharacterSet UTF-8 (eDelivery AS4 1.15 §2.2.3.3 RECOMMENDED; the
  // spelling of phase4's sender, Java's canonical charset name), CompressionType application/gzip.
  const { attachment, partProperties } = compressAttachment(
    {
      contentId,
      headers: { 'content-type': PAYLOAD_MEDIA_TYPE },
      open: () => input.payload.open(),
      ...(input.payload.size !== undefined ? { size: input.payload.size } : {}),
    },
    { mimeType: PAYLOAD_MEDIA_TYPE },
  );
  const properties: Property[] = [
    { name: 'originalSender', value: input.sender, type: PARTICIPANT_SCHEME },
    { name: 'finalRecipient', value: input.receiver, type: PARTICIPANT_SCHEME },
  ];
  if (input.trackingIdentifier)
    properties.push({ name: 'trackingIdentifier', value: input.trackingIdentifier });
  const built = buildUserMessage(
    {
      messageId: input.messageId,
      timestamp: input.timestamp,
      messageProperties: properties,
      payloadInfo: [{ href: `cid:${contentId}`, partProperties }],
    },
    pmode,
  );
  // Written as text, signed and encrypted on the text (the envelope is ours: no DOM, no parse): see
  // `signEnvelopeText` in @ehmi/as4.
  const signed = await signEnvelopeText(built, [attachment], {
    privateKey: input.signing.privateKey,
    certificate: input.signing.chain,
    tokenReference: 'BinarySecurityToken',
    bstValueType: 'X509PKIPathv1',
  });
  const encrypted = await encryptAttachmentsText([attachment], {
    recipientCertificate: input.recipientCertificate,
  });
  const written = writeAs4Message(
    envelopeXml(built, encrypted.securityXml + signed.securityXml),
    encrypted.attachments,
  );
  const references = signed.references;
  return { contentType: written.contentType, body: written.body, references, pmode };
}
