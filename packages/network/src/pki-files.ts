import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Name of the central node's folders (`<data>/pki/central/`, `<data>/central/`): no organisation may use it. */
export const CENTRAL_NAME = 'central';

/** The folder of the published CRL, `<data>/pki/crl/`: no organisation may use its name either. */
export const CRL_DIR_NAME = 'crl';

/**
 * The network-level OAuth clients (not organisations): `operator`, the network operator and support desk (read
 * access across the network), `maintainer` (EER writes) and `console`, the web console's server side (people sign
 * in through it; it holds their tokens). Each holds a TLS client certificate in `<data>/pki/<name>/`; no
 * organisation may use these names.
 */
export const NETWORK_CLIENTS = ['operator', 'maintainer', 'console'] as const;
export type NetworkClientName = (typeof NETWORK_CLIENTS)[number];

/** The path the root CA's CRL is served at, and its file name in `<data>/pki/crl/`. */
export const CRL_PATH = '/root-ca.crl';

/**
 * What a certificate of the local network is for (the roles of `checkCertificatePurpose` in @ehmi/pki): the access
 * point's AS4 certificate, TLS server and TLS client certificates, and the SMP's signing certificate.
 */
export type NetworkPurpose = 'as4' | 'tls-server' | 'tls-client' | 'smp-signing';

/** The certificates an organisation holds: its AP's AS4 certificate, its servers' and its clients' TLS ones. */
export const ORGANISATION_PURPOSES: readonly NetworkPurpose[] = ['as4', 'tls-server', 'tls-client'];

/** The certificates the central node (SMP, EER, EAS) holds. */
export const CENTRAL_PURPOSES: readonly NetworkPurpose[] = ['tls-server', 'tls-client', 'smp-signing'];

/** The certificate a network-level client (`operator`, `maintainer`) holds: a TLS client certificate. */
export const NETWORK_CLIENT_PURPOSES: readonly NetworkPurpose[] = ['tls-client'];

/** Whether `holder` is one of the network-level clients. */
export function isNetworkClient(holder: string): holder is NetworkClientName {
  return (NETWORK_CLIENTS as readonly string[]).includes(holder);
}

/** The purposes `holder` (an organisation's name, `central`, `operator` or `maintainer`) has a certificate for. */
export function purposesOf(holder: string): readonly NetworkPurpose[] {
  if (holder === CENTRAL_NAME) return CENTRAL_PURPOSES;
  return isNetworkClient(holder) ? NETWORK_CLIENT_PURPOSES : ORGANISATION_PURPOSES;
}

/** A certificate file and its private key file (PEM, absolute paths). */
export interface CredentialFiles {
  cert: string;
  key: string;
}

/** `<data>/pki/`. */
export function pkiDir(dataDir: string): string {
  return join(dataDir, 'pki');
}

/** The root CA's certificate and key: `<data>/pki/root-ca.{pem,key}`. */
export function rootFiles(dataDir: string): CredentialFiles {
  return { cert: join(pkiDir(dataDir), 'root-ca.pem'), key: join(pkiDir(dataDir), 'root-ca.key') };
}

/** A holder's credential for a purpose: `<data>/pki/<holder>/<purpose>.{pem,key}`. */
export function credentialFiles(dataDir: string, holder: string, purpose: NetworkPurpose): CredentialFiles {
  const dir = join(pkiDir(dataDir), holder);
  return { cert: join(dir, `${purpose}.pem`), key: join(dir, `${purpose}.key`) };
}

/** The revocations the root CA has made: `<data>/pki/revoked.json`. */
export function revokedFile(dataDir: string): string {
  return join(pkiDir(dataDir), 'revoked.json');
}

/** The root CA's current CRL (DER): `<data>/pki/crl/root-ca.crl`. */
export function crlFile(dataDir: string): string {
  return join(pkiDir(dataDir), CRL_DIR_NAME, CRL_PATH.slice(1));
}

/** Write a file so that a reader (another process too) sees the old content or the new, never half of it. */
export function writeAtomically(file: string, content: string | Uint8Array, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode });
  renameSync(tmp, file);
}
