import { DOMParser, MIME_TYPE, NAMESPACE } from '@xmldom/xmldom';
import {
  checkedText,
  misreadPiTarget,
  type ParseXmlOptions,
  reservedNamespaceDeclaration,
  xml10LineEnds,
} from './parse.ts';

/**
 * A read-only node of a lean tree: the part of the DOM a reader walks (`nodeType`, `nodeName`, `nodeValue`,
 * `parentNode`, `firstChild`, `nextSibling`; on elements `namespaceURI`, `localName`, `prefix`, `tagName`,
 * `attributes`, `getAttribute`, `hasAttribute`, `textContent`). No positions, no methods that change the tree.
 */
export class LeanNode {
  parentNode: LeanNode | null = null;
  firstChild: LeanNode | null = null;
  lastChild: LeanNode | null = null;
  nextSibling: LeanNode | null = null;
  constructor(
    readonly nodeType: number,
    readonly nodeName: string,
    public nodeValue: string | null,
  ) {}

  /** The text of the text and CDATA nodes under this one, in order (as the DOM's `textContent` of an element). */
  get textContent(): string {
    if (this.nodeType === 3 || this.nodeType === 4 || this.nodeType === 7 || this.nodeType === 8)
      return this.nodeValue ?? '';
    let out = '';
    for (let n = this.firstChild; n; n = n.nextSibling) {
      if (n.nodeType === 7 || n.nodeType === 8) continue;
      out += n.textContent;
    }
    return out;
  }

  append(child: LeanNode): void {
    child.parentNode = this;
    if (this.lastChild) this.lastChild.nextSibling = child;
    else this.firstChild = child;
    this.lastChild = child;
  }
}

export interface LeanAttr {
  readonly name: string;
  readonly namespaceURI: string | null;
  readonly localName: string;
  readonly prefix: string | null;
  readonly value: string;
}

/** An element's attributes as the DOM's `NamedNodeMap` is read: `length` and `item(i)`. */
export class LeanAttributes {
  constructor(private readonly list: readonly LeanAttr[]) {}
  get length(): number {
    return this.list.length;
  }
  item(i: number): LeanAttr | null {
    return this.list[i] ?? null;
  }
}

export class LeanElement extends LeanNode {
  readonly attributes: LeanAttributes;
  constructor(
    readonly namespaceURI: string | null,
    readonly prefix: string | null,
    readonly localName: string,
    qName: string,
    attrs: readonly LeanAttr[],
  ) {
    super(1, qName, null);
    this.attributes = new LeanAttributes(attrs);
  }
  get tagName(): string {
    return this.nodeName;
  }
  getAttribute(name: string): string | null {
    for (let i = 0; i < this.attributes.length; i++) {
      const a = this.attributes.item(i)!;
      if (a.name === name) return a.value;
    }
    return null;
  }
  hasAttribute(name: string): boolean {
    return this.getAttribute(name) !== null;
  }
}

export class LeanDocument extends LeanNode {
  documentElement: LeanElement | null = null;
  constructor() {
    super(9, '#document', null);
  }
  /** Called by the parser only for text after the root element (an error anyway): not kept, the read gives up. */
  createTextNode(): never {
    throw new Unusual();
  }
}

/** Anything the lean tree does not hold as the DOM would: the reader gives up and the caller parses a DOM. */
class Unusual extends Error {}

const XMLNS = NAMESPACE.XMLNS;
const XML = NAMESPACE.XML;

/**
 * The events of xmldom's own SAX reader (the one `parseXml` uses, so the same well-formedness verdicts) made into
 * a lean tree instead of a DOM. It gives up (throws) on every warning or error the parser reports and on anything
 * the DOM builder would treat specially: a DOCTYPE, a prefix without a namespace or a reserved one, two
 * attributes with the same namespace and local name (the DOM keeps the last), a second root, anything but whitespace
 * after the root element.
 */
class LeanHandler {
  readonly mimeType = MIME_TYPE.XML_APPLICATION;
  readonly locator = undefined;
  doc: LeanDocument | undefined;
  currentElement: LeanNode | undefined;
  /** The root element has ended. */
  ended = false;
  /** Inside a CDATA section. */
  cdata = false;
  startDocument(): void {
    this.doc = new LeanDocument();
  }
  startElement(
    namespaceURI: string | null | undefined,
    localName: string,
    qName: string,
    attrs: {
      length: number;
      getURI(i: number): string | null | undefined;
      getValue(i: number): string;
      getQName(i: number): string;
    },
  ): void {
    const colon = qName.indexOf(':');
    const prefix = colon > 0 ? qName.slice(0, colon) : null;
    const ns = namespaceURI || null;
    if ((prefix !== null && ns === null) || prefix === 'xml' || prefix === 'xmlns' || qName === 'xmlns')
      throw new Unusual();
    if (ns === XMLNS) throw new Unusual();
    const list: LeanAttr[] = [];
    for (let i = 0; i < attrs.length; i++) {
      const name = attrs.getQName(i);
      const uri = attrs.getURI(i) || null;
      const c = name.indexOf(':');
      const p = c > 0 ? name.slice(0, c) : null;
      const local = c > 0 ? name.slice(c + 1) : name;
      const declares = name === 'xmlns' || p === 'xmlns';
      if ((p !== null && uri === null) || declares !== (uri === XMLNS) || (p === 'xml') !== (uri === XML))
        throw new Unusual();
      for (const a of list) if (a.localName === local && a.namespaceURI === uri) throw new Unusual();
      list.push({ name, namespaceURI: uri, localName: local, prefix: p, value: attrs.getValue(i) });
    }
    const el = new LeanElement(ns, prefix, localName, qName, list);
    const parent = this.currentElement ?? this.doc!;
    if (parent === this.doc) {
      if (this.doc.documentElement) throw new Unusual();
      this.doc.documentElement = el;
    }
    parent.append(el);
    this.currentElement = el;
  }
  endElement(): void {
    const parent = this.currentElement?.parentNode;
    this.currentElement = parent && parent !== this.doc ? parent : undefined;
    if (!parent) throw new Unusual();
    // After the root only whitespace, which the parser does not report, is read; anything else there gives up.
    if (parent === this.doc) this.ended = true;
  }
  characters(chars: string, start: number, length: number): void {
    const text = chars.slice(start, start + length);
    if (!text) return;
    const parent = this.currentElement;
    if (!parent) {
      if (this.ended || !WHITESPACE.test(text)) throw new Unusual();
      this.doc!.append(new LeanNode(3, '#text', text));
      return;
    }
    // A CDATA section is a node of its own; adjacent text runs are one text node, as the DOM's `normalize()` at the
    // end of a parse leaves them.
    if (this.cdata) {
      parent.append(new LeanNode(4, '#cdata-section', text));
      return;
    }
    const last = parent.lastChild;
    if (last && last.nodeType === 3) last.nodeValue += text;
    else parent.append(new LeanNode(3, '#text', text));
  }
  comment(chars: string, start: number, length: number): void {
    if (!this.currentElement && this.ended) throw new Unusual();
    (this.currentElement ?? this.doc!).append(
      new LeanNode(8, '#comment', chars.slice(start, start + length)),
    );
  }
  processingInstruction(target: string, data: string): void {
    if ((!this.currentElement && this.ended) || misreadPiTarget(target)) throw new Unusual();
    (this.currentElement ?? this.doc!).append(new LeanNode(7, target, data));
  }
  startCDATA(): void {
    this.cdata = true;
  }
  startDTD(): void {
    throw new Unusual();
  }
  endCDATA(): void {
    this.cdata = false;
  }
  endDTD(): void {}
  startPrefixMapping(prefix: string, uri: string): void {
    if (reservedNamespaceDeclaration(prefix, uri)) throw new Unusual();
  }
  endPrefixMapping(): void {}
  ignorableWhitespace(): void {}
  skippedEntity(): void {
    throw new Unusual();
  }
  endDocument(): void {}
  setDocumentLocator(): void {}
  warning(): void {
    throw new Unusual();
  }
  error(): void {
    throw new Unusual();
  }
  fatalError(): never {
    throw new Unusual();
  }
}

const WHITESPACE = /^[ \t\n]*$/;

/**
 * {@link parseXml} without a DOM, for a reader that only reads: the same checks before parsing (they throw the same
 * `EhmiError`s: size, encoding, DOCTYPE, characters), the same SAX reader, and a lean tree of plain objects in place
 * of xmldom's nodes (about half a parse's time on a 26 KB envelope goes to building the DOM). Undefined whenever the
 * parser reports anything at all or the document has something the lean tree does not hold as the DOM would (see
 * `LeanHandler`): the caller then parses with {@link parseXml}, which says what is wrong.
 *
 * @example
 * const lean = parseXmlLean(bytes, { source: 'the received envelope' });
 * const doc = lean ?? parseXml(bytes, { source: 'the received envelope' });
 */
export function parseXmlLean(
  input: string | Uint8Array,
  options: Omit<ParseXmlOptions, 'locator'> = {},
): LeanDocument | undefined {
  const text = checkedText(input, options);
  const parser = new DOMParser({
    locator: false,
    domHandler: LeanHandler,
    normalizeLineEndings: xml10LineEnds,
    onError: () => {
      throw new Unusual();
    },
  } as ConstructorParameters<typeof DOMParser>[0]);
  try {
    const doc = parser.parseFromString(text, MIME_TYPE.XML_APPLICATION) as unknown as LeanDocument;
    return doc.documentElement ? doc : undefined;
  } catch {
    return undefined;
  }
}
