import type { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import {
  type CertificateAuthority,
  type Credential,
  checkCertificatePurpose,
  createCertificateAuthority,
  issueCertificate,
  type KeyType,
  loadCredential,
  type OrganisationSubject,
  revocationUrls,
} from '@ehmi/pki';
import { publishNetworkCrl, revokedSerials, serialKey } from './crl.ts';
import {
  CENTRAL_NAME,
  CRL_PATH,
  type CredentialFiles,
  credentialFiles,
  crlFile,
  NETWORK_CLIENTS,
  type NetworkClientName,
  type NetworkPurpose,
  pkiDir,
  revokedFile,
  rootFiles,
  writeAtomically,
} from './pki-files.ts';
import { centralServicePort, DEFAULT_PORT_BASE } from './ports.ts';
import { testKeyNamer } from './test-keys.ts';

export {
  CENTRAL_NAME,
  type CredentialFiles,
  NETWORK_CLIENTS,
  type NetworkClientName,
  type NetworkPurpose,
} from './pki-files.ts';

/** Where the local network's keys and certificates are, under `<data>/pki/`. */
export interface NetworkPki {
  /** The root CA certificate: the trust anchor of every access point, MSH client and TLS client. */
  trustAnchor: string;
  /** The root CA's private key: it issues the certificates and the CRL. */
  trustAnchorKey: string;
  /** The root CA's CRL: the URL every certificate names as its CRL distribution point, and the file served there. */
  crl: { url: string; file: string };
  /** `<data>/pki/revoked.json`: the revocations the CRL lists. */
  revoked: string;
  organisations: Record<string, OrganisationCredentials>;
  /** The central node's credentials (SMP, EER, EAS, the authorization server). */
  central: CentralCredentials;
  /**
   * The TLS client credentials (`pki/<name>/tls-client.*`) of the network-level OAuth clients: `operator` (the
   * network operator and support desk) and `maintainer` (EER writes).
   */
  clients: Record<NetworkClientName, CredentialFiles>;
  /** True when this call issued anything (first start, or a credential was missing, expiring, revoked…). */
  generated: boolean;
}

/** An organisation's credentials, one per purpose. */
export interface OrganisationCredentials {
  /**
   * The access point's AS4 certificate (RSA 3072 as OCES3 uses; purpose `as4`): it signs the AP's messages and
   * receipts, senders encrypt to it, and the SMP publishes it.
   */
  as4: CredentialFiles;
  /**
   * The AS4 credential `as4` replaced when it was issued again (`pki/<org>/as4-previous.{pem,key}`), when there is
   * one: the AP still decrypts with it (`ap.previousEncryption`) for senders whose SMP answer names it.
   */
  as4Previous?: CredentialFiles;
  /** The TLS server certificate (serverAuth only) of the organisation's MSH and access point. */
  tlsServer: CredentialFiles;
  /** The TLS client certificate (clientAuth only) of its EUA (mTLS to its MSH) and of its AP's outgoing calls. */
  tlsClient: CredentialFiles;
  /** @deprecated The TLS server credential (`tlsServer`) under its name from before certificates by purpose. */
  tls: CredentialFiles;
}

/** The central node's credentials. */
export interface CentralCredentials {
  /** Server certificate of EER and EAS (HTTPS). */
  tlsServer: CredentialFiles;
  /** Client certificate of the central node's calls (EER to EAS). */
  tlsClient: CredentialFiles;
  /** The SMP's signing credential: every SignedServiceMetadata is signed with it; APs trust it through the root. */
  smpSigning: CredentialFiles;
}

/** An organisation as its certificates name it. */
export interface PkiOrganisation {
  /** Folder name under `<data>/pki/`. */
  name: string;
  /** The organisation's name: the subject's O. */
  title: string;
  /** CVR number (8 digits): the subject's organizationIdentifier `NTRDK-<cvr>`. */
  cvr: string;
}

/**
 * Who runs the central node of the local network, as its certificates name it. The CVR number is made up (it
 * passes the CVR modulus-11 check and belongs to no real company), like those of `LOCAL_ORGANISATIONS`.
 */
export const CENTRAL_OPERATOR: Omit<PkiOrganisation, 'name'> = {
  title: 'EHMI local network',
  cvr: '41055391',
};

export interface NetworkPkiOptions {
  /** Names that the TLS server certificates are valid for, besides `localhost` and `127.0.0.1`. */
  hosts?: readonly string[];
  /**
   * The URL of the root CA's CRL that every certificate names as its CRL distribution point. Default: the CRL
   * service of a network on the default port base, `networkCrlUrl('127.0.0.1', 8700)`.
   */
  crlUrl?: string;
}

/** The URL of the CRL service of a network whose URLs use `host` (as a URL spells it) and `portBase`. */
export function networkCrlUrl(host: string, portBase: number): string {
  return `http://${host}:${centralServicePort(portBase, 'crl')}${CRL_PATH}`;
}

const DAY = 86_400_000;
/** A credential that expires within this time is issued again at start. */
const RENEW_BEFORE_MS = 7 * DAY;

/** Key types by purpose: AS4 RSA 3072 as OCES3 certificates are; TLS and SMP signing RSA 2048. */
const KEY_TYPES: Record<NetworkPurpose, KeyType> = {
  as4: 'rsa-3072',
  'tls-server': 'rsa-2048',
  'tls-client': 'rsa-2048',
  'smp-signing': 'rsa-2048',
};

/** The subject's CN by purpose. */
const SYSTEM_NAMES: Record<NetworkPurpose, string> = {
  as4: 'AS4 access point',
  'tls-server': 'TLS server',
  'tls-client': 'TLS client',
  'smp-signing': 'SMP signing',
};

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
    if (issuer && !(cred.certificate.checkIssued(issuer) && cred.certificate.verify(issuer.publicKey)))
      return undefined;
    return cred;
  } catch {
    return undefined;
  }
}

/** Where the AS4 credential replaced by a new one is kept: `as4-previous.{pem,key}` beside `as4.{pem,key}`. */
function previousFiles(files: CredentialFiles): CredentialFiles {
  return {
    cert: files.cert.replace(/\.pem$/, '-previous.pem'),
    key: files.key.replace(/\.key$/, '-previous.key'),
  };
}

/**
 * Before an AS4 credential is issued again: the one in `files` becomes the previous one (decryption only), if it is
 * a pair from the current root that was not revoked, whether or not it expires (an expired certificate still names
 * the key a late message was encrypted to). Else no previous one is kept: a revoked key decrypts nothing more, and
 * no sender encrypts to a certificate from a root the network no longer trusts.
 */
function keepPrevious(files: CredentialFiles, now: Current): void {
  const previous = previousFiles(files);
  let keep = false;
  try {
    const cred = loadCredential(readFileSync(files.cert, 'utf8'), readFileSync(files.key, 'utf8'));
    keep =
      cred.certificate.checkPrivateKey(cred.privateKey) &&
      cred.certificate.checkIssued(now.root) &&
      cred.certificate.verify(now.root.publicKey) &&
      !now.revoked.has(serialKey(cred.certificate.serialNumber));
    if (keep) save(previous, cred);
  } catch {
    keep = false;
  }
  if (!keep) {
    rmSync(previous.cert, { force: true });
    rmSync(previous.key, { force: true });
  }
}

interface Wanted {
  /** Its name in the test key cache. */
  name: string;
  files: CredentialFiles;
  purpose: NetworkPurpose;
  subject: OrganisationSubject;
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
}

interface Current {
  root: X509Certificate;
  crlUrl: string;
  revoked: Set<string>;
}

/**
 * Whether the credential in `w.files` may be used as it is: present, not expiring, issued by the current root,
 * not revoked, naming the network's current CRL as its only distribution point, fit for its purpose with the
 * purpose's key type, and a TLS server certificate valid for every host the network listens on.
 */
function isCurrent(w: Wanted, now: Current): boolean {
  const cred = usable(w.files, now.root);
  if (!cred) return false;
  const cert = cred.certificate;
  if (now.revoked.has(serialKey(cert.serialNumber))) return false;
  const { crl } = revocationUrls(cert);
  if (crl.length !== 1 || crl[0] !== now.crlUrl) return false;
  if (cred.keyType !== KEY_TYPES[w.purpose]) return false;
  try {
    checkCertificatePurpose(cert, w.purpose);
  } catch {
    return false;
  }
  if ((w.dnsNames ?? []).some((n) => cert.checkHost(n) === undefined)) return false;
  if ((w.ipAddresses ?? []).some((ip) => cert.checkIP(ip) === undefined)) return false;
  return true;
}

/**
 * Create the local network's PKI in `<dataDir>/pki/` on first start, and keep it current afterwards: a root CA
 * (the network's trust anchor), and certificates by purpose (@ehmi/pki's roles), each with an OCES3-style subject
 * (C=DK, O=<organisation>, organizationIdentifier=NTRDK-<CVR>, CN=<system>, serialNumber=UI:DK-S:G:<uuid>) and the
 * network's CRL URL as its CRL distribution point:
 *
 * - per organisation `pki/<org>/as4.{pem,key}` (purpose `as4`, RSA 3072: what the SMP publishes, the AP signs
 *   with and is encrypted to), `tls-server.{pem,key}` (serverAuth; SAN `localhost`, `127.0.0.1` and `hosts`) and
 *   `tls-client.{pem,key}` (clientAuth);
 * - for the central node (SMP, EER, EAS) `pki/central/tls-server.*`, `tls-client.*` and `smp-signing.*`;
 * - for the network-level OAuth clients `pki/operator/tls-client.*` and `pki/maintainer/tls-client.*`
 *   (clientAuth; subject O and organizationIdentifier those of `CENTRAL_OPERATOR`).
 *
 * A credential is issued again (from the same root) when it is missing, expiring, not from the current root,
 * revoked (`<data>/pki/revoked.json`), or names another CRL URL; a new root re-issues everything. Files of the
 * layout before certificates by purpose (`ap.pem`, `tls.pem`) are left alone and no longer used. Then the root's
 * CRL is issued (`pki/crl/root-ca.crl`, `publishNetworkCrl`). Keys are PKCS#8 PEM with mode 0600.
 *
 * @example
 * const pki = await ensureNetworkPki('.ehmi', LOCAL_ORGANISATIONS, { crlUrl: networkCrlUrl('127.0.0.1', 8700) });
 * pki.organisations.gp.as4.cert; // /abs/.ehmi/pki/gp/as4.pem
 */
export async function ensureNetworkPki(
  dataDir: string,
  organisations: readonly PkiOrganisation[],
  options: NetworkPkiOptions = {},
): Promise<NetworkPki> {
  const dir = pkiDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const rootPaths = rootFiles(dataDir);
  const crlUrl = options.crlUrl ?? networkCrlUrl('127.0.0.1', DEFAULT_PORT_BASE);
  let generated = false;
  // In the test suite (EHMI_TEST_KEY_CACHE) a PKI made from nothing takes its keys from the run's key cache; one
  // that had a root before (a re-issue, a new root) always generates, so a re-issued credential has a new key.
  const keyNamed = existsSync(rootPaths.cert) || existsSync(rootPaths.key) ? undefined : testKeyNamer();
  let root: CertificateAuthority | undefined = usable(rootPaths);
  if (!root) {
    root = await createCertificateAuthority({
      subject: 'CN=EHMI Local Network Root CA, O=EHMI local network, C=DK',
      keyType: 'rsa-2048',
      ...(keyNamed ? { privateKey: await keyNamed('root', 'rsa-2048') } : {}),
    });
    save(rootPaths, root);
    generated = true;
  }
  const ca = root;
  const dnsNames = ['localhost'];
  const ipAddresses = ['127.0.0.1'];
  for (const h of options.hosts ?? []) {
    if (h === '0.0.0.0' || h === '::' || h === 'localhost' || h === '127.0.0.1') continue;
    if (isIP(h)) ipAddresses.push(h);
    else if (!dnsNames.includes(h)) dnsNames.push(h);
  }
  const current: Current = { root: ca.certificate, crlUrl, revoked: revokedSerials(dataDir, ca.certificate) };
  const wanted = (
    holder: string,
    who: Omit<PkiOrganisation, 'name'>,
    purpose: NetworkPurpose,
    label: string,
  ): Wanted => ({
    name: `${holder}-${purpose}`,
    files: credentialFiles(dataDir, holder, purpose),
    purpose,
    subject: { cvr: who.cvr, organisation: who.title, name: `${label} ${SYSTEM_NAMES[purpose]}` },
    ...(purpose === 'tls-server' ? { dnsNames, ipAddresses } : {}),
  });
  const ensure = async (w: Wanted): Promise<void> => {
    if (isCurrent(w, current)) return;
    // The AS4 key being replaced stays as the previous one, for senders whose SMP answer still names it.
    if (w.purpose === 'as4') keepPrevious(w.files, current);
    save(
      w.files,
      await issueCertificate(ca, {
        subject: w.subject,
        keyType: KEY_TYPES[w.purpose],
        ...(keyNamed ? { privateKey: await keyNamed(w.name, KEY_TYPES[w.purpose]) } : {}),
        purposes: [w.purpose],
        crlDistributionPoint: crlUrl,
        ...(w.dnsNames ? { dnsNames: w.dnsNames } : {}),
        ...(w.ipAddresses ? { ipAddresses: w.ipAddresses } : {}),
      }),
    );
    generated = true;
  };
  const jobs: Wanted[] = [];
  mkdirSync(join(dir, CENTRAL_NAME), { recursive: true, mode: 0o700 });
  const central: CentralCredentials = {
    tlsServer: credentialFiles(dataDir, CENTRAL_NAME, 'tls-server'),
    tlsClient: credentialFiles(dataDir, CENTRAL_NAME, 'tls-client'),
    smpSigning: credentialFiles(dataDir, CENTRAL_NAME, 'smp-signing'),
  };
  for (const purpose of ['tls-server', 'tls-client', 'smp-signing'] as const) {
    jobs.push(wanted(CENTRAL_NAME, CENTRAL_OPERATOR, purpose, 'EHMI central'));
  }
  const clients = {} as Record<NetworkClientName, CredentialFiles>;
  for (const name of NETWORK_CLIENTS) {
    mkdirSync(join(dir, name), { recursive: true, mode: 0o700 });
    clients[name] = credentialFiles(dataDir, name, 'tls-client');
    jobs.push(wanted(name, CENTRAL_OPERATOR, 'tls-client', `EHMI ${name}`));
  }
  const result: Record<string, OrganisationCredentials> = {};
  for (const org of organisations) {
    mkdirSync(join(dir, org.name), { recursive: true, mode: 0o700 });
    const tlsServer = credentialFiles(dataDir, org.name, 'tls-server');
    result[org.name] = {
      as4: credentialFiles(dataDir, org.name, 'as4'),

      tlsServer,
      tlsClient: credentialFiles(dataDir, org.name, 'tls-client'),
      tls: tlsServer,
    };
    for (const purpose of ['as4', 'tls-server', 'tls-client'] as const) {
      jobs.push(wanted(org.name, org, purpose, `EHMI ${org.name}`));
    }
  }
  // Keys are generated in parallel (WebCrypto runs RSA key generation off the main thread).
  await Promise.all(jobs.map(ensure));
  for (const creds of Object.values(result)) {
    const previous = previousFiles(creds.as4);
    if (existsSync(previous.cert) && existsSync(previous.key)) creds.as4Previous = previous;
  }
  // At each start: a CRL that is current, and lists what revoked.json holds now.
  await publishNetworkCrl(dataDir, ca);
  return {
    trustAnchor: rootPaths.cert,
    trustAnchorKey: rootPaths.key,
    crl: { url: crlUrl, file: crlFile(dataDir) },
    revoked: revokedFile(dataDir),
    organisations: result,
    central,
    clients,
    generated,
  };
}
