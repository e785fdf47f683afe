import { EhmiError } from '@ehmi/errors';
import type { Document } from '@ehmi/xml';
import { parseMessaging } from '../ebms/parse.ts';
import type { MessagePartReference, SignalMessage } from '../model/signal-message.ts';
import { type As4Envelope, checkEnvelope, parseEnvelope } from '../soap/envelope.ts';
import { type VerifyOptions, type VerifyResult, verifyEnvelope } from '../wss/verify.ts';
import { checkReceiptNri } from './check.ts';

export interface VerifyReceiptResult {
  signal: SignalMessage;
  /** The receipt's own signature: signer certificate and references. */
  verified: VerifyResult;
}

/**
 * Verify a receipt on the sending side (AS4 Profile §5.1.8; eDelivery AS4 1.15 §2.2.7, reception awareness):
 * 1. the receipt's WS-Security signature (wss `verifyEnvelope`): a signature or a digest that does not verify, or an
 *    untrusted signer → EBMS:0101 FailedAuthentication (an unsigned receipt → EBMS:0103);
 * 2. its NonRepudiationInformation against what we signed ({@link checkReceiptNri}) → EBMS:0302 InvalidReceipt.
 *
 * @example
 * const sent = await signEnvelope(doc, attachments, signOptions);
 * const { signal } = await verifyReceipt(responseXml, { messageId, references: sent.references }, { trust });
 */
export async function verifyReceipt(
  receipt: string | Uint8Array | Document | As4Envelope,
  sent: { messageId: string; references: readonly MessagePartReference[] },
  options: VerifyOptions,
): Promise<VerifyReceiptResult> {
  const env =
    typeof receipt === 'string' || receipt instanceof Uint8Array
      ? parseEnvelope(receipt)
      : 'messaging' in receipt
        ? receipt
        : checkEnvelope(receipt);
  const messaging = parseMessaging(env.messaging);
  const signal = messaging.kind === 'signal' ? messaging.signalMessages.find((s) => s.receipt) : undefined;
  if (!signal) {
    throw new EhmiError('EHMI_AS4_INVALID_RECEIPT', 'the response is not a receipt', {
      details: { messageId: sent.messageId },
    });
  }
  const verified = await verifyEnvelope(env.document, [], options);
  checkReceiptNri(signal, sent);
  return { signal, verified };
}
