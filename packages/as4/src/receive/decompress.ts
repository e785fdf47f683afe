import type { ByteLease } from '../budget.ts';
import { decompressAttachment } from '../compression/gzip.ts';
import type { As4Limits } from '../limits.ts';
import type { AttachmentSink } from '../mime/sink.ts';
import type { As4Attachment } from '../model/attachment.ts';
import { contentIdOfHref, type UserMessage } from '../model/user-message.ts';
import { attachmentFor, type StreamedAttachmentDigests } from '../wss/verify.ts';

/** What {@link decompressStep} does in the same pass over each payload. */
export interface PayloadPass {
  /** The signature's deferred attachment digests, taken as each payload is read and checked when it was read whole. */
  digests?: StreamedAttachmentDigests;
  /** Content-IDs of payloads that decrypt as they are read: written into the sink even when not compressed. */
  copy?: ReadonlySet<string>;
}

/**
 * Receive step: decompress each gzip payload into the sink (AS4 Profile §3.1; eDelivery AS4 1.15 §2.2.3.3).
 * Done eagerly, before any receipt, so a corrupt stream or a decompression bomb is answered with EBMS:0303
 * DecompressionFailure instead of failing later in delivery; the bounds (absolute, ratio, the receiver's pool) are
 * those of {@link decompressAttachment}. Uncompressed parts pass through (or are copied into the sink, `pass.copy`).
 * With `pass.digests`, each payload's signed digest is taken in the same read (one pass over the octets: decrypt as
 * read, digest, decompress, write); a digest that differs is EBMS:0101 and outranks a decompression failure, as it
 * would if the digests were checked first.
 *
 * @example
 * const payloads = await decompressStep(userMessage, plain, sink, limits);
 */
export async function decompressStep(
  um: UserMessage,
  attachments: readonly As4Attachment[],
  sink: AttachmentSink,
  limits: Pick<As4Limits, 'maxDecompressedBytes'> &
    Partial<Pick<As4Limits, 'maxDecompressionRatio' | 'decompressionRatioFreeBytes'>>,
  lease?: ByteLease,
  pass: PayloadPass = {},
): Promise<As4Attachment[]> {
  const byId = new Map(attachments.map((a) => [a.contentId, a]));
  const out: As4Attachment[] = [];
  let index = 0;
  for (const part of um.payloadInfo) {
    const att = contentIdOfHref(part.href) === undefined ? undefined : attachmentFor(byId, part.href!);
    if (!att) continue;
    const observe = pass.digests?.observer(att.contentId);
    let whole = false;
    try {
      out.push(
        await decompressAttachment(att, part, {
          sink,
          maxDecompressedBytes: limits.maxDecompressedBytes,
          ...(limits.maxDecompressionRatio ? { maxDecompressionRatio: limits.maxDecompressionRatio } : {}),
          ...(limits.decompressionRatioFreeBytes
            ? { decompressionRatioFreeBytes: limits.decompressionRatioFreeBytes }
            : {}),
          ...(lease ? { lease } : {}),
          ...(observe ? { observe } : {}),
          ...(pass.copy?.has(att.contentId) ? { copy: true } : {}),
          onReadWhole: () => {
            whole = true;
          },
          index: ++index,
        }),
      );
    } catch (err) {
      // Read whole: the digest decides first (a part altered in transit is the sender's EBMS:0101, not EBMS:0303).
      if (whole && observe) pass.digests!.check(att.contentId);
      throw err;
    }
    if (observe) pass.digests!.check(att.contentId);
  }
  return out;
}
