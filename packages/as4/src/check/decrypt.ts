import type { KeyObject } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { type As4Limits, resolveLimits } from '../limits.ts';
import type { AttachmentSink } from '../mime/sink.ts';
import type { As4Attachment } from '../model/attachment.ts';
import { contentIdOfHref, type PartInfo, propertyValue } from '../model/user-message.ts';
import { decompressStep } from '../receive/decompress.ts';
import { isEncrypted } from '../receive/security.ts';
import type { AlgorithmPolicy, SecurityProfile } from '../wss/algorithms.ts';
import type { CertificateInput } from '../wss/certificates.ts';
import { decryptAttachments } from '../wss/decrypt.ts';
import { attachmentFor } from '../wss/verify.ts';
import { messageIdOf, openAs4Message } from './open.ts';

export interface DecryptAs4Options {
  /** Our decryption key (RSA for eDelivery AS4 1.15, X25519 or P-256 for 2.0). */
  privateKey: KeyObject;
  /** Our certificate; when given, each EncryptedKey must be addressed to it. */
  certificate?: CertificateInput;
  /** Algorithm policy. Default `permissive`. */
  profile?: SecurityProfile | AlgorithmPolicy;
  limits?: Partial<As4Limits>;
  sink?: AttachmentSink;
}

/** One payload after decryption and decompression. */
export interface DecryptedPart {
  contentId: string;
  /** The PartInfo of the part, when PayloadInfo names it. */
  partInfo?: PartInfo;
  /** True when the part was encrypted in the message. */
  decrypted: boolean;
  /** True when it was gzip-compressed (PartInfo CompressionType) and has been decompressed. */
  decompressed: boolean;
  /** The body: plaintext, decompressed. */
  attachment: As4Attachment;
}

export interface DecryptedAs4Message {
  messageId?: string;
  parts: DecryptedPart[];
  /** Frees the plaintext copies. */
  dispose(): Promise<void>;
}

/**
 * Decrypts the encrypted attachments of a saved AS4 message (XML Encryption 1.1, SwA Profile 1.1 §5.5; a failed
 * AES-GCM tag or a key that does not unwrap is EBMS:0102) and decompresses the parts whose PartInfo says
 * `CompressionType` gzip (AS4 Profile §3.1; EBMS:0303 on failure). The signature is not checked here: that is
 * {@link checkAs4Message}'s job. A message without encrypted parts → `EHMI_USAGE` (nothing to decrypt).
 *
 * @example
 * const { parts, dispose } = await decryptAs4Message(readFileSync('message.as4'), { privateKey });
 * try { for (const p of parts) await pipeline(p.attachment.open(), createWriteStream(p.contentId)); } finally { await dispose(); }
 */
export async function decryptAs4Message(
  bytes: Uint8Array,
  options: DecryptAs4Options,
): Promise<DecryptedAs4Message> {
  const limits = resolveLimits(options.limits);
  const msg = await openAs4Message(bytes, { limits, ...(options.sink ? { sink: options.sink } : {}) });
  try {
    if (!isEncrypted(msg.envelope)) {
      throw new EhmiError('EHMI_USAGE', 'the message has no encrypted parts: nothing to decrypt');
    }
    const dec = await decryptAttachments(msg.envelope.document, msg.attachments, {
      privateKey: options.privateKey,
      profile: options.profile ?? 'permissive',
      sink: msg.sink,
      ...(options.certificate !== undefined ? { certificate: options.certificate } : {}),
    });
    const payloadInfo = msg.messaging.kind === 'user' ? msg.messaging.userMessage.payloadInfo : [];
    const plain =
      msg.messaging.kind === 'user'
        ? await decompressStep(msg.messaging.userMessage, dec.attachments, msg.sink, limits)
        : dec.attachments;
    const byId = new Map(plain.map((a) => [a.contentId, a] as const));
    const parts: DecryptedPart[] = dec.attachments.map((a) => {
      const partInfo = payloadInfo.find(
        (p) => contentIdOfHref(p.href) !== undefined && attachmentFor(new Map([[a.contentId, a]]), p.href!),
      );
      const compressed =
        partInfo !== undefined && propertyValue(partInfo.partProperties, 'CompressionType') !== undefined;
      return {
        contentId: a.contentId,
        ...(partInfo ? { partInfo } : {}),
        decrypted: dec.decrypted.includes(a.contentId),
        decompressed: compressed,
        attachment: byId.get(a.contentId) ?? a,
      };
    });
    const messageId = messageIdOf(msg.messaging);
    return {
      ...(messageId !== undefined ? { messageId } : {}),
      parts,
      dispose: async () => {
        await dec.dispose().catch(() => {});
        await msg.dispose();
      },
    };
  } catch (err) {
    await msg.dispose().catch(() => {});
    throw err;
  }
}
