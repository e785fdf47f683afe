import {
  constants,
  createPublicKey,
  type KeyObject,
  type SignKeyObjectInput,
  sign,
  verify,
} from 'node:crypto';
import { EhmiError } from '@ehmi/errors';

/**
 * Algorithm identifiers of XML Signature 1.1 §6 and RFC 9231: canonicalisation, transforms, digests and signature
 * methods. Which of them a protocol accepts is its own policy (AS4 profiles in @ehmi/as4, the SMP list in
 * @ehmi/smp); this table only names them.
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
  sha224: 'http://www.w3.org/2001/04/xmldsig-more#sha224',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  sha384: 'http://www.w3.org/2001/04/xmldsig-more#sha384',
  sha512: 'http://www.w3.org/2001/04/xmlenc#sha512',
  rsaSha1: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
  rsaSha224: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha224',
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  rsaSha384: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384',
  rsaSha512: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  rsaPssSha256: 'http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1',
  rsaPssSha384: 'http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1',
  rsaPssSha512: 'http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1',
  ecdsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256',
  ecdsaSha384: 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384',
  ecdsaSha512: 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512',
  ed25519: 'http://www.w3.org/2021/04/xmldsig-more#eddsa-ed25519',
} as const;

/** node:crypto's name of a hash. */
export type HashName = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

/** Digest URIs with their node:crypto names. */
const DIGESTS: ReadonlyMap<string, HashName> = new Map([
  [DSIG.sha1, 'sha1'],
  [DSIG.sha224, 'sha224'],
  [DSIG.sha256, 'sha256'],
  [DSIG.sha384, 'sha384'],
  [DSIG.sha512, 'sha512'],
]);

/** Digest methods this implementation computes. */
export const DIGEST_METHODS: readonly string[] = [...DIGESTS.keys()];

/** node:crypto's hash name of a DigestMethod URI, or undefined when it is not one we compute. */
export function hashOf(digestMethod: string): HashName | undefined {
  return DIGESTS.get(digestMethod);
}

/** Canonicalisation methods {@link canonicalize} computes (without comments). */
export const C14N_METHODS: readonly string[] = [DSIG.excC14n, DSIG.c14n10, DSIG.c14n11];

/** RSA PKCS#1 v1.5 (XML Signature 1.1 §6.4.2, RFC 9231 §2.3.2–2.3.4) hashes by SignatureMethod. */
const RSA_PKCS1: Readonly<Record<string, HashName>> = {
  [DSIG.rsaSha1]: 'sha1',
  [DSIG.rsaSha224]: 'sha224',
  [DSIG.rsaSha256]: 'sha256',
  [DSIG.rsaSha384]: 'sha384',
  [DSIG.rsaSha512]: 'sha512',
};

/** RSASSA-PSS with MGF1 of the same hash, salt as long as the hash, trailer 0xBC (RFC 9231 §2.3.10). */
const RSA_PSS: Readonly<Record<string, { hash: HashName; saltLength: number }>> = {
  [DSIG.rsaPssSha256]: { hash: 'sha256', saltLength: 32 },
  [DSIG.rsaPssSha384]: { hash: 'sha384', saltLength: 48 },
  [DSIG.rsaPssSha512]: { hash: 'sha512', saltLength: 64 },
};

/** ECDSA (XML Signature 1.1 §6.4.3, RFC 9231 §2.3.6): the value is r‖s, not DER. */
const ECDSA: Readonly<Record<string, HashName>> = {
  [DSIG.ecdsaSha256]: 'sha256',
  [DSIG.ecdsaSha384]: 'sha384',
  [DSIG.ecdsaSha512]: 'sha512',
};

/** Signature methods this implementation signs and verifies. */
export const SIGNATURE_METHODS: readonly string[] = [
  ...Object.keys(RSA_PKCS1),
  ...Object.keys(RSA_PSS),
  ...Object.keys(ECDSA),
  DSIG.ed25519,
];

/**
 * The SignatureMethod written for a private key: RSA-SHA256 for RSA (eDelivery AS4 1.15 §2.2.6.2, Peppol and
 * OASIS SMPs), Ed25519, ECDSA-SHA256 for EC P-256 (eDelivery AS4 2.0). Anything else is EHMI_NOT_SUPPORTED.
 *
 * @example
 * signatureMethodFor(createPrivateKey(keyPem)); // DSIG.rsaSha256
 */
export function signatureMethodFor(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return DSIG.rsaSha256;
    case 'ed25519':
      return DSIG.ed25519;
    case 'ec':
      if (key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return DSIG.ecdsaSha256;
      break;
  }
  throw new EhmiError('EHMI_NOT_SUPPORTED', `no signature algorithm for a ${key.asymmetricKeyType} key`);
}

/** node:crypto's arguments for signing with a SignatureMethod: the digest, and the key with its padding. */
function signArguments(method: string, key: KeyObject): [string | null, KeyObject | SignKeyObjectInput] {
  if (method === DSIG.ed25519) return [null, key];
  const pkcs1 = RSA_PKCS1[method];
  if (pkcs1) return [pkcs1, key];
  const pss = RSA_PSS[method];
  if (pss) return [pss.hash, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength }];
  const ecdsa = ECDSA[method];
  if (ecdsa) return [ecdsa, { key, dsaEncoding: 'ieee-p1363' }];
  throw new EhmiError('EHMI_NOT_SUPPORTED', `cannot sign with ${method}`);
}

/**
 * Signs bytes (canonical SignedInfo) with a SignatureMethod; ECDSA values are r‖s (XML Signature 1.1 §6.4.3).
 * An unknown method is EHMI_NOT_SUPPORTED.
 */
export function signBytes(method: string, key: KeyObject, data: Buffer): Buffer {
  const [digest, signingKey] = signArguments(method, key);
  return sign(digest, data, signingKey);
}

/**
 * {@link signBytes} off the event loop: node:crypto signs on libuv's thread pool (`UV_THREADPOOL_SIZE`, 4 by
 * default), so a server's signatures (an RSA-3072 one takes about 4 ms) use every core while its main thread goes
 * on with other requests. The key is not copied: the pool's threads are this process's. The result is the same.
 *
 * @example
 * const value = await signBytesAsync(DSIG.rsaSha256, privateKey, canonicalSignedInfo(signedInfo));
 */
export async function signBytesAsync(method: string, key: KeyObject, data: Buffer): Promise<Buffer> {
  const [digest, signingKey] = signArguments(method, key);
  return new Promise((resolve, reject) =>
    sign(digest, data, signingKey, (err, signature) => (err ? reject(err) : resolve(signature))),
  );
}

/**
 * Verifies a SignatureValue over bytes; an unknown method, a key of the wrong type for the method or a malformed
 * value is `false`, never an exception. Which methods are acceptable is the caller's policy.
 */
export function verifyBytes(method: string, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  const pub = key.type === 'public' ? key : createPublicKey(key);
  try {
    if (method === DSIG.ed25519)
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
