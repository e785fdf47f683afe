const ESC: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  '\t': '&#x9;',
  '\n': '&#xA;',
  '\r': '&#xD;',
};
const TEXT_RE = /[&<>\r]/g;
const TEXT_TEST = /[&<>\r]/;
const QUOTED_TEXT_RE = /[&<>"\r]/g;
const QUOTED_TEXT_TEST = /[&<>"\r]/;
const ATTR_RE = /[&<>"\t\n\r]/g;
const ATTR_TEST = /[&<>"\t\n\r]/;

/**
 * Escapes character data for element content: `&`, `<`, `>` (XML 1.0 §2.4) and CR as `&#xD;`, which a parser
 * would otherwise turn into LF (§2.11). This is also how Canonical XML 1.0 §2.3 writes text. `quotes: true` also
 * writes `"` as `&quot;` (not needed in content; the SBDH and FHIR narrative writers always did, so their output
 * stays as it was).
 *
 * @example
 * `<Note>${escapeText('a < b & c')}</Note>`; // <Note>a &lt; b &amp; c</Note>
 */
export function escapeText(value: string, options?: { quotes?: boolean }): string {
  if (options?.quotes)
    return QUOTED_TEXT_TEST.test(value) ? value.replace(QUOTED_TEXT_RE, (c) => ESC[c]!) : value;
  return TEXT_TEST.test(value) ? value.replace(TEXT_RE, (c) => ESC[c]!) : value;
}

/**
 * Escapes a value for a double-quoted attribute: `&`, `<`, `>`, `"`, and tab, LF and CR as character references
 * so attribute-value normalisation (XML 1.0 §3.3.3) keeps them.
 *
 * @example
 * `<PartyId type="${escapeAttr(type)}">`;
 */
export function escapeAttr(value: string): string {
  return ATTR_TEST.test(value) ? value.replace(ATTR_RE, (c) => ESC[c]!) : value;
}

// Canonical XML 1.0 §2.3 writes attribute values as escapeAttr does, except that `>` stays literal.
const CANONICAL_ATTR_RE = /[&<"\t\n\r]/g;
const CANONICAL_ATTR_TEST = /[&<"\t\n\r]/;

/**
 * Escapes an attribute value as Canonical XML 1.0 §2.3 (and so Exclusive XML Canonicalization) writes it: `&`,
 * `<`, `"`, tab, LF and CR; `>` stays literal. A value written so is its own canonical form.
 *
 * @example
 * `<ds:Reference URI="${escapeCanonicalAttr(uri)}">`;
 */
export function escapeCanonicalAttr(value: string): string {
  return CANONICAL_ATTR_TEST.test(value) ? value.replace(CANONICAL_ATTR_RE, (c) => ESC[c]!) : value;
}

// XML 1.0 §2.2 Char, with the u flag so that a lone surrogate is a character outside it.
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/**
 * Whether a string holds only characters XML 1.0 allows (§2.2 Char): no C0 control other than tab, LF and CR, no
 * lone surrogate, no U+FFFE/U+FFFF. Escaping cannot save one that does not: a writer refuses it.
 *
 * @example
 * if (!isXmlText(value)) throw new EhmiError('EHMI_VALIDATION_FAILED', 'not XML text');
 */
export function isXmlText(value: string): boolean {
  return !NOT_XML_CHAR.test(value);
}
