import { ancestorNamespaceDeclarations, type Element, excC14n } from '@ehmi/xml';
import { C14nCanonicalization } from 'xml-crypto';
import { DSIG } from './algorithms.ts';

/**
 * Canonicalizes an element with one of the algorithms SMP responses use: exclusive c14n (Peppol SMPs before
 * 1.2.0, and what we write) or inclusive Canonical XML 1.0 / 1.1 (the Domibus OASIS sample, Peppol SMP 1.2.0+).
 *
 * Canonical XML 1.1 differs from 1.0 only in how `xml:id` / `xml:base` of ancestors outside a document subset are
 * inherited (C14N 1.1 §2.4); SMP signatures sign the whole document or a SignedInfo whose ancestors carry no
 * `xml:` attributes, so 1.0's output is 1.1's there. Comments are never part of a same-document `URI=""`
 * reference (XML Signature 1.1 §4.4.3.3), so "WithComments" is computed without them for the document.
 */
export function canonicalize(
  el: Element,
  algorithm: string,
  options: { inclusivePrefixes?: readonly string[]; documentReference?: boolean } = {},
): string {
  if (algorithm === DSIG.excC14n || algorithm === DSIG.excC14nWithComments) {
    return excC14n(el, {
      inclusivePrefixes: options.inclusivePrefixes ?? [],
      withComments: algorithm === DSIG.excC14nWithComments && options.documentReference !== true,
    });
  }
  // Inclusive: every namespace in scope at the apex is rendered on it, including those declared by ancestors.
  const ancestors = ancestorNamespaceDeclarations(el);
  const defaultNs = ancestors.find((ns) => ns.prefix === '')?.namespaceURI ?? '';
  return new C14nCanonicalization().process(el as never, {
    ancestorNamespaces: ancestors.filter((ns) => ns.prefix !== ''),
    defaultNs,
  });
}
