import { buildEnvelope } from '../build/envelope.ts';
import { serializeEnvelope } from '../build/serialize.ts';
import { type MessageSource, readFhirMessage } from '../fhir/input.ts';
import { readMessageFacts } from '../fhir/message.ts';
import { messageMetadata, type WrapOptions, type WrapResult } from '../wrap.ts';
import { type DocumentReferenceOptions, documentReferenceFor } from './document-reference.ts';

export interface ArchiveOptions extends WrapOptions, DocumentReferenceOptions {
  /** GLN of the archive (EMR/DDS) access point; default the message's receiver, as in the IG's XDS example. */
  archiveReceiver?: string;
  /**
   * SOR code of the archive (the copy's RECEIVERID); default the message's receiver's. EDS names the copy's receiver
   * by it, so a network whose archive has a SOR code of its own gives it here.
   */
  archiveReceiverSor?: string;
}

/**
 * The copy of a MedCom message for the document archive (EMR/DDS): the same envelope as {@link wrap} plus the
 * `XDS-METADATA` scope carrying a MedCom DocumentReference (JSON in CDATA) built from the message
 * ("This scope does not apply to the primary exchange between Sender and Receiver").
 *
 * @example
 * const copy = await wrapForArchive(bundleJson, { archiveReceiver: '5790000000000' });
 */
export async function wrapForArchive(message: MessageSource, options: ArchiveOptions = {}): Promise<string> {
  return (await wrapMessageForArchive(message, options)).xml;
}

/** {@link wrapForArchive}, returning the typed envelope and the mapped facts as well. */
export async function wrapMessageForArchive(
  message: MessageSource,
  options: ArchiveOptions = {},
): Promise<WrapResult> {
  const input = await readFhirMessage(message);
  const facts = readMessageFacts(input.resource, options.typeVersion);
  const meta = { ...messageMetadata(facts, input.mimeType, options), encoding: input.encoding };
  if (options.archiveReceiver !== undefined) meta.receiver = options.archiveReceiver;
  if (options.archiveReceiverSor !== undefined) meta.receiverId = options.archiveReceiverSor;
  const docRef = documentReferenceFor(facts, { bytes: input.bytes, mimeType: input.mimeType }, options);
  meta.xdsMetadata = JSON.stringify(docRef, null, 2);
  const envelope = buildEnvelope(meta, input.bytes);
  return { xml: serializeEnvelope(envelope), envelope, facts };
}
