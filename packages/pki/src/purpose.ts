import 'reflect-metadata';
import type { X509Certificate } from 'node:crypto';
import { EhmiError, type EhmiErrorCode } from '@ehmi/errors';
import * as x509 from '@peculiar/x509';
import { oneLineName } from './certificate.ts';
import { certificateFacts } from './facts.ts';

/** The end-entity roles of an EHMI node that a certificate can be checked for. */
export type CertificateRole = 'as4' | 'tls-server' | 'tls-client' | 'smp-signing';

export interface PurposeOptions {
  /** Names the certificate in messages (`peer's AS4 certificate`). Default `certificate`. */
  what?: string;
  /** The error code to throw. Default EHMI_CERTIFICATE_UNTRUSTED. */
  errorCode?: EhmiErrorCode;
}

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EKU = '2.5.29.37.0';
const TLS_EKUS = new Set([SERVER_AUTH, CLIENT_AUTH]);

const F = x509.KeyUsageFlags;

/** KeyUsage bit names as RFC 5280 §4.2.1.3 spells them, for messages. */
const FLAG_NAMES: [number, string][] = [
  [F.digitalSignature, 'digitalSignature'],
  [F.nonRepudiation, 'nonRepudiation'],
  [F.keyEncipherment, 'keyEncipherment'],
  [F.dataEncipherment, 'dataEncipherment'],
  [F.keyAgreement, 'keyAgreement'],
  [F.keyCertSign, 'keyCertSign'],
  [F.cRLSign, 'cRLSign'],
];

function names(flags: number): string {
  return (
    FLAG_NAMES.filter(([f]) => flags & f)
      .map(([, n]) => n)
      .join(', ') || 'none'
  );
}

/**
 * Why the KeyUsage `flags` exclude `role`, or undefined when they allow it. An AS4 certificate is encrypted to:
 * an RSA key by key transport (keyEncipherment), an EC/X25519 key by key agreement (keyAgreement), and an
 * Ed25519 key not at all.
 */
function keyUsageFault(
  role: CertificateRole,
  flags: number,
  keyType: string | undefined,
): string | undefined {
  const has = (f: number) => (flags & f) !== 0;
  if (role === 'smp-signing') {
    return has(F.digitalSignature) || has(F.nonRepudiation)
      ? undefined
      : 'digitalSignature or nonRepudiation';
  }
  if (!has(F.digitalSignature)) return 'digitalSignature';
  if (role !== 'as4') return undefined;
  if (keyType === 'ed25519' || keyType === 'ed448')
    return 'an encryption key (Ed25519 cannot be encrypted to)';
  const agreement = keyType === 'ec' || keyType === 'x25519' || keyType === 'x448';
  if (agreement) return has(F.keyAgreement) ? undefined : 'keyAgreement';
  return has(F.keyEncipherment) ? undefined : 'keyEncipherment';
}

/** Why the ExtendedKeyUsage OIDs `ekus` exclude `role`, or undefined when they allow it (RFC 5280 §4.2.1.12). */
function ekuFault(role: CertificateRole, ekus: readonly string[]): string | undefined {
  if (ekus.includes(ANY_EKU)) return undefined;
  if (role === 'tls-server') return ekus.includes(SERVER_AUTH) ? undefined : 'serverAuth';
  if (role === 'tls-client') return ekus.includes(CLIENT_AUTH) ? undefined : 'clientAuth';
  // A certificate its CA limited to TLS must not sign AS4 messages or SMP answers; other EKUs (e.g. a
  // national document-signing OID) do not say it is TLS-only.
  return ekus.every((e) => TLS_EKUS.has(e))
    ? 'a usage other than TLS (its EKU lists only TLS usages)'
    : undefined;
}

/**
 * Check that `cert` may serve `role`: its KeyUsage and ExtendedKeyUsage, where present, must allow it (RFC 5280
 * §4.2.1.3, §4.2.1.12: an absent extension does not restrict), and it must not be a CA certificate. Throws
 * `errorCode` (default EHMI_CERTIFICATE_UNTRUSTED) naming the subject and what excludes the role. Chain and
 * revocation are separate checks (`checkCertificateTrust`, `RevocationChecker`).
 *
 * @example
 * checkCertificatePurpose(peerAs4Certificate, 'as4', { what: "the sender's AS4 certificate" });
 */
export function checkCertificatePurpose(
  cert: X509Certificate,
  role: CertificateRole,
  options: PurposeOptions = {},
): void {
  const what = options.what ?? 'certificate';
  const fail = (reason: string, extra: Record<string, unknown>) =>
    new EhmiError(
      options.errorCode ?? 'EHMI_CERTIFICATE_UNTRUSTED',
      `the ${what} "${oneLineName(cert.subject)}" cannot serve as ${role}: ${reason}`,
      { details: { subject: cert.subject, serialNumber: cert.serialNumber, purpose: role, ...extra } },
    );
  if (cert.ca) throw fail('it is a CA certificate (basicConstraints cA)', {});
  const facts = certificateFacts(cert);
  if (facts.keyUsage !== undefined) {
    const usages = facts.keyUsage;
    const missing = keyUsageFault(role, usages, cert.publicKey.asymmetricKeyType);
    if (missing) {
      throw fail(`its KeyUsage (${names(usages)}) lacks ${missing}`, { keyUsage: names(usages) });
    }
  }
  if (facts.extendedKeyUsage !== undefined) {
    const ekus = facts.extendedKeyUsage;
    const missing = ekuFault(role, ekus);
    if (missing) {
      throw fail(`its ExtendedKeyUsage (${ekus.join(', ')}) does not allow ${missing}`, {
        extendedKeyUsage: ekus,
      });
    }
  }
}
