import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { type Document, serializeXml } from '@ehmi/xml';
import type { As4Attachment } from '../model/attachment.ts';
import { formatMediaType } from './content-type.ts';

/** An AS4 message ready for an HTTP POST body. */
export interface WrittenMessage {
  /** The HTTP Content-Type header value. */
  contentType: string;
  /** The body; attachments are streamed from their `open()`, never buffered. */
  body: Readable;
}

const SOAP12 = 'application/soap+xml';

/**
 * Write an AS4 message: with attachments, SOAP 1.2 with Attachments as `multipart/related` with
 * `type="application/soap+xml"` and `start` naming the root part (RFC 2387; AS4 Profile §2.1.1; eDelivery AS4
 * 1.15 §2.2.3.1); without, a plain `application/soap+xml` body (a receipt or an error signal). Parts use
 * `Content-Transfer-Encoding: binary`. Serialize the envelope only after signing and encryption.
 *
 * @example
 * const { contentType, body } = writeAs4Message(built.document, encryptedAttachments);
 * await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body, duplex: 'half' });
 */
export function writeAs4Message(
  envelope: Document | string,
  attachments: readonly As4Attachment[],
): WrittenMessage {
  const xml = typeof envelope === 'string' ? envelope : serializeXml(envelope);
  const xmlBytes = Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>${xml.replace(/^<\?xml[^>]*\?>/, '')}`,
    'utf8',
  );
  if (attachments.length === 0) {
    return { contentType: `${SOAP12}; charset=UTF-8`, body: Readable.from([xmlBytes]) };
  }
  const boundary = `----=_Part_${randomUUID()}`;
  const rootId = `root.${randomUUID()}@ehmi`;
  const contentType = formatMediaType('multipart/related', { boundary, type: SOAP12, start: `<${rootId}>` });
  return { contentType, body: Readable.from(parts(boundary, rootId, xmlBytes, attachments)) };
}

async function* parts(
  boundary: string,
  rootId: string,
  xml: Buffer,
  attachments: readonly As4Attachment[],
): AsyncGenerator<Buffer> {
  yield Buffer.from(
    `--${boundary}\r\nContent-Type: ${SOAP12}; charset=UTF-8\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <${rootId}>\r\n\r\n`,
  );
  yield xml;
  for (const att of attachments) {
    yield Buffer.from(`\r\n--${boundary}\r\n${partHeaders(att)}\r\n`);
    for await (const chunk of att.open()) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
  }
  yield Buffer.from(`\r\n--${boundary}--\r\n`);
}

const OWN = new Set(['content-type', 'content-transfer-encoding', 'content-id', 'content-length']);

function partHeaders(att: As4Attachment): string {
  // Header injection guard: a Content-ID or Content-Type with line breaks would forge MIME structure.
  if (/[\r\n<>\s]/.test(att.contentId) || /[\r\n]/.test(att.headers['content-type'] ?? '')) {
    throw new TypeError(
      `attachment ${JSON.stringify(att.contentId)} has an unusable Content-ID or Content-Type`,
    );
  }
  const lines = [
    `Content-Type: ${att.headers['content-type'] ?? 'application/octet-stream'}`,
    'Content-Transfer-Encoding: binary',
    `Content-ID: <${att.contentId}>`,
  ];
  for (const [name, value] of Object.entries(att.headers)) {
    if (OWN.has(name) || /[\r\n]/.test(value)) continue;
    lines.push(
      `${name.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase())}: ${value}`,
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}
