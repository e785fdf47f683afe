import { escapeAttr, escapeText } from '@ehmi/xml';

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
