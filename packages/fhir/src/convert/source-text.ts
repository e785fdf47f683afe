import type { Element } from '@ehmi/xml';
import { XHTML_NS } from './namespaces.ts';

// xmldom normalises line ends before parsing (XML 1.1 §2.11: CR LF, CR NEL, CR, NEL, LS, PS → LF) and reports
// lineNumber/columnNumber in the normalised text. Counting the same breaks in the original text maps a position
// back to an offset there; columns do not move, since a line holds no break.
const LINE_BREAK = /\r[\n\u0085]|[\r\n\u0085\u2028\u2029]/g;

// The standard FHIR form: a div that declares the XHTML namespace itself. Anything else (a prefix declared on an
// ancestor, prefixed names inside) needs the serialiser, which writes the declarations the text lacks.
const SELF_CONTAINED_DIV = /^<div\s[^>]*?\bxmlns\s*=\s*(["'])http:\/\/www\.w3\.org\/1999\/xhtml\1/;
const PREFIXED_NAME = /<\/?[A-Za-z_][\w.-]*:|\s(?!xml:|xmlns\b)[A-Za-z_][\w.-]*:[\w.-]+\s*=/;

/**
 * The XML text a document was parsed from, to copy a narrative `div` exactly as it was written. FHIR JSON carries
 * the div as a string, so copying the source text (rather than re-serialising the DOM) keeps JSON→XML→JSON and
 * XML→JSON→XML exact, whitespace, quoting and character references included.
 */
export class SourceText {
  readonly #text: string;
  #lineStarts: number[] | undefined;

  constructor(text: string) {
    // parseXml drops a byte-order mark before parsing, so positions count from after it.
    this.#text = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }

  /** The element's source text, or undefined when it cannot be cut out safely (use the serialiser then). */
  xhtmlDiv(el: Element): string | undefined {
    const { lineNumber, columnNumber } = el as Element & { lineNumber?: number; columnNumber?: number };
    if (el.namespaceURI !== XHTML_NS || !lineNumber || !columnNumber) return undefined;
    const lineStart = this.#lines()[lineNumber - 1];
    if (lineStart === undefined) return undefined;
    const start = lineStart + columnNumber - 1;
    const end = elementEnd(this.#text, start);
    if (end < 0) return undefined;
    const raw = this.#text.slice(start, end);
    return SELF_CONTAINED_DIV.test(raw) && !PREFIXED_NAME.test(raw) ? raw : undefined;
  }

  #lines(): number[] {
    if (!this.#lineStarts) {
      const starts = [0];
      for (const m of this.#text.matchAll(LINE_BREAK)) starts.push((m.index ?? 0) + m[0].length);
      this.#lineStarts = starts;
    }
    return this.#lineStarts;
  }
}

/** Offset just past the end of the element starting at `start` in well-formed XML, or -1. */
function elementEnd(text: string, start: number): number {
  if (text[start] !== '<') return -1;
  let depth = 0;
  let i = start;
  while (i >= 0 && i < text.length) {
    if (text[i] !== '<') {
      i = text.indexOf('<', i);
      continue;
    }
    if (text.startsWith('<!--', i)) i = skipPast(text, '-->', i);
    else if (text.startsWith('<![CDATA[', i)) i = skipPast(text, ']]>', i);
    else if (text.startsWith('<?', i)) i = skipPast(text, '?>', i);
    else if (text[i + 1] === '/') {
      i = skipPast(text, '>', i);
      depth--;
      if (depth === 0) return i;
    } else {
      const close = tagEnd(text, i);
      if (close < 0) return -1;
      if (text[close - 1] !== '/') depth++;
      i = close + 1;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function skipPast(text: string, token: string, from: number): number {
  const at = text.indexOf(token, from);
  return at < 0 ? -1 : at + token.length;
}

/** Index of the `>` closing the start tag at `from`, skipping quoted attribute values. */
function tagEnd(text: string, from: number): number {
  let quote = '';
  for (let j = from + 1; j < text.length; j++) {
    const c = text[j];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '>') {
      return j;
    }
  }
  return -1;
}
