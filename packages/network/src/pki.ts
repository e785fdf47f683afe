import type { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import {
  type CertificateAuthority,
  type Credential,
  createCertificateAuthority,
  issueCertificate,
  loadCredential,
} from '@ehmi/pki';

/** A certificate file and its private key file (PEM, absolute paths). */
export interface CredentialFiles {
  cert: string;
  key: string;
}

/** Where the local network's keys and certificates are, under `<data>/pki/`. */
export interface NetworkPki {
  /** The root CA certificate: the trust anchor of every access point, MSH client and TLS client. */
  trustAnchor: string;
  /** The root CA's private key (later issues issue the central services' certificates with it). */
  trustAnchorKey: string;
  organisations: Record<string, OrganisationCredentials>;
  /** The central node's credentials (SMP, EER, EAS). */
  central: CentralCredentials;
  /** True when this call generated anything (first start, or a credential was missing or about to expire). */
  generated: boolean;
}

export interface OrganisationCredentials {
  /** The access point's AS4 signing and encryption credential (RSA 2048; eDelivery AS4 1.15 §2.2.6). */
  ap: CredentialFiles;
  /** Server certificate of the organisation's MSH and AP, and client certificate of its EUA and AP (mTLS). */
  tls: CredentialFiles;
}

export interface CentralCredentials {
  /** Server certificate of EER and EAS (HTTPS), client certificate of EER's calls to EAS. */
  tls: CredentialFiles;
  /** The SMP's signing credential: every SignedServiceMetadata is signed with it; APs trust it through the root. */
  smp: CredentialFiles;
}

/** Name of the central node's folders (`<data>/pki/central/`, `<data>/central/`): no organisation may use it. */
export const CENTRAL_NAME = 'central';

export interface NetworkPkiOptions {
  /** Names that the TLS certificates are valid for, besides `localhost` and `127.0.0.1`. */
  hosts?: readonly string[];
}

const DAY = 86_400_000;
/** A credential that expires within this time is issued again at start. */
const RENEW_BEFORE_MS = 7 * DAY;

function writeAtomically(file: string, content: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode });
  renameSync(tmp, file);
}

function save(files: CredentialFiles, cred: Credential): void {
  // The key first: a certificate without its key would look complete to the next start.
  writeAtomically(files.key, cred.privateKeyPem, 0o600);
  writeAtomically(files.cert, cred.certificatePem, 0o644);
}

/** The credential in these files, if both exist, parse, and stay valid for a while. */
function usable(files: CredentialFiles, issuer?: X509Certificate): Credential | undefined {
  if (!existsSync(files.cert) || !existsSync(files.key)) return undefined;
  try {
    const cred = loadCredential(readFileSync(files.cert, 'utf8'), readFileSync(files.key, 'utf8'));
    if (Date.parse(cred.certificate.validTo) - Date.now() < RENEW_BEFORE_MS) return undefined;
    if (!cred.certificate.checkPrivateKey(cred.privateKey)) return undefined;
    if (issuer && !cred.certificate.verify(issuer.publicKey)) return undefined;
    return cred;
  } catch {
    return undefined;
  }
}

/**
 * Create the local network's PKI in `<dataDir>/pki/` on first start, and reuse it afterwards: a root CA (the
 * network's trust anchor) and per organisation an AP credential (signing + encryption, RSA 2048) and a TLS
 * credential (tls-server + tls-client, SAN `localhost` and `127.0.0.1`). A missing or expiring credential is issued
 * again from the same root; a new root re-issues everything.
 *
 * Layout: `pki/root-ca.pem`, `pki/root-ca.key`, `pki/<org>/ap.pem`, `pki/<org>/ap.key`, `pki/<org>/tls.pem`,
 * `pki/<org>/tls.key`, and for the central node (SMP, EER, EAS) `pki/central/tls.{pem,key}` and
 * `pki/central/smp-signing.{pem,key}` (the SMP's signing credential). Keys are PKCS#8 PEM with mode 0600.
 *
 * @example
 * const pki = await ensureNetworkPki('.ehmi', ['municipality', 'gp']);
 * pki.organisations.gp.tls.cert; // /abs/.ehmi/pki/gp/tls.pem
 */
export async function ensureNetworkPki(
  dataDir: string,
  organisations: readonly string[],
  options: NetworkPkiOptions = {},
): Promise<NetworkPki> {
  const dir = join(dataDir, 'pki');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const rootFiles = { cert: join(dir, 'root-ca.pem'), key: join(dir, 'root-ca.key') };
  let generated = false;
  let root: CertificateAuthority | undefined = usable(rootFiles);
  const newRoot = !root;
  if (!root) {
    root = await createCertificateAuthority({
      subject: 'CN=EHMI Local Network Root CA, O=EHMI local network, C=DK',
      keyType: 'rsa-2048',
    });
    save(rootFiles, root);
    generated = true;
  }
  const ca = root;
  const dnsNames = ['localhost'];
  const ipAddresses = ['127.0.0.1'];
  for (const h of options.hosts ?? []) {
    if (h === '0.0.0.0' || h === '::' || h === 'localhost' || h === '127.0.0.1') continue;
    if (isIP(h)) ipAddresses.push(h);
    else dnsNames.push(h);
  }
  const result: Record<string, OrganisationCredentials> = {};
  const centralDir = join(dir, CENTRAL_NAME);
  mkdirSync(centralDir, { recursive: true, mode: 0o700 });
  const central: CentralCredentials = {
    tls: { cert: join(centralDir, 'tls.pem'), key: join(centralDir, 'tls.key') },
    smp: { cert: join(centralDir, 'smp-signing.pem'), key: join(centralDir, 'smp-signing.key') },
  };
  const centralJobs = [
    async () => {
      if (!newRoot && usable(central.tls, ca.certificate)) return;
      save(
        central.tls,
        await issueCertificate(ca, {
          subject: 'CN=central.localhost, O=EHMI local network, C=DK',
          keyType: 'rsa-2048',
          purposes: ['tls-server', 'tls-client'],
          dnsNames,
          ipAddresses,
        }),
      );
      generated = true;
    },
    async () => {
      if (!newRoot && usable(central.smp, ca.certificate)) return;
      save(
        central.smp,
        await issueCertificate(ca, {
          subject: 'CN=smp.ehmi.internal, O=EHMI local network, C=DK',
          keyType: 'rsa-2048',
          purposes: ['signing'],
        }),
      );
      generated = true;
    },
  ];
  // Keys are generated in parallel (WebCrypto runs RSA key generation off the main thread).
  await Promise.all([
    ...centralJobs.map((job) => job()),
    ...organisations.map(async (org) => {
      const orgDir = join(dir, org);
      mkdirSync(orgDir, { recursive: true, mode: 0o700 });
      const files: OrganisationCredentials = {
        ap: { cert: join(orgDir, 'ap.pem'), key: join(orgDir, 'ap.key') },
        tls: { cert: join(orgDir, 'tls.pem'), key: join(orgDir, 'tls.key') },
      };
      if (newRoot || !usable(files.ap, ca.certificate)) {
        save(
          files.ap,
          await issueCertificate(ca, {
            subject: `CN=ap.${org}, O=EHMI local network, C=DK`,
            keyType: 'rsa-2048',
            purposes: ['signing', 'encryption'],
          }),
        );
        generated = true;
      }
      if (newRoot || !usable(files.tls, ca.certificate)) {
        save(
          files.tls,
          await issueCertificate(ca, {
            subject: `CN=${org}.localhost, O=EHMI local network, C=DK`,
            keyType: 'rsa-2048',
            purposes: ['tls-server', 'tls-client'],
            dnsNames,
            ipAddresses,
          }),
        );
        generated = true;
      }
      result[org] = files;
    }),
  ]);
  return {
    trustAnchor: rootFiles.cert,
    trustAnchorKey: rootFiles.key,
    organisations: result,
    central,
    generated,
  };
}
