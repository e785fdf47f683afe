import { EhmiError } from '@ehmi/errors';
import { DSIG, type HashName, hashOf, SIGNATURE_METHODS } from '@ehmi/xmldsig';

/**
 * Algorithm identifiers: XML Signature 1.1 §6 (from @ehmi/xmldsig's `DSIG`), XML Encryption 1.1 §5, RFC 9231.
 *
 * @example
 * result.signatureMethod === ALG.rsaSha256;
 */
export const ALG = {
  ...DSIG,
  aes128Gcm: 'http://www.w3.org/2009/xmlenc11#aes128-gcm',
  aes192Gcm: 'http://www.w3.org/2009/xmlenc11#aes192-gcm',
  aes256Gcm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
  aes128Cbc: 'http://www.w3.org/2001/04/xmlenc#aes128-cbc',
  aes192Cbc: 'http://www.w3.org/2001/04/xmlenc#aes192-cbc',
  aes256Cbc: 'http://www.w3.org/2001/04/xmlenc#aes256-cbc',
  rsaOaep: 'http://www.w3.org/2009/xmlenc11#rsa-oaep',
  rsaOaepMgf1p: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
  mgf1sha1: 'http://www.w3.org/2009/xmlenc11#mgf1sha1',
  mgf1sha224: 'http://www.w3.org/2009/xmlenc11#mgf1sha224',
  mgf1sha256: 'http://www.w3.org/2009/xmlenc11#mgf1sha256',
  mgf1sha384: 'http://www.w3.org/2009/xmlenc11#mgf1sha384',
  mgf1sha512: 'http://www.w3.org/2009/xmlenc11#mgf1sha512',
  x25519: 'http://www.w3.org/2021/04/xmldsig-more#x25519',
  ecdhEs: 'http://www.w3.org/2009/xmlenc11#ECDH-ES',
  hkdf: 'http://www.w3.org/2021/04/xmldsig-more#hkdf',
  hmacSha256: 'http://www.w3.org/2001/04/xmldsig-more#hmac-sha256',
  kwAes128: 'http://www.w3.org/2001/04/xmlenc#kw-aes128',
} as const;

/**
 * An algorithm profile. `edelivery-1.15`: eDelivery AS4 1.15 §2.2 (RSA-SHA256, SHA-256, AES-128-GCM, RSA-OAEP with
 * SHA-256 and MGF1-SHA256). `edelivery-2.0`: eDelivery AS4 2.0 Common Usage Profile (Ed25519, X25519 + HKDF + AES-128
 * key wrap) with the alternative EC enhancement's ECDSA P-256 signatures accepted. `permissive`: every algorithm this
 * implementation computes that WSS4J 2.x (under phase4, Domibus, Holodeck B2B) accepts when no policy restricts it —
 * for checking other implementations' messages (`ehmi as4 verify`), never for an access point's receive path, which
 * follows its P-Mode ({@link securityProfileOf}).
 *
 * @example
 * await verifyEnvelope(doc, attachments, { trust, profile: 'edelivery-2.0' });
 */
export type SecurityProfile = 'edelivery-1.15' | 'edelivery-2.0' | 'permissive';

/** The algorithms a profile allows, by role (XML Signature 1.1 §6, XML Encryption 1.1 §5). */
export interface AlgorithmPolicy {
  /** ds:SignatureMethod. */
  signature: readonly string[];
  /** ds:DigestMethod of each ds:Reference. */
  digest: readonly string[];
  /** xenc:EncryptedData/xenc:EncryptionMethod (block encryption). */
  dataEncryption: readonly string[];
  /** xenc:EncryptedKey/xenc:EncryptionMethod (key transport, or key wrap after key agreement). */
  keyTransport: readonly string[];
  /**
   * RSA-OAEP parameters (XML Encryption 1.1 §5.5.2): the ds:DigestMethod and the mask generation function. The MGF
   * checked is the effective one: `rsa-oaep-mgf1p` always uses MGF1 with SHA-1, `xmlenc11#rsa-oaep` without xenc11:MGF
   * too. Default: SHA-256 with MGF1-SHA256 only (eDelivery AS4 1.15 §2.2.6.3).
   */
  oaep?: { digest: readonly string[]; mgf: readonly string[] };
  /**
   * Accept SwA `Attachment-Complete` encryption (the part's MIME headers encrypted with its content; SwA Profile 1.1
   * §5.5.2). eDelivery AS4 encrypts the content only, so only the permissive policy takes it. Default false.
   */
  attachmentComplete?: boolean;
}

const SHA2 = [ALG.sha224, ALG.sha256, ALG.sha384, ALG.sha512] as const;

/** Signature methods @ehmi/xmldsig computes, whatever the policy says. */
const KNOWN_SIGNATURE = new Set<string>(SIGNATURE_METHODS);

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
    keyTransport: [ALG.rsaOaep],
    oaep: { digest: [ALG.sha256], mgf: [ALG.mgf1sha256] },
  },
  'edelivery-2.0': {
    signature: [ALG.ed25519, ALG.ecdsaSha256],
    digest: [ALG.sha256],
    dataEncryption: [ALG.aes128Gcm],
    keyTransport: [ALG.kwAes128],
  },
  permissive: {
    // Every method this implementation verifies, as WSS4J accepts them for checking other implementations.
    signature: [...SIGNATURE_METHODS],
    digest: [ALG.sha1, ...SHA2],
    dataEncryption: [
      ALG.aes128Gcm,
      ALG.aes192Gcm,
      ALG.aes256Gcm,
      ALG.aes128Cbc,
      ALG.aes192Cbc,
      ALG.aes256Cbc,
    ],
    keyTransport: [ALG.rsaOaep, ALG.rsaOaepMgf1p, ALG.kwAes128],
    oaep: {
      digest: [ALG.sha1, ...SHA2],
      mgf: [ALG.mgf1sha1, ALG.mgf1sha224, ALG.mgf1sha256, ALG.mgf1sha384, ALG.mgf1sha512],
    },
    attachmentComplete: true,
  },
};

/** The RSA-OAEP parameters a policy allows ({@link AlgorithmPolicy.oaep}, defaulted). */
export function oaepPolicy(policy: AlgorithmPolicy): { digest: readonly string[]; mgf: readonly string[] } {
  return policy.oaep ?? { digest: [ALG.sha256], mgf: [ALG.mgf1sha256] };
}

export type { HashName };

/** MGF1 URIs (XML Encryption 1.1 §5.5.2) with the hash each uses. */
const MGFS: ReadonlyMap<string, HashName> = new Map([
  [ALG.mgf1sha1, 'sha1'],
  [ALG.mgf1sha224, 'sha224'],
  [ALG.mgf1sha256, 'sha256'],
  [ALG.mgf1sha384, 'sha384'],
  [ALG.mgf1sha512, 'sha512'],
]);

/** Node hash name of a digest URI (one checked with {@link checkAlgorithm}). */
export function digestName(uri: string): HashName {
  const name = hashOf(uri);
  if (!name) throw new EhmiError('EHMI_AS4_FAILED_AUTHENTICATION', `unsupported digest algorithm ${uri}`);
  return name;
}

/** Node hash name of an MGF1 URI, or undefined when the URI is not an MGF this implementation knows. */
export function mgfName(uri: string): HashName | undefined {
  return MGFS.get(uri);
}

/** Node hash name of a digest URI, or undefined when unknown (for the RSA-OAEP DigestMethod). */
export function knownDigest(uri: string): HashName | undefined {
  return hashOf(uri);
}

/**
 * Checks a signature or digest algorithm against the policy. An algorithm we cannot compute (e.g. a made-up URI)
 * makes the signature unverifiable: EBMS:0101 FailedAuthentication. A known algorithm outside the profile (RSA-SHA1,
 * SHA-1) is a policy violation: EBMS:0103 PolicyNoncompliance (eDelivery AS4 1.15 §2.2.6.2 fixes the algorithms).
 */
export function checkAlgorithm(kind: 'signature' | 'digest', uri: string, policy: AlgorithmPolicy): void {
  const known = kind === 'signature' ? KNOWN_SIGNATURE.has(uri) : hashOf(uri) !== undefined;
  if (!known) {
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
