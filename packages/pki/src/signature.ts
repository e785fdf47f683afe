import { constants, type KeyObject, sign, verify } from 'node:crypto';
import { RsaSaPssParams } from '@peculiar/asn1-rsa';
import { AsnConvert } from '@peculiar/asn1-schema';
import { type AlgorithmIdentifier, AlgorithmIdentifier as AsnAlgorithmIdentifier } from '@peculiar/asn1-x509';
import type { KeyType } from './issue.ts';

/** Signature algorithm OIDs → node:crypto digest (RFC 4055 §5, RFC 5758 §3.2, RFC 8410 §3). */
const DIGESTS: Record<string, string | null> = {
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null,
};

const HASH_OIDS: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

const RSASSA_PSS = '1.2.840.113549.1.1.10';
const MGF1 = '1.2.840.113549.1.1.8';
// Spelled out: @peculiar/asn1-rsa's own `sha256WithRSAEncryption` constant carries the SHA-512/256 OID.
const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const sha256 = new AsnAlgorithmIdentifier({ algorithm: '2.16.840.1.101.3.4.2.1', parameters: null });
const ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const ED25519 = '1.3.101.112';

/**
 * Verify a signature over `tbs` made with `algorithm` (as a CRL or OCSP response names it) by `publicKey`, with
 * node:crypto, which also handles the RSASSA-PSS signatures of the Danish OCES3 CAs. False for an algorithm we
 * do not know, never a throw.
 */
export function verifySignature(
  algorithm: AlgorithmIdentifier,
  tbs: ArrayBuffer | Uint8Array,
  signature: ArrayBuffer | Uint8Array,
  publicKey: KeyObject,
): boolean {
  const data = Buffer.from(tbs as ArrayBuffer);
  const sig = Buffer.from(signature as ArrayBuffer);
  try {
    if (algorithm.algorithm === RSASSA_PSS) {
      const params = algorithm.parameters
        ? AsnConvert.parse(algorithm.parameters, RsaSaPssParams)
        : new RsaSaPssParams();
      const hash = HASH_OIDS[params.hashAlgorithm.algorithm];
      if (!hash) return false;
      return verify(
        hash,
        data,
        { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: params.saltLength },
        sig,
      );
    }
    if (!(algorithm.algorithm in DIGESTS)) return false;
    return verify(DIGESTS[algorithm.algorithm] ?? null, data, publicKey, sig);
  } catch {
    return false;
  }
}

/**
 * Sign `data` with `key` as a CA of `keyType` signs (the algorithms `issueCertificate` uses), returning the
 * AlgorithmIdentifier to put beside the signature. For structures @peculiar/x509 does not sign (OCSP responses).
 */
export function signAs(
  keyType: KeyType,
  key: KeyObject,
  data: ArrayBuffer | Uint8Array,
): { algorithm: AlgorithmIdentifier; signature: Buffer } {
  const bytes = Buffer.from(data as ArrayBuffer);
  switch (keyType) {
    case 'rsa-2048':
    case 'rsa-3072':
      return {
        algorithm: new AsnAlgorithmIdentifier({ algorithm: SHA256_WITH_RSA, parameters: null }),
        signature: sign('sha256', bytes, key),
      };
    case 'rsa-pss-2048': {
      // RFC 4055 §3.1 with SHA-256 throughout: MGF1-SHA-256 and a 32-octet salt.
      const params = new RsaSaPssParams({
        hashAlgorithm: sha256,
        maskGenAlgorithm: new AsnAlgorithmIdentifier({
          algorithm: MGF1,
          parameters: AsnConvert.serialize(sha256),
        }),
        saltLength: 32,
      });
      return {
        algorithm: new AsnAlgorithmIdentifier({
          algorithm: RSASSA_PSS,
          parameters: AsnConvert.serialize(params),
        }),
        signature: sign('sha256', bytes, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
      };
    }
    case 'p-256':
      return {
        algorithm: new AsnAlgorithmIdentifier({ algorithm: ECDSA_SHA256 }),
        signature: sign('sha256', bytes, key),
      };
    case 'ed25519':
      return {
        algorithm: new AsnAlgorithmIdentifier({ algorithm: ED25519 }),
        signature: sign(null, bytes, key),
      };
    case 'x25519':
      throw new Error('an X25519 key cannot sign');
  }
}
