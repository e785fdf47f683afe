import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EhmiError } from '@ehmi/errors';
import {
  type CertificateAuthority,
  issueCrl,
  loadCredential,
  type RevocationReason,
  readCrl,
  revocationUrls,
} from '@ehmi/pki';
import { z } from 'zod';
import { readJsonFile } from './json-file.ts';
import {
  CENTRAL_NAME,
  CENTRAL_PURPOSES,
  CRL_DIR_NAME,
  credentialFiles,
  crlFile,
  isNetworkClient,
  NETWORK_CLIENT_PURPOSES,
  type NetworkPurpose,
  ORGANISATION_PURPOSES,
  pkiDir,
  purposesOf,
  revokedFile,
  rootFiles,
  writeAtomically,
} from './pki-files.ts';

const DAY = 86_400_000;

/**
 * How long a CRL of the local network is current (its nextUpdate). `ehmi up` issues one at each start and every
 * half of this while it runs, `ehmi pki revoke` one at once.
 */
export const CRL_VALIDITY_MS = DAY;

/**
 * The CRLReason values (RFC 5280 §5.3.1) a revocation of the local network may give. Not certificateHold (a hold
 * can be lifted, which the network does not do), removeFromCRL (delta CRLs only) or the CA reasons.
 */
export const REVOCATION_REASONS: readonly RevocationReason[] = [
  'keyCompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'privilegeWithdrawn',
  'unspecified',
];

const revokedEntry = z.object({
  /** Hex, as node:crypto's `X509Certificate.serialNumber` spells it. */
  serialNumber: z.string().regex(/^[0-9A-Fa-f]+$/),
  /** ISO 8601. */
  revokedAt: z.string().datetime(),
  reason: z.enum(REVOCATION_REASONS as [RevocationReason, ...RevocationReason[]]),
  /** SHA-256 fingerprint of the root CA that issued the certificate: a new root starts a new list. */
  issuer: z.string().min(1),
  /** The organisation (or `central`) and the purpose the certificate served, and its subject: for people. */
  holder: z.string().min(1),
  purpose: z.enum(['as4', 'tls-server', 'tls-client', 'smp-signing']),
  subject: z.string(),
});

const revokedList = z.object({ revoked: z.array(revokedEntry) });

/** One revocation in `<data>/pki/revoked.json`. */
export type NetworkRevocation = z.infer<typeof revokedEntry>;

/** One spelling of a serial number: lower-case hex without leading zeros. */
export function serialKey(serial: string): string {
  return BigInt(`0x${serial}`).toString(16);
}

/**
 * The revocations in `<data>/pki/revoked.json`; none when the file does not exist. A file that cannot be read as
 * such is `EHMI_CONFIG_INVALID`: a CRL issued without it would un-revoke certificates.
 */
export function readRevocations(dataDir: string): NetworkRevocation[] {
  return readJsonFile(revokedFile(dataDir), revokedList, 'a revocation list', () => ({ revoked: [] }))
    .revoked;
}

function writeRevocations(dataDir: string, revoked: readonly NetworkRevocation[]): void {
  writeAtomically(revokedFile(dataDir), `${JSON.stringify({ revoked }, null, 2)}\n`, 0o644);
}

/** The serial numbers (`serialKey`) that `root` has revoked. */
export function revokedSerials(dataDir: string, root: X509Certificate): Set<string> {
  return new Set(
    readRevocations(dataDir)
      .filter((r) => r.issuer === root.fingerprint256)
      .map((r) => serialKey(r.serialNumber)),
  );
}

/** The cRLNumber of the CRL in `file` if `root` signed it, else 0. */
function previousCrlNumber(file: string, root: X509Certificate): number {
  try {
    // Only its number is wanted: a stale CRL of this root still counts (the latest time there is, any grace).
    return (
      readCrl(readFileSync(file), root, { at: new Date(8.64e15), graceMs: Number.POSITIVE_INFINITY })
        .crlNumber ?? 0
    );
  } catch {
    return 0;
  }
}

export interface PublishedCrl {
  file: string;
  crlNumber: number;
  /** How many certificates it lists. */
  revoked: number;
  nextUpdate: Date;
}

/**
 * Issue the root CA's CRL from `<data>/pki/revoked.json` and write it (DER) to `<data>/pki/crl/root-ca.crl`,
 * replacing the file at once, so that the CRL service (which reads the file on each request) serves it from the
 * next request on. Its cRLNumber is one more than the previous CRL's (RFC 5280 §5.2.3: monotonically increasing).
 *
 * @example
 * const crl = await publishNetworkCrl('.ehmi', root);
 * crl.file; // /abs/.ehmi/pki/crl/root-ca.crl
 */
export async function publishNetworkCrl(
  dataDir: string,
  root: CertificateAuthority,
  options: { now?: Date } = {},
): Promise<PublishedCrl> {
  const now = options.now ?? new Date();
  const entries = readRevocations(dataDir).filter((r) => r.issuer === root.certificate.fingerprint256);
  const file = crlFile(dataDir);
  const crlNumber = previousCrlNumber(file, root.certificate) + 1;
  const nextUpdate = new Date(now.getTime() + CRL_VALIDITY_MS);
  const crl = await issueCrl(root, {
    revoked: entries.map((r) => ({
      serialNumber: r.serialNumber,
      revokedAt: new Date(r.revokedAt),
      reason: r.reason,
    })),
    thisUpdate: now,
    nextUpdate,
    crlNumber,
  });
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  writeAtomically(file, crl.der, 0o644);
  return { file, crlNumber, revoked: entries.length, nextUpdate };
}

/** The root CA of the network in `dataDir`; none there is `EHMI_UNAVAILABLE`, naming how to make one. */
export function loadNetworkRoot(dataDir: string): CertificateAuthority {
  const files = rootFiles(dataDir);
  if (!existsSync(files.cert) || !existsSync(files.key)) {
    throw new EhmiError(
      'EHMI_UNAVAILABLE',
      `no local network PKI in ${dataDir} (no ${files.key}): start one with 'ehmi up --data ${dataDir}'`,
    );
  }
  try {
    return loadCredential(readFileSync(files.cert, 'utf8'), readFileSync(files.key, 'utf8'));
  } catch (err) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      `cannot read the root CA ${files.cert}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * The holders of certificates in the network's PKI: its organisations and network-level clients (`operator`,
 * `maintainer`): the folders of `<data>/pki/`, and `central`.
 */
function holders(dataDir: string): string[] {
  const dir = pkiDir(dataDir);
  const names = readdirSync(dir).filter(
    (n) => n !== CRL_DIR_NAME && n !== CENTRAL_NAME && statSync(join(dir, n)).isDirectory(),
  );
  return [...names.sort(), CENTRAL_NAME];
}

export interface RevokeOptions {
  /** Default keyCompromise. */
  reason?: RevocationReason;
  now?: Date;
}

export interface Revoked {
  holder: string;
  purpose: NetworkPurpose;
  /** The certificate's subject, one attribute a line as node:crypto gives it. */
  subject: string;
  serialNumber: string;
  revokedAt: Date;
  reason: RevocationReason;
  /** True when the certificate had been revoked before (the list is unchanged, the CRL issued again). */
  already: boolean;
  /** The certificate's CRL distribution point: where relying parties see the revocation. */
  crlUrl: string | undefined;
  crl: PublishedCrl;
}

/**
 * Revoke the certificate `holder` (an organisation of the network, or `central`) holds for `purpose`: add its serial
 * number to `<data>/pki/revoked.json` and issue the CRL again at once (`publishNetworkCrl`), with the root CA's key
 * in `<data>/pki/root-ca.key`; a running `ehmi up` serves the new CRL from its next request. The certificate files
 * stay: the nodes use them until the next start, which issues a new certificate in place of a revoked one.
 *
 * Throws `EHMI_USAGE` for an unknown holder or a purpose it has no certificate for, `EHMI_NOT_FOUND` when the
 * certificate was not issued yet, `EHMI_CONFLICT` when the current root did not issue it, `EHMI_UNAVAILABLE` when
 * there is no PKI in `dataDir`.
 *
 * @example
 * const r = await revokeNetworkCertificate('.ehmi', 'gp', 'as4');
 * r.serialNumber; // now listed in the CRL at r.crlUrl
 */
export async function revokeNetworkCertificate(
  dataDir: string,
  holder: string,
  purpose: NetworkPurpose,
  options: RevokeOptions = {},
): Promise<Revoked> {
  const root = loadNetworkRoot(dataDir);
  const known = holders(dataDir);
  if (!known.includes(holder)) {
    throw new EhmiError('EHMI_USAGE', `unknown organisation "${holder}" (known: ${known.join(', ')})`);
  }
  if (!purposesOf(holder).includes(purpose)) {
    throw new EhmiError(
      'EHMI_USAGE',
      `${holder} has no ${purpose} certificate: ${
        holder === CENTRAL_NAME
          ? `the central node has ${CENTRAL_PURPOSES.join(', ')}`
          : isNetworkClient(holder)
            ? `the network client ${holder} has ${NETWORK_CLIENT_PURPOSES.join(', ')}`
            : `an organisation has ${ORGANISATION_PURPOSES.join(', ')} (smp-signing is the central node's)`
      }`,
    );
  }
  const reason = options.reason ?? 'keyCompromise';
  if (!REVOCATION_REASONS.includes(reason)) {
    throw new EhmiError('EHMI_USAGE', `reason expects ${REVOCATION_REASONS.join(', ')}, got "${reason}"`);
  }
  const files = credentialFiles(dataDir, holder, purpose);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(files.cert));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new EhmiError(
        'EHMI_NOT_FOUND',
        `${holder} has no ${purpose} certificate yet (${files.cert}): 'ehmi up --data ${dataDir}' issues it`,
      );
    }
    throw new EhmiError('EHMI_CONFIG_INVALID', `cannot read ${files.cert}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!cert.checkIssued(root.certificate) || !cert.verify(root.certificate.publicKey)) {
    throw new EhmiError(
      'EHMI_CONFLICT',
      `${files.cert} was not issued by the network's root CA ${rootFiles(dataDir).cert}: the next start replaces it`,
    );
  }
  const list = readRevocations(dataDir);
  const issuer = root.certificate.fingerprint256;
  const before = list.find(
    (r) => r.issuer === issuer && serialKey(r.serialNumber) === serialKey(cert.serialNumber),
  );
  const entry: NetworkRevocation = before ?? {
    serialNumber: cert.serialNumber,
    revokedAt: (options.now ?? new Date()).toISOString(),
    reason,
    issuer,
    holder,
    purpose,
    subject: cert.subject.replace(/\n/g, ', '),
  };
  if (!before) writeRevocations(dataDir, [...list, entry]);
  const crl = await publishNetworkCrl(dataDir, root, options.now ? { now: options.now } : {});
  return {
    holder,
    purpose,
    subject: cert.subject,
    serialNumber: cert.serialNumber,
    revokedAt: new Date(entry.revokedAt),
    reason: entry.reason,
    already: before !== undefined,
    crlUrl: revocationUrls(cert).crl[0],
    crl,
  };
}
