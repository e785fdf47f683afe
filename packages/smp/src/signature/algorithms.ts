import type { KeyObject } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { DSIG, signatureMethodFor as methodFor } from '@ehmi/xmldsig';

export { DSIG };

/** Canonicalization algorithms accepted for SignedInfo and as the reference's last transform. */
export const C14N_ALGORITHMS: readonly string[] = [DSIG.excC14n, DSIG.c14n10, DSIG.c14n11];

/** DigestMethods accepted in an SMP response's reference. */
export const DIGEST_METHODS: readonly string[] = [DSIG.sha1, DSIG.sha256, DSIG.sha512];

/** SignatureMethods accepted on SMP responses (what Peppol and OASIS BDXR SMPs sign with). */
export const SIGNATURE_METHODS: readonly string[] = [
  DSIG.rsaSha1,
  DSIG.rsaSha256,
  DSIG.rsaSha512,
  DSIG.ecdsaSha256,
];

/** The SignatureMethod we write for a key: RSA-SHA256 (what eDelivery and Peppol SMPs use today) or ECDSA P-256. */
export function signatureMethodFor(key: KeyObject): string {
  const ok =
    key.asymmetricKeyType === 'rsa' ||
    (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1');
  if (!ok) {
    throw new EhmiError(
      'EHMI_NOT_SUPPORTED',
      `cannot sign SMP responses with a ${key.asymmetricKeyType} key`,
    );
  }
  return methodFor(key);
}
