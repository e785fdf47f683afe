import { createHash, type Hash } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { DEFAULT_MAX_XML_BYTES, type Element, excC14n, parseXml } from '@ehmi/xml';
import type { As4Attachment } from '../model/attachment.ts';
import type { HashName } from './algorithms.ts';
import { SWA } from './ns.ts';

/**
 * Streams an attachment body through a hash. SwA Profile 1.1 §5.4.2 (both attachment transforms): the content of
 * an XML type (`text/xml`, `application/xml`, `…/…+xml`) is digested in its Exclusive XML Canonical form, that of
 * another `text/*` type with CRLF line ends, anything else as is. WSS4J (under phase4, Domibus, Holodeck) does the
 * same, so an uncompressed XML payload with an XML declaration or LF line ends only verifies this way. Only an XML
 * part is read whole (it has to be parsed; at most `DEFAULT_MAX_XML_BYTES`); every other body is streamed.
 */
export async function digestAttachment(
  attachment: As4Attachment,
  transform: string,
  hash: HashName,
): Promise<Buffer> {
  const digester = attachmentDigester(attachment.headers, transform, hash);
  if (digester) {
    for await (const chunk of attachment.open()) digester.update(chunk as Buffer);
    return digester.digest();
  }
  const h = createHash(hash);
  if (transform === SWA.completeSignatureTransform)
    h.update(canonicalMimeHeaders(attachment.headers), 'utf8');
  await digestXml(attachment, h);
  return h.digest();
}

/** A digest taken as the octets stream past: {@link attachmentDigester}. */
export interface AttachmentDigester {
  update(chunk: Buffer): void;
  digest(): Buffer;
}

/**
 * The digest of {@link digestAttachment} taken chunk by chunk, so it can ride along another pass over the body (the
 * decryption and decompression of a received part): for every type but XML, whose content has to be parsed whole
 * to be canonicalised (then undefined).
 *
 * @example
 * const d = attachmentDigester(att.headers, SWA.contentSignatureTransform, 'sha256');
 * for await (const chunk of att.open()) d?.update(chunk);
 */
export function attachmentDigester(
  headers: Record<string, string>,
  transform: string,
  hash: HashName,
): AttachmentDigester | undefined {
  const type = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (/^(text|application)\/xml$|^(application|image)\/[^/]+\+xml$/.test(type)) return undefined;
  const h = createHash(hash);
  // SwA Profile 1.1 §5.3.2: Attachment-Complete covers the canonical MIME headers, then the content;
  // Attachment-Content (§5.3.1) covers the content only.
  if (transform === SWA.completeSignatureTransform) h.update(canonicalMimeHeaders(headers), 'utf8');
  if (!type.startsWith('text/')) return { update: (chunk) => h.update(chunk), digest: () => h.digest() };
  const text = crlfText(h);
  return { update: text, digest: () => h.digest() };
}

/** Exclusive c14n without comments of a whole document: PIs before/after the root on their own lines (C14N §2.1). */
async function digestXml(attachment: As4Attachment, h: Hash): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of attachment.open()) {
    size += (chunk as Buffer).length;
    if (size > DEFAULT_MAX_XML_BYTES) {
      throw new EhmiError(
        'EHMI_TOO_LARGE',
        `XML attachment ${attachment.contentId} is over ${DEFAULT_MAX_XML_BYTES} octets; it cannot be canonicalised`,
        { details: { contentId: attachment.contentId, max: DEFAULT_MAX_XML_BYTES } },
      );
    }
    chunks.push(chunk as Buffer);
  }
  const doc = parseXml(Buffer.concat(chunks), { source: `attachment ${attachment.contentId}` });
  let afterRoot = false;
  for (let n = doc.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1) {
      h.update(excC14n(n as Element), 'utf8');
      afterRoot = true;
    } else if (n.nodeType === 7 && n.nodeName !== 'xml') {
      const data = (n as unknown as { data: string }).data;
      const pi = `<?${n.nodeName}${data ? ` ${data}` : ''}?>`;
      h.update(afterRoot ? `\n${pi}` : `${pi}\n`, 'utf8');
    }
  }
}

/** `text/*`: every CR, LF and CRLF becomes CRLF (SwA Profile 1.1 §5.4.2; RFC 2046 §4.1.1), chunk by chunk. */
function crlfText(h: Hash): (buf: Buffer) => void {
  let pendingCr = false;
  return (buf) => {
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i]!;
      if (pendingCr) {
        pendingCr = false;
        if (b === 0x0a) {
          start = i + 1;
          continue;
        }
      }
      if (b === 0x0d || b === 0x0a) {
        h.update(buf.subarray(start, i));
        h.update('\r\n');
        pendingCr = b === 0x0d;
        start = i + 1;
      }
    }
    h.update(buf.subarray(start));
  };
}

const SIGNED_HEADERS: Record<string, string> = {
  'content-description': 'Content-Description',
  'content-disposition': 'Content-Disposition',
  'content-id': 'Content-ID',
  'content-location': 'Content-Location',
  'content-type': 'Content-Type',
};

/** Parameters whose values are case-insensitive and lower-cased (SwA Profile 1.1 §5.4.1 step 10, RFC 2045/2183). */
const CASE_INSENSITIVE_PARAMS = new Set([
  'charset',
  'creation-date',
  'filename',
  'modification-date',
  'padding',
  'read-date',
  'size',
  'type',
]);

function unfold(v: string): string {
  return v.replace(/\r?\n[ \t]/g, ' ');
}

function uncomment(v: string): string {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < v.length; i++) {
    const ch = v[i]!;
    if (ch === '\\' && i + 1 < v.length) {
      if (depth === 0) out += ch + v[i + 1];
      i++;
      continue;
    }
    if (!quoted && ch === '(') depth++;
    else if (!quoted && ch === ')' && depth > 0) depth--;
    else if (depth === 0) {
      if (ch === '"') quoted = !quoted;
      out += ch;
    }
  }
  return out;
}

function quote(value: string): string {
  const inner = value.replace(/^"(.*)"$/s, '$1').replace(/\\(.)/g, '$1');
  return `"${inner.replace(/(["\\])/g, '\\$1')}"`;
}

/** Content-Type / Content-Disposition: value lower-cased, parameters sorted, names lower-cased, values quoted. */
function canonicalParams(v: string): string {
  const parts = v.split(';');
  const head = parts[0]!.trim().toLowerCase();
  const params = parts
    .slice(1)
    .filter((p) => p.includes('='))
    .map((p) => {
      const eq = p.indexOf('=');
      const name = p.slice(0, eq).trim().toLowerCase();
      let value = p.slice(eq + 1).trim();
      if (CASE_INSENSITIVE_PARAMS.has(name)) value = value.toLowerCase();
      return [name, quote(value)] as const;
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return [head, ...params.map(([n, val]) => `${n}=${val}`)].join(';');
}

/**
 * MIME header canonicalisation of SwA Profile 1.1 §5.4.1: only the five Content-* headers, sorted by name, unfolded,
 * comments removed, leading whitespace removed, Content-Type defaulted to `text/plain;charset="us-ascii"`, each line
 * `Name:value` CRLF. (Non-ASCII RFC 2047 words and RFC 2184 continuations are not decoded; AS4 parts do not use them.)
 *
 * @example
 * canonicalMimeHeaders({ 'content-type': 'Application/XML; Charset=UTF-8', 'content-id': '<p1@x>' });
 * // 'Content-ID:<p1@x>\r\nContent-Type:application/xml;charset="utf-8"\r\n'
 */
export function canonicalMimeHeaders(headers: Record<string, string>): string {
  const out = new Map<string, string>();
  for (const [rawName, rawValue] of Object.entries(headers)) {
    const name = SIGNED_HEADERS[rawName.toLowerCase()];
    if (!name) continue;
    let value = uncomment(unfold(rawValue)).trim();
    if (name === 'Content-Type' || name === 'Content-Disposition') value = canonicalParams(value);
    out.set(name, value);
  }
  if (!out.has('Content-Type')) out.set('Content-Type', 'text/plain;charset="us-ascii"');
  return [...out.keys()]
    .sort()
    .map((n) => `${n}:${out.get(n)}\r\n`)
    .join('');
}
