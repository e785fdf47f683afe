import type { Attr, Element, Node } from '@xmldom/xmldom';
import { escapeCanonicalAttr as canonicalAttr, escapeText } from './escape.ts';

export const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
export const EXC_C14N_WITH_COMMENTS = 'http://www.w3.org/2001/10/xml-exc-c14n#WithComments';

const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

export interface ExcC14nOptions {
  /** The `InclusiveNamespaces PrefixList` of the transform (Exclusive XML Canonicalization 1.0 §3); `#default` for the default namespace. */
  inclusivePrefixes?: readonly string[];
  /** Keep comments (the `#WithComments` variant). */
  withComments?: boolean;
  /**
   * The namespace declarations (prefix → URI, `''` for the default) that output ancestors have already rendered:
   * the element is canonicalised as the inner part of a canonical document that renders these above it (used to
   * write a received element into a canonical text of ours, e.g. a receipt's echoed `ds:Reference`).
   */
  renderedNamespaces?: ReadonlyMap<string, string>;
}

/**
 * Exclusive XML Canonicalization 1.0 (https://www.w3.org/TR/xml-exc-c14n/) of an element in its
 * document: what XML signatures in AS4, SMP and SAML digest. Written here rather than taken from xml-crypto, whose
 * 6.x orders namespace declarations with a case-insensitive `localeCompare` (`ds` before `S12`, where Canonical
 * XML 1.0 §2.2 wants code-point order, so phase4's envelopes did not verify), mutates the DOM for
 * InclusiveNamespaces, and costs several times more. One walk, strings joined once.
 *
 * Rules (Exc-C14N §3): a namespace declaration is output on an element when the element or one of its attributes
 * visibly uses the prefix (or the prefix is in the InclusiveNamespaces PrefixList and in scope) and the nearest
 * output ancestor did not already output the same prefix with the same URI; declarations sorted by prefix,
 * attributes by (namespace URI, local name), code-point order; text and attribute values escaped as Canonical XML
 * 1.0 §2.3; comments dropped unless `withComments`; CDATA as text.
 *
 * @example
 * const digest = createHash('sha256').update(excC14n(messaging, { inclusivePrefixes: ['S12'] })).digest();
 */
export function excC14n(apex: Element, options: ExcC14nOptions = {}): string {
  const inclusive = (options.inclusivePrefixes ?? []).map((p) => (p === '#default' ? '' : p));
  // Namespaces declared on the apex's ancestors: only needed for InclusiveNamespaces prefixes.
  const scope = new Map<string, string>();
  if (inclusive.length > 0) {
    const chain: Element[] = [];
    for (let n = apex.parentNode; n && n.nodeType === 1; n = n.parentNode) chain.unshift(n as Element);
    for (const el of chain) declare(el, scope);
  }
  const out: string[] = [];
  walk(apex, scope, new Map(options.renderedNamespaces ?? []), inclusive, options.withComments === true, out);
  return out.join('');
}

/** Namespace declarations in scope at `element` that come from its ancestors (nearest wins). */
export function ancestorNamespaceDeclarations(element: Element): { prefix: string; namespaceURI: string }[] {
  const scope = new Map<string, string>();
  const chain: Element[] = [];
  for (let n = element.parentNode; n && n.nodeType === 1; n = n.parentNode) chain.unshift(n as Element);
  for (const el of chain) declare(el, scope);
  return [...scope].map(([prefix, namespaceURI]) => ({ prefix, namespaceURI }));
}

function declare(el: Element, scope: Map<string, string>): boolean {
  const attrs = el.attributes;
  let changed = false;
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs.item(i)!;
    if (a.namespaceURI !== XMLNS_NS) continue;
    scope.set(a.prefix === 'xmlns' ? a.localName! : '', a.value);
    changed = true;
  }
  return changed;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

// What `walk` lists for one element at a time: its visibly used prefixes and their URIs, its attributes (no
// namespace declarations) and the positions of the declarations it outputs. Only the first entries, as counted by
// the element's walk, are its own.
const prefixes: string[] = [];
const uris: string[] = [];
const attributes: (Attr | undefined)[] = [];
const declarations: number[] = [];

const listed = (prefix: string, np: number): boolean => {
  for (let i = 0; i < np; i++) if (prefixes[i] === prefix) return true;
  return false;
};
const byPrefix = (a: number, b: number): number => cmp(prefixes[a]!, prefixes[b]!);
const byAttribute = (a: Attr | undefined, b: Attr | undefined): number =>
  cmp(a!.namespaceURI ?? '', b!.namespaceURI ?? '') || cmp(a!.localName ?? a!.name, b!.localName ?? b!.name);

/** Whether the first `n` entries of `list` are in `order` already (then they need no sort, nor its work array). */
function inOrder<T>(list: readonly T[], n: number, order: (a: T, b: T) => number): boolean {
  for (let i = 1; i < n; i++) if (order(list[i - 1]!, list[i]!) > 0) return false;
  return true;
}

function walk(
  el: Element,
  parentScope: Map<string, string>,
  parentRendered: Map<string, string>,
  inclusive: readonly string[],
  comments: boolean,
  out: string[],
): void {
  let scope = parentScope;
  if (inclusive.length > 0 && hasNsDecl(el)) {
    scope = new Map(parentScope);
    declare(el, scope);
  }
  // Visibly utilised prefixes (few per element). The lists are the walk's own, filled from the start for each
  // element and read before its children are walked: no arrays per element for the collector to sweep (an array
  // emptied by `length = 0` gives its storage back, so they are counted instead). Sorted only when out of order.
  let np = 0;
  prefixes[np] = el.prefix ?? '';
  uris[np++] = el.namespaceURI ?? '';
  const list = el.attributes as unknown as ArrayLike<Attr>;
  let na = 0;
  for (let i = 0; i < list.length; i++) {
    const a = list[i]!;
    if (a.namespaceURI === XMLNS_NS) continue;
    const prefix = a.prefix;
    if (prefix && prefix !== 'xml' && !listed(prefix, np)) {
      prefixes[np] = prefix;
      uris[np++] = a.namespaceURI ?? '';
    }
    attributes[na++] = a;
  }
  for (const p of inclusive) {
    if (!listed(p, np) && scope.has(p)) {
      prefixes[np] = p;
      uris[np++] = scope.get(p)!;
    }
  }
  let nd = 0;
  for (let i = 0; i < np; i++) {
    const prefix = prefixes[i]!;
    const uri = uris[i]!;
    if (prefix !== '' && uri === '') continue;
    const current = parentRendered.get(prefix);
    if (current === uri || (current === undefined && prefix === '' && uri === '')) continue;
    declarations[nd++] = i;
  }
  const name = el.prefix ? `${el.prefix}:${el.localName}` : (el.localName ?? el.nodeName);
  let head = `<${name}`;
  let rendered = parentRendered;
  if (nd > 0) {
    rendered = new Map(parentRendered);
    const decls = inOrder(declarations, nd, byPrefix)
      ? declarations
      : declarations.slice(0, nd).sort(byPrefix);
    for (let k = 0; k < nd; k++) {
      const i = decls[k]!;
      const prefix = prefixes[i]!;
      rendered.set(prefix, uris[i]!);
      head += `${prefix === '' ? ' xmlns="' : ` xmlns:${prefix}="`}${canonicalAttr(uris[i]!)}"`;
    }
  }
  if (na > 0) {
    const attrs = inOrder(attributes, na, byAttribute)
      ? attributes
      : attributes.slice(0, na).sort(byAttribute);
    for (let k = 0; k < na; k++) {
      const a = attrs[k]!;
      head += ` ${a.name}="${canonicalAttr(a.value)}"`;
    }
    // No node of this document is held once the walk is done.
    attributes.fill(undefined, 0, na);
  }
  out.push(`${head}>`);
  for (let n: Node | null = el.firstChild; n; n = n.nextSibling) {
    const type = n.nodeType;
    if (type === 1) walk(n as Element, scope, rendered, inclusive, comments, out);
    else if (type === 3 || type === 4) out.push(escapeText((n as unknown as { data: string }).data));
    else if (type === 7) {
      const pi = n as unknown as { target: string; data: string };
      out.push(`<?${pi.target}${pi.data ? ` ${pi.data}` : ''}?>`);
    } else if (type === 8 && comments) out.push(`<!--${(n as unknown as { data: string }).data}-->`);
  }
  out.push(`</${name}>`);
}

function hasNsDecl(el: Element): boolean {
  const attrs = el.attributes;
  for (let i = 0; i < attrs.length; i++) if (attrs.item(i)!.namespaceURI === XMLNS_NS) return true;
  return false;
}
