import { ancestorNamespaceDeclarations, type Element } from '@ehmi/xml';
import { ExclusiveCanonicalization } from 'xml-crypto';
import { NS } from './ns.ts';

/**
 * xml-crypto's exclusive c14n orders namespace declarations with `localeCompare`, which is case-insensitive
 * (`ds` before `S12`); Exclusive XML Canonicalization 1.0 §3 / Canonical XML 1.0 §2.2 orders them by code point
 * (`S12` before `ds`). Every phase4 envelope (prefix `S12`/`S11` with InclusiveNamespaces) fails without this.
 */
class CodePointExcC14n extends ExclusiveCanonicalization {
  override nsCompare(a: { prefix: string }, b: { prefix: string }): number {
    return a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0;
  }
}

const algorithm = new CodePointExcC14n();

/**
 * Exclusive XML Canonicalization 1.0 of an element in its document. Prefixes of the InclusiveNamespaces PrefixList
 * that are declared on ancestors are rendered on the apex element (Exc-C14N §3, "InclusiveNamespaces"). Unlike the
 * xml-crypto entry point this leaves the DOM unchanged and renders an inherited default namespace on the apex when
 * the apex uses it (the output has no ancestors, §3 "visibly utilized").
 */
export function canonicalize(el: Element, inclusivePrefixes: readonly string[] = []): string {
  const added: string[] = [];
  if (inclusivePrefixes.length > 0) {
    const ancestors = ancestorNamespaceDeclarations(el);
    for (const prefix of inclusivePrefixes) {
      if (prefix === '#default') continue;
      const decl = ancestors.find((a) => a.prefix === prefix);
      if (decl && !el.hasAttribute(`xmlns:${prefix}`)) {
        el.setAttributeNS(NS.xmlns, `xmlns:${prefix}`, decl.namespaceURI);
        added.push(prefix);
      }
    }
  }
  try {
    return algorithm.process(el as never, {
      inclusiveNamespacesPrefixList: [...inclusivePrefixes],
      ancestorNamespaces: [],
      defaultNs: '',
    });
  } finally {
    for (const prefix of added) el.removeAttributeNS(NS.xmlns, prefix);
  }
}
