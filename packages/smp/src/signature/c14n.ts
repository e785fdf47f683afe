import { ancestorNamespaceDeclarations, type Element, excC14n } from '@ehmi/xml';
import { C14nCanonicalization } from 'xml-crypto';
import { NS } from '../lib/ns.ts';
import { DSIG } from './algorithms.ts';

/**
 * Canonicalizes an element with one of the algorithms SMP responses use: exclusive c14n (Peppol SMPs before
 * SMP 1.2.0, and what we write) or inclusive Canonical XML 1.0 / 1.1 (the Domibus OASIS sample, Peppol SMP 1.2.0+).
 *
 * The element is canonicalized as a detached copy that carries the ancestors' namespace declarations it needs
 * (inclusive: all in scope, Canonical XML 1.0 §2.4; exclusive: only those in the InclusiveNamespaces PrefixList,
 * Exc-C14N §3): `excC14n` of @ehmi/xml (xml-crypto 6.3 underneath) treats a default namespace declared on an
 * ancestor as already rendered and leaves `xmlns="…"` off the apex, which breaks every
 * `<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">` SignedInfo (the Peppol form).
 *
 * Canonical XML 1.1 differs from 1.0 only in how `xml:id` / `xml:base` of ancestors are inherited (C14N 1.1 §2.4);
 * SMP signatures sign the whole document or a SignedInfo whose ancestors carry no `xml:` attributes, so 1.0's
 * output is 1.1's there. Comments are never part of a same-document `URI=""` reference (XML Signature 1.1
 * §4.4.3.3), so "WithComments" drops them for the document.
 */
export function canonicalize(
  el: Element,
  algorithm: string,
  options: { inclusivePrefixes?: readonly string[]; documentReference?: boolean } = {},
): string {
  if (algorithm === DSIG.excC14n || algorithm === DSIG.excC14nWithComments) {
    const prefixes = options.inclusivePrefixes ?? [];
    return excC14n(detached(el, prefixes), {
      inclusivePrefixes: prefixes,
      withComments: algorithm === DSIG.excC14nWithComments && options.documentReference !== true,
    });
  }
  return new C14nCanonicalization().process(detached(el, 'all') as never, {});
}

/** A deep copy of `el` without parent, carrying the ancestors' namespace declarations named by `prefixes`. */
function detached(el: Element, prefixes: readonly string[] | 'all'): Element {
  const copy = el.cloneNode(true) as Element;
  if (el.parentNode?.nodeType !== 1) return copy;
  for (const { prefix, namespaceURI } of ancestorNamespaceDeclarations(el)) {
    const listed = prefix === '' ? '#default' : prefix;
    if (prefixes !== 'all' && !prefixes.includes(listed)) continue;
    // Canonical XML 1.0 §2.3: an empty default namespace is output only to undo a non-empty one.
    if (prefix === '' && namespaceURI === '') continue;
    const name = prefix === '' ? 'xmlns' : `xmlns:${prefix}`;
    if (!copy.hasAttribute(name)) copy.setAttributeNS(NS.xmlns, name, namespaceURI);
  }
  return copy;
}
