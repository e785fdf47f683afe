import { EhmiError } from '@ehmi/errors';
import { childElements } from '@ehmi/xml';
import { NS } from '../lib/ns.ts';
import type { AttachmentSink } from '../mime/sink.ts';
import type { As4Attachment } from '../model/attachment.ts';
import type { PMode } from '../pmode/pmode.ts';
import { securityProfileOf } from '../pmode/profiles.ts';
import type { As4Envelope } from '../soap/envelope.ts';
import {
  type VerifyOptions,
  type VerifyResult,
  verifyAttachmentReferences,
  verifyEnvelope,
} from '../wss/verify.ts';

/**
 * Decrypts the attachments of a verified envelope (XML Encryption 1.1 + SwA Profile 1.1 §5.4). Supplied by the
 * caller from the wss module; `sink` is the message's own sink, so plaintext copies are freed with the message:
 * `(env, atts, sink) => decryptAttachments(env.document, atts, { privateKey, sink })`. May return the attachments, or
 * the wss `DecryptResult` (whose `dispose` is then called with the message's).
 */
export type DecryptAttachments = (
  envelope: As4Envelope,
  attachments: readonly As4Attachment[],
  sink: AttachmentSink,
) => Promise<As4Attachment[] | DecryptedAttachments>;

/** The plaintext attachments a {@link DecryptAttachments} hook returns, with what frees them. */
export interface DecryptedAttachments {
  attachments: As4Attachment[];
  dispose?: () => Promise<void>;
  /**
   * The Content-IDs of attachments that decrypt as they are read (wss `decryptAttachments` with `onRead`): not
   * authenticated until read whole; the payload step reads each once, to its end, before anything is handed on.
   */
  decryptOnRead?: string[];
}

/**
 * True when the wsse:Security header carries encryption (xenc:EncryptedKey / xenc:EncryptedData, WSS 1.1 §9).
 *
 * @example
 * const msg = await parseAs4Message(body, { contentType });
 * if (isEncrypted(msg.envelope)) await decryptStep(msg.envelope, msg.attachments, verified, pmode, decrypt, msg.sink);
 */
export function isEncrypted(env: As4Envelope): boolean {
  if (!env.security) return false;
  return childElements(env.security).some(
    (c) =>
      c.namespaceURI === NS.XENC &&
      (c.localName === 'EncryptedKey' || c.localName === 'EncryptedData' || c.localName === 'ReferenceList'),
  );
}

/**
 * Receive step: verify the WS-Security signature with the wss module (EBMS:0101 FailedAuthentication,
 * EBMS:0103 PolicyNoncompliance), deferring attachment digests when the parts are encrypted (sign then encrypt,
 * eDelivery AS4 1.15 §2.2.6: the digests are over the plaintext). Then checks that the elements the signature
 * covers are the very eb:Messaging and Body this package parsed — the element processed is the element signed.
 * An unsigned message → EBMS:0103 (both profiles make signing mandatory).
 *
 * @example
 * const verified = await verifySignatureStep(env, attachments, pmode, { trust });
 */
export async function verifySignatureStep(
  env: As4Envelope,
  attachments: readonly As4Attachment[],
  pmode: PMode | undefined,
  options: VerifyOptions,
): Promise<VerifyResult> {
  // eDelivery AS4 1.15 §2.2.6: signing is mandatory in both profiles; wss answers an unsigned message with EBMS:0103.
  // The algorithm policy follows the P-Mode's profile unless the caller fixed one.
  const profile = options.profile ?? (pmode ? securityProfileOf(pmode) : undefined);
  const verified = await verifyEnvelope(env.document, attachments, {
    ...options,
    ...(profile ? { profile } : {}),
    deferAttachmentDigests: options.deferAttachmentDigests ?? isEncrypted(env),
  });
  checkSignedCoverage(env, verified);
  return verified;
}

/**
 * Signature-wrapping defence (WSS 1.1 §8; McIntosh & Austel, "XML signature element wrapping attacks"): the signed
 * eb:Messaging and Body are the elements located by {@link parseEnvelope}, by identity → else EBMS:0101.
 *
 * @example
 * checkSignedCoverage(env, verified);
 */
export function checkSignedCoverage(env: As4Envelope, verified: VerifyResult): void {
  const signedMessaging = verified.references.find((r) => r.target === 'Messaging')?.signedElement;
  const signedBody = verified.references.find((r) => r.target === 'Body')?.signedElement;
  if (signedMessaging !== env.messaging || signedBody !== env.body) {
    throw new EhmiError(
      'EHMI_AS4_FAILED_AUTHENTICATION',
      'the signed eb:Messaging or Body is not the one being processed',
      { details: { reason: 'wrapping' } },
    );
  }
}

/**
 * Receive step: decrypt the attachments with the wss hook (failures are EBMS:0102 FailedDecryption), then check the
 * deferred attachment digests on the plaintext. A P-Mode that requires encryption and a message whose payloads
 * are not encrypted → EBMS:0103 PolicyNoncompliance (eDelivery AS4 1.15 §2.2.6.3: all payload parts encrypted).
 *
 * @example
 * const { attachments: plain } = await decryptStep(env, attachments, verified, pmode, decrypt, sink);
 */
export async function decryptStep(
  env: As4Envelope,
  attachments: readonly As4Attachment[],
  verified: VerifyResult,
  pmode: PMode | undefined,
  decrypt: DecryptAttachments | undefined,
  sink: AttachmentSink,
  /** False: the deferred attachment digests are left to the caller (taken in the payload step's pass). */
  checkDigests = true,
): Promise<DecryptedAttachments> {
  const encrypted = isEncrypted(env);
  if (!encrypted) {
    if (attachments.length > 0 && pmode?.leg.security.x509.encryption.required) {
      throw new EhmiError(
        'EHMI_AS4_POLICY_NONCOMPLIANCE',
        'the payloads are not encrypted, as the P-Mode requires',
      );
    }
    return { attachments: [...attachments] };
  }
  if (!decrypt) {
    throw new EhmiError(
      'EHMI_AS4_FAILED_DECRYPTION',
      'the message is encrypted and no decryption is configured',
    );
  }
  let result: Awaited<ReturnType<DecryptAttachments>>;
  try {
    result = await decrypt(env, attachments, sink);
  } catch (err) {
    if (err instanceof EhmiError) throw err;
    throw new EhmiError('EHMI_AS4_FAILED_DECRYPTION', 'the payloads could not be decrypted', { cause: err });
  }
  const out = Array.isArray(result) ? { attachments: result } : result;
  if (!checkDigests) return out;
  try {
    if (verified.references.some((r) => r.target === 'attachment' && !r.digestVerified)) {
      await verifyAttachmentReferences(verified, out.attachments);
    }
  } catch (err) {
    await out.dispose?.().catch(() => {});
    throw err;
  }
  return out;
}
