import { createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';

/**
 * Algorithm identifiers (XML Signature 1.1 §6; RFC 6931).
 *
 * @example
 * verified.signatureMethod === DSIG.rsaSha256;
 */
export const DSIG = {
  excC14n: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  c14n10: 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315',
  c14n11: 'http://www.w3.org/2006/12/xml-c14n11',
  envelopedSignature: 'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
  sha1: 'http://www.w3.org/2000/09/xmldsig#sha1',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  sha512: 'http://www.w3.org/2001/04/xmlenc#sha512',
  rsaSha1: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  rsaSha512: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  ecdsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256',
} as const;

const DIGESTS: Record<string, 'sha1' | 'sha256' | 'sha512'> = {
  [DSIG.sha1]: 'sha1',
  [DSIG.sha256]: 'sha256',
  [DSIG.sha512]: 'sha512',
};

/** Canonicalization algorithms we compute, for SignedInfo and as the reference's last transform. */
export const C14N_ALGORITHMS: readonly string[] = [DSIG.excC14n, DSIG.c14n10, DSIG.c14n11];

/** The node hash name of a DigestMethod, or undefined when we do not compute it. */
export function digestName(uri: string): 'sha1' | 'sha256' | 'sha512' | undefined {
  return DIGESTS[uri];
}

/** The SignatureMethod we write for a key: RSA-SHA256 (what eDelivery and Peppol SMPs use today) or ECDSA P-256. */
export function signatureMethodFor(key: KeyObject): string {
  if (key.asymmetricKeyType === 'rsa') return DSIG.rsaSha256;
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1')
    return DSIG.ecdsaSha256;
  throw new EhmiError('EHMI_NOT_SUPPORTED', `cannot sign SMP responses with a ${key.asymmetricKeyType} key`);
}

export function signBytes(method: string, key: KeyObject, data: Buffer): Buffer {
  if (method === DSIG.rsaSha256) return sign('sha256', data, key);
  if (method === DSIG.ecdsaSha256) return sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  throw new EhmiError('EHMI_NOT_SUPPORTED', `cannot sign with ${method}`);
}

/** Known SignatureMethods; false for a wrong key type or a bad value, never an exception. */
export function verifyBytes(method: string, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  const pub = key.type === 'public' ? key : createPublicKey(key);
  const rsa = pub.asymmetricKeyType === 'rsa';
  try {
    switch (method) {
      case DSIG.rsaSha1:
        return rsa && verify('sha1', data, pub, signature);
      case DSIG.rsaSha256:
        return rsa && verify('sha256', data, pub, signature);
      case DSIG.rsaSha512:
        return rsa && verify('sha512', data, pub, signature);
      case DSIG.ecdsaSha256:
        return (
          pub.asymmetricKeyType === 'ec' &&
          verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, signature)
        );
    }
  } catch {
    return false;
  }
  return false;
}

/** SignatureMethods we can verify. */
export const SIGNATURE_METHODS: readonly string[] = [
  DSIG.rsaSha1,
  DSIG.rsaSha256,
  DSIG.rsaSha512,
  DSIG.ecdsaSha256,
];
