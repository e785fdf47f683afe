import { randomUUID } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { attrs, emptyElement, textElement } from '../lib/xml-text.ts';
import type { EbmsErrorElement, SignalMessage } from '../model/signal-message.ts';
import type { MessageInfo, Party, Property, UserMessage } from '../model/user-message.ts';

/**
 * A new ebMS MessageId: an RFC 2822 msg-id containing a UUID (ebMS3 Core §5.2.2.1; eDelivery AS4 1.15 §2.2.3.2
 * RECOMMENDS a UUID).
 *
 * @example
 * newMessageId('ap.example.dk'); // '6f1c…@ap.example.dk'
 */
export function newMessageId(domain = 'ehmi'): string {
  return `${randomUUID()}@${domain}`;
}

/** ebMS3 Core §5.2.2.2: xsd:dateTime in UTC with the `Z` designator. Internal. */
export function timestampOf(value: Date | string | undefined): string {
  if (typeof value === 'string') return value;
  return (value ?? new Date()).toISOString();
}

/**
 * `eb:UserMessage` as XML text (prefix `eb`, declared by the enclosing eb:Messaging), in canonical form (see
 * lib/xml-text.ts): the envelope signs it as written. Values are escaped.
 *
 * @example
 * const { document } = buildEnvelope(userMessageXml(userMessage));
 */
export function userMessageXml(um: UserMessage): string {
  const ci = um.collaborationInfo;
  const required: [string, string][] = [
    ['MessageId', um.messageInfo.messageId],
    ['Service', ci.service.value],
    ['Action', ci.action],
    ['ConversationId', ci.conversationId],
    ['From/Role', um.partyInfo.from.role],
    ['To/Role', um.partyInfo.to.role],
  ];
  for (const [name, value] of required) {
    if (value.trim() === '') throw new EhmiError('EHMI_VALIDATION_FAILED', `eb:${name} must not be empty`);
  }
  const parts: string[] = [];
  parts.push(`<eb:UserMessage${attrs({ mpc: um.mpc })}>`);
  parts.push(messageInfoXml(um.messageInfo));
  parts.push(
    `<eb:PartyInfo>${partyXml('From', um.partyInfo.from)}${partyXml('To', um.partyInfo.to)}</eb:PartyInfo>`,
  );
  parts.push('<eb:CollaborationInfo>');
  if (ci.agreementRef) {
    parts.push(
      textElement('eb:AgreementRef', ci.agreementRef.value, {
        type: ci.agreementRef.type,
        pmode: ci.agreementRef.pmode,
      }),
    );
  }
  parts.push(textElement('eb:Service', ci.service.value, { type: ci.service.type }));
  parts.push(textElement('eb:Action', ci.action));
  parts.push(textElement('eb:ConversationId', ci.conversationId));
  parts.push('</eb:CollaborationInfo>');
  if (um.messageProperties.length > 0) {
    parts.push(`<eb:MessageProperties>${propertiesXml(um.messageProperties)}</eb:MessageProperties>`);
  }
  if (um.payloadInfo.length > 0) {
    parts.push('<eb:PayloadInfo>');
    for (const p of um.payloadInfo) {
      parts.push(`<eb:PartInfo${attrs({ href: p.href })}>`);
      if (p.partProperties.length > 0) {
        parts.push(`<eb:PartProperties>${propertiesXml(p.partProperties)}</eb:PartProperties>`);
      }
      parts.push('</eb:PartInfo>');
    }
    parts.push('</eb:PayloadInfo>');
  }
  parts.push('</eb:UserMessage>');
  return parts.join('');
}

/**
 * `eb:SignalMessage` as XML text. A receipt's content is passed as ready XML (`receiptXml`), since its
 * NonRepudiationInformation copies `ds:Reference` elements verbatim (see receipt/build.ts).
 *
 * @example
 * const xml = signalMessageXml({ messageInfo, errors: [ebmsErrorElement(err, refId)] });
 */
export function signalMessageXml(signal: SignalMessage, receiptXml?: string): string {
  const parts = ['<eb:SignalMessage>', messageInfoXml(signal.messageInfo)];
  if (signal.pullRequest) parts.push(emptyElement('eb:PullRequest', { mpc: signal.pullRequest.mpc }));
  if (receiptXml !== undefined) parts.push(receiptXml);
  for (const e of signal.errors) parts.push(errorXml(e));
  parts.push('</eb:SignalMessage>');
  return parts.join('');
}

/**
 * `eb:Error` (ebMS3 Core §6.2) as XML text.
 *
 * @example
 * errorXml({ errorCode: 'EBMS:0303', severity: 'failure', shortDescription: 'DecompressionFailure' });
 */
export function errorXml(e: EbmsErrorElement): string {
  const inner =
    (e.description !== undefined ? textElement('eb:Description', e.description, { 'xml:lang': 'en' }) : '') +
    (e.errorDetail !== undefined ? textElement('eb:ErrorDetail', e.errorDetail) : '');
  const a = attrs({
    category: e.category,
    errorCode: e.errorCode,
    origin: e.origin,
    refToMessageInError: e.refToMessageInError,
    severity: e.severity,
    shortDescription: e.shortDescription,
  });
  return `<eb:Error${a}>${inner}</eb:Error>`;
}

function messageInfoXml(info: MessageInfo): string {
  return (
    '<eb:MessageInfo>' +
    textElement('eb:Timestamp', info.timestamp) +
    textElement('eb:MessageId', info.messageId) +
    (info.refToMessageId !== undefined ? textElement('eb:RefToMessageId', info.refToMessageId) : '') +
    '</eb:MessageInfo>'
  );
}

function partyXml(name: 'From' | 'To', party: Party): string {
  if (party.partyIds.length === 0)
    throw new EhmiError('EHMI_VALIDATION_FAILED', `eb:${name} needs a PartyId`);
  const ids = party.partyIds.map((p) => textElement('eb:PartyId', p.value, { type: p.type })).join('');
  return `<eb:${name}>${ids}${textElement('eb:Role', party.role)}</eb:${name}>`;
}

function propertiesXml(props: readonly Property[]): string {
  return props.map((p) => textElement('eb:Property', p.value, { name: p.name, type: p.type })).join('');
}
