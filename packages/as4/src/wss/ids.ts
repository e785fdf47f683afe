import { EhmiError } from '@ehmi/errors';
import type { Document, Element, Node } from '@ehmi/xml';
import { NS } from './ns.ts';

/**
 * Every element of the document by its id, collected in one walk (the measured alternative to an XPath lookup per
 * reference, docs/architecture.md "Stack"). Ids are `wsu:Id` (WSS 1.1.1 SOAP Message Security §4) and the
 * unqualified `Id` of XML Signature and XML Encryption elements. A value that appears twice is a
 * signature-wrapping attempt or a broken message; either way the reference cannot be resolved unambiguously,
 * so it is EBMS:0101 FailedAuthentication.
 */
export function buildIdMap(doc: Document): Map<string, Element> {
  const map = new Map<string, Element>();
  const walk = (node: Node): void => {
    for (let n = node.firstChild; n; n = n.nextSibling) {
      if (n.nodeType !== 1) continue;
      const el = n as Element;
      const attrs = el.attributes;
      for (let i = 0; i < attrs.length; i++) {
        const attr = attrs.item(i)!;
        const isId =
          (attr.localName === 'Id' && (attr.namespaceURI === NS.wsu || !attr.namespaceURI)) ||
          (attr.localName === 'ID' && !attr.namespaceURI) ||
          (attr.localName === 'id' && attr.namespaceURI === 'http://www.w3.org/XML/1998/namespace');
        if (!isId) continue;
        const prior = map.get(attr.value);
        if (prior && prior !== el) {
          throw new EhmiError(
            'EHMI_AS4_FAILED_AUTHENTICATION',
            `duplicate id "${attr.value}" in the envelope`,
            {
              details: { id: attr.value, reason: 'duplicate-id' },
            },
          );
        }
        map.set(attr.value, el);
      }
      walk(el);
    }
  };
  walk(doc);
  return map;
}

/** The wsu:Id of an element, or undefined. */
export function wsuIdOf(el: Element): string | undefined {
  return el.getAttributeNS(NS.wsu, 'Id') || el.getAttribute('Id') || undefined;
}

/** Gives an element a wsu:Id when it has none, and returns it. */
export function ensureWsuId(el: Element, prefix: string): string {
  const existing = wsuIdOf(el);
  if (existing) return existing;
  const id = `${prefix}-${crypto.randomUUID()}`;
  if (!el.lookupPrefix(NS.wsu)) el.setAttributeNS(NS.xmlns, 'xmlns:wsu', NS.wsu);
  el.setAttributeNS(NS.wsu, `${el.lookupPrefix(NS.wsu) ?? 'wsu'}:Id`, id);
  return id;
}

/** A fresh id for a new element (`SIG-…`, `EK-…`). */
export function newId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID()}`;
}
