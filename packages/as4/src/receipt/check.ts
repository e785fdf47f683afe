import { timingSafeEqual } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import type { MessagePartReference, SignalMessage } from '../model/signal-message.ts';

/**
 * Compare a receipt with what we sent (AS4 Profile §5.1.8; eDelivery AS4 1.15 §2.2.7; Domibus'
 * NonRepudiationChecker does the same). The receipt must refer to our MessageId, carry NonRepudiationInformation,
 * and contain, for every reference we signed, a reference with the same URI, digest method and digest value —
 * and nothing we did not sign. Any difference → EBMS:0302 InvalidReceipt.
 * Call it only on a receipt whose own signature verified (a bad signature is EBMS:0101, see {@link verifyReceipt}).
 *
 * @example
 * checkReceiptNri(receiptSignal, { messageId: sentId, references: signResult.references });
 */
export function checkReceiptNri(
  signal: SignalMessage,
  sent: { messageId: string; references: readonly MessagePartReference[] },
): void {
  const invalid = (message: string, details: Record<string, unknown> = {}) =>
    new EhmiError('EHMI_AS4_INVALID_RECEIPT', message, {
      details: { messageId: sent.messageId, receiptId: signal.messageInfo.messageId, ...details },
    });
  if (!signal.receipt) throw invalid('the signal is not a receipt');
  if (signal.messageInfo.refToMessageId !== sent.messageId) {
    throw invalid(
      `the receipt refers to ${signal.messageInfo.refToMessageId ?? 'no message'}, not ${sent.messageId}`,
    );
  }
  const nri = signal.receipt.nonRepudiationInformation;
  if (!nri) throw invalid('the receipt has no NonRepudiationInformation');
  if (sent.references.length === 0) throw invalid('nothing was signed, so no receipt can match');
  const byUri = new Map<string, MessagePartReference>();
  for (const r of nri) {
    if (byUri.has(r.uri)) throw invalid(`the receipt lists ${r.uri} twice`, { uri: r.uri });
    byUri.set(r.uri, r);
  }
  for (const s of sent.references) {
    const r = byUri.get(s.uri);
    if (!r) throw invalid(`the receipt does not acknowledge ${s.uri}`, { uri: s.uri });
    if (r.digestMethod !== s.digestMethod || !sameDigest(r.digestValue, s.digestValue)) {
      throw invalid(`the receipt's digest of ${s.uri} differs from what was sent`, { uri: s.uri });
    }
    byUri.delete(s.uri);
  }
  if (byUri.size > 0) {
    throw invalid(`the receipt acknowledges references that were not sent: ${[...byUri.keys()].join(', ')}`);
  }
}

function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a.replace(/\s+/g, ''), 'base64');
  const y = Buffer.from(b.replace(/\s+/g, ''), 'base64');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
