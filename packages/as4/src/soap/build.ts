import { randomUUID } from 'node:crypto';
import { type Document, parseXml } from '@ehmi/xml';
import { NS } from '../lib/ns.ts';
import { attrs } from '../lib/xml-text.ts';

/** A SOAP 1.2 envelope built by us, with the wsu:Ids a signature will reference. */
export interface BuiltEnvelope {
  document: Document;
  /** The `wsu:Id` of eb:Messaging (signed by WS-Security, AS4 Profile §5.1.4). */
  messagingId: string;
  /** The `wsu:Id` of the SOAP Body (signed too, even though it is empty). */
  bodyId: string;
}

/**
 * Wrap `eb:Messaging` content into a SOAP 1.2 envelope (AS4 Profile §2.1.1: SOAP 1.2; ebMS3 Core §5.2.1:
 * `eb:Messaging` carries `S12:mustUnderstand="true"`). The Body is empty: eDelivery AS4 1.15 §2.2.3.1 puts every
 * payload in a MIME part. The text is parsed back with the safe parser so the DOM has explicit namespace
 * declarations, exactly as a receiver will see it.
 *
 * @example
 * const { document } = buildEnvelope(userMessageXml(um));
 */
export function buildEnvelope(messagingContent: string, options: { idPrefix?: string } = {}): BuiltEnvelope {
  const prefix = options.idPrefix ?? 'ehmi';
  const messagingId = `${prefix}-msg-${randomUUID()}`;
  const bodyId = `${prefix}-body-${randomUUID()}`;
  const xml =
    `<S12:Envelope xmlns:S12="${NS.S12}">` +
    '<S12:Header>' +
    `<eb:Messaging xmlns:eb="${NS.EB}" xmlns:wsu="${NS.WSU}"${attrs({ 'S12:mustUnderstand': 'true', 'wsu:Id': messagingId })}>` +
    messagingContent +
    '</eb:Messaging>' +
    '</S12:Header>' +
    `<S12:Body xmlns:wsu="${NS.WSU}"${attrs({ 'wsu:Id': bodyId })}/>` +
    '</S12:Envelope>';
  return { document: parseXml(xml, { source: 'built SOAP envelope' }), messagingId, bodyId };
}
