import { type SignOptions, type SignResult, signEnvelope } from '../wss/sign.ts';
import type { BuiltReceipt } from './build.ts';

/**
 * Sign a receipt built by {@link buildReceipt} (eDelivery AS4 1.15 §2.2.7: NonRepudiation=true → a signed
 * receipt). WS-Security is the wss module's: this is its `signEnvelope` over eb:Messaging and the Body, with no
 * attachments. The receipt's document is changed in place; serialize it afterwards.
 *
 * @example
 * const receipt = buildReceipt({ refToMessageId, references: verified.references });
 * await signReceipt(receipt, { privateKey, certificate });
 * const { contentType, body } = writeAs4Message(receipt.document, []);
 */
export function signReceipt(receipt: BuiltReceipt, options: SignOptions): Promise<SignResult> {
  return signEnvelope(receipt.document, [], options);
}
