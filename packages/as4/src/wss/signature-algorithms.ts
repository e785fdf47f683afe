import { constants, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
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

/** RSA PKCS#1 v1.5 (XML Signature 1.1 §6.4.2, RFC 9231 §2.3.2–2.3.4) hashes by SignatureMethod. */
const RSA_PKCS1: Readonly<Record<string, string>> = {
  [ALG.rsaSha1]: 'sha1',
  [ALG.rsaSha224]: 'sha224',
  [ALG.rsaSha256]: 'sha256',
  [ALG.rsaSha384]: 'sha384',
  [ALG.rsaSha512]: 'sha512',
};

/** RSASSA-PSS with MGF1 of the same hash, salt as long as the hash, trailer 0xBC (RFC 9231 §2.3.10). */
const RSA_PSS: Readonly<Record<string, { hash: string; saltLength: number }>> = {
  [ALG.rsaPssSha256]: { hash: 'sha256', saltLength: 32 },
  [ALG.rsaPssSha384]: { hash: 'sha384', saltLength: 48 },
  [ALG.rsaPssSha512]: { hash: 'sha512', saltLength: 64 },
};

/** ECDSA (XML Signature 1.1 §6.4.3, RFC 9231 §2.3.6): the value is r‖s, not DER. */
const ECDSA: Readonly<Record<string, string>> = {
  [ALG.ecdsaSha256]: 'sha256',
  [ALG.ecdsaSha384]: 'sha384',
  [ALG.ecdsaSha512]: 'sha512',
};

/**
 * Verifies a SignatureValue; a key of the wrong type for the method is a failure, never an exception. Which methods
 * are acceptable is the algorithm policy's business (algorithms.ts), not this function's.
 */
export function verifyBytes(method: string, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  const pub = key.type === 'public' ? key : createPublicKey(key);
  try {
    if (method === ALG.ed25519)
      return pub.asymmetricKeyType === 'ed25519' && verify(null, data, pub, signature);
    const pkcs1 = RSA_PKCS1[method];
    if (pkcs1) return pub.asymmetricKeyType === 'rsa' && verify(pkcs1, data, pub, signature);
    const pss = RSA_PSS[method];
    if (pss) {
      return (
        (pub.asymmetricKeyType === 'rsa' || pub.asymmetricKeyType === 'rsa-pss') &&
        verify(
          pss.hash,
          data,
          { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength },
          signature,
        )
      );
    }
    const ecdsa = ECDSA[method];
    if (ecdsa) {
      return (
        pub.asymmetricKeyType === 'ec' &&
        verify(ecdsa, data, { key: pub, dsaEncoding: 'ieee-p1363' }, signature)
      );
    }
  } catch {
    return false;
  }
  return false;
}
