import { once } from 'node:events';
import { Readable, Transform, type TransformCallback, type Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { createGunzip, gunzipSync } from 'node:zlib';
import { EhmiError } from '@ehmi/errors';
import type { ByteLease } from '../budget.ts';
import { type As4Limits, DEFAULT_AS4_LIMITS } from '../limits.ts';
import { formatMediaType, parseMediaType } from '../mime/content-type.ts';
import { type AttachmentSink, storageFailure } from '../mime/sink.ts';
import type { As4Attachment } from '../model/attachment.ts';
import { type PartInfo, type Property, propertyValue } from '../model/user-message.ts';
import { segmentedGzip } from './segmented-gzip.ts';

/** AS4 Profile §3.1 / eDelivery AS4 1.15 §2.2.3.3: the only compression type. */
export const GZIP = 'application/gzip';

/**
 * Output octets per chunk of the receiver's gunzip (zlib's default is 16 KB): each chunk then passes the size cap, the
 * payload sink's hash and its file write; 64 KB chunks make a quarter as many passes per MB of a large payload.
 */
const GUNZIP_CHUNK_BYTES = 64 * 1024;
/**
 * A compressed part up to this many octets (a whole MedCom message, an EnvelopeReceipt, a receipt) is held as it is
 * read and gunzipped in one synchronous call: a gunzip stream's setup, its callbacks and the pipeline through the size
 * cap cost several times the inflate itself at this size (DESIGN-NOTES 2026-12-07, "A small part's gzip in one
 * synchronous call"). A larger part goes through the stream as it is read.
 */
const ONE_CALL_COMPRESSED_BYTES = 64 * 1024;
/**
 * The most octets one call may give (the event loop waits for it, and the output is whole in memory); a held part
 * that the bounds would let decompress to more goes through the stream after all.
 */
const ONE_CALL_PLAIN_BYTES = 1024 * 1024;

/**
 * A compressed part of at most this many octets (a whole MedCom message, an EnvelopeReceipt) is kept in memory once
 * it has been gzipped, and later reads give the kept octets; a larger part is gzipped again on each read, as it
 * streams (DESIGN-NOTES 2026-12-08, "A small part gzipped once per message").
 */
const KEPT_COMPRESSED_BYTES = 64 * 1024;

/** RFC 2978 §2.3 `mime-charset`: the characters a charset name may use (no spaces, `;`, quotes or controls). */
const CHARSET_NAME = /^[A-Za-z0-9!#$%&'+\-^_`{}~]+$/;

/**
 * The part properties that describe a payload (ebMS3 Core §5.2.2.13 PartProperties; eDelivery AS4 1.15 §2.2.3.3:
 * `MimeType` REQUIRED, `CharacterSet` RECOMMENDED, `CompressionType` when compressed), in phase4's order and
 * spelling (`MessageHelperMethods.createEbms3PartInfo`: MimeType, CharacterSet, CompressionType). The character set
 * is `characterSet` when given, else the `charset` parameter of `mimeType`; that parameter moves out of the
 * MimeType value into its own property, so MimeType is the bare media type (as phase4's compressed vectors show).
 * A binary type without a charset gets no CharacterSet.
 *
 * @example
 * payloadPartProperties('application/xml; charset=UTF-8', { compressed: true });
 * // [MimeType application/xml, CharacterSet UTF-8, CompressionType application/gzip]
 */
export function payloadPartProperties(
  mimeType: string,
  options: { characterSet?: string | undefined; compressed?: boolean } = {},
): Property[] {
  const media = parseMediaType(mimeType);
  const { charset, ...rest } = media.parameters;
  const characterSet = (options.characterSet ?? charset)?.trim();
  if (characterSet !== undefined && characterSet !== '' && !CHARSET_NAME.test(characterSet)) {
    throw new EhmiError('EHMI_USAGE', `${JSON.stringify(characterSet)} is not a character set name`);
  }
  const value = charset === undefined ? mimeType.trim() : formatMediaType(media.type, rest);
  const properties: Property[] = [{ name: 'MimeType', value }];
  if (characterSet) properties.push({ name: 'CharacterSet', value: characterSet });
  if (options.compressed) properties.push({ name: 'CompressionType', value: GZIP });
  return properties;
}

/**
 * The `CharacterSet` part property of a received PartInfo (eDelivery AS4 1.15 §2.2.3.3: RECOMMENDED, so its absence
 * is no error): undefined when absent or empty. A value that is not a charset name at all (RFC 2978 §2.3: spaces,
 * `;`, quotes, control characters) → EBMS:0003 ValueInconsistent, as phase4 answers a CharacterSet it cannot use.
 * Any well-formed name is accepted: the payload is delivered as octets, never transcoded.
 *
 * @example
 * partCharacterSet(partInfo); // 'UTF-8', or undefined
 */
export function partCharacterSet(part: PartInfo): string | undefined {
  const value = propertyValue(part.partProperties, 'CharacterSet')?.trim();
  if (value === undefined || value === '') return undefined;
  if (!CHARSET_NAME.test(value)) {
    throw new EhmiError(
      'EHMI_AS4_VALUE_INCONSISTENT',
      `PartInfo ${part.href ?? ''} has CharacterSet ${JSON.stringify(value)}, which is not a character set name`,
      { details: { href: part.href, characterSet: value } },
    );
  }
  return value;
}

/**
 * Compress an attachment with gzip before it is signed and encrypted (AS4 Profile §3.1: compress, then sign,
 * then encrypt). The gzip stream is written in segments, each stored, Huffman-coded or deflated at `level` after
 * a look at its start ({@link segmentedGzip}): incompressible octets (a PDF, an image, encrypted data) cost a copy,
 * not a deflate pass that gains nothing. The result is re-readable: each `open()` gzips the source again, and the
 * same input gives the same octets, so the digest taken at signing time matches what is sent; a part that gzips to
 * at most 64 KiB is gzipped once, by the first read to its end, and its octets are kept for the later reads.
 * The compressed part's Content-Type is `application/gzip`, the type phase4 gives it (`WSS4JAttachment` takes the
 * compression mode's MIME type): the signature digests it as octets (SwA Profile 1.1 §5.4.2 canonicalises only XML
 * and text types), and the encryptor writes it as `xenc:EncryptedData/@MimeType`, the type before encryption.
 * Returns the PartProperties the PartInfo must carry ({@link payloadPartProperties}: `MimeType`, `CharacterSet` when
 * known, `CompressionType`; eDelivery AS4 1.15 §2.2.3.3). The character set is `characterSet`, else the `charset`
 * parameter of `mimeType`, else that of the source's Content-Type.
 *
 * @example
 * const { attachment, partProperties } = compressAttachment(payload, { mimeType: 'application/xml', characterSet: 'UTF-8' });
 */
export function compressAttachment(
  source: As4Attachment,
  options: { mimeType: string; characterSet?: string; level?: number },
): { attachment: As4Attachment; partProperties: Property[] } {
  const level = options.level ?? 6;
  const sourceType = source.headers['content-type'];
  const characterSet =
    options.characterSet ??
    parseMediaType(options.mimeType).parameters.charset ??
    (sourceType ? parseMediaType(sourceType).parameters.charset : undefined);
  const partProperties = payloadPartProperties(options.mimeType, { characterSet, compressed: true });
  const attachment: As4Attachment = {
    contentId: source.contentId,
    // The compressed part is gzip data; its type before compression travels in the MimeType part property.
    headers: { ...source.headers, 'content-type': GZIP },
    // A copy for each later read: a reader that changed its chunk in place would otherwise change every later read's.
    open: () => Readable.from(kept ? [Buffer.from(kept)] : keepSmall(segmentedGzip(source.open(), level))),
  };
  // The first read that gzips the whole part into at most KEPT_COMPRESSED_BYTES keeps the octets: signing digests
  // the part and every attempt sends it, and each would otherwise gzip it again (the same octets, so the same digest).
  let kept: Buffer | undefined;
  async function* keepSmall(gz: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let chunks: Buffer[] | undefined = [];
    let size = 0;
    for await (const chunk of gz) {
      if (chunks) {
        size += chunk.length;
        if (size <= KEPT_COMPRESSED_BYTES) chunks.push(chunk);
        else chunks = undefined;
      }
      yield chunk;
    }
    if (chunks) kept ??= Buffer.concat(chunks, size);
  }
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

/** Options of {@link decompressAttachment}. */
export interface DecompressOptions
  extends Partial<
    Pick<As4Limits, 'maxDecompressedBytes' | 'maxDecompressionRatio' | 'decompressionRatioFreeBytes'>
  > {
  sink: AttachmentSink;
  index?: number;
  /**
   * The message's share of the receiver's pool of decompressed octets (`ByteBudget`): a pool that cannot give the
   * next chunk refuses the message with EHMI_UNAVAILABLE (retryable), not EBMS:0303.
   */
  lease?: ByteLease;
  /**
   * Given every octet of the part as it is read (before decompression), also of an uncompressed part: a digest
   * taken in the same pass (`streamedAttachmentDigests`).
   */
  observe?: (chunk: Buffer) => void;
  /**
   * Write an uncompressed part into the sink as well, instead of passing it through: for a body that is not a file
   * of its own yet (decrypted as it is read).
   */
  copy?: boolean;
  /** Called when the part has been read to its end without a failure of its own, also when decompressing fails. */
  onReadWhole?: () => void;
  /**
   * A compressed part up to this many octets is gunzipped in one synchronous call rather than streamed (default
   * 64 KiB); 0 streams every part. The bounds and their errors are the same either way.
   */
  oneCallBytes?: number;
}

/**
 * Decompress a received attachment into the sink (AS4 Profile §3.1; eDelivery AS4 1.15 §2.2.3.3). A corrupt gzip
 * stream, output beyond `maxDecompressedBytes`, or output past `decompressionRatioFreeBytes` that is more than
 * `maxDecompressionRatio` times the compressed size → EBMS:0303 DecompressionFailure. Each chunk is checked before
 * it is written, so a bomb is stopped at its bound, not written out. An attachment whose PartInfo
 * has no CompressionType is not decompressed (receivers MUST accept uncompressed parts). The decompressed
 * attachment's `content-type` is the `MimeType` part property; a `CharacterSet` part property
 * ({@link partCharacterSet}; optional) becomes its `charset` parameter, on an uncompressed part too when its
 * Content-Type names none. A part without CharacterSet keeps the type it has. Reading the part or writing the sink
 * failing is the receiver's storage (EHMI_STORE_UNAVAILABLE, retryable), never the sender's data.
 *
 * @example
 * const plain = await decompressAttachment(att, partInfo, { sink, maxDecompressedBytes: 100 * 1024 * 1024 });
 * plain.headers['content-type']; // 'application/xml; charset=UTF-8'
 */
export async function decompressAttachment(
  attachment: As4Attachment,
  part: PartInfo,
  options: DecompressOptions,
): Promise<As4Attachment> {
  const compressed = checkCompressionProperties(part);
  const charset = partCharacterSet(part);
  let headers = attachment.headers;
  if (!compressed) {
    const type = attachment.headers['content-type'];
    if (charset && type && parseMediaType(type).parameters.charset === undefined)
      headers = { ...attachment.headers, 'content-type': `${type}; charset=${charset}` };
    if (!options.copy) {
      if (options.observe) await readThrough(attachment, () => [], undefined, options);
      return headers === attachment.headers ? attachment : { ...attachment, headers };
    }
  } else {
    const mimeType = propertyValue(part.partProperties, 'MimeType')!.trim();
    const withCharset = charset && parseMediaType(mimeType).parameters.charset === undefined;
    headers = {
      ...attachment.headers,
      'content-type': withCharset ? `${mimeType}; charset=${charset}` : mimeType,
    };
  }
  const target = options.sink.create({ contentId: attachment.contentId, headers, index: options.index ?? 0 });
  let read = 0;
  const counter = compressed
    ? new SizeCap(
        {
          max: options.maxDecompressedBytes ?? DEFAULT_AS4_LIMITS.maxDecompressedBytes,
          ratio: options.maxDecompressionRatio ?? DEFAULT_AS4_LIMITS.maxDecompressionRatio,
          free: options.decompressionRatioFreeBytes ?? DEFAULT_AS4_LIMITS.decompressionRatioFreeBytes,
          // The compressed size: the part's, when known, else what has been read of it so far.
          compressed: () => Math.max(attachment.size ?? 0, read),
          ...(options.lease ? { lease: options.lease } : {}),
        },
        attachment.contentId,
      )
    : undefined;
  const stages = (): Transform[] =>
    counter ? [createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES }), counter] : [];
  try {
    const held = await readThrough(attachment, stages, target.writable, {
      ...options,
      holdBytes: counter ? (options.oneCallBytes ?? ONE_CALL_COMPRESSED_BYTES) : 0,
      onChunk: (n) => {
        read += n;
      },
    });
    if (held && counter) await gunzipHeld(held, counter, stages, target.writable);
  } catch (err) {
    if (err instanceof EhmiError) throw err;
    if (!isZlibError(err)) {
      // Reading the stored part or writing to the sink failed: our storage, not the sender's data.
      throw storageFailure(
        target.writable.errored ?? err,
        `${compressed ? 'decompressing' : 'storing'} attachment ${attachment.contentId}`,
      );
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
  return {
    contentId: attachment.contentId,
    headers,
    open: () => target.open(),
    size: counter ? counter.size : read,
  };
}

/**
 * Reads the part once, giving each chunk to `observe` and writing it through `stages` into `out` (when given).
 * The part is read to its end even after the stages or `out` failed, so that `observe` sees every octet and a part
 * that fails only at its end (decrypted as it is read: the AES-GCM tag) reports that failure, which comes first;
 * then `onReadWhole` is called and the stages' failure is thrown. With `holdBytes`, the chunks are held instead while
 * they add up to no more than that, and returned when the part ends within it (nothing written); the stages are
 * made only when the part outgrows it.
 */
async function readThrough(
  attachment: As4Attachment,
  stages: () => Transform[],
  out: Writable | undefined,
  options: Pick<DecompressOptions, 'observe' | 'onReadWhole'> & {
    onChunk?: (octets: number) => void;
    holdBytes?: number;
  },
): Promise<Buffer[] | undefined> {
  let failure: unknown;
  let failed = false;
  const start = (): { head: Writable | undefined; settled: Promise<void> | undefined } => {
    const made = stages();
    return {
      head: made[0] ?? out,
      settled: out
        ? (made.length > 0 ? pipeline([...made, out]) : finished(out)).then(
            () => {},
            (err) => {
              failed = true;
              failure = err;
            },
          )
        : undefined,
    };
  };
  const holdBytes = options.holdBytes ?? 0;
  let held: Buffer[] | undefined = holdBytes > 0 ? [] : undefined;
  let heldBytes = 0;
  let { head, settled } = held ? { head: undefined, settled: undefined } : start();
  try {
    for await (const chunk of attachment.open()) {
      const buf = chunk as Buffer;
      options.onChunk?.(buf.length);
      options.observe?.(buf);
      let chunks = [buf];
      if (held) {
        held.push(buf);
        heldBytes += buf.length;
        if (heldBytes <= holdBytes) continue;
        // Too large to hold: the stream from here on, beginning with what was held.
        ({ head, settled } = start());
        chunks = held;
        held = undefined;
      }
      let ready = true;
      for (const c of chunks) if (head && !failed && !head.destroyed) ready = head.write(c);
      if (head && !ready) await Promise.race([once(head, 'drain').catch(() => {}), settled]);
    }
  } catch (err) {
    // Held chunks have no stages yet: `out` is given up on directly.
    (head ?? out)?.destroy();
    await settled;
    // The part itself could not be read: its own failure (EBMS:0102 from a decryption as read), or our storage.
    throw err instanceof EhmiError ? err : storageFailure(err, `reading attachment ${attachment.contentId}`);
  }
  options.onReadWhole?.();
  if (held) return held;
  if (head && !failed) head.end();
  await settled;
  if (failed) throw failure;
  return undefined;
}

/**
 * Gunzips a part read whole ({@link readThrough}'s held chunks) in one call bounded by what `cap` allows, and writes
 * the result into `out`. zlib judges the octets as the gunzip stream does (concatenated members, trailing octets, a
 * truncated or corrupt stream: the same verdicts and errors), and `cap` applies the same bounds with the same errors.
 * A part the bounds would let grow past {@link ONE_CALL_PLAIN_BYTES} goes through `stages` after all.
 */
async function gunzipHeld(
  held: Buffer[],
  cap: SizeCap,
  stages: () => Transform[],
  out: Writable,
): Promise<void> {
  const allowed = cap.allowance();
  let plain: Buffer;
  try {
    plain = gunzipSync(held.length === 1 ? held[0]! : Buffer.concat(held), {
      maxOutputLength: Math.min(allowed, ONE_CALL_PLAIN_BYTES) + 1,
    });
  } catch (err) {
    const tooLarge = (err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE';
    if (tooLarge && allowed > ONE_CALL_PLAIN_BYTES) {
      await pipeline([Readable.from(held), ...stages(), out]);
      return;
    }
    out.destroy();
    // Beyond a bound: the error the size cap gives for one octet past it.
    throw tooLarge ? cap.admit(allowed + 1) : err;
  }
  const refused = cap.admit(plain.length);
  if (refused) {
    out.destroy();
    throw refused;
  }
  out.end(plain);
  await finished(out);
}

interface SizeBounds {
  max: number;
  ratio: number;
  free: number;
  compressed: () => number;
  lease?: ByteLease;
}

/**
 * Counts the octets passing through and fails with EBMS:0303 beyond the absolute bound or the ratio bound
 * (decompression-bomb bounds), and with EHMI_UNAVAILABLE when the receiver's pool cannot take them.
 */
class SizeCap extends Transform {
  size = 0;
  constructor(
    private readonly bounds: SizeBounds,
    private readonly contentId: string,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const refused = this.admit(chunk.length);
    if (refused) cb(refused);
    else cb(null, chunk);
  }
  /** Counts `octets` more and takes them from the lease, or gives the error that refuses them (nothing counted). */
  admit(octets: number): Error | undefined {
    const { max, ratio, free, compressed, lease } = this.bounds;
    const size = this.size + octets;
    const bomb = (limit: string, message: string) =>
      new EhmiError('EHMI_AS4_DECOMPRESSION_FAILURE', message, {
        details: { limit, max, ratio, contentId: this.contentId },
      });
    if (size > max) {
      return bomb(
        'maxDecompressedBytes',
        `attachment ${this.contentId} decompresses to more than ${max} octets`,
      );
    }
    if (size > free && size > ratio * compressed()) {
      return bomb(
        'maxDecompressionRatio',
        `attachment ${this.contentId} decompresses to more than ${ratio} times its compressed size of ${compressed()} octets`,
      );
    }
    try {
      lease?.take(octets);
    } catch (err) {
      return err as Error;
    }
    this.size = size;
    return undefined;
  }
  /** The most octets {@link admit} would let through now by the bounds (the lease aside). */
  allowance(): number {
    const { max, ratio, free, compressed } = this.bounds;
    return Math.max(0, Math.min(max, Math.max(free, Math.floor(ratio * compressed()))) - this.size);
  }
}

/** zlib reports bad or truncated data with `Z_*` error codes (Z_DATA_ERROR; Z_BUF_ERROR for a truncated stream). */
function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('Z_') || code.startsWith('ERR_ZLIB'));
}
