import { createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { ALG } from './algorithms.ts';

/** The XML-DSig SignatureMethod for a private key (eDelivery AS4 1.15 §2.2.6.2: RSA-SHA256; 2.0: Ed25519 or ECDSA P-256). */
export function signatureMethodFor(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ALG.rsaSha256;
    case 'ed25519':
      return ALG.ed25519;
    case 'ec':
      if (key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return ALG.ecdsaSha256;
      break;
  }
  throw new EhmiError('EHMI_NOT_SUPPORTED', `no signature algorithm for a ${key.asymmetricKeyType} key`);
}

/** Signs canonical SignedInfo bytes. ECDSA values are r‖s (XML Signature 1.1 §6.4.3), not DER. */
export function signBytes(method: string, key: KeyObject, data: Buffer): Buffer {
  switch (method) {
    case ALG.rsaSha256:
      return sign('sha256', data, key);
    case ALG.ed25519:
      return sign(null, data, key);
    case ALG.ecdsaSha256:
      return sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  }
  throw new EhmiError('EHMI_NOT_SUPPORTED', `cannot sign with ${method}`);
}

/** Verifies a SignatureValue; a key of the wrong type for the method is a failure, never an exception. */
export function verifyBytes(method: string, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  const pub = key.type === 'public' ? key : createPublicKey(key);
  try {
    switch (method) {
      case ALG.rsaSha256:
        return pub.asymmetricKeyType === 'rsa' && verify('sha256', data, pub, signature);
      case ALG.rsaSha1:
        return pub.asymmetricKeyType === 'rsa' && verify('sha1', data, pub, signature);
      case ALG.ed25519:
        return pub.asymmetricKeyType === 'ed25519' && verify(null, data, pub, signature);
      case ALG.ecdsaSha256:
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
