import { randomUUID } from 'node:crypto';
import { type Document, parseXml } from '@ehmi/xml';
import { NS } from '../lib/ns.ts';
import { attrs } from '../lib/xml-text.ts';

/**
 * A SOAP 1.2 envelope built by us, with the wsu:Ids a signature will reference. It is text: eb:Messaging and the
 * Body are written in their canonical form (Exclusive XML Canonicalization 1.0, see lib/xml-text.ts), so the
 * text signer (`signEnvelopeText`) digests them as written and {@link envelopeXml} assembles the envelope around
 * them; nothing is parsed. `document` parses the envelope on first use, for the DOM signer and for callers that
 * want to read or change it (a foreign WS-Security header, a test).
 */
export interface BuiltEnvelope {
  /** The envelope as a DOM, parsed from {@link envelopeXml} on first use. */
  readonly document: Document;
  /** The `wsu:Id` of eb:Messaging (signed by WS-Security, AS4 Profile §5.1.4). */
  messagingId: string;
  /** The `wsu:Id` of the SOAP Body (signed too, even though it is empty). */
  bodyId: string;
  /** eb:Messaging as the envelope carries it, which is its canonical form (its own namespace declarations). */
  messagingXml: string;
  /** The SOAP Body as the envelope carries it, its canonical form too. */
  bodyXml: string;
}

/**
 * Wrap `eb:Messaging` content into a SOAP 1.2 envelope (AS4 Profile §2.1.1: SOAP 1.2; ebMS3 Core §5.2.1:
 * `eb:Messaging` carries `S12:mustUnderstand="true"`). The Body is empty: eDelivery AS4 1.15 §2.2.3.1 puts every
 * payload in a MIME part. `messagingContent` must be canonical text using the prefix `eb` (as `userMessageXml` and
 * `signalMessageXml` write it), for eb:Messaging to be its own canonical form.
 *
 * @example
 * const built = buildEnvelope(userMessageXml(um));
 * const xml = envelopeXml(built); // or sign it first: signEnvelopeText(built, attachments, options)
 */
export function buildEnvelope(messagingContent: string, options: { idPrefix?: string } = {}): BuiltEnvelope {
  const prefix = options.idPrefix ?? 'ehmi';
  const messagingId = `${prefix}-msg-${randomUUID()}`;
  const bodyId = `${prefix}-body-${randomUUID()}`;
  // Exclusive c14n renders on an apex the declarations of every prefix it or its attributes use (S12 for
  // mustUnderstand), sorted by prefix; attributes sorted by namespace URI (wsu's before S12's).
  const messagingXml =
    `<eb:Messaging xmlns:S12="${NS.S12}" xmlns:eb="${NS.EB}" xmlns:wsu="${NS.WSU}"` +
    `${attrs({ 'S12:mustUnderstand': 'true', 'wsu:Id': messagingId })}>${messagingContent}</eb:Messaging>`;
  const bodyXml = `<S12:Body xmlns:S12="${NS.S12}" xmlns:wsu="${NS.WSU}"${attrs({ 'wsu:Id': bodyId })}></S12:Body>`;
  return builtEnvelope({ messagingId, bodyId, messagingXml, bodyXml });
}

/** A {@link BuiltEnvelope} whose `document` is parsed from its text when first read, then kept. */
function builtEnvelope(parts: Omit<BuiltEnvelope, 'document'>): BuiltEnvelope {
  let document: Document | undefined;
  return Object.defineProperty(parts, 'document', {
    enumerable: true,
    get: () => {
      document ??= parseXml(envelopeXml(parts), { source: 'built SOAP envelope' });
      return document;
    },
  }) as BuiltEnvelope;
}

/**
 * The envelope's text: `securityXml` (the content of a wsse:Security header: tokens, encryption blocks, the
 * signature) goes in a wsse:Security header first in the SOAP Header, marked mustUnderstand (WSS 1.1.1 SOAP Message
 * Security §5), with `wsse` and `wsu` declared for it. Without `securityXml` the envelope has no Security header.
 *
 * @example
 * const signed = await signEnvelopeText(built, [], { privateKey, certificate });
 * writeAs4Message(envelopeXml(built, signed.securityXml), []);
 */
export function envelopeXml(
  built: Pick<BuiltEnvelope, 'messagingXml' | 'bodyXml'>,
  securityXml?: string,
): string {
  const security =
    securityXml === undefined
      ? ''
      : `<wsse:Security xmlns:wsse="${NS.WSSE}" xmlns:wsu="${NS.WSU}" S12:mustUnderstand="true">${securityXml}</wsse:Security>`;
  return `<S12:Envelope xmlns:S12="${NS.S12}"><S12:Header>${security}${built.messagingXml}</S12:Header>${built.bodyXml}</S12:Envelope>`;
}
