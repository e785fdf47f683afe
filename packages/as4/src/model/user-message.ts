/**
 * The ebMS3 UserMessage (ebMS3 Core §5.2.2) as plain data. Element names are kept verbatim in camelCase.
 *
 * @example
 * ```ts
 * import type { UserMessage } from '@ehmi/as4';
 * const um: UserMessage = {
 *   messageInfo: { timestamp: '2026-11-26T00:00:00Z', messageId: 'a1@ehmi.dk' },
 *   partyInfo: {
 *     from: { partyIds: [{ value: '5790000000001', type: 'urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088' }], role: 'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/initiator' },
 *     to: { partyIds: [{ value: '5790000000002', type: 'urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088' }], role: 'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/responder' },
 *   },
 *   collaborationInfo: { service: { value: 'urn:ehmi:service' }, action: 'urn:ehmi:action', conversationId: 'c1' },
 *   messageProperties: [{ name: 'originalSender', value: '0088:5790000000001', type: 'iso6523-actorid-upis' }],
 *   payloadInfo: [{ href: 'cid:payload-1@ehmi.dk', partProperties: [{ name: 'MimeType', value: 'application/xml' }] }],
 * };
 * ```
 */
export interface UserMessage {
  /** `@mpc`; absent means the default MPC (ebMS3 Core §3.4.1). */
  mpc?: string;
  messageInfo: MessageInfo;
  partyInfo: PartyInfo;
  collaborationInfo: CollaborationInfo;
  /** `eb:MessageProperties/eb:Property`, in document order (ebMS3 Core §5.2.2.11). */
  messageProperties: Property[];
  /** `eb:PayloadInfo/eb:PartInfo`, in document order (ebMS3 Core §5.2.2.12). */
  payloadInfo: PartInfo[];
}

/** ebMS3 Core §5.2.2.1. */
export interface MessageInfo {
  /** `xsd:dateTime`, UTC recommended (ebMS3 Core §5.2.2.2). */
  timestamp: string;
  /** RFC 2822 msg-id without angle brackets (ebMS3 Core §5.2.2.3). */
  messageId: string;
  refToMessageId?: string;
}

/** ebMS3 Core §5.2.2.4–5.2.2.5. */
export interface PartyInfo {
  from: Party;
  to: Party;
}

export interface Party {
  /** One or more `eb:PartyId`; several ids name the same party. */
  partyIds: PartyId[];
  role: string;
}

/** `eb:PartyId` with its optional `@type` (required when the value is not a URI, ebMS3 Core §5.2.2.4). */
export interface PartyId {
  value: string;
  type?: string;
}

/** ebMS3 Core §5.2.2.6–5.2.2.10. */
export interface CollaborationInfo {
  agreementRef?: AgreementRef;
  service: Service;
  action: string;
  conversationId: string;
}

/** `eb:AgreementRef` (ebMS3 Core §5.2.2.7); `pmode` is the optional `@pmode` attribute. */
export interface AgreementRef {
  value: string;
  type?: string;
  pmode?: string;
}

/** `eb:Service` (ebMS3 Core §5.2.2.8). */
export interface Service {
  value: string;
  type?: string;
}

/** `eb:Property` of MessageProperties or PartProperties. */
export interface Property {
  name: string;
  value: string;
  /** `@type`, used by the four-corner `originalSender`/`finalRecipient` properties (eDelivery AS4 1.15 §2.6.1). */
  type?: string;
}

/** `eb:PartInfo` (ebMS3 Core §5.2.2.13). */
export interface PartInfo {
  /** `cid:<content-id>` for a MIME attachment, absent or `#id` for the SOAP Body, else external (EBMS:0011). */
  href?: string;
  /** `eb:PartProperties/eb:Property`: `MimeType`, `CompressionType`, `CharacterSet` (AS4 Profile §3.1). */
  partProperties: Property[];
}

/**
 * The value of the first property with `name`, or undefined.
 *
 * @example
 * const mimeType = propertyValue(partInfo.partProperties, 'MimeType'); // 'application/xml'
 */
export function propertyValue(properties: readonly Property[], name: string): string | undefined {
  return properties.find((p) => p.name === name)?.value;
}

/**
 * The four-corner `originalSender` property (eDelivery AS4 1.15 §2.6.1, Four Corner Topology enhancement).
 *
 * @example
 * const c1 = originalSender(userMessage); // { name: 'originalSender', value: '0088:579…', type: 'iso6523-actorid-upis' }
 */
export function originalSender(um: UserMessage): Property | undefined {
  return um.messageProperties.find((p) => p.name === 'originalSender');
}

/**
 * The four-corner `finalRecipient` property (eDelivery AS4 1.15 §2.6.1).
 *
 * @example
 * const c4 = finalRecipient(userMessage)?.value;
 */
export function finalRecipient(um: UserMessage): Property | undefined {
  return um.messageProperties.find((p) => p.name === 'finalRecipient');
}

/**
 * The content-id a `cid:` href points to (RFC 2392: URL-decoded), or undefined for another kind of href. The receive
 * steps look a part up by the href as written first (phase4/WSS4J write Content-IDs raw), then by this value.
 *
 * @example
 * contentIdOfHref('cid:payload%40ehmi.dk'); // 'payload@ehmi.dk'
 * contentIdOfHref('#body-1'); // undefined
 */
export function contentIdOfHref(href: string | undefined): string | undefined {
  if (href === undefined || !/^cid:/i.test(href)) return undefined;
  try {
    return decodeURIComponent(href.slice(4));
  } catch {
    return href.slice(4);
  }
}
