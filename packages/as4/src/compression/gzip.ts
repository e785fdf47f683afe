import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { EhmiError } from '@ehmi/errors';
import { DEFAULT_AS4_LIMITS } from '../limits.ts';
import type { AttachmentSink } from '../mime/sink.ts';
import type { As4Attachment } from '../model/attachment.ts';
import { type PartInfo, type Property, propertyValue } from '../model/user-message.ts';

/** AS4 Profile §3.1 / eDelivery AS4 1.15 §2.2.3.3: the only compression type. */
export const GZIP = 'application/gzip';

/**
 * Compress an attachment with gzip before it is signed and encrypted (AS4 Profile §3.1: compress, then sign,
 * then encrypt). The result is re-readable: each `open()` gzips the source again, and zlib with the same input
 * and settings produces the same octets, so the digest taken at signing time matches what is sent.
 * Returns the PartProperties the PartInfo must carry (`MimeType` REQUIRED, `CompressionType`, and `CharacterSet`
 * RECOMMENDED when known; eDelivery AS4 1.15 §2.2.3.3).
 *
 * @example
 * const { attachment, partProperties } = compressAttachment(payload, { mimeType: 'application/xml', characterSet: 'utf-8' });
 */
export function compressAttachment(
  source: As4Attachment,
  options: { mimeType: string; characterSet?: string; level?: number },
): { attachment: As4Attachment; partProperties: Property[] } {
  const level = options.level ?? 6;
  const attachment: As4Attachment = {
    contentId: source.contentId,
    // The compressed part is opaque octets; its real type travels in the MimeType part property.
    headers: { ...source.headers, 'content-type': 'application/octet-stream' },
    open: () => {
      const out = createGzip({ level });
      const input = source.open();
      input.on('error', (err) => out.destroy(err));
      return input.pipe(out);
    },
  };
  const partProperties: Property[] = [{ name: 'MimeType', value: options.mimeType }];
  if (options.characterSet) partProperties.push({ name: 'CharacterSet', value: options.characterSet });
  partProperties.push({ name: 'CompressionType', value: GZIP });
  return { attachment, partProperties };
}

/**
 * Check the compression-related part properties of a received PartInfo (AS4 Profile §3.1):
 * an unknown `CompressionType` → EBMS:0303 DecompressionFailure (the part cannot be decompressed);
 * `CompressionType` without `MimeType` → EBMS:0009 InvalidHeader.
 *
 * @example
 * const compressed = checkCompressionProperties(partInfo); // true when the part is gzip
 */
export function checkCompressionProperties(part: PartInfo): boolean {
  const type = propertyValue(part.partProperties, 'CompressionType');
  if (type === undefined) return false;
  if (type.trim().toLowerCase() !== GZIP) {
    throw new EhmiError(
      'EHMI_AS4_DECOMPRESSION_FAILURE',
      `CompressionType ${type} is not supported (only ${GZIP})`,
      {
        details: { href: part.href, compressionType: type },
      },
    );
  }
  if (propertyValue(part.partProperties, 'MimeType') === undefined) {
    throw new EhmiError(
      'EHMI_AS4_INVALID_HEADER',
      `PartInfo ${part.href ?? ''} is compressed but has no MimeType`,
      {
        details: { href: part.href },
      },
    );
  }
  return true;
}

/**
 * Decompress a received attachment into the sink (AS4 Profile §3.1; eDelivery AS4 1.15 §2.2.3.3). A corrupt gzip
 * stream, or output beyond `maxDecompressedBytes`, → EBMS:0303 DecompressionFailure. An attachment whose PartInfo
 * has no CompressionType is returned as it is (receivers MUST accept uncompressed parts). The decompressed
 * attachment's `content-type` is the `MimeType` part property (with `CharacterSet` as charset).
 *
 * @example
 * const plain = await decompressAttachment(att, partInfo, { sink, maxDecompressedBytes: 100 * 1024 * 1024 });
 */
export async function decompressAttachment(
  attachment: As4Attachment,
  part: PartInfo,
  options: { sink: AttachmentSink; maxDecompressedBytes?: number; index?: number },
): Promise<As4Attachment> {
  if (!checkCompressionProperties(part)) return attachment;
  const max = options.maxDecompressedBytes ?? DEFAULT_AS4_LIMITS.maxDecompressedBytes;
  const mimeType = propertyValue(part.partProperties, 'MimeType')!;
  const charset = propertyValue(part.partProperties, 'CharacterSet');
  const headers = {
    ...attachment.headers,
    'content-type': charset ? `${mimeType}; charset=${charset}` : mimeType,
  };
  const target = options.sink.create({ contentId: attachment.contentId, headers, index: options.index ?? 0 });
  const counter = new SizeCap(max, attachment.contentId);
  try {
    await pipeline(attachment.open(), createGunzip(), counter, target.writable);
  } catch (err) {
    if (err instanceof EhmiError) throw err;
    if (!isZlibError(err)) {
      // Reading the stored part or writing to the sink failed: our problem, not the sender's data.
      throw new EhmiError('EHMI_INTERNAL', `decompressing attachment ${attachment.contentId} failed`, {
        cause: err,
      });
    }
    throw new EhmiError(
      'EHMI_AS4_DECOMPRESSION_FAILURE',
      `attachment ${attachment.contentId} is not valid gzip data`,
      {
        cause: err,
        details: { contentId: attachment.contentId },
      },
    );
  }
  return { contentId: attachment.contentId, headers, open: () => target.open(), size: counter.size };
}

/** Counts the octets passing through and fails with EBMS:0303 beyond `max` (decompression-bomb bound). */
class SizeCap extends Transform {
  size = 0;
  constructor(
    private readonly max: number,
    private readonly contentId: string,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.max) {
      cb(
        new EhmiError(
          'EHMI_AS4_DECOMPRESSION_FAILURE',
          `attachment ${this.contentId} decompresses to more than ${this.max} octets`,
          { details: { limit: 'maxDecompressedBytes', max: this.max, contentId: this.contentId } },
        ),
      );
      return;
    }
    cb(null, chunk);
  }
}

/** zlib reports bad or truncated data with `Z_*` error codes (Z_DATA_ERROR; Z_BUF_ERROR for a truncated stream). */
function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('Z_') || code.startsWith('ERR_ZLIB'));
}
