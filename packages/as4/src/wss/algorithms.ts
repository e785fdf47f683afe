import { EhmiError } from '@ehmi/errors';

/**
 * Algorithm identifiers (XML Signature 1.1 §6, XML Encryption 1.1 §5, RFC 9231).
 *
 * @example
 * result.signatureMethod === ALG.rsaSha256;
 */
export const ALG = {
  excC14n: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  sha1: 'http://www.w3.org/2000/09/xmldsig#sha1',
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  rsaSha1: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
  ecdsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256',
  ed25519: 'http://www.w3.org/2021/04/xmldsig-more#eddsa-ed25519',
  aes128Gcm: 'http://www.w3.org/2009/xmlenc11#aes128-gcm',
  aes256Gcm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
  rsaOaep: 'http://www.w3.org/2009/xmlenc11#rsa-oaep',
  rsaOaepMgf1p: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
  mgf1sha256: 'http://www.w3.org/2009/xmlenc11#mgf1sha256',
  x25519: 'http://www.w3.org/2021/04/xmldsig-more#x25519',
  ecdhEs: 'http://www.w3.org/2009/xmlenc11#ECDH-ES',
  hkdf: 'http://www.w3.org/2021/04/xmldsig-more#hkdf',
  hmacSha256: 'http://www.w3.org/2001/04/xmldsig-more#hmac-sha256',
  kwAes128: 'http://www.w3.org/2001/04/xmlenc#kw-aes128',
} as const;

/**
 * An algorithm profile. `edelivery-1.15`: eDelivery AS4 1.15 §2.2 (RSA-SHA256, SHA-256, AES-128-GCM, RSA-OAEP with
 * MGF1-SHA256). `edelivery-2.0`: eDelivery AS4 2.0 Common Usage Profile (Ed25519, X25519 + HKDF + AES-128 key wrap)
 * with the alternative EC enhancement's ECDSA P-256 signatures accepted.
 *
 * @example
 * await verifyEnvelope(doc, attachments, { trust, profile: 'edelivery-2.0' });
 */
export type SecurityProfile = 'edelivery-1.15' | 'edelivery-2.0';

export interface AlgorithmPolicy {
  signature: readonly string[];
  digest: readonly string[];
  dataEncryption: readonly string[];
  keyTransport: readonly string[];
}

/**
 * The algorithm policy of each profile; pass one (or your own {@link AlgorithmPolicy}) as `profile`.
 *
 * @example
 * const legacy = { ...PROFILES['edelivery-1.15'], signature: [ALG.rsaSha256, ALG.rsaSha1] };
 */
export const PROFILES: Readonly<Record<SecurityProfile, AlgorithmPolicy>> = {
  'edelivery-1.15': {
    signature: [ALG.rsaSha256],
    digest: [ALG.sha256],
    dataEncryption: [ALG.aes128Gcm],
    keyTransport: [ALG.rsaOaep, ALG.rsaOaepMgf1p],
  },
  'edelivery-2.0': {
    signature: [ALG.ed25519, ALG.ecdsaSha256],
    digest: [ALG.sha256],
    dataEncryption: [ALG.aes128Gcm],
    keyTransport: [ALG.kwAes128],
  },
};

/** Algorithms this implementation can compute at all (known, whatever the policy says). */
const KNOWN_SIGNATURE = new Set<string>([ALG.rsaSha256, ALG.rsaSha1, ALG.ecdsaSha256, ALG.ed25519]);
const KNOWN_DIGEST = new Set<string>([ALG.sha256, ALG.sha1]);

/** Node hash name of a digest URI. */
export function digestName(uri: string): 'sha256' | 'sha1' {
  return uri === ALG.sha1 ? 'sha1' : 'sha256';
}

/**
 * Checks a signature or digest algorithm against the policy. An algorithm we cannot compute (e.g. a made-up URI)
 * makes the signature unverifiable: EBMS:0101 FailedAuthentication. A known algorithm outside the profile (RSA-SHA1,
 * SHA-1) is a policy violation: EBMS:0103 PolicyNoncompliance (eDelivery AS4 1.15 §2.2.6.2 fixes the algorithms).
 */
export function checkAlgorithm(kind: 'signature' | 'digest', uri: string, policy: AlgorithmPolicy): void {
  const known = kind === 'signature' ? KNOWN_SIGNATURE : KNOWN_DIGEST;
  if (!known.has(uri)) {
    throw new EhmiError('EHMI_AS4_FAILED_AUTHENTICATION', `unsupported ${kind} algorithm ${uri}`, {
      details: { algorithm: uri },
    });
  }
  const allowed = kind === 'signature' ? policy.signature : policy.digest;
  if (!allowed.includes(uri)) {
    throw new EhmiError(
      'EHMI_AS4_POLICY_NONCOMPLIANCE',
      `${kind} algorithm ${uri} is not allowed by the profile`,
      {
        details: { algorithm: uri, allowed },
      },
    );
  }
}
