/**
 * The attachment representation shared by the MIME layer and WS-Security (ebMS3 Core §5.2.2.12 PayloadInfo,
 * SOAP with Attachments; WSS SwA Profile 1.1 §5 signs and encrypts attachments by their Content-ID).
 *
 * An attachment is a MIME part of a `multipart/related` AS4 message, other than the SOAP root part.
 * Its body is never held whole in memory: {@link As4Attachment.open} returns a fresh stream each time, so the
 * signature check, the decryption and the delivery can each read it once.
 *
 * @example
 * ```ts
 * import { Readable } from 'node:stream';
 * import type { As4Attachment } from '@ehmi/as4';
 *
 * const body = Buffer.from('<Bundle/>');
 * const att: As4Attachment = {
 *   contentId: 'payload-1@example.dk',
 *   headers: { 'content-type': 'application/octet-stream' },
 *   open: () => Readable.from([body]),
 *   size: body.length,
 * };
 * ```
 */

import type { Readable } from 'node:stream';

export interface As4Attachment {
  /** The Content-ID without angle brackets and without the `cid:` prefix, e.g. `payload-1@example.dk`. */
  contentId: string;
  /** MIME part headers with lower-case names, including `content-type` (and `content-id` as sent). */
  headers: Record<string, string>;
  /** Opens the part body (as transferred, i.e. possibly compressed/encrypted); re-readable: each call starts over. */
  open(): Readable;
  /** The body size in octets, when known. */
  size?: number;
}
