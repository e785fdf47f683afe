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
