import { EhmiError } from '@ehmi/errors';
import { escapeCanonicalAttr, escapeText, isXmlText } from '@ehmi/xml';
import { NS } from './ns.ts';

/**
 * The text we write for our own envelopes is written in its canonical form (Exclusive XML Canonicalization 1.0,
 * Canonical XML 1.0 §2.3): attributes in c14n order (unqualified ones first, by name; then by namespace URI and
 * local name), values escaped as c14n escapes them, no empty-element tags, text escaped. A fragment written so and
 * carrying the namespace declarations it uses is its own canonical form, so its digest is taken on the text.
 */

/** The namespace URIs of the attribute prefixes our writers use, for the c14n order of attributes. */
const ATTRIBUTE_NAMESPACES: Readonly<Record<string, string>> = {
  xml: 'http://www.w3.org/XML/1998/namespace',
  S12: NS.S12,
  wsu: NS.WSU,
  wsse11: 'http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd',
};

/** The sort key of an attribute name: namespace URI (empty when unqualified), then local name. */
function attributeKey(name: string): [string, string] {
  const colon = name.indexOf(':');
  if (colon < 0) return ['', name];
  const uri = ATTRIBUTE_NAMESPACES[name.slice(0, colon)];
  if (uri === undefined) throw new EhmiError('EHMI_INTERNAL', `no namespace known for the attribute ${name}`);
  return [uri, name.slice(colon + 1)];
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Refuses a value that no escaping makes XML (a C0 control, a lone surrogate), as a parser would. */
export function xmlValue(value: string): string {
  if (!isXmlText(value)) {
    throw new EhmiError(
      'EHMI_XML_MALFORMED',
      `the value ${JSON.stringify(value)} holds a character XML forbids`,
    );
  }
  return value;
}

/** ` name="value"` pairs for the attributes that are defined, in c14n order and c14n escaping. */
export function attrs(values: Record<string, string | undefined>): string {
  const defined = Object.entries(values).filter((e): e is [string, string] => e[1] !== undefined);
  if (defined.length > 1) {
    defined.sort(([a], [b]) => {
      const [ua, la] = attributeKey(a);
      const [ub, lb] = attributeKey(b);
      return cmp(ua, ub) || cmp(la, lb);
    });
  } else if (defined.length === 1) attributeKey(defined[0]![0]);
  let out = '';
  for (const [k, v] of defined) out += ` ${k}="${escapeCanonicalAttr(xmlValue(v))}"`;
  return out;
}

/** Element content, escaped as c14n writes text. */
export function text(value: string): string {
  return escapeText(xmlValue(value));
}

/** An element with escaped text content (or none), written in canonical form: always with an end tag. */
export function textElement(
  name: string,
  content: string,
  attributes: Record<string, string | undefined> = {},
): string {
  return `<${name}${attrs(attributes)}>${text(content)}</${name}>`;
}

/** An element without content, written in canonical form (`<a></a>`, never `<a/>`). */
export function emptyElement(name: string, attributes: Record<string, string | undefined> = {}): string {
  return `<${name}${attrs(attributes)}></${name}>`;
}
