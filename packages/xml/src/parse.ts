import { EhmiError } from '@ehmi/errors';
import { DOMParser, type Document, MIME_TYPE, XMLSerializer } from '@xmldom/xmldom';
import { memoizeXmldomGrammar } from './xmldom-grammar.ts';

memoizeXmldomGrammar();

export interface ParseXmlOptions {
  /** Largest accepted document in bytes (UTF-8). Default 64 MiB: an envelope or SOAP header, never a payload. */
  maxBytes?: number;
  /** Name used in error messages (a file name or `SOAP envelope`). */
  source?: string;
  /**
   * Whether nodes carry `lineNumber`/`columnNumber` (default true). False for a reader that never asks: the parse
   * keeps no position (about a tenth of its time); an error still names its line and column (the text is read
   * again, with positions, to say where).
   */
  locator?: boolean;
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
  const text = checkedText(input, options);
  if (options.locator !== false) return build(text, source, true);
  try {
    return build(text, source, false);
  } catch {
    // Read again, with positions, for the error to say where (it throws as it did).
    return build(text, source, true);
  }
}

/**
 * The checks {@link parseXml} makes before parsing, shared with the DOM-less reader (lean.ts): the size limit, the
 * bytes decoded by the document's own encoding, a BOM dropped, any DOCTYPE refused, forbidden characters and bare
 * `&` refused. The text to parse, or the same `EhmiError` {@link parseXml} throws.
 */
export function checkedText(input: string | Uint8Array, options: ParseXmlOptions = {}): string {
  const source = options.source ?? 'XML document';
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_XML_BYTES;
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.byteLength;
  if (size > maxBytes) {
    throw new EhmiError('EHMI_TOO_LARGE', `${source} is ${size} bytes; the limit is ${maxBytes}`, {
      details: { size, maxBytes },
    });
  }
  let text = typeof input === 'string' ? input : decode(input, source);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (DOCTYPE.test(text)) {
    throw new EhmiError('EHMI_XML_DOCTYPE_FORBIDDEN', `${source} contains a DOCTYPE, which is not allowed`);
  }
  if (!NON_WHITESPACE.test(text)) throw new EhmiError('EHMI_XML_MALFORMED', `${source} is empty`);
  checkCharacters(text, source);
  return text;
}

function build(text: string, source: string, locator: boolean): Document {
  let first: EhmiError | undefined;
  const parser = new DOMParser({
    locator,
    onError: (level, message, context) => {
      const at = locate(context);
      first ??= new EhmiError(
        'EHMI_XML_MALFORMED',
        `${source} is not well-formed XML${at}: ${clean(message)}`,
        {
          details: { level },
        },
      );
      throw first;
    },
  });
  let doc: Document;
  try {
    doc = parser.parseFromString(text, MIME_TYPE.XML_APPLICATION);
  } catch (err) {
    if (first) throw first;
    if (err instanceof EhmiError) throw err;
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

function locate(context: unknown): string {
  const loc = (context as { locator?: { lineNumber?: number; columnNumber?: number } } | undefined)?.locator;
  return loc?.lineNumber ? ` at line ${loc.lineNumber}, column ${loc.columnNumber ?? 0}` : '';
}

// XML 1.0 §2.2: characters a document may not contain at all (xmldom drops them silently).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const FORBIDDEN_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
// XML 1.0 §4.1: `&` starts an entity or character reference; anything else is not well-formed (xmldom keeps it as
// text). Inside CDATA sections, comments and processing instructions `&` is literal. Each `&` is tested where it
// stands; the literal sections are located only when one is not a reference (a reference holds no `<`, so one that
// starts outside a section lies wholly outside it), so a document is not copied to be checked.
const LITERAL_SECTIONS = /<!\[CDATA\[[\s\S]*?\]\]>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>/g;
const REFERENCE = /&(?:[A-Za-z_:][\w.:-]*|#[0-9]+|#x[0-9A-Fa-f]+);/y;
const NON_WHITESPACE = /\S/;

function checkCharacters(text: string, source: string): void {
  const bad = FORBIDDEN_CHAR.exec(text);
  if (bad) {
    throw new EhmiError(
      'EHMI_XML_MALFORMED',
      `${source} is not well-formed XML: character U+${bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} at offset ${bad.index} is not allowed in XML`,
    );
  }
  const amp = bareAmpersand(text);
  if (amp >= 0) {
    throw new EhmiError(
      'EHMI_XML_MALFORMED',
      `${source} is not well-formed XML: "&" at offset ${amp} does not start an entity or character reference`,
    );
  }
}

/** The offset of the first `&` outside a literal section that starts no reference, or -1. */
function bareAmpersand(text: string): number {
  let sections: number[] | undefined;
  for (let at = text.indexOf('&'); at >= 0; at = text.indexOf('&', at + 1)) {
    REFERENCE.lastIndex = at;
    if (REFERENCE.test(text)) continue;
    sections ??= literalSections(text);
    if (!inside(sections, at)) return at;
  }
  return -1;
}

/** Start and end offsets of the CDATA sections, comments and processing instructions, in order. */
function literalSections(text: string): number[] {
  const out: number[] = [];
  LITERAL_SECTIONS.lastIndex = 0;
  for (let m = LITERAL_SECTIONS.exec(text); m; m = LITERAL_SECTIONS.exec(text)) {
    out.push(m.index, m.index + m[0].length);
  }
  return out;
}

function inside(sections: readonly number[], at: number): boolean {
  for (let i = 0; i < sections.length; i += 2) {
    if (at < sections[i]!) return false;
    if (at < sections[i + 1]!) return true;
  }
  return false;
}

const DECLARED_ENCODING = /^<\?xml[^>]*\sencoding\s*=\s*["']([A-Za-z][\w.-]*)["']/;

/**
 * Bytes to text by the document's own declaration (XML 1.0 §4.3.3, Appendix F): a BOM, else the `encoding` of the
 * XML declaration, else UTF-8. Bytes that are not valid in that encoding are an error, not replacement characters.
 */
function decode(bytes: Uint8Array, source: string): string {
  let encoding = 'utf-8';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) encoding = 'utf-16be';
  else if (bytes[0] === 0xff && bytes[1] === 0xfe) encoding = 'utf-16le';
  else {
    const head = new TextDecoder('latin1').decode(bytes.subarray(0, 200));
    const declared = DECLARED_ENCODING.exec(head)?.[1];
    if (declared) encoding = declared.toLowerCase();
  }
  let decoder: InstanceType<typeof TextDecoder>;
  try {
    decoder = new TextDecoder(encoding, { fatal: true });
  } catch {
    throw new EhmiError('EHMI_XML_MALFORMED', `${source} declares the unsupported encoding "${encoding}"`);
  }
  try {
    return decoder.decode(bytes);
  } catch (err) {
    throw new EhmiError('EHMI_XML_MALFORMED', `${source} is not valid ${encoding}`, { cause: err });
  }
}

function clean(message: string): string {
  return message
    .replace(/^\[xmldom [a-z]+\]\s*/i, '')
    .replace(/\s*\n?@#\[line:\d+,col:\d+\]\s*$/, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Serialize a node to a string (no XML declaration). */
export function serializeXml(node: import('@xmldom/xmldom').Node): string {
  return new XMLSerializer().serializeToString(node);
}
