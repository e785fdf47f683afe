import { ancestorNamespaceDeclarations, childElement, type Element, excC14n } from '@ehmi/xml';
import { C14nCanonicalization } from 'xml-crypto';
import { DSIG } from './algorithms.ts';
import { DSIG_NS } from './ns.ts';

export interface CanonicalizeOptions {
  /** The `ec:InclusiveNamespaces PrefixList` of an exclusive c14n method or transform (`#default` for xmlns). */
  inclusivePrefixes?: readonly string[];
}

/**
 * Canonicalises an element in its document with a CanonicalizationMethod or c14n transform URI (one of
 * {@link C14N_METHODS}): Exclusive XML Canonicalization 1.0 with `excC14n` of @ehmi/xml (what AS4 and most SMPs
 * sign), inclusive Canonical XML 1.0 / 1.1 with xml-crypto (the Domibus OASIS SMP sample, Peppol SMP 1.2.0+).
 *
 * Inclusive c14n is computed on a detached copy that carries every namespace declaration in scope from the
 * ancestors (Canonical XML 1.0 §2.4), so xml-crypto never has to walk ancestors. Canonical XML 1.1 differs from 1.0
 * only in how ancestors' `xml:id` / `xml:base` are inherited; the signatures read here (whole documents, SignedInfo
 * under ds:Signature) have none, so 1.0's output is 1.1's. The "WithComments" variants are not computed.
 *
 * @example
 * const bytes = canonicalize(signedInfo, DSIG.excC14n, { inclusivePrefixes: ['soap'] });
 */
export function canonicalize(el: Element, algorithm: string, options: CanonicalizeOptions = {}): string {
  if (algorithm === DSIG.excC14n) return excC14n(el, { inclusivePrefixes: options.inclusivePrefixes ?? [] });
  if (algorithm === DSIG.c14n10 || algorithm === DSIG.c14n11) {
    return new C14nCanonicalization().process(withAncestorNamespaces(el) as never, {});
  }
  throw new TypeError(`canonicalize: unsupported canonicalization method ${algorithm}`);
}

/** A deep copy of `el` without parent, carrying every namespace declaration in scope from its ancestors. */
function withAncestorNamespaces(el: Element): Element {
  const copy = el.cloneNode(true) as Element;
  if (el.parentNode?.nodeType !== 1) return copy;
  for (const { prefix, namespaceURI } of ancestorNamespaceDeclarations(el)) {
    // Canonical XML 1.0 §2.3: an empty default namespace is output only to undo a non-empty one.
    if (prefix === '' && namespaceURI === '') continue;
    const name = prefix === '' ? 'xmlns' : `xmlns:${prefix}`;
    if (!copy.hasAttribute(name)) copy.setAttributeNS(DSIG_NS.xmlns, name, namespaceURI);
  }
  return copy;
}

/**
 * The `ec:InclusiveNamespaces/@PrefixList` under an exclusive c14n method or transform element, or undefined when
 * it has none.
 */
export function inclusivePrefixesOf(el: Element): string[] | undefined {
  const inc = childElement(el, DSIG_NS.ec, 'InclusiveNamespaces');
  if (!inc) return undefined;
  return (inc.getAttribute('PrefixList') ?? '').split(/\s+/).filter(Boolean);
}
