import { createHash } from 'node:crypto';
import type { As4Attachment } from '../model/attachment.ts';
import { SWA } from './ns.ts';

/** Streams an attachment body through a hash; the body is never held whole in memory. */
export async function digestAttachment(
  attachment: As4Attachment,
  transform: string,
  hash: 'sha256' | 'sha1',
): Promise<Buffer> {
  const h = createHash(hash);
  // SwA Profile 1.1 §5.3.2: Attachment-Complete covers the canonical MIME headers, then the content;
  // Attachment-Content (§5.3.1) covers the content only.
  if (transform === SWA.completeSignatureTransform)
    h.update(canonicalMimeHeaders(attachment.headers), 'utf8');
  for await (const chunk of attachment.open()) h.update(chunk as Buffer);
  return h.digest();
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
