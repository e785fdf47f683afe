import { EhmiError } from '@ehmi/errors';
import { childElements, type Element, EXC_C14N, excC14n } from '@ehmi/xml';
import { newMessageId, signalMessageXml, timestampOf } from '../ebms/build.ts';
import { NS } from '../lib/ns.ts';
import { attrs, emptyElement, textElement } from '../lib/xml-text.ts';
import type { MessagePartReference, SignalMessage } from '../model/signal-message.ts';
import { type BuiltEnvelope, buildEnvelope } from '../soap/build.ts';

/**
 * A reference of the received signature, as the wss module's `verifyEnvelope` returns it
 * (`VerifyResult.references`). When `element` is given it is copied verbatim.
 */
export interface ReceivedReference extends MessagePartReference {
  element?: Element;
}

export interface BuildReceiptOptions {
  /** The MessageId of the UserMessage acknowledged (eb:RefToMessageId, ebMS3 Core §5.2.3.3). */
  refToMessageId: string;
  /**
   * Every `ds:Reference` of the verified signature of the received message, in SignedInfo order. Given → a
   * non-repudiation receipt (AS4 Profile §5.1.8, eDelivery AS4 1.15 §2.2.7 NonRepudiation=true).
   */
  references?: readonly ReceivedReference[];
  /** Without references: the received eb:UserMessage, echoed for a reception-awareness receipt (AS4 Profile §5.1.8). */
  userMessage?: Element;
  messageId?: string;
  timestamp?: Date | string;
}

/** A receipt envelope ready to be signed with the wss module's `signEnvelope` (see {@link signReceipt}). */
export interface BuiltReceipt extends BuiltEnvelope {
  signal: SignalMessage;
}

/**
 * Build an eb:Receipt signal. With `references`, it carries `ebbp:NonRepudiationInformation` with one
 * `ebbp:MessagePartNRInformation` per reference of the received signature — eb:Messaging, Body and every `cid:`
 * attachment — so the sender can prove what was received (AS4 Profile §5.1.8; ebBP signals 2.0). A non-repudiation
 * receipt must then be signed (eDelivery AS4 1.15 §2.2.7); an empty reference list is refused (EBMS:0103), since
 * a receipt with no references proves nothing.
 *
 * @example
 * const verified = await verifyEnvelope(env.document, attachments, { trust });
 * const receipt = buildReceipt({ refToMessageId: um.messageInfo.messageId, references: verified.references });
 * await signReceipt(receipt, { privateKey, certificate });
 */
export function buildReceipt(options: BuildReceiptOptions): BuiltReceipt {
  const signal: SignalMessage = {
    messageInfo: {
      timestamp: timestampOf(options.timestamp),
      messageId: options.messageId ?? newMessageId(),
      refToMessageId: options.refToMessageId,
    },
    errors: [],
  };
  let receiptXml: string;
  if (options.references !== undefined) {
    if (options.references.length === 0) {
      throw new EhmiError(
        'EHMI_AS4_POLICY_NONCOMPLIANCE',
        'a non-repudiation receipt needs the signed references',
      );
    }
    // eb:Messaging renders S12, eb and wsu, NonRepudiationInformation ebbp: each echoed reference is written
    // in its canonical form under those, as the receipt's signature will digest it.
    const rendered = new Map([...MESSAGING_RENDERED, ['ebbp', NS.EBBP]]);
    const parts = options.references.map(
      (r) => `<ebbp:MessagePartNRInformation>${referenceXml(r, rendered)}</ebbp:MessagePartNRInformation>`,
    );
    receiptXml =
      `<eb:Receipt><ebbp:NonRepudiationInformation xmlns:ebbp="${NS.EBBP}">` +
      parts.join('') +
      '</ebbp:NonRepudiationInformation></eb:Receipt>';
    signal.receipt = {
      userMessageEcho: false,
      nonRepudiationInformation: options.references.map(({ uri, transforms, digestMethod, digestValue }) => ({
        uri,
        transforms,
        digestMethod,
        digestValue,
      })),
    };
  } else if (options.userMessage) {
    receiptXml = `<eb:Receipt>${excC14n(options.userMessage, { renderedNamespaces: MESSAGING_RENDERED })}</eb:Receipt>`;
    signal.receipt = { userMessageEcho: true };
  } else {
    throw new EhmiError(
      'EHMI_INTERNAL',
      'buildReceipt needs the signed references or the received UserMessage',
    );
  }
  return Object.assign(buildEnvelope(signalMessageXml(signal, receiptXml)), { signal });
}

/** The namespace declarations eb:Messaging renders (soap/build.ts), for what is written inside it. */
const MESSAGING_RENDERED: ReadonlyMap<string, string> = new Map([
  ['S12', NS.S12],
  ['eb', NS.EB],
  ['wsu', NS.WSU],
]);

/**
 * The ds:Reference in canonical form under the receipt's elements: the received element itself when known (its
 * digest text and transforms exactly as received, whatever its prefix), else rebuilt from the model.
 */
function referenceXml(r: ReceivedReference, rendered: ReadonlyMap<string, string>): string {
  if (r.element) return excC14n(r.element, { renderedNamespaces: rendered });
  const transforms = r.transforms
    .map((t) => {
      const inclusive = t.inclusivePrefixes
        ? `<ec:InclusiveNamespaces xmlns:ec="${EXC_C14N}"${attrs({ PrefixList: t.inclusivePrefixes.join(' ') })}></ec:InclusiveNamespaces>`
        : '';
      return `<ds:Transform${attrs({ Algorithm: t.algorithm })}>${inclusive}</ds:Transform>`;
    })
    .join('');
  return (
    `<ds:Reference xmlns:ds="${NS.DS}"${attrs({ URI: r.uri })}>` +
    (transforms === '' ? '' : `<ds:Transforms>${transforms}</ds:Transforms>`) +
    emptyElement('ds:DigestMethod', { Algorithm: r.digestMethod }) +
    textElement('ds:DigestValue', r.digestValue) +
    '</ds:Reference>'
  );
}

/**
 * The `ds:Reference` elements of the first ds:Signature in a wsse:Security header, in SignedInfo order.
 *
 * @example
 * const refs = signedInfoReferences(env.security!);
 */
export function signedInfoReferences(security: Element): Element[] {
  const signature = childElements(security, NS.DS, 'Signature')[0];
  const signedInfo = signature ? childElements(signature, NS.DS, 'SignedInfo')[0] : undefined;
  return signedInfo ? childElements(signedInfo, NS.DS, 'Reference') : [];
}
