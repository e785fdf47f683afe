import type { Element, Node } from '@xmldom/xmldom';
import { ExclusiveCanonicalization, ExclusiveCanonicalizationWithComments } from 'xml-crypto';

export const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
export const EXC_C14N_WITH_COMMENTS = 'http://www.w3.org/2001/10/xml-exc-c14n#WithComments';

export interface ExcC14nOptions {
  /** The `InclusiveNamespaces PrefixList` of the transform (Exclusive XML Canonicalization 1.0 §3). */
  inclusivePrefixes?: readonly string[];
  withComments?: boolean;
}

/**
 * Exclusive XML Canonicalization 1.0 of an element subtree (https://www.w3.org/TR/xml-exc-c14n/).
 * Namespaces declared on ancestors are taken into account, so a subtree canonicalizes the same inside its document
 * as on its own.
 *
 * @example
 * const bytes = Buffer.from(excC14n(messagingElement), 'utf8');
 */
export function excC14n(element: Element, options: ExcC14nOptions = {}): string {
  const algorithm = options.withComments
    ? new ExclusiveCanonicalizationWithComments()
    : new ExclusiveCanonicalization();
  const inclusivePrefixes = [...(options.inclusivePrefixes ?? [])];
  const ancestorNamespaces = ancestorNamespaceDeclarations(element);
  const defaultNs = ancestorNamespaces.find((ns) => ns.prefix === '')?.namespaceURI ?? '';
  return algorithm.process(element as never, {
    inclusiveNamespacesPrefixList: inclusivePrefixes,
    ancestorNamespaces: ancestorNamespaces.filter((ns) => ns.prefix !== ''),
    defaultNs,
  });
}

/** Namespace declarations in scope at `element` that come from its ancestors (nearest wins). */
export function ancestorNamespaceDeclarations(element: Element): { prefix: string; namespaceURI: string }[] {
  const seen = new Map<string, string>();
  let node: Node | null = element.parentNode;
  while (node && node.nodeType === 1) {
    const el = node as Element;
    for (let i = 0; i < el.attributes.length; i++) {
      const attr = el.attributes.item(i);
      if (!attr) continue;
      if (attr.name === 'xmlns' && !seen.has('')) seen.set('', attr.value);
      else if (attr.name.startsWith('xmlns:')) {
        const prefix = attr.name.slice(6);
        if (!seen.has(prefix)) seen.set(prefix, attr.value);
      }
    }
    node = el.parentNode;
  }
  return [...seen].map(([prefix, namespaceURI]) => ({ prefix, namespaceURI }));
}
