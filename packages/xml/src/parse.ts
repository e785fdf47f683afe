import { createRequire } from 'node:module';
import { EhmiError } from '@ehmi/errors';
import { DOMParser, type Document, MIME_TYPE, NAMESPACE, XMLSerializer } from '@xmldom/xmldom';
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
  // Read as XML 1.0 (its line ends and characters): a document declaring another version is refused, not misread.
  const version = text.startsWith('<?xml') ? XML_VERSION.exec(text)?.[2] : undefined;
  if (version !== undefined && version !== '1.0') {
    throw new EhmiError(
      'EHMI_XML_MALFORMED',
      `${source} declares XML version "${version}"; only XML 1.0 is read`,
    );
  }
  checkCharacters(text, source);
  return text;
}

function build(text: string, source: string, locator: boolean): Document {
  let first: EhmiError | undefined;
  const parser = new DOMParser({
    locator,
    domHandler: CheckedDomHandler,
    normalizeLineEndings: xml10LineEnds,
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
// stands; where it lies is found only when one is not a reference, or a character reference to no XML character, so a
// document is not copied to be checked.
const REFERENCE = /&(?:[A-Za-z_:][\w.:-]*|#([0-9]+)|#x([0-9A-Fa-f]+));/y;
const NON_WHITESPACE = /\S/;

function checkCharacters(text: string, source: string): void {
  const bad = FORBIDDEN_CHAR.exec(text);
  if (bad) {
    throw new EhmiError(
      'EHMI_XML_MALFORMED',
      `${source} is not well-formed XML: character U+${hex(bad[0].charCodeAt(0))} at offset ${bad.index} is not allowed in XML`,
    );
  }
  const wrong = badReference(text) ?? textCdataEnd(text) ?? misreadInTag(text);
  if (wrong) throw new EhmiError('EHMI_XML_MALFORMED', `${source} is not well-formed XML: ${wrong}`);
}

function hex(code: number): string {
  return code.toString(16).toUpperCase().padStart(4, '0');
}

/**
 * The first `&` outside a literal section that starts no reference, or starts a character reference to a code point
 * that is no XML character (XML 1.0 §2.2 Char, §4.1 "Well-formedness constraint: Legal Character"; xmldom decodes
 * `&#0;` or `&#xD800;` as it stands): what is wrong, or undefined.
 */
function badReference(text: string): string | undefined {
  let where: ((at: number) => Place) | undefined;
  for (let at = text.indexOf('&'); at >= 0; at = text.indexOf('&', at + 1)) {
    REFERENCE.lastIndex = at;
    const ref = REFERENCE.exec(text);
    if (ref && ref[1] === undefined && ref[2] === undefined) continue;
    const code = ref ? Number.parseInt(ref[1] ?? ref[2]!, ref[1] === undefined ? 16 : 10) : -1;
    if (ref && isXmlChar(code)) continue;
    where ??= places(text);
    if (where(at) === 'literal') continue;
    return ref
      ? `the character reference "${ref[0]}" at offset ${at} is to no XML character`
      : `"&" at offset ${at} does not start an entity or character reference`;
  }
  return undefined;
}

/** XML 1.0 §2.2: Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]. */
function isXmlChar(code: number): boolean {
  return (
    code === 0x9 ||
    code === 0xa ||
    code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff)
  );
}

/** XML 1.0 §2.4: `]]>` in character data (not ending a CDATA section, not in an attribute value) is not well-formed. */
function textCdataEnd(text: string): string | undefined {
  let where: ((at: number) => Place) | undefined;
  for (let at = text.indexOf(']]>'); at >= 0; at = text.indexOf(']]>', at + 1)) {
    where ??= places(text);
    if (where(at) === 'content') return `"]]>" at offset ${at} is in character data`;
  }
  return undefined;
}

/**
 * Characters xmldom misreads in a tag outside its attribute values, none of them a name or whitespace character there
 * (XML 1.0 §2.3): U+0080, U+0085, U+2028 and U+2029, which it reads as spaces (so `<a\u0085b="1">` would be an
 * element with an attribute), and U+037E, which it takes as a name character. Allowed in text and values.
 */
function misreadInTag(text: string): string | undefined {
  let where: ((at: number) => Place) | undefined;
  MISREAD_IN_TAG.lastIndex = 0;
  for (let m = MISREAD_IN_TAG.exec(text); m; m = MISREAD_IN_TAG.exec(text)) {
    where ??= places(text);
    if (where(m.index) === 'tag') {
      const code = m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
      return `character U+${code} at offset ${m.index} is not allowed in a tag`;
    }
  }
  return undefined;
}
const MISREAD_IN_TAG = /[\u0080\u0085\u037e\u2028\u2029]/g;

/** Where an offset lies: in character data, in a tag outside its attribute values, in an attribute value, or in a
 * comment, CDATA section or processing instruction (where `&`, `]]>`… are literal). */
type Place = 'content' | 'tag' | 'value' | 'literal';

/**
 * Where offsets of `text` lie, asked in increasing order: the text is read once from its start, by the native
 * searches, as far as the last offset asked (only documents with something to check are read so).
 */
function places(text: string): (at: number) => Place {
  let end = 0;
  let place: Place = 'content';
  /** What the text at `end` is (content, or inside a tag, or inside a value quoted with `quote`). */
  let state: 'content' | 'tag' | 'value' = 'content';
  let quote = '"';
  /** The `<` that opens a tag, not one that ends it. */
  let opening = 0;
  const next = (): void => {
    const from = end;
    if (state !== 'content') {
      // A tag ends at `>`, a value at its quote (both kept with it); a `<` in either is not well-formed and is read as
      // where content starts again (so a literal section after it is one still).
      const stops = state === 'tag' ? TAG_STOP : quote === '"' ? DOUBLE_QUOTED_STOP : SINGLE_QUOTED_STOP;
      stops.lastIndex = from + opening;
      opening = 0;
      const stop = stops.exec(text);
      place = state;
      if (!stop || stop[0] === '<') {
        end = stop ? stop.index : text.length;
        state = 'content';
      } else {
        end = stop.index + 1;
        if (stop[0] === '>') state = 'content';
        else if (state === 'value') state = 'tag';
        else {
          state = 'value';
          quote = stop[0];
        }
      }
      if (end > from) return;
    }
    const lt = text.indexOf('<', end);
    if (lt !== end) {
      end = lt < 0 ? text.length : lt;
      place = 'content';
      return;
    }
    for (const [open, close] of LITERAL) {
      if (!text.startsWith(open, end)) continue;
      const at = text.indexOf(close, end + open.length);
      // Never closed: not a literal section (the parser says what is wrong), read as a tag.
      if (at < 0) break;
      end = at + close.length;
      place = 'literal';
      return;
    }
    state = 'tag';
    opening = 1;
    next();
  };
  return (at) => {
    while (end <= at && end < text.length) next();
    return place;
  };
}

const TAG_STOP = /["'<>]/g;
const DOUBLE_QUOTED_STOP = /["<]/g;
const SINGLE_QUOTED_STOP = /['<]/g;
const LITERAL: [string, string][] = [
  ['<!--', '-->'],
  ['<![CDATA[', ']]>'],
  ['<?', '?>'],
];

/**
 * Namespaces in XML 1.0 §3: what is wrong with declaring `prefix` (empty for the default namespace) as `uri`, or
 * undefined. The prefix `xml` is bound to the XML namespace only, no other prefix (nor the default) to it, the
 * prefix `xmlns` is never declared and nothing is bound to its namespace. xmldom keeps each of these.
 */
export function reservedNamespaceDeclaration(prefix: string, uri: string): string | undefined {
  const name = prefix === '' ? 'the default namespace' : `the prefix "${prefix}"`;
  if (prefix === 'xmlns') return 'the prefix "xmlns" must not be declared';
  if (prefix === 'xml')
    return uri === NAMESPACE.XML ? undefined : `the prefix "xml" must not be bound to "${uri}"`;
  if (uri === NAMESPACE.XML) return `${name} must not be bound to the XML namespace`;
  if (uri === NAMESPACE.XMLNS) return `${name} must not be bound to the xmlns namespace`;
  return undefined;
}

/**
 * xmldom's own DOM builder (the one `DOMParser` uses when given none; exported by its module, not by its types),
 * refusing the reserved namespace declarations: the parser reports what the builder throws as an error.
 */
const XmldomDomHandler = (
  createRequire(import.meta.url)('@xmldom/xmldom/lib/dom-parser.js') as {
    __DOMHandler: new (options: unknown) => object;
  }
).__DOMHandler;
class CheckedDomHandler extends XmldomDomHandler {
  declare currentElement: { nodeType: number } | null | undefined;
  startPrefixMapping(prefix: string, uri: string): void {
    const wrong = reservedNamespaceDeclaration(prefix, uri);
    if (wrong) throw new Error(wrong);
  }
  endElement(namespaceURI: string, localName: string, qName: string): void {
    const wrong = endTagWithoutElement(this.currentElement, qName);
    if (wrong) throw new Error(wrong);
    (XmldomDomHandler.prototype as CheckedDomHandler).endElement.call(this, namespaceURI, localName, qName);
  }
  processingInstruction(target: string, data: string): void {
    const wrong = misreadPiTarget(target);
    if (wrong) throw new Error(wrong);
    (XmldomDomHandler.prototype as CheckedDomHandler).processingInstruction.call(this, target, data);
  }
}

/**
 * XML 1.0 §3 (element match): an end tag closes the open element. xmldom's reader passes an end tag after the root
 * element has ended (`<r/></r>`) to its builder with the document as the open node, and keeps the document: what is
 * wrong, or undefined.
 */
export function endTagWithoutElement(
  open: { nodeType: number } | null | undefined,
  qName: string,
): string | undefined {
  return open && open.nodeType === 1 ? undefined : `the end tag "${qName}" closes no open element`;
}

/**
 * XML 1.0 §2.6: a processing instruction's target is a Name. xmldom takes U+037E (and the characters it reads as
 * spaces in a tag) as name characters there: what is wrong, or undefined.
 */
export function misreadPiTarget(target: string): string | undefined {
  const m = MISREAD_IN_PI_TARGET.exec(target);
  return m
    ? `character U+${hex(m[0].charCodeAt(0))} is not allowed in a processing instruction's target`
    : undefined;
}
const MISREAD_IN_PI_TARGET = /[\u0080\u0085\u037e\u2028\u2029]/;

/**
 * XML 1.0 §2.11: CR LF and a lone CR are read as LF, and nothing else. xmldom's default follows XML 1.1, which also
 * reads U+0085, U+2028 and U+2029 as line ends: a value or text holding one would differ from what every XML 1.0
 * reader (libxml2, Santuario) gives, and so would its canonical form and digest.
 */
export function xml10LineEnds(text: string): string {
  return text.includes('\r') ? text.replace(CR_LF_OR_CR, '\n') : text;
}
const CR_LF_OR_CR = /\r\n?/g;

const XML_VERSION = /^<\?xml\s+version\s*=\s*(["'])([^"']*)\1/;

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
