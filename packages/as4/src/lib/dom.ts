import { EhmiError, type EhmiErrorCode } from '@ehmi/errors';
import { childElements, type Element, pathOf } from '@ehmi/xml';
import { NS } from './ns.ts';

/** Children of `parent` in the ebMS namespace with `localName`. */
export function ebChildren(parent: Element, localName: string): Element[] {
  return childElements(parent, NS.EB, localName);
}

/**
 * The single ebMS child `localName` of `parent`. Absent or repeated → EBMS:0009 InvalidHeader
 * (ebMS3 Core §6.7.1: "the ebMS header is … invalid").
 */
export function ebOne(
  parent: Element,
  localName: string,
  code: EhmiErrorCode = 'EHMI_AS4_INVALID_HEADER',
): Element {
  const found = ebChildren(parent, localName);
  if (found.length !== 1) {
    const what = found.length === 0 ? 'missing' : `repeated ${found.length} times`;
    throw new EhmiError(code, `eb:${localName} is ${what} in ${parent.nodeName}`, {
      expression: [`${pathOf(parent)}/eb:${localName}`],
    });
  }
  return found[0]!;
}

/** The optional single ebMS child `localName`; repeated → EBMS:0009. */
export function ebOptional(parent: Element, localName: string): Element | undefined {
  const found = ebChildren(parent, localName);
  if (found.length > 1) {
    throw new EhmiError('EHMI_AS4_INVALID_HEADER', `eb:${localName} is repeated in ${parent.nodeName}`, {
      expression: [`${pathOf(parent)}/eb:${localName}`],
    });
  }
  return found[0];
}

/** Trimmed text of a required element; empty → EBMS:0009. */
export function requiredText(el: Element): string {
  const text = (el.textContent ?? '').trim();
  if (text === '') {
    throw new EhmiError('EHMI_AS4_INVALID_HEADER', `${el.nodeName} is empty`, { expression: [pathOf(el)] });
  }
  return text;
}

/** An attribute value, or undefined when absent (xmldom returns '' or null for absent attributes). */
export function attr(el: Element, name: string): string | undefined {
  return el.hasAttribute(name) ? el.getAttribute(name)! : undefined;
}

/** `wsu:Id`, `Id` or `id` of an element (the id forms a WS-Security reference may point at). */
export function idOf(el: Element): string | undefined {
  if (el.hasAttributeNS(NS.WSU, 'Id')) return el.getAttributeNS(NS.WSU, 'Id') ?? undefined;
  if (el.hasAttribute('Id')) return el.getAttribute('Id') ?? undefined;
  if (el.hasAttribute('id')) return el.getAttribute('id') ?? undefined;
  return undefined;
}
