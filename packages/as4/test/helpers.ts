import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/** /work/shared/fixtures, resolved from this file (packages/as4/test → repo root → ../shared). */
export const FIXTURES = fileURLToPath(new URL('../../../../shared/fixtures/', import.meta.url));
export const AS4_FIXTURES = `${FIXTURES}as4/`;

export interface Vector {
  name: string;
  /** The Content-Type of the body (from the HTTP/MIME headers in the file, or application/soap+xml). */
  contentType: string;
  body: Buffer;
}

/**
 * A vector from fixtures/as4. `.mime` and `.as4in` files start with HTTP or MIME headers; they are split off here
 * (folded header lines unfolded) so the body can be fed to the parser as the HTTP layer would.
 */
export function readVector(name: string): Vector {
  const raw = readFileSync(AS4_FIXTURES + name);
  if (!/\.(mime|as4in)$/.test(name))
    return { name, contentType: 'application/soap+xml; charset=UTF-8', body: raw };
  let sep = raw.indexOf('\r\n\r\n');
  let sepLen = 4;
  const lf = raw.indexOf('\n\n');
  if (sep < 0 || (lf >= 0 && lf < sep)) {
    sep = lf;
    sepLen = 2;
  }
  const head = raw
    .subarray(0, sep)
    .toString('latin1')
    .replace(/\r?\n[ \t]+/g, ' ');
  const contentType = /^content-type:\s*(.*)$/im.exec(head)?.[1]?.trim() ?? 'application/soap+xml';
  let body = raw.subarray(sep + sepLen);
  // Files saved with bare LF line ends (no CR anywhere) are text; MIME needs CRLF (RFC 2046 §5.1.1).
  if (!raw.includes(0x0d)) body = Buffer.from(body.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
  return { name, contentType, body };
}

/** A body as a stream of small chunks, to exercise the streaming code paths. */
export function chunked(bytes: Buffer, size = 1024): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return Readable.from(parts);
}
