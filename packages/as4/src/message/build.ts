import { EhmiError } from '@ehmi/errors';
import { newMessageId, timestampOf, userMessageXml } from '../ebms/build.ts';
import { EBMS_URI } from '../lib/ns.ts';
import type { AgreementRef, PartInfo, Party, Property, Service, UserMessage } from '../model/user-message.ts';
import type { PMode } from '../pmode/pmode.ts';
import { type BuiltEnvelope, buildEnvelope } from '../soap/build.ts';

/** What a caller supplies for a new UserMessage; the rest is generated or taken from the P-Mode. */
export interface UserMessageInput {
  /**
   * Default: a new UUID-based id. Keep it across retries (docs/architecture.md "Durability": the MessageId
   * never changes).
   */
  messageId?: string;
  timestamp?: Date | string;
  refToMessageId?: string;
  /** Default: the P-Mode's initiator/responder party ids and roles. */
  from?: Party;
  to?: Party;
  agreementRef?: AgreementRef;
  service?: Service;
  action?: string;
  /** Default: the MessageId (ebMS3 Core §5.2.2.9 leaves it to the sender). */
  conversationId?: string;
  /** Four corner: `originalSender`, `finalRecipient` (eDelivery AS4 1.15 §2.6.1), `trackingIdentifier`. */
  messageProperties?: Property[];
  payloadInfo?: PartInfo[];
  mpc?: string;
  /** Domain part of generated MessageIds. */
  idDomain?: string;
}

/** A built UserMessage: the envelope DOM (ready for wss signing/encryption) and the model it was built from. */
export interface BuiltUserMessage extends BuiltEnvelope {
  userMessage: UserMessage;
}

/**
 * Build a UserMessage envelope (ebMS3 Core §5.2.2; SOAP 1.2, empty Body, eb:Messaging with
 * `S12:mustUnderstand="true"` and a wsu:Id, as eDelivery AS4 1.15 §2.2.3 profiles it). Values missing from
 * `input` come from `pmode` (PMode.Initiator/Responder, PMode[1].BusinessInfo, PMode.Agreement).
 * Next steps: compress payloads, `signEnvelope`, encrypt, then {@link writeAs4Message}.
 *
 * @example
 * const { attachment, partProperties } = compressAttachment(payload, { mimeType: 'application/xml' });
 * const built = buildUserMessage(
 *   {
 *     messageProperties: [
 *       { name: 'originalSender', value: '0088:5790000000001', type: 'iso6523-actorid-upis' },
 *       { name: 'finalRecipient', value: '0088:5790000000002', type: 'iso6523-actorid-upis' },
 *     ],
 *     payloadInfo: [{ href: `cid:${attachment.contentId}`, partProperties }],
 *   },
 *   pmode,
 * );
 */
export function buildUserMessage(input: UserMessageInput, pmode?: PMode): BuiltUserMessage {
  const messageId = input.messageId ?? newMessageId(input.idDomain);
  const from =
    input.from ?? (pmode ? { partyIds: pmode.initiator.partyIds, role: pmode.initiator.role } : undefined);
  const to =
    input.to ?? (pmode ? { partyIds: pmode.responder.partyIds, role: pmode.responder.role } : undefined);
  const service = input.service ?? pmode?.leg.businessInfo.service;
  const action = input.action ?? pmode?.leg.businessInfo.action;
  if (!from || !to || !service || action === undefined) {
    throw new TypeError('buildUserMessage needs from, to, service and action (directly or through a P-Mode)');
  }
  const userMessage: UserMessage = {
    messageInfo: { timestamp: timestampOf(input.timestamp), messageId },
    partyInfo: { from, to },
    collaborationInfo: { service, action, conversationId: input.conversationId ?? messageId },
    messageProperties: input.messageProperties ?? [],
    payloadInfo: input.payloadInfo ?? [],
  };
  for (const name of pmode?.leg.businessInfo.requiredProperties ?? []) {
    // Four Corner enhancement (eDelivery AS4 1.15 §2.6.1): refuse to send what the receiver answers with EBMS:0010.
    if (!userMessage.messageProperties.some((p) => p.name === name && p.value !== '')) {
      throw new EhmiError(
        'EHMI_VALIDATION_FAILED',
        `the P-Mode ${pmode!.id} requires the message property ${name}`,
      );
    }
  }
  if (input.refToMessageId !== undefined) userMessage.messageInfo.refToMessageId = input.refToMessageId;
  const agreementRef = input.agreementRef ?? pmode?.agreement;
  if (agreementRef) userMessage.collaborationInfo.agreementRef = agreementRef;
  const mpc = input.mpc ?? pmode?.leg.businessInfo.mpc;
  if (mpc !== undefined && mpc !== EBMS_URI.defaultMpc) userMessage.mpc = mpc;
  return Object.assign(buildEnvelope(userMessageXml(userMessage)), { userMessage });
}
