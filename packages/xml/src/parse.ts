import { EhmiError } from '@ehmi/errors';
import { DOMParser, type Document, MIME_TYPE, XMLSerializer } from '@xmldom/xmldom';

export interface ParseXmlOptions {
  /** Largest accepted document in bytes (UTF-8). Default 64 MiB: an envelope or SOAP header, never a payload. */
  maxBytes?: number;
  /** Name used in error messages (a file name or `SOAP envelope`). */
  source?: string;
}

export const DEFAULT_MAX_XML_BYTES = 64 * 1024 * 1024;

// A DOCTYPE is how XXE and entity-expansion ("billion laughs") attacks start; nothing we exchange needs one
// (SOAP 1.2 Part 1 §5: "A SOAP message MUST NOT contain a Document Type Declaration").
const DOCTYPE = /<!DOCTYPE/i;

/**
 * Parse XML safely: any DOCTYPE is refused before parsing, every parser warning or error is an exception,
 * and no entity beyond the five predefined ones and character references is expanded.
 *
 * @example
 * const doc = parseXml(await readFile('envelope.xml', 'utf8'), { source: 'envelope.xml' });
 */
export function parseXml(input: string | Uint8Array, options: ParseXmlOptions = {}): Document {
  const source = options.source ?? 'XML document';
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_XML_BYTES;
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.byteLength;
  if (size > maxBytes) {
    throw new EhmiError('EHMI_TOO_LARGE', `${source} is ${size} bytes; the limit is ${maxBytes}`, {
      details: { size, maxBytes },
    });
  }
  let text = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: false }).decode(input);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (DOCTYPE.test(text)) {
    throw new EhmiError('EHMI_XML_DOCTYPE_FORBIDDEN', `${source} contains a DOCTYPE, which is not allowed`);
  }
  if (text.trim() === '') throw new EhmiError('EHMI_XML_MALFORMED', `${source} is empty`);
  const parser = new DOMParser({
    onError: (level, message) => {
      throw new EhmiError('EHMI_XML_MALFORMED', `${source} is not well-formed XML: ${clean(message)}`, {
        details: { level },
      });
    },
  });
  let doc: Document;
  try {
    doc = parser.parseFromString(text, MIME_TYPE.XML_APPLICATION);
  } catch (err) {
    if (err instanceof EhmiError) throw err;
    const inner = err instanceof Error && err.cause instanceof EhmiError ? err.cause : undefined;
    if (inner) throw inner;
    throw new EhmiError('EHMI_XML_MALFORMED', `${source} is not well-formed XML: ${clean(String(err))}`, {
      cause: err,
    });
  }
  if (doc.doctype) {
    throw new EhmiError('EHMI_XML_DOCTYPE_FORBIDDEN', `${source} contains a DOCTYPE, which is not allowed`);
  }
  if (!doc.documentElement) throw new EhmiError('EHMI_XML_MALFORMED', `${source} has no root element`);
  return doc;
}

function clean(message: string): string {
  return message
    .replace(/^\[xmldom [a-z]+\]\s*/i, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Serialize a node to a string (no XML declaration). */
export function serializeXml(node: import('@xmldom/xmldom').Node): string {
  return new XMLSerializer().serializeToString(node);
}
