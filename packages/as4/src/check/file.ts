import { EhmiError } from '@ehmi/errors';
import { parseMediaType } from '../mime/content-type.ts';

/** A saved AS4 message split the way the HTTP layer would hand it to the receive pipeline. */
export interface As4File {
  /** The Content-Type of the body: from the headers on top, else deduced (the first boundary, or SOAP XML). */
  contentType: string;
  /** The HTTP entity body (a multipart/related body or a SOAP envelope). */
  body: Buffer;
  /** The HTTP or MIME headers on top of the file (lower-case names); empty when there were none. */
  headers: Record<string, string>;
  /** The status or request line when the file starts with one (`HTTP/1.1 200 OK`, `POST /as4 HTTP/1.1`). */
  startLine?: string;
}

const notAs4 = (why: string) =>
  new EhmiError('EHMI_INPUT_UNREADABLE', `not an AS4 message: ${why}`, { details: { reason: 'not-as4' } });

const START_LINE = /^(HTTP\/\d(\.\d)? \d{3}( .*)?|[A-Z]+ \S+ HTTP\/\d(\.\d)?)$/;
const HEADER_LINE = /^[!#-'*+.0-9A-Z^-z|~-]+:/;

/**
 * Splits a saved AS4 message into Content-Type and body: an HTTP request or response (start line and headers, as
 * captured on the wire), MIME headers alone (a `.mime` file), a bare `multipart/related` body that starts with its
 * boundary line (RFC 2046 §5.1.1), or a bare SOAP envelope (XML declaration, comment or element first). A UTF-8 BOM
 * and blank lines before the content are skipped. A chunked body (`Transfer-Encoding: chunked`, RFC 9112 §7.1) is
 * de-chunked when it is still chunked. A multipart file saved with LF line ends only (no CR anywhere) gets CRLF
 * back, as MIME needs them around its boundaries. Anything else → `EHMI_INPUT_UNREADABLE` ("not an AS4 message").
 *
 * @example
 * const { contentType, body } = splitAs4File(readFileSync('receipt.as4in'));
 * const msg = await parseAs4Message(Readable.from([body]), { contentType });
 */
export function splitAs4File(bytes: Uint8Array): As4File {
  let raw = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) raw = raw.subarray(3);
  let start = 0;
  while (
    start < raw.length &&
    (raw[start] === 0x0d || raw[start] === 0x0a || raw[start] === 0x20 || raw[start] === 0x09)
  )
    start++;
  raw = raw.subarray(start);
  if (raw.length === 0) throw notAs4('the file is empty');
  const noCr = !raw.includes(0x0d);
  if (raw[0] === 0x3c) return { contentType: 'application/soap+xml', body: raw, headers: {} };
  if (raw[0] === 0x2d && raw[1] === 0x2d) {
    const eol = raw.indexOf(0x0a);
    const boundary = raw
      .subarray(2, eol < 0 ? raw.length : eol)
      .toString('latin1')
      .trim();
    if (boundary === '' || boundary.length > 70) throw notAs4('the first line is not a MIME boundary');
    return {
      contentType: `multipart/related; boundary="${boundary.replace(/(["\\])/g, '\\$1')}"`,
      body: noCr ? toCrlf(raw) : raw,
      headers: {},
    };
  }
  // Headers on top: the block ends at the first empty line.
  let sep = raw.indexOf('\r\n\r\n');
  let sepLen = 4;
  const lf = raw.indexOf('\n\n');
  if (sep < 0 || (lf >= 0 && lf < sep)) {
    sep = lf;
    sepLen = 2;
  }
  if (sep < 0) throw notAs4('neither a SOAP envelope, a MIME message nor an HTTP message');
  const lines = raw.subarray(0, sep).toString('latin1').split(/\r?\n/);
  let startLine: string | undefined;
  if (START_LINE.test(lines[0]!)) startLine = lines.shift();
  const headers: Record<string, string> = {};
  let last: string | undefined;
  for (const line of lines) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      headers[last] += ` ${line.trim()}`;
      continue;
    }
    if (!HEADER_LINE.test(line)) throw notAs4('the file does not start with headers, a boundary or XML');
    const colon = line.indexOf(':');
    last = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    // A repeated header (RFC 9110 §5.3) is a list; Content-Type is not, the first one counts.
    headers[last] =
      headers[last] === undefined
        ? value
        : last === 'content-type'
          ? headers[last]!
          : `${headers[last]}, ${value}`;
  }
  const contentType = headers['content-type'];
  if (!contentType) throw notAs4('the headers have no Content-Type');
  let body = raw.subarray(sep + sepLen);
  if (
    /\bchunked\b/i.test(headers['transfer-encoding'] ?? '') &&
    /^[0-9a-fA-F]+[ \t]*(;[^\r\n]*)?\r?\n/.test(body.subarray(0, 80).toString('latin1'))
  ) {
    body = dechunk(body);
  }
  const type = parseMediaType(contentType).type;
  if (type.startsWith('multipart/') && noCr) body = toCrlf(body);
  return startLine === undefined ? { contentType, body, headers } : { contentType, body, headers, startLine };
}

function toCrlf(buf: Buffer): Buffer {
  return Buffer.from(buf.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
}

/** RFC 9112 §7.1: size line, data, CRLF, …, a zero-size chunk and optional trailers. */
function dechunk(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = body.indexOf('\n', pos);
    if (eol < 0) throw notAs4('a chunked body ends inside a chunk-size line');
    const size = Number.parseInt(body.subarray(pos, eol).toString('latin1').split(';')[0]!.trim(), 16);
    if (!Number.isSafeInteger(size) || size < 0) throw notAs4('a chunked body has a bad chunk size');
    pos = eol + 1;
    if (size === 0) break;
    if (pos + size > body.length) throw notAs4('a chunked body is cut short');
    out.push(body.subarray(pos, pos + size));
    pos += size;
    if (body[pos] === 0x0d) pos++;
    if (body[pos] !== 0x0a) throw notAs4('a chunk is not followed by a line end');
    pos++;
  }
  return Buffer.concat(out);
}
