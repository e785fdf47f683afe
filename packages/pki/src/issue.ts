import 'reflect-metadata';
import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  randomBytes,
  randomUUID,
  webcrypto,
  X509Certificate,
} from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as never);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

/**
 * Key types our profiles use: RSA for eDelivery AS4 1.15 and TLS, Ed25519/X25519/P-256 for the AS4 2.0 profile.
 * `rsa-pss-2048` is an RSA key that signs with RSASSA-PSS, as the Danish OCES3 CAs do.
 */
export type KeyType = 'rsa-2048' | 'rsa-3072' | 'rsa-pss-2048' | 'ed25519' | 'p-256' | 'x25519';

/**
 * What a certificate is for; decides its KeyUsage and ExtendedKeyUsage (RFC 5280 §4.2.1.3, §4.2.1.12).
 * The roles of an EHMI node: `as4` is the access point's one AS4 certificate, which both signs and is encrypted to
 * (eDelivery AS4 1.15 uses one certificate for both); `smp-signing` signs SMP answers; `tls-server` and
 * `tls-client` carry the TLS EKUs and nothing else, so a TLS certificate never signs AS4; `ocsp-signing` is a
 * CA's delegated OCSP responder (RFC 6960 §4.2.2.2). `signing` and
 * `encryption` split the AS4 certificate in two (the AS4 2.0 profile's Ed25519 + X25519 pair).
 */
export type Purpose =
  | 'signing'
  | 'encryption'
  | 'as4'
  | 'tls-server'
  | 'tls-client'
  | 'smp-signing'
  | 'ocsp-signing';

/**
 * The subject of an OCES3-style organisation/system certificate. No public OCES3 certificate profile was found to
 * cite, so the attributes follow ETSI EN 319 412-1 §5.1.4 (organizationIdentifier, OID 2.5.4.97, with the
 * semantics identifier `NTR` + country + `-` + the national trade register number, here the CVR number) and
 * X.520 serialNumber (OID 2.5.4.5) holding a unique identifier such as `UI:DK-S:G:<uuid>`, as the Danish
 * OCES CAs put in system certificates; C=DK, O=organisation, CN=system name.
 */
export interface OrganisationSubject {
  /** The organisation's CVR number (8 digits); becomes `organizationIdentifier=NTRDK-<cvr>`. */
  cvr: string;
  /** The organisation's name (O). */
  organisation: string;
  /** The system's (or organisation certificate's) name (CN). */
  name: string;
  /** The subject serialNumber attribute. Default `UI:DK-S:G:<random uuid>` (a system certificate). */
  serialNumber?: string;
}

/** A certificate with its private key. */
export interface Credential {
  certificate: X509Certificate;
  privateKey: KeyObject;
  /** Leaf first, then the issuers up to and including the root. */
  chain: X509Certificate[];
  certificatePem: string;
  privateKeyPem: string;
  keyType: KeyType;
}

/** A CA that can issue certificates. */
export type CertificateAuthority = Credential;

export interface IssueOptions {
  /** Distinguished name, e.g. `CN=ap.gp-practice, O=Lægehuset, C=DK`; or an OCES3-style organisation subject. */
  subject: string | OrganisationSubject;
  keyType?: KeyType;
  purposes: readonly Purpose[];
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  notBefore?: Date;
  notAfter?: Date;
  /** URL of the CRL that will list this certificate if it is revoked (cRLDistributionPoints, RFC 5280 §4.2.1.13). */
  crlDistributionPoint?: string;
  /** URL of the OCSP responder for this certificate (authorityInfoAccess id-ad-ocsp, RFC 5280 §4.2.2.1). */
  ocspResponder?: string;
  /** Issue an intermediate CA instead of an end-entity certificate; `purposes` may then be empty. */
  ca?: { pathLength?: number };
  /** Certify this private key (of `keyType`) instead of generating one, e.g. to renew a certificate on its key. */
  privateKey?: KeyObject;
}

export interface CaOptions {
  subject: string;
  keyType?: Exclude<KeyType, 'x25519'>;
  notBefore?: Date;
  notAfter?: Date;
  /** How many intermediate CAs may follow (basicConstraints pathLenConstraint). Default 0. */
  pathLength?: number;
  /** The CA's private key (of `keyType`) instead of a generated one. */
  privateKey?: KeyObject;
}

const DAY = 86_400_000;

type Algorithm = webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams | { name: string };

function keyAlgorithm(type: KeyType): Algorithm {
  switch (type) {
    case 'rsa-2048':
    case 'rsa-3072':
      return {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: type === 'rsa-2048' ? 2048 : 3072,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      };
    case 'rsa-pss-2048':
      return {
        name: 'RSA-PSS',
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      };
    case 'p-256':
      return { name: 'ECDSA', namedCurve: 'P-256' };
    case 'ed25519':
      return { name: 'Ed25519' };
    case 'x25519':
      return { name: 'X25519' };
  }
}

/** @internal The algorithm a CA with this key type signs certificates, CRLs and OCSP responses with. */
export function signingAlgorithm(type: KeyType): Algorithm {
  if (type === 'p-256') return { name: 'ECDSA', hash: 'SHA-256' } as Algorithm;
  // RFC 4055 §3.1 with SHA-256: the salt is as long as the hash.
  if (type === 'rsa-pss-2048') return { name: 'RSA-PSS', saltLength: 32, hash: 'SHA-256' } as Algorithm;
  if (type === 'ed25519') return { name: 'Ed25519' };
  if (type === 'x25519') throw new Error('an X25519 key cannot sign certificates');
  return keyAlgorithm(type);
}

async function generate(type: KeyType): Promise<CryptoKeyPair> {
  const usages: webcrypto.KeyUsage[] = type === 'x25519' ? ['deriveBits'] : ['sign', 'verify'];
  return (await webcrypto.subtle.generateKey(keyAlgorithm(type) as never, true, usages)) as CryptoKeyPair;
}

/** The key pair of an existing private key, as WebCrypto wants it; refused when it is not of `type`. */
async function existing(type: KeyType, privateKey: KeyObject): Promise<CryptoKeyPair> {
  const details = privateKey.asymmetricKeyDetails ?? {};
  const actual =
    privateKey.asymmetricKeyType === 'rsa' || privateKey.asymmetricKeyType === 'rsa-pss'
      ? `rsa-${details.modulusLength}`
      : privateKey.asymmetricKeyType === 'ec'
        ? details.namedCurve
        : privateKey.asymmetricKeyType;
  const wanted = type === 'rsa-pss-2048' ? 'rsa-2048' : type === 'p-256' ? 'prime256v1' : type;
  if (privateKey.type !== 'private' || actual !== wanted) {
    throw new EhmiError(
      'EHMI_USAGE',
      `the private key given is no ${type} key (${actual ?? privateKey.type})`,
    );
  }
  const algorithm = keyAlgorithm(type) as never;
  const usages: webcrypto.KeyUsage[] = type === 'x25519' ? ['deriveBits'] : ['sign'];
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return {
    privateKey: await webcrypto.subtle.importKey('pkcs8', pkcs8, algorithm, true, usages),
    publicKey: await webcrypto.subtle.importKey(
      'spki',
      spki,
      algorithm,
      true,
      type === 'x25519' ? [] : ['verify'],
    ),
  };
}

/** A positive 128-bit serial number (RFC 5280 §4.1.2.2: at most 20 octets, positive). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

/** @internal The CA's signing key as WebCrypto wants it, and the algorithm it signs with. */
export async function signerKey(ca: CertificateAuthority): Promise<CryptoKey> {
  const der = ca.privateKey.export({ format: 'der', type: 'pkcs8' });
  return webcrypto.subtle.importKey('pkcs8', der, keyAlgorithm(ca.keyType) as never, false, ['sign']);
}

/** @internal The authorityKeyIdentifier of what `ca` signs: its key's identifier (RFC 5280 §4.2.1.1). */
export async function authorityKeyIdentifier(ca: CertificateAuthority): Promise<x509.Extension> {
  return x509.AuthorityKeyIdentifierExtension.create(
    await webcrypto.subtle.importKey(
      'spki',
      ca.certificate.publicKey.export({ format: 'der', type: 'spki' }),
      keyAlgorithm(ca.keyType) as never,
      true,
      ['verify'],
    ),
  );
}

async function toCredential(
  cert: x509.X509Certificate,
  keys: CryptoKeyPair,
  keyType: KeyType,
  issuerChain: readonly X509Certificate[],
): Promise<Credential> {
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const certificate = new X509Certificate(Buffer.from(cert.rawData));
  return {
    certificate,
    privateKey,
    chain: [certificate, ...issuerChain],
    certificatePem: cert.toString('pem'),
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    keyType,
  };
}

/**
 * Create a self-signed root CA, e.g. the trust anchor of a local EHMI test network.
 *
 * @example
 * const root = await createCertificateAuthority({ subject: 'CN=EHMI Local Root CA, O=EHMI, C=DK' });
 */
export async function createCertificateAuthority(options: CaOptions): Promise<CertificateAuthority> {
  const keyType = options.keyType ?? 'rsa-2048';
  const keys = options.privateKey ? await existing(keyType, options.privateKey) : await generate(keyType);
  const notBefore = options.notBefore ?? new Date(Date.now() - DAY);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: options.subject,
    notBefore,
    notAfter: options.notAfter ?? new Date(notBefore.getTime() + 3650 * DAY),
    keys,
    signingAlgorithm: signingAlgorithm(keyType) as never,
    extensions: [
      new x509.BasicConstraintsExtension(true, options.pathLength ?? 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return toCredential(cert, keys, keyType, []);
}

function usageFlags(purposes: readonly Purpose[], keyType: KeyType): number {
  let flags = 0;
  for (const p of purposes) {
    if (p === 'signing') flags |= x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation;
    if (p === 'smp-signing') flags |= x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation;
    if (p === 'ocsp-signing') flags |= x509.KeyUsageFlags.digitalSignature;
    if (p === 'encryption' || p === 'as4') {
      // An EC or X25519 key is encrypted to by key agreement (ECDH-ES key wrap), an RSA key by key transport.
      flags |=
        keyType === 'x25519' || keyType === 'p-256'
          ? x509.KeyUsageFlags.keyAgreement
          : x509.KeyUsageFlags.keyEncipherment;
    }
    if (p === 'as4') flags |= x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation;
    if (p === 'tls-server' || p === 'tls-client') {
      flags |= x509.KeyUsageFlags.digitalSignature;
      if (keyType.startsWith('rsa')) flags |= x509.KeyUsageFlags.keyEncipherment;
    }
  }
  return flags;
}

/**
 * Issue an end-entity certificate from a CA: an access point's signing or encryption certificate, or a TLS
 * server/client certificate with its subjectAltNames.
 *
 * @example
 * const ap = await issueCertificate(root, {
 *   subject: 'CN=ap.gp, O=Lægehuset, C=DK', purposes: ['signing', 'encryption'],
 * });
 */
export async function issueCertificate(ca: CertificateAuthority, options: IssueOptions): Promise<Credential> {
  const keyType = options.keyType ?? 'rsa-2048';
  if (keyType === 'x25519' && options.purposes.some((p) => p !== 'encryption')) {
    throw new Error('an X25519 key can only serve encryption (key agreement)');
  }
  if (keyType === 'ed25519' && options.purposes.some((p) => p === 'as4' || p === 'encryption')) {
    throw new EhmiError(
      'EHMI_USAGE',
      'an Ed25519 key cannot be encrypted to: issue an Ed25519 signing and an X25519 encryption certificate',
    );
  }
  const keys = options.privateKey ? await existing(keyType, options.privateKey) : await generate(keyType);
  const notBefore = options.notBefore ?? new Date(Date.now() - DAY);
  const eku: string[] = [];
  if (options.purposes.includes('tls-server')) eku.push(x509.ExtendedKeyUsage.serverAuth);
  if (options.purposes.includes('tls-client')) eku.push(x509.ExtendedKeyUsage.clientAuth);
  // A present EKU limits a certificate to its purposes (RFC 5280 §4.2.1.12), which keeps an AS4 or SMP certificate
  // out of TLS. AS4's message-level signing and encryption is what emailProtection names, with the same key usages;
  // an SMP signs XML documents: id-kp-documentSigning (RFC 9336).
  if (options.purposes.includes('as4')) eku.push(x509.ExtendedKeyUsage.emailProtection);
  if (options.purposes.includes('smp-signing')) eku.push(ID_KP_DOCUMENT_SIGNING);
  if (options.purposes.includes('ocsp-signing')) eku.push(x509.ExtendedKeyUsage.ocspSigning);
  const san = [
    ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const flags = options.ca
    ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | usageFlags(options.purposes, keyType)
    : usageFlags(options.purposes, keyType);
  const extensions: x509.Extension[] = [
    options.ca
      ? new x509.BasicConstraintsExtension(true, options.ca.pathLength ?? 0, true)
      : new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(flags, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await authorityKeyIdentifier(ca),
  ];
  if (eku.length > 0) extensions.push(new x509.ExtendedKeyUsageExtension(eku, false));
  if (san.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(san, false));
  if (options.crlDistributionPoint) {
    extensions.push(new x509.CRLDistributionPointsExtension([options.crlDistributionPoint], false));
  }
  if (options.ocspResponder) {
    extensions.push(new x509.AuthorityInfoAccessExtension({ ocsp: [options.ocspResponder] }, false));
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: typeof options.subject === 'string' ? options.subject : organisationName(options.subject),
    // The CA's name as encoded in its certificate, so issuer and subject compare equal byte for byte.
    issuer: new x509.X509Certificate(ca.certificate.raw).subjectName,
    notBefore,
    notAfter: options.notAfter ?? new Date(notBefore.getTime() + 825 * DAY),
    publicKey: keys.publicKey as never,
    signingKey: await signerKey(ca),
    signingAlgorithm: signingAlgorithm(ca.keyType) as never,
    extensions,
  });
  return toCredential(cert, keys, keyType, ca.chain);
}

const ORGANIZATION_IDENTIFIER = '2.5.4.97';
const ID_KP_DOCUMENT_SIGNING = '1.3.6.1.5.5.7.3.36';
const SERIAL_NUMBER = '2.5.4.5';

function organisationName(subject: OrganisationSubject): x509.Name {
  if (!/^\d{8}$/.test(subject.cvr)) {
    throw new EhmiError('EHMI_USAGE', `a CVR number has 8 digits, not "${subject.cvr}"`);
  }
  return new x509.Name([
    { C: [{ printableString: 'DK' }] },
    { O: [{ utf8String: subject.organisation }] },
    { [ORGANIZATION_IDENTIFIER]: [{ utf8String: `NTRDK-${subject.cvr}` }] },
    { CN: [{ utf8String: subject.name }] },
    // X.520 serialNumber is a PrintableString, which allows the ':' of `UI:DK-S:G:…`.
    { [SERIAL_NUMBER]: [{ printableString: subject.serialNumber ?? `UI:DK-S:G:${randomUUID()}` }] },
  ]);
}

/**
 * Read a credential back from PEM (a certificate, or a chain leaf first, and a PKCS#8 private key).
 *
 * @example
 * const ap = loadCredential(readFileSync('ap.pem', 'utf8'), readFileSync('ap.key', 'utf8'));
 */
export function loadCredential(certificatePem: string, privateKeyPem: string, keyType?: KeyType): Credential {
  const pems = certificatePem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0) throw new Error('no PEM certificate found');
  const chain = pems.map((p) => new X509Certificate(p));
  const privateKey = createPrivateKey(privateKeyPem);
  return {
    certificate: chain[0]!,
    privateKey,
    chain,
    certificatePem: pems[0]!,
    privateKeyPem,
    keyType: keyType ?? detectKeyType(privateKey),
  };
}

function detectKeyType(key: KeyObject): KeyType {
  const type = key.asymmetricKeyType;
  if (type === 'rsa')
    return (key.asymmetricKeyDetails?.modulusLength ?? 2048) >= 3072 ? 'rsa-3072' : 'rsa-2048';
  if (type === 'ed25519') return 'ed25519';
  if (type === 'x25519') return 'x25519';
  if (type === 'ec') return 'p-256';
  throw new Error(`unsupported key type ${type}`);
}
