import type { X509Certificate } from 'node:crypto';
import { EhmiError, type EhmiErrorCode } from '@ehmi/errors';
import { type CertificateInput, oneLineName, toCertificate } from './certificate.ts';

export interface TrustOptions {
  /**
   * The certificates trusted to vouch for a peer: CA certificates (the peer's certificate must chain to one), or
   * the peer's certificate itself (pinned). Required: there is no default trust.
   */
  trustAnchors: readonly CertificateInput[];
  /** CA certificates that may complete the path (e.g. those the peer sent with its signature). */
  intermediates?: readonly CertificateInput[];
  /** When validity is checked. Default: now. */
  at?: Date;
  /** Names the certificate in messages (`SMP certificate`, `signing certificate`). */
  what?: string;
  /** The error code to throw, so each protocol reports in its own terms. Default EHMI_CERTIFICATE_UNTRUSTED. */
  errorCode?: EhmiErrorCode;
}

/** Longest path we build: leaf, up to four intermediates, anchor. */
const MAX_PATH = 6;

function within(cert: X509Certificate, at: Date): boolean {
  return new Date(cert.validFrom) <= at && at <= new Date(cert.validTo);
}

/**
 * Pairs found to be certificate and issuer. Whether `issuer` signed `cert` depends on their octets alone, not on
 * the time, and `toCertificate` hands out one object per certificate, so it is asked once per pair (a peer's
 * certificate is checked on every message); what does depend on the time (validity) is checked on every use.
 */
const issuedBy = new WeakMap<X509Certificate, WeakSet<X509Certificate>>();

/** `issuer` issued `cert`: names match and the signature verifies with the issuer's key. */
function issued(cert: X509Certificate, issuer: X509Certificate): boolean {
  if (issuedBy.get(cert)?.has(issuer)) return true;
  try {
    if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) return false;
  } catch {
    return false;
  }
  const issuers = issuedBy.get(cert) ?? new WeakSet<X509Certificate>();
  issuers.add(issuer);
  issuedBy.set(cert, issuers);
  return true;
}

/**
 * Check that `cert` chains to one of the trust anchors and that every certificate on the way is within its
 * validity at `at` (RFC 5280 §6.1 path validation, without policies or revocation: revocation comes with CRL/OCSP
 * support). A path goes leaf → zero or more CA intermediates (basicConstraints cA=true) → an anchor; the leaf may
 * itself be an anchor (pinning). Returns the path, leaf first; throws `errorCode` naming what failed.
 *
 * @example
 * checkCertificateTrust(signer, { trustAnchors: [networkRootCa], what: 'signing certificate' });
 */
export function checkCertificateTrust(cert: X509Certificate, options: TrustOptions): X509Certificate[] {
  const what = options.what ?? 'certificate';
  const code = options.errorCode ?? 'EHMI_CERTIFICATE_UNTRUSTED';
  if (!options || !Array.isArray(options.trustAnchors) || options.trustAnchors.length === 0) {
    throw new EhmiError('EHMI_CONFIG_INVALID', `checking the ${what} needs trust anchors (none configured)`);
  }
  const at = options.at ?? new Date();
  const anchors = options.trustAnchors.map((a) => toCertificate(a, { what: 'trust anchor' }));
  const intermediates = (options.intermediates ?? []).map((c) =>
    toCertificate(c, { what: 'intermediate certificate' }),
  );
  const details = { subject: cert.subject, issuer: cert.issuer, serialNumber: cert.serialNumber };
  const untrusted = (message: string, extra: Record<string, unknown> = {}) =>
    new EhmiError(code, message, { details: { ...details, ...extra } });
  if (!within(cert, at)) {
    throw untrusted(
      `the ${what} "${oneLineName(cert.subject)}" is not valid at ${at.toISOString()} (valid ${cert.validFrom} to ${cert.validTo})`,
      { validFrom: cert.validFrom, validTo: cert.validTo },
    );
  }
  const path = [cert];
  let current = cert;
  for (let depth = 0; depth < MAX_PATH; depth++) {
    if (anchors.some((a) => a.raw.equals(current.raw))) return path;
    const anchor = anchors.find((a) => issued(current, a));
    if (anchor) {
      if (!within(anchor, at)) {
        throw untrusted(
          `the trust anchor "${oneLineName(anchor.subject)}" is not valid at ${at.toISOString()}`,
        );
      }
      path.push(anchor);
      return path;
    }
    const next = intermediates.find((c) => c.ca && !path.includes(c) && issued(current, c));
    if (!next) break;
    if (!within(next, at)) {
      throw untrusted(
        `the intermediate CA "${oneLineName(next.subject)}" is not valid at ${at.toISOString()}`,
      );
    }
    path.push(next);
    current = next;
  }
  throw untrusted(
    `the ${what} "${oneLineName(cert.subject)}" (issuer "${oneLineName(cert.issuer)}") does not chain to a trust anchor`,
  );
}
