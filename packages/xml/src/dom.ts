import type { Document, Element, Node } from '@xmldom/xmldom';

/** Element children of `parent`, optionally filtered by namespace URI and local name. */
export function childElements(parent: Node, namespaceURI?: string | null, localName?: string): Element[] {
  const out: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType !== 1) continue;
    const el = n as Element;
    if (namespaceURI !== undefined && namespaceURI !== null && el.namespaceURI !== namespaceURI) continue;
    if (localName !== undefined && el.localName !== localName) continue;
    out.push(el);
  }
  return out;
}

/** The first matching child element, or undefined. */
export function childElement(parent: Node, namespaceURI: string, localName: string): Element | undefined {
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1) {
      const el = n as Element;
      if (el.namespaceURI === namespaceURI && el.localName === localName) return el;
    }
  }
  return undefined;
}

/** Every descendant element (document order) with the namespace and local name. */
export function descendantElements(root: Node, namespaceURI: string, localName: string): Element[] {
  const out: Element[] = [];
  const walk = (node: Node): void => {
    for (let n = node.firstChild; n; n = n.nextSibling) {
      if (n.nodeType !== 1) continue;
      const el = n as Element;
      if (el.namespaceURI === namespaceURI && el.localName === localName) out.push(el);
      walk(el);
    }
  };
  walk(root);
  return out;
}

/** Concatenated text content of an element, trimmed; undefined when the element is absent. */
export function textOf(el: Element | undefined): string | undefined {
  if (!el) return undefined;
  return (el.textContent ?? '').trim();
}

/** The root element of a document, with a type that is never null. */
export function rootElement(doc: Document): Element {
  const root = doc.documentElement;
  if (!root) throw new Error('document has no root element');
  return root;
}

/** A slash-separated path of qualified names from the root, for error messages (`sh:StandardBusinessDocumentHeader/sh:Receiver`). */
export function pathOf(node: Node): string {
  const parts: string[] = [];
  let n: Node | null = node;
  while (n && n.nodeType === 1) {
    parts.unshift((n as Element).nodeName);
    n = n.parentNode;
  }
  return parts.join('/');
}
