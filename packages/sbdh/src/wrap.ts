import {
  buildEnvelope,
  type EnvelopeMetadata,
  type EnvelopeStamp,
  type OriginalReference,
} from './build/envelope.ts';
import { serializeEnvelope } from './build/serialize.ts';
import { FHIR_ACK_STANDARD } from './constants.ts';
import { fhirDocumentId } from './document-id.ts';
import { type MessageSource, readFhirMessage } from './fhir/input.ts';
import { type MedComMessageFacts, readMessageFacts } from './fhir/message.ts';
import { arr, entries, isObject, type Json, str } from './fhir/resolve.ts';
import type { EhmiEnvelope } from './model.ts';
import { scopeValue } from './model.ts';

export interface WrapOptions extends EnvelopeStamp {
  /**
   * For a MedCom Acknowledgement: the envelope of the acknowledged message, or the ORIGINAL* values directly.
   * Without it ORIGINALMESSAGEIDENTIFIER comes from `MessageHeader.response.identifier` and the rest are `unknown`
   * (the IG allows `unknown` for ORIGINALMESSAGESTANDARD/VERSION of an acknowledgement-message).
   */
  original?: EhmiEnvelope | OriginalReference;
  /** Designated postfix for StatisticalInformation (`MCM:<Standard>#<postfix>`), for standards that have one. */
  statisticalPostfix?: string;
  /** Add the EHMI-ReceiptAcknowledgement Request scope (default true). */
  requestReceipt?: boolean;
  /** TypeVersion when `MessageHeader.definition` carries none (the Acknowledgement defaults to 2.0). */
  typeVersion?: string;
  /** The message's JSON form when the caller has already read these bytes: not read again. */
  resource?: Record<string, unknown>;
}

/** A built envelope: its XML, its typed form and the message facts it was mapped from. */
export interface WrapResult {
  xml: string;
  envelope: EhmiEnvelope;
  facts: MedComMessageFacts;
}

/**
 * Wrap a MedCom FHIR message (JSON or XML, text, bytes or parsed JSON) in an ehmiSBDH. Every header element and
 * BusinessScope is mapped as the ehmiSBDH IG says; the message's exact bytes are the base64 BinaryContent.
 *
 * @example
 * const xml = await wrap(await readFile('Bundle-401cbc36.json'));
 * // <StandardBusinessDocument …><Sender><Identifier Authority="iso6523-actorid-upis">0088:5790000123117</Identifier>…
 */
export async function wrap(message: MessageSource, options: WrapOptions = {}): Promise<string> {
  return (await wrapMessage(message, options)).xml;
}

/**
 * {@link wrap}, returning the typed envelope and the mapped facts as well.
 *
 * @example
 * const { envelope, facts } = await wrapMessage(bundleJson);
 * scopeValue(envelope, 'PATIENTID') === facts.patient?.value; // true
 */
export async function wrapMessage(message: MessageSource, options: WrapOptions = {}): Promise<WrapResult> {
  const input = await readFhirMessage(message, undefined, options.resource as Json | undefined);
  const facts = readMessageFacts(input.resource, options.typeVersion);
  const meta = { ...messageMetadata(facts, input.mimeType, options), encoding: input.encoding };
  const envelope = buildEnvelope(meta, input.bytes);
  return { xml: serializeEnvelope(envelope), envelope, facts };
}

/** The envelope metadata of a MedCom FHIR message (ehmiSBDH IG "If the MedCom Message is of type FHIR"). */
export function messageMetadata(
  facts: MedComMessageFacts,
  mimeType: string,
  options: WrapOptions = {},
): EnvelopeMetadata {
  const postfix = options.statisticalPostfix ?? designatedPostfix(facts);
  const stat = `MCM:${facts.eventCode}${postfix ? `#${postfix}` : ''}`;
  const meta: EnvelopeMetadata = {
    sender: facts.senderGln,
    receiver: facts.receiverGln,
    standard: facts.eventCode,
    typeVersion: facts.version,
    type: 'Bundle',
    documentId: fhirDocumentId(facts.eventCode, facts.version),
    senderId: facts.senderSor,
    receiverId: facts.receiverSor,
    messageIdentifier: facts.messageHeaderId,
    messageEnvelopeIdentifier: facts.bundleId,
    statisticalInformation: stat,
    mimeType,
    encoding: 'UTF-8',
  };
  if (facts.patient) meta.patientId = facts.patient.value;
  if (facts.eventCode === FHIR_ACK_STANDARD) meta.original = ackOriginal(facts, options.original);
  if (options.instanceIdentifier !== undefined) meta.instanceIdentifier = options.instanceIdentifier;
  if (options.creationDateAndTime !== undefined) meta.creationDateAndTime = options.creationDateAndTime;
  if (options.now !== undefined) meta.now = options.now;
  if (options.timeZone !== undefined) meta.timeZone = options.timeZone;
  if (options.requestReceipt !== undefined) meta.requestReceipt = options.requestReceipt;
  return meta;
}

/**
 * ORIGINAL* scopes of a MedCom Acknowledgement ("Is only relevant when … Standard = acknowledgement-message"):
 * the acknowledged MessageHeader.id is `MessageHeader.response.identifier`; the rest come from the original envelope
 * when the caller has it, else `unknown`.
 */
function ackOriginal(
  facts: MedComMessageFacts,
  original: EhmiEnvelope | OriginalReference | undefined,
): OriginalReference {
  const fromEnvelope =
    original && 'documentIdentification' in original
      ? {
          messageIdentifier: scopeValue(original, 'MESSAGEIDENTIFIER'),
          messageEnvelopeIdentifier: scopeValue(original, 'MESSAGEENVELOPEIDENTIFIER'),
          standard: original.documentIdentification.standard,
          version: original.documentIdentification.typeVersion,
        }
      : original;
  return {
    messageIdentifier: facts.responseIdentifier ?? fromEnvelope?.messageIdentifier ?? 'unknown',
    messageEnvelopeIdentifier: fromEnvelope?.messageEnvelopeIdentifier ?? 'unknown',
    standard: fromEnvelope?.standard ?? 'unknown',
    version: fromEnvelope?.version ?? 'unknown',
  };
}

/**
 * StatisticalInformation's "designated postfix" (FHIRMessages_NetworkEnvelopes: CareCommunication → the category,
 * HospitalNotification → the message activity). HomeCareObservation and Acknowledgement have none in EHMI: every IG
 * example writes plain `MCM:<Standard>`.
 */
export function designatedPostfix(facts: MedComMessageFacts): string | undefined {
  const code = (v: unknown): string | undefined => {
    const coding = isObject(v) ? arr(v.coding)[0] : undefined;
    return isObject(coding) ? str(coding.code) : undefined;
  };
  if (/^care-?communication/.test(facts.eventCode)) {
    const communication = entries(facts.bundle).find(
      (e) => e.resource.resourceType === 'Communication',
    )?.resource;
    return communication ? code(arr(communication.category)[0]) : undefined;
  }
  if (/^hospital-?notification/.test(facts.eventCode)) return code(facts.provenance?.activity);
  return undefined;
}
