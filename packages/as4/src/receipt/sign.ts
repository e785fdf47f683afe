import type { MessagePartReference } from '../model/signal-message.ts';
import { envelopeXml } from '../soap/build.ts';
import type { SignOptions } from '../wss/sign.ts';
import { signEnvelopeText } from '../wss/sign-text.ts';
import type { BuiltReceipt } from './build.ts';

/** A signed receipt: the envelope's text, ready for `writeAs4Message`, and the references its signature holds. */
export interface SignedReceipt {
  xml: string;
  references: MessagePartReference[];
}

/**
 * Sign a receipt built by {@link buildReceipt} (eDelivery AS4 1.15 §2.2.7: NonRepudiation=true → a signed
 * receipt). WS-Security is the wss module's: this is `signEnvelopeText` over eb:Messaging and the Body, with no
 * attachments, on the receipt's text (no DOM). Returns the signed envelope's text.
 *
 * @example
 * const receipt = buildReceipt({ refToMessageId, references: verified.references });
 * const signed = await signReceipt(receipt, { privateKey, certificate });
 * const { contentType, body } = writeAs4Message(signed.xml, []);
 */
export async function signReceipt(receipt: BuiltReceipt, options: SignOptions): Promise<SignedReceipt> {
  const signed = await signEnvelopeText(receipt, [], options);
  return { xml: envelopeXml(receipt, signed.securityXml), references: signed.references };
}
