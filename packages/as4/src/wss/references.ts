import { EhmiError } from '@ehmi/errors';
import type { Element } from '@ehmi/xml';
import { readReference, type SignatureReference } from '@ehmi/xmldsig';

export { inclusivePrefixesOf, type ReferenceTransform, type SignatureReference } from '@ehmi/xmldsig';

/** Reads one ds:Reference. A structurally broken reference is EBMS:0101 (the signature cannot be checked). */
export function parseReference(ref: Element): SignatureReference {
  const parsed = readReference(ref);
  if (!parsed) {
    throw new EhmiError(
      'EHMI_AS4_FAILED_AUTHENTICATION',
      'a ds:Reference lacks URI, DigestMethod or DigestValue',
    );
  }
  return parsed;
}
