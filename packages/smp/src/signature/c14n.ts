import { ancestorNamespaceDeclarations, type Element, excC14n } from '@ehmi/xml';
import { C14nCanonicalization } from 'xml-crypto';
import { NS } from '../lib/ns.ts';
import { DSIG } from './algorithms.ts';

/**
 * Canonicalizes an element with one of the algorithms SMP responses use: exclusive c14n (Peppol SMPs before
 * SMP 1.2.0, and what we write; `excC14n` of @ehmi/xml) or inclusive Canonical XML 1.0 / 1.1 (the Domibus OASIS
 * sample, Peppol SMP 1.2.0+; xml-crypto).
 *
 * The element is canonicalized as a detached copy that carries the ancestors' namespace declarations it needs
 * (inclusive: all in scope, Canonical XML 1.0 §2.4; exclusive: only those in the InclusiveNamespaces PrefixList,
 * Exc-C14N §3). That keeps both implementations away from ancestor handling: the xml-crypto-based `excC14n`
 * (@ehmi/xml before its own c14n) took a default namespace declared on an ancestor as already rendered and left
 * `xmlns="…"` off the apex, which broke every `<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">` SignedInfo
 * (the Peppol form); the peppol-signed-service-metadata2.xml test keeps that case.
 *
 * Canonical XML 1.1 differs from 1.0 only in how `xml:id` / `xml:base` of ancestors are inherited (Canonical XML 1.1);
 * SMP signatures sign the whole document or a SignedInfo whose ancestors carry no `xml:` attributes, so 1.0's
 * output is 1.1's there. The "WithComments" variants are not accepted (no SMP uses them).
 */
export function canonicalize(
  el: Element,
  algorithm: string,
  options: { inclusivePrefixes?: readonly string[] } = {},
): string {
  if (algorithm === DSIG.excC14n) {
    const prefixes = options.inclusivePrefixes ?? [];
    return excC14n(detached(el, prefixes), { inclusivePrefixes: prefixes });
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
