/** Escape text content for XML (XML 1.0 §2.4). */
export function escapeText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escape an attribute value for a double-quoted attribute (XML 1.0 §3.3.3: also normalise whitespace chars). */
export function escapeAttr(value: string): string {
  return escapeText(value)
    .replace(/"/g, '&quot;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;');
}

/** `name="value"` pairs for the attributes that are defined. */
export function attrs(values: Record<string, string | undefined>): string {
  return Object.entries(values)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => ` ${k}="${escapeAttr(v)}"`)
    .join('');
}

/** An element with escaped text content. */
export function textElement(
  name: string,
  text: string,
  attributes: Record<string, string | undefined> = {},
): string {
  return `<${name}${attrs(attributes)}>${escapeText(text)}</${name}>`;
}
