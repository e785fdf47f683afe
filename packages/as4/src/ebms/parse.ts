import { EhmiError } from '@ehmi/errors';
import { childElements, descendantElements, type Element, pathOf } from '@ehmi/xml';
import { attr, ebChildren, ebOne, ebOptional, idOf, requiredText } from '../lib/dom.ts';
import { NS } from '../lib/ns.ts';
import type { Messaging } from '../model/messaging.ts';
import type {
  EbmsErrorElement,
  MessagePartReference,
  Receipt,
  SignalMessage,
} from '../model/signal-message.ts';
import type {
  AgreementRef,
  CollaborationInfo,
  MessageInfo,
  PartInfo,
  Party,
  PartyId,
  Property,
  Service,
  UserMessage,
} from '../model/user-message.ts';

/**
 * Read an `eb:Messaging` element into the model, checking what the ebMS3 header schema and the AS4 profile
 * require. Missing or repeated required elements → EBMS:0009 InvalidHeader; more than one UserMessage →
 * EBMS:0003 ValueInconsistent (AS4 Profile §2.1.1: one UserMessage per message; phase4 answers the same).
 *
 * @example
 * const messaging = parseMessaging(messagingElement);
 * if (messaging.kind === 'user') console.log(messaging.userMessage.collaborationInfo.action);
 */
export function parseMessaging(messaging: Element): Messaging {
  if (messaging.namespaceURI !== NS.EB || messaging.localName !== 'Messaging') {
    throw new EhmiError('EHMI_AS4_INVALID_HEADER', `expected eb:Messaging, found ${messaging.nodeName}`);
  }
  for (const child of childElements(messaging)) {
    if (
      child.namespaceURI === NS.EB &&
      child.localName !== 'UserMessage' &&
      child.localName !== 'SignalMessage'
    ) {
      throw new EhmiError('EHMI_AS4_INVALID_HEADER', `unexpected ${child.nodeName} in eb:Messaging`, {
        expression: [pathOf(child)],
      });
    }
  }
  const users = ebChildren(messaging, 'UserMessage');
  const signals = ebChildren(messaging, 'SignalMessage');
  const id = idOf(messaging);
  if (users.length > 1) {
    throw new EhmiError(
      'EHMI_AS4_VALUE_INCONSISTENT',
      `eb:Messaging has ${users.length} UserMessages; AS4 allows one`,
      {
        expression: [pathOf(messaging)],
        details: { userMessages: users.length },
      },
    );
  }
  if (users.length === 1) {
    // Bundling a signal with a UserMessage only happens with pull (AS4 Profile §2.2), which we do not support.
    if (signals.length > 0) {
      throw new EhmiError(
        'EHMI_AS4_FEATURE_NOT_SUPPORTED',
        'a SignalMessage bundled with a UserMessage is not supported',
        { expression: [pathOf(messaging)], ebms: 'EBMS:0008' },
      );
    }
    const userMessage = parseUserMessage(users[0]!);
    return id === undefined
      ? { kind: 'user', userMessage, signalMessages: [] }
      : { kind: 'user', userMessage, signalMessages: [], id };
  }
  if (signals.length === 0) {
    throw new EhmiError(
      'EHMI_AS4_INVALID_HEADER',
      'eb:Messaging has neither a UserMessage nor a SignalMessage',
      {
        expression: [pathOf(messaging)],
      },
    );
  }
  const signalMessages = signals.map(parseSignalMessage);
  return id === undefined ? { kind: 'signal', signalMessages } : { kind: 'signal', signalMessages, id };
}

/**
 * ebMS3 Core §5.2.2: one `eb:UserMessage` element (same checks as {@link parseMessaging}).
 *
 * @example
 * const um = parseUserMessage(userMessageElement);
 */
export function parseUserMessage(el: Element): UserMessage {
  const um: UserMessage = {
    messageInfo: parseMessageInfo(ebOne(el, 'MessageInfo')),
    partyInfo: parsePartyInfo(ebOne(el, 'PartyInfo')),
    collaborationInfo: parseCollaborationInfo(ebOne(el, 'CollaborationInfo')),
    messageProperties: [],
    payloadInfo: [],
  };
  const mpc = attr(el, 'mpc');
  if (mpc !== undefined) um.mpc = mpc;
  const props = ebOptional(el, 'MessageProperties');
  if (props) um.messageProperties = parseProperties(props, true);
  const payload = ebOptional(el, 'PayloadInfo');
  if (payload) um.payloadInfo = ebChildren(payload, 'PartInfo').map(parsePartInfo);
  return um;
}

function parseMessageInfo(el: Element): MessageInfo {
  const timestamp = requiredText(ebOne(el, 'Timestamp'));
  // ebMS3 Core §5.2.2.2: xsd:dateTime.
  if (!/^-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$/.test(timestamp)) {
    throw new EhmiError('EHMI_AS4_INVALID_HEADER', `eb:Timestamp "${timestamp}" is not an xsd:dateTime`, {
      expression: [`${pathOf(el)}/eb:Timestamp`],
    });
  }
  const info: MessageInfo = { timestamp, messageId: messageIdText(ebOne(el, 'MessageId')) };
  const ref = ebOptional(el, 'RefToMessageId');
  if (ref) info.refToMessageId = messageIdText(ref);
  return info;
}

/**
 * ebMS3 Core §5.2.2.1: a MessageId is an RFC 2822 msg-id without the angle brackets — no whitespace, no `<` `>`
 * (which also keeps ids safe to log and to use as keys).
 */
function messageIdText(el: Element): string {
  const id = requiredText(el);
  if (!/^[^\s<>]+$/.test(id)) {
    throw new EhmiError('EHMI_AS4_INVALID_HEADER', `${el.nodeName} "${id.slice(0, 80)}" is not a msg-id`, {
      expression: [pathOf(el)],
    });
  }
  return id;
}

function parsePartyInfo(el: Element): { from: Party; to: Party } {
  return { from: parseParty(ebOne(el, 'From')), to: parseParty(ebOne(el, 'To')) };
}

function parseParty(el: Element): Party {
  const ids = ebChildren(el, 'PartyId');
  if (ids.length === 0) {
    // ebMS3 Core §5.2.2.4: at least one PartyId.
    throw new EhmiError('EHMI_AS4_INVALID_HEADER', `${el.nodeName} has no eb:PartyId`, {
      expression: [`${pathOf(el)}/eb:PartyId`],
    });
  }
  const partyIds = ids.map((p): PartyId => {
    const value = requiredText(p);
    const type = attr(p, 'type');
    return type === undefined ? { value } : { value, type };
  });
  return { partyIds, role: requiredText(ebOne(el, 'Role')) };
}

function parseCollaborationInfo(el: Element): CollaborationInfo {
  const serviceEl = ebOne(el, 'Service');
  const service: Service = { value: requiredText(serviceEl) };
  const serviceType = attr(serviceEl, 'type');
  if (serviceType !== undefined) service.type = serviceType;
  const info: CollaborationInfo = {
    service,
    action: requiredText(ebOne(el, 'Action')),
    conversationId: requiredText(ebOne(el, 'ConversationId')),
  };
  const agreementEl = ebOptional(el, 'AgreementRef');
  if (agreementEl) {
    const agreementRef: AgreementRef = { value: requiredText(agreementEl) };
    const type = attr(agreementEl, 'type');
    const pmode = attr(agreementEl, 'pmode');
    if (type !== undefined) agreementRef.type = type;
    if (pmode !== undefined) agreementRef.pmode = pmode;
    info.agreementRef = agreementRef;
  }
  return info;
}

function parseProperties(el: Element, requireOne: boolean): Property[] {
  const props = ebChildren(el, 'Property').map((p): Property => {
    const name = attr(p, 'name');
    if (name === undefined || name === '') {
      throw new EhmiError('EHMI_AS4_INVALID_HEADER', 'eb:Property has no name', { expression: [pathOf(p)] });
    }
    const prop: Property = { name, value: (p.textContent ?? '').trim() };
    const type = attr(p, 'type');
    if (type !== undefined) prop.type = type;
    return prop;
  });
  if (requireOne && props.length === 0) {
    throw new EhmiError('EHMI_AS4_INVALID_HEADER', `${el.nodeName} is empty`, { expression: [pathOf(el)] });
  }
  return props;
}

function parsePartInfo(el: Element): PartInfo {
  const part: PartInfo = { partProperties: [] };
  const href = attr(el, 'href');
  if (href !== undefined) part.href = href;
  const props = ebOptional(el, 'PartProperties');
  if (props) part.partProperties = parseProperties(props, false);
  return part;
}

/**
 * ebMS3 Core §5.2.3: one `eb:SignalMessage` element, carrying exactly one of Receipt, Error(s) or PullRequest.
 *
 * @example
 * const signal = parseSignalMessage(signalMessageElement);
 * if (signal.errors.length > 0) console.log(signal.errors[0].errorCode);
 */
export function parseSignalMessage(el: Element): SignalMessage {
  const signal: SignalMessage = { messageInfo: parseMessageInfo(ebOne(el, 'MessageInfo')), errors: [] };
  const receipt = ebOptional(el, 'Receipt');
  const pull = ebOptional(el, 'PullRequest');
  const errors = ebChildren(el, 'Error');
  const kinds = [receipt, pull].filter(Boolean).length + (errors.length > 0 ? 1 : 0);
  if (kinds !== 1) {
    throw new EhmiError(
      'EHMI_AS4_INVALID_HEADER',
      `eb:SignalMessage must carry exactly one of Receipt, Error or PullRequest (found ${kinds})`,
      { expression: [pathOf(el)] },
    );
  }
  if (receipt) {
    signal.receipt = parseReceipt(receipt);
    // ebMS3 Core §5.2.3.3: a Receipt refers to the message it acknowledges.
    if (signal.messageInfo.refToMessageId === undefined) {
      throw new EhmiError('EHMI_AS4_INVALID_HEADER', 'a Receipt signal has no eb:RefToMessageId', {
        expression: [`${pathOf(el)}/eb:MessageInfo/eb:RefToMessageId`],
      });
    }
  }
  if (pull)
    signal.pullRequest = {
      mpc: attr(pull, 'mpc') ?? 'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/defaultMPC',
    };
  signal.errors = errors.map(parseError);
  return signal;
}

function parseError(el: Element): EbmsErrorElement {
  const errorCode = attr(el, 'errorCode');
  const severity = attr(el, 'severity');
  if (!errorCode || !severity) {
    throw new EhmiError('EHMI_AS4_INVALID_HEADER', 'eb:Error needs @errorCode and @severity', {
      expression: [pathOf(el)],
    });
  }
  const out: EbmsErrorElement = { errorCode, severity };
  for (const name of ['category', 'origin', 'shortDescription', 'refToMessageInError'] as const) {
    const v = attr(el, name);
    if (v !== undefined) out[name] = v;
  }
  const description = ebOptional(el, 'Description');
  if (description) out.description = (description.textContent ?? '').trim();
  const detail = ebOptional(el, 'ErrorDetail');
  if (detail) out.errorDetail = (detail.textContent ?? '').trim();
  return out;
}

/**
 * `eb:Receipt` (ebMS3 Core §5.2.3.3); the NRI content follows ebBP signals 2.0 (AS4 Profile §5.1.8).
 *
 * @example
 * const nri = parseReceipt(receiptElement).nonRepudiationInformation ?? [];
 */
export function parseReceipt(el: Element): Receipt {
  const nri = childElements(el, NS.EBBP, 'NonRepudiationInformation');
  // ebMS3 Core §5.2.3.3: the content is open (xsd:any); AS4 §5.1.8 uses NRI, or a copy of the UserMessage
  // (phase4 once copied the whole received envelope).
  const echo = descendantElements(el, NS.EB, 'UserMessage');
  if (nri.length === 0 && echo.length === 0) {
    throw new EhmiError(
      'EHMI_AS4_INVALID_HEADER',
      'eb:Receipt carries neither ebbp:NonRepudiationInformation nor a copy of the eb:UserMessage',
      { expression: [pathOf(el)] },
    );
  }
  if (nri.length > 1) {
    throw new EhmiError('EHMI_AS4_INVALID_HEADER', 'ebbp:NonRepudiationInformation is repeated', {
      expression: [pathOf(el)],
    });
  }
  const receipt: Receipt = { userMessageEcho: nri.length === 0 };
  if (nri[0]) {
    receipt.nonRepudiationInformation = childElements(nri[0], NS.EBBP, 'MessagePartNRInformation').map(
      (part) => {
        const refs = childElements(part, NS.DS, 'Reference');
        if (refs.length !== 1) {
          throw new EhmiError(
            'EHMI_AS4_INVALID_HEADER',
            'ebbp:MessagePartNRInformation needs one ds:Reference',
            {
              expression: [pathOf(part)],
            },
          );
        }
        return parseDsReference(refs[0]!);
      },
    );
  }
  return receipt;
}

/**
 * A `ds:Reference` (XML Signature §4.4.3) as data: URI, transforms, digest method and value.
 *
 * @example
 * const { uri, digestValue } = parseDsReference(referenceElement);
 */
export function parseDsReference(ref: Element): MessagePartReference {
  const uri = ref.getAttribute('URI') ?? '';
  const transforms = childElements(ref, NS.DS, 'Transforms').flatMap((t) =>
    childElements(t, NS.DS, 'Transform').map((tr) => {
      const algorithm = tr.getAttribute('Algorithm') ?? '';
      const inclusive = childElements(tr)
        .filter((c) => c.localName === 'InclusiveNamespaces')
        .map((c) => (c.getAttribute('PrefixList') ?? '').split(/\s+/).filter(Boolean));
      return inclusive[0] ? { algorithm, inclusivePrefixes: inclusive[0] } : { algorithm };
    }),
  );
  const digestMethod = childElements(ref, NS.DS, 'DigestMethod')[0]?.getAttribute('Algorithm') ?? '';
  const digestValue = (childElements(ref, NS.DS, 'DigestValue')[0]?.textContent ?? '').replace(/\s+/g, '');
  if (digestMethod === '' || digestValue === '') {
    throw new EhmiError('EHMI_AS4_INVALID_HEADER', 'ds:Reference without DigestMethod or DigestValue', {
      expression: [pathOf(ref)],
    });
  }
  return { uri, transforms, digestMethod, digestValue };
}
