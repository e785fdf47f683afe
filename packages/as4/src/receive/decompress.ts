import type { ByteLease } from '../budget.ts';
import { decompressAttachment } from '../compression/gzip.ts';
import type { As4Limits } from '../limits.ts';
import type { AttachmentSink } from '../mime/sink.ts';
import type { As4Attachment } from '../model/attachment.ts';
import { contentIdOfHref, type UserMessage } from '../model/user-message.ts';
import { attachmentFor } from '../wss/verify.ts';

/**
 * Receive step: decompress each gzip payload into the sink (AS4 Profile §3.1; eDelivery AS4 1.15 §2.2.3.3).
 * Done eagerly, before any receipt, so a corrupt stream or a decompression bomb is answered with EBMS:0303
 * DecompressionFailure instead of failing later in delivery; the bounds (absolute, ratio, the receiver's pool) are
 * those of {@link decompressAttachment}. Uncompressed parts pass through.
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
): Promise<As4Attachment[]> {
  const byId = new Map(attachments.map((a) => [a.contentId, a]));
  const out: As4Attachment[] = [];
  let index = 0;
  for (const part of um.payloadInfo) {
    const att = contentIdOfHref(part.href) === undefined ? undefined : attachmentFor(byId, part.href!);
    if (!att) continue;
    out.push(
      await decompressAttachment(att, part, {
        sink,
        maxDecompressedBytes: limits.maxDecompressedBytes,
        ...(limits.maxDecompressionRatio ? { maxDecompressionRatio: limits.maxDecompressionRatio } : {}),
        ...(limits.decompressionRatioFreeBytes
          ? { decompressionRatioFreeBytes: limits.decompressionRatioFreeBytes }
          : {}),
        ...(lease ? { lease } : {}),
        index: ++index,
      }),
    );
  }
  return out;
}
