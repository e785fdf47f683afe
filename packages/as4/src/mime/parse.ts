import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { EhmiError } from '@ehmi/errors';
import * as Multipasta from 'multipasta';
import type { ByteLease } from '../budget.ts';
import { type As4Limits, resolveLimits } from '../limits.ts';
import type { As4Attachment } from '../model/attachment.ts';
import { parseMediaType, stripAngles } from './content-type.ts';
import { type AttachmentSink, type SinkTarget, storageFailure, tempFileSink } from './sink.ts';

/** The raw result of reading a SOAP-with-Attachments message: the root part's bytes and the attachments. */
export interface MimeMessage {
  /** The SOAP envelope (root part) bytes. */
  envelope: Buffer;
  /** Headers of the root part (lower-case names); for a single-part message, just `content-type`. */
  envelopeHeaders: Record<string, string>;
  /** Attachment parts in document order; bodies live in the sink. */
  attachments: As4Attachment[];
}

export interface ReadMimeOptions {
  /** The HTTP `Content-Type` of the body (`multipart/related; …` or `application/soap+xml`). */
  contentType: string;
  limits?: Partial<As4Limits>;
  /** Where attachment bodies go; default: temporary files ({@link tempFileSink}). */
  sink?: AttachmentSink;
  /**
   * The message's share of the receiver's pool for envelopes held in memory (`ByteBudget`): every octet of the SOAP
   * root part is taken from it, so many connections that each send most of `maxEnvelopeBytes` and stop hold at most
   * the pool between them. The caller releases it when the message is done.
   */
  envelopeLease?: ByteLease;
  /**
   * Called once, while the body still streams, when the root part is whole and an attachment has `afterBytes` octets
   * in the sink: with the envelope and the attachments begun so far (each still growing; their `open()` follows the
   * part as it arrives when the sink allows it). The caller may start on the message then; what it finds holds only
   * if the read succeeds with no more attachments than it was given.
   */
  early?: { afterBytes: number; start(message: MimeMessage): void };
}

/**
 * Read an AS4 message body as a stream (SOAP 1.2 with Attachments: RFC 2387 `multipart/related`, AS4 Profile
 * §2.1.1; eDelivery AS4 1.15 §2.2.3.1 puts payloads in MIME parts only). The envelope is held in memory up to
 * `maxEnvelopeBytes`; every attachment streams into the sink with back-pressure, so memory stays bounded.
 *
 * Errors: a limit exceeded → EHMI_TOO_LARGE (EBMS:0004); a broken MIME structure, a part without Content-ID,
 * a duplicate Content-ID or an unknown transfer encoding → EBMS:0007 MimeInconsistency.
 *
 * @example
 * const mime = await readMimeMessage(request, { contentType: request.headers['content-type']! });
 * const env = parseEnvelope(mime.envelope);
 */
export async function readMimeMessage(
  body: AsyncIterable<Uint8Array>,
  options: ReadMimeOptions,
): Promise<MimeMessage> {
  const limits = resolveLimits(options.limits);
  const media = parseMediaType(options.contentType);
  if (media.type === 'application/soap+xml' || media.type === 'text/xml') {
    const envelope = await readCapped(
      body,
      Math.min(limits.maxEnvelopeBytes, limits.maxTotalBytes),
      options.envelopeLease,
    );
    return { envelope, envelopeHeaders: { 'content-type': options.contentType }, attachments: [] };
  }
  if (media.type !== 'multipart/related') {
    throw new EhmiError(
      'EHMI_AS4_MIME_INCONSISTENCY',
      `Content-Type ${media.type} is not multipart/related or application/soap+xml`,
      { details: { contentType: options.contentType } },
    );
  }
  const boundary = media.parameters.boundary;
  if (!boundary || boundary.length > 70) {
    // RFC 2046 §5.1.1: 1–70 characters.
    throw new EhmiError(
      'EHMI_AS4_MIME_INCONSISTENCY',
      'multipart/related without a valid boundary parameter',
    );
  }
  const start = media.parameters.start === undefined ? undefined : stripAngles(media.parameters.start);
  const sink = options.sink ?? tempFileSink();
  return readMultipart(body, boundary, start, limits, sink, options.envelopeLease, options.early);
}

interface PartState {
  headers: Record<string, string>;
  contentId: string | undefined;
  root: boolean;
  /** The root part's octets (root only). */
  held?: Held;
  size: number;
  target?: SinkTarget;
  decoder?: Base64Decoder;
}

const CRLF = new Uint8Array([13, 10]);

async function readMultipart(
  body: AsyncIterable<Uint8Array>,
  boundary: string,
  start: string | undefined,
  limits: As4Limits,
  sink: AttachmentSink,
  envelopeLease: ByteLease | undefined,
  early: ReadMimeOptions['early'],
): Promise<MimeMessage> {
  let earlyStarted = early === undefined;
  let failure: EhmiError | undefined;
  let done = false;
  let rootSeen = false;
  let envelope: Buffer | undefined;
  let envelopeHeaders: Record<string, string> = {};
  const attachments: As4Attachment[] = [];
  const finishing: Promise<void>[] = [];
  const targets: SinkTarget[] = [];
  const contentIds = new Set<string>();
  let drain: Promise<unknown> | undefined;
  let partCount = 0;

  const fail = (err: EhmiError): void => {
    failure ??= err;
  };

  const parser = Multipasta.make({
    headers: { 'content-type': `multipart/related; boundary="${boundary}"` },
    isFile: () => true,
    maxParts: limits.maxParts,
    // + 2: the CRLF supplied before the body (unfoldPartHeaders) is ours, not the sender's.
    maxTotalSize: limits.maxTotalBytes + CRLF.length,
    onField: () => {},
    onDone: () => {
      done = true;
    },
    onError: (error) => fail(multipartError(error, limits)),
    onFile: (info) => {
      partCount++;
      if (failure) return () => {};
      const headers = flattenHeaders(info.headers);
      const headerBytes = Object.entries(headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 2);
      if (headerBytes > limits.maxPartHeaderBytes) {
        fail(
          new EhmiError(
            'EHMI_TOO_LARGE',
            `MIME part ${partCount} has ${headerBytes} octets of headers; the limit is ${limits.maxPartHeaderBytes}`,
            { details: { limit: 'maxPartHeaderBytes', headerBytes, max: limits.maxPartHeaderBytes } },
          ),
        );
        return () => {};
      }
      const contentId = headers['content-id'] === undefined ? undefined : stripAngles(headers['content-id']);
      // RFC 2387 §3.2: the root is the part named by `start`, else the first part.
      const root = !rootSeen && (start === undefined || contentId === start);
      const state: PartState = { headers, contentId, root, size: 0 };
      const cte = (headers['content-transfer-encoding'] ?? 'binary').trim().toLowerCase();
      if (!['binary', '8bit', '7bit', 'base64'].includes(cte)) {
        fail(
          new EhmiError('EHMI_AS4_MIME_INCONSISTENCY', `Content-Transfer-Encoding ${cte} is not supported`),
        );
        return () => {};
      }
      if (cte === 'base64') state.decoder = new Base64Decoder();
      if (root) {
        rootSeen = true;
        envelopeHeaders = headers;
      } else {
        if (contentId === undefined || contentId === '') {
          // SwA / ebMS3 Core §5.2.2.13: attachments are referenced by cid:, so each needs a Content-ID.
          fail(new EhmiError('EHMI_AS4_MIME_INCONSISTENCY', `MIME part ${partCount} has no Content-ID`));
          return () => {};
        }
        if (contentIds.has(contentId)) {
          fail(new EhmiError('EHMI_AS4_MIME_INCONSISTENCY', `Content-ID <${contentId}> occurs twice`));
          return () => {};
        }
        contentIds.add(contentId);
        try {
          state.target = sink.create({ contentId, headers, index: attachments.length + 1 });
        } catch (err) {
          fail(storageFailure(err, 'storing an attachment'));
          return () => {};
        }
        targets.push(state.target);
        const target = state.target;
        const attachment: As4Attachment = { contentId, headers, open: () => target.open(), size: 0 };
        attachments.push(attachment);
        finishing.push(
          finished(target.writable).catch((err: unknown) => {
            // A write that failed is the receiver's storage, never the message: the error of the sink, if it
            // gave one, else a storage failure (the sender retries).
            const sinkError = target.writable.errored;
            fail(storageFailure(sinkError ?? err, 'writing an attachment'));
          }),
        );
        return (chunk) => onChunk(state, chunk, attachment);
      }
      return (chunk) => onChunk(state, chunk, undefined);
    },
  });

  const onChunk = (state: PartState, raw: Uint8Array | null, attachment: As4Attachment | undefined): void => {
    if (failure) return;
    if (raw === null) {
      const tail = state.decoder?.end();
      if (state.decoder && tail === undefined) {
        fail(new EhmiError('EHMI_AS4_MIME_INCONSISTENCY', 'a base64 MIME part is not valid base64'));
        return;
      }
      if (tail && tail.length > 0) write(state, tail, attachment);
      if (state.root) envelope = state.held?.concat() ?? Buffer.alloc(0);
      else state.target?.writable.end();
      return;
    }
    const chunk = state.decoder
      ? state.decoder.write(raw)
      : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    if (chunk === undefined) {
      fail(new EhmiError('EHMI_AS4_MIME_INCONSISTENCY', 'a base64 MIME part is not valid base64'));
      return;
    }
    if (chunk.length > 0) write(state, chunk, attachment);
  };

  const write = (state: PartState, chunk: Buffer, attachment: As4Attachment | undefined): void => {
    state.size += chunk.length;
    if (state.root) {
      if (state.size > limits.maxEnvelopeBytes) {
        fail(
          new EhmiError('EHMI_TOO_LARGE', `the SOAP envelope exceeds ${limits.maxEnvelopeBytes} octets`, {
            details: { limit: 'maxEnvelopeBytes', max: limits.maxEnvelopeBytes },
          }),
        );
        return;
      }
      try {
        state.held ??= new Held(envelopeLease);
        state.held.append(chunk);
      } catch (err) {
        fail(err as EhmiError);
      }
      return;
    }
    if (attachment) attachment.size = state.size;
    if (!state.target!.writable.write(chunk)) drain ??= drained(state.target!.writable);
    if (!earlyStarted && envelope !== undefined && state.size >= early!.afterBytes) {
      earlyStarted = true;
      early!.start({ envelope, envelopeHeaders, attachments: [...attachments] });
    }
  };

  try {
    for await (const chunk of unfoldPartHeaders(body, boundary)) {
      if (failure) break;
      parser.write(chunk instanceof Uint8Array ? chunk : Buffer.from(chunk as string));
      if (drain) {
        try {
          await drain;
        } catch (err) {
          fail(storageFailure(err, 'writing an attachment'));
        }
        drain = undefined;
      }
    }
    if (!failure) parser.end();
    if (!failure && !done)
      fail(new EhmiError('EHMI_AS4_MIME_INCONSISTENCY', 'the multipart body has no closing boundary'));
    if (!failure && envelope === undefined) {
      fail(
        new EhmiError(
          'EHMI_AS4_MIME_INCONSISTENCY',
          start === undefined
            ? 'the multipart body has no parts'
            : `no MIME part has the start Content-ID <${start}>`,
        ),
      );
    }
    if (!failure) await Promise.all(finishing);
  } catch (err) {
    fail(
      err instanceof EhmiError
        ? err
        : new EhmiError('EHMI_AS4_CONNECTION_FAILURE', 'reading the body failed', { cause: err }),
    );
  }
  if (failure) {
    for (const t of targets) t.writable.destroy();
    await sink.dispose().catch(() => {});
    throw failure;
  }
  return { envelope: envelope!, envelopeHeaders, attachments };
}

const CR = 13;
const LF = 10;

/**
 * The body as multipasta needs it. RFC 2046 §5.1.1: the boundary delimiter is CRLF "--" boundary; a body that
 * starts directly with the first delimiter has no CRLF before it, so one is supplied (an empty preamble).
 * RFC 2045 §3 / RFC 5322 §2.2.3: a part header may be folded (CRLF followed by a space or tab); multipasta refuses
 * such a line, so within each part's header block a CRLF before whitespace is dropped (unfolding). Bodies pass
 * through unchanged, found with `indexOf`; only header bytes are looked at one by one.
 */
async function* unfoldPartHeaders(
  body: AsyncIterable<Uint8Array>,
  boundary: string,
): AsyncGenerator<Uint8Array> {
  const delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  let mode: 'body' | 'delimiter-line' | 'headers' = 'body';
  let lineStart = true; // in 'headers': at the start of a header line
  let carry: Buffer = Buffer.from(CRLF);
  for await (const input of body) {
    const view = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    let buf: Buffer = carry.length > 0 ? Buffer.concat([carry, view]) : view;
    carry = Buffer.alloc(0);
    const out: Buffer[] = [];
    while (buf.length > 0) {
      if (mode === 'body') {
        const at = buf.indexOf(delimiter);
        if (at < 0) {
          // Keep what could be the start of a delimiter split across reads (usually nothing: no copy).
          const keep = partialDelimiter(buf, delimiter);
          out.push(buf.subarray(0, buf.length - keep));
          carry = buf.subarray(buf.length - keep);
          break;
        }
        out.push(buf.subarray(0, at + delimiter.length));
        buf = buf.subarray(at + delimiter.length);
        mode = 'delimiter-line';
      } else if (mode === 'delimiter-line') {
        // "--" of the close delimiter, transport padding, up to the line end.
        const at = buf.indexOf(LF);
        if (at < 0) {
          out.push(buf);
          break;
        }
        out.push(buf.subarray(0, at + 1));
        buf = buf.subarray(at + 1);
        mode = 'headers';
        lineStart = true;
      } else {
        let i = 0;
        let from = 0;
        let done = false;
        while (i < buf.length) {
          if (buf[i] !== CR) {
            lineStart = false;
            i++;
            continue;
          }
          if (i + 2 >= buf.length && !(i + 1 < buf.length && buf[i + 1] !== LF)) break; // need the next bytes
          if (buf[i + 1] !== LF) {
            lineStart = false;
            i++;
            continue;
          }
          if (lineStart) {
            // The empty line: the header block ends, the part body begins.
            i += 2;
            done = true;
            break;
          }
          const next = buf[i + 2];
          if (next === 0x20 || next === 0x09) {
            out.push(buf.subarray(from, i)); // a folded line: drop the CRLF, keep the whitespace
            i += 2;
            from = i;
          } else {
            i += 2;
            lineStart = true;
          }
        }
        out.push(buf.subarray(from, i));
        buf = buf.subarray(i);
        if (done) {
          mode = 'body';
          // The CRLF ending the header block may also begin the next delimiter (an empty body).
          const back = out.pop()!;
          out.push(back.subarray(0, back.length - 2));
          buf = Buffer.concat([CRLF, buf]);
        } else {
          carry = buf;
          break;
        }
      }
    }
    for (const b of out) if (b.length > 0) yield b;
  }
  if (carry.length > 0) yield carry;
}

/** The length of the longest tail of `buf` that is a proper prefix of `delimiter` (which starts with CR). */
function partialDelimiter(buf: Buffer, delimiter: Buffer): number {
  for (let k = Math.min(buf.length, delimiter.length - 1); k > 0; k--) {
    if (buf[buf.length - k] === CR && buf.subarray(buf.length - k).equals(delimiter.subarray(0, k))) return k;
  }
  return 0;
}

/**
 * Resolves when a Writable that refused a write can take more: 'drain', or 'finish' — a Writable that is ended
 * before its buffer empties never emits 'drain' (the last body chunk and the closing boundary arrive in one read).
 */
function drained(writable: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      writable.off('drain', ok).off('finish', ok).off('close', ok).off('error', done);
      if (err) reject(err);
      else resolve();
    };
    const ok = () => done();
    writable.once('drain', ok).once('finish', ok).once('close', ok).once('error', done);
  });
}

function flattenHeaders(headers: Record<string, string | string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function multipartError(error: Multipasta.MultipartError, limits: As4Limits): EhmiError {
  switch (error._tag) {
    case 'ReachedLimit':
      if (error.limit === 'MaxParts') {
        return new EhmiError('EHMI_TOO_LARGE', `the message has more than ${limits.maxParts} MIME parts`, {
          details: { limit: 'maxParts', max: limits.maxParts },
        });
      }
      return new EhmiError('EHMI_TOO_LARGE', `the message exceeds ${limits.maxTotalBytes} octets`, {
        details: { limit: 'maxTotalBytes', max: limits.maxTotalBytes },
      });
    case 'BadHeaders':
      if (error.error.reason === 'HeaderTooLarge' || error.error.reason === 'TooManyHeaders') {
        return new EhmiError(
          'EHMI_TOO_LARGE',
          `a MIME part header block is too large (${error.error.reason})`,
          {
            details: { limit: 'maxPartHeaderBytes', max: limits.maxPartHeaderBytes },
          },
        );
      }
      return new EhmiError(
        'EHMI_AS4_MIME_INCONSISTENCY',
        `a MIME part has a malformed header (${error.error.reason})`,
      );
    case 'EndNotReached':
      return new EhmiError('EHMI_AS4_MIME_INCONSISTENCY', 'the multipart body ends inside a part');
    default:
      return new EhmiError('EHMI_AS4_MIME_INCONSISTENCY', `the multipart body is malformed (${error._tag})`);
  }
}

async function readCapped(
  body: AsyncIterable<Uint8Array>,
  max: number,
  lease: ByteLease | undefined,
): Promise<Buffer> {
  const held = new Held(lease);
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      throw new EhmiError('EHMI_TOO_LARGE', `the SOAP envelope exceeds ${max} octets`, {
        details: { limit: 'maxEnvelopeBytes', max },
      });
    }
    held.append(chunk);
  }
  return held.concat();
}

/**
 * Octets held in memory while a part arrives, in segments of growing size (16 KiB doubling to 1 MiB) that are
 * counted against the lease as they are allocated. Copying into segments keeps what is held proportional to what
 * arrived: a client that sends its envelope a few octets at a time would otherwise pin a small buffer per read, each
 * holding on to a slab of Node's buffer pool.
 */
class Held {
  readonly #segments: Buffer[] = [];
  #last: Buffer | undefined;
  #used = 0;
  readonly #lease: ByteLease | undefined;
  constructor(lease: ByteLease | undefined) {
    this.#lease = lease;
  }
  append(chunk: Uint8Array): void {
    let from = 0;
    while (from < chunk.length) {
      if (!this.#last || this.#used === this.#last.length) {
        const size = this.#last ? Math.min(this.#last.length * 2, 1024 * 1024) : 16 * 1024;
        this.#lease?.take(size);
        this.#last = Buffer.allocUnsafeSlow(size);
        this.#segments.push(this.#last);
        this.#used = 0;
      }
      const n = Math.min(chunk.length - from, this.#last.length - this.#used);
      this.#last.set(chunk.subarray(from, from + n), this.#used);
      this.#used += n;
      from += n;
    }
  }
  concat(): Buffer {
    if (this.#segments.length === 0) return Buffer.alloc(0);
    const parts = this.#segments.map((s, i) =>
      i === this.#segments.length - 1 ? s.subarray(0, this.#used) : s,
    );
    return Buffer.concat(parts);
  }
}

/** Streaming base64 decoder (RFC 2045 §6.8): whitespace ignored, anything else outside the alphabet is an error. */
class Base64Decoder {
  #carry = '';
  #ended = false;
  write(chunk: Uint8Array): Buffer | undefined {
    const text =
      this.#carry +
      Buffer.from(chunk)
        .toString('latin1')
        .replace(/[\r\n\t ]+/g, '');
    if (text === '') return Buffer.alloc(0);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || this.#ended) return undefined;
    if (text.includes('=')) this.#ended = true;
    const usable = this.#ended ? text.length : text.length - (text.length % 4);
    this.#carry = text.slice(usable);
    return Buffer.from(text.slice(0, usable), 'base64');
  }
  end(): Buffer | undefined {
    if (this.#carry.length % 4 === 1) return undefined;
    const out = Buffer.from(this.#carry, 'base64');
    this.#carry = '';
    return out;
  }
}
