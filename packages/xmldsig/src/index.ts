// XML Signature 1.1 core shared by @ehmi/as4 (WS-Security) and @ehmi/smp (enveloped signatures).
export {
  C14N_METHODS,
  DIGEST_METHODS,
  DSIG,
  type HashName,
  hashOf,
  SIGNATURE_METHODS,
  signatureMethodFor,
  signBytes,
  signBytesAsync,
  verifyBytes,
} from './algorithms.ts';
export { type CanonicalizeOptions, canonicalize, inclusivePrefixesOf } from './c14n.ts';
export { DSIG_NS } from './ns.ts';
export {
  base64Text,
  type DigestElementOptions,
  digestElement,
  type ReferenceTransform,
  readReference,
  type SignatureReference,
  sameDigest,
} from './reference.ts';
export {
  canonicalizationOf,
  canonicalSignedInfo,
  signatureMethodOf,
  signSignedInfo,
  signSignedInfoAsync,
  verifySignatureValue,
} from './signed-info.ts';
