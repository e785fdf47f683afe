import { EhmiError } from '@ehmi/errors';
import { childElement, childElements, type Element, textOf } from '@ehmi/xml';
import { NS } from './ns.ts';

/** One ds:Transform of a reference. */
export interface ReferenceTransform {
  algorithm: string;
  /** The `ec:InclusiveNamespaces/@PrefixList` of an exclusive c14n transform, when present. */
  inclusivePrefixes?: string[];
}

/**
 * A ds:Reference as the receipt builder needs it (ebbp:MessagePartNRInformation echoes each reference of the
 * signature it received, eDelivery AS4 1.15 §2.2.7 / AS4 Profile §5.1.8): URI, transforms, digest method and value.
 * `element` is the ds:Reference itself, so a builder can import it byte-for-byte instead of rebuilding it.
 */
export interface SignatureReference {
  uri: string;
  transforms: ReferenceTransform[];
  digestMethod: string;
  /** Base64, as in the ds:DigestValue. */
  digestValue: string;
  element: Element;
}

/** Parses `ec:InclusiveNamespaces/@PrefixList` under a c14n method or transform element. */
export function inclusivePrefixesOf(el: Element): string[] | undefined {
  const inc = childElement(el, NS.ec, 'InclusiveNamespaces');
  if (!inc) return undefined;
  return (inc.getAttribute('PrefixList') ?? '').split(/\s+/).filter(Boolean);
}

/** Reads one ds:Reference. A structurally broken reference is EBMS:0101 (the signature cannot be checked). */
export function parseReference(ref: Element): SignatureReference {
  const uri = ref.getAttribute('URI');
  const dm = childElement(ref, NS.ds, 'DigestMethod');
  const dv = childElement(ref, NS.ds, 'DigestValue');
  if (uri === null || !dm || !dv) {
    throw new EhmiError(
      'EHMI_AS4_FAILED_AUTHENTICATION',
      'a ds:Reference lacks URI, DigestMethod or DigestValue',
    );
  }
  const transformsEl = childElement(ref, NS.ds, 'Transforms');
  const transforms = transformsEl
    ? childElements(transformsEl, NS.ds, 'Transform').map((t) => {
        const inclusivePrefixes = inclusivePrefixesOf(t);
        const algorithm = t.getAttribute('Algorithm') ?? '';
        return inclusivePrefixes ? { algorithm, inclusivePrefixes } : { algorithm };
      })
    : [];
  return {
    uri,
    transforms,
    digestMethod: dm.getAttribute('Algorithm') ?? '',
    digestValue: (textOf(dv) ?? '').replace(/\s+/g, ''),
    element: ref,
  };
}
