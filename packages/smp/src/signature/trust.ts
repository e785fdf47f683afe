import { X509Certificate } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';

/** A certificate as accepted by the API: node:crypto's X509Certificate, PEM text, or DER bytes. */
export type CertificateInput = X509Certificate | string | Uint8Array;

/**
 * Normalises a certificate input (PEM, DER, or X509Certificate). node:crypto also reads RSA-PSS-signed certificates
 * such as the Danish OCES3 ones.
 *
 * @example
 * const anchor = toCertificate(readFileSync('smp-ca.pem', 'utf8'));
 */
export function toCertificate(input: CertificateInput, what = 'certificate'): X509Certificate {
  if (input instanceof X509Certificate) return input;
  try {
    return new X509Certificate(typeof input === 'string' ? input : Buffer.from(input));
  } catch (err) {
    throw new EhmiError('EHMI_USAGE', `the ${what} is not an X.509 certificate`, { cause: err });
  }
}

export interface TrustOptions {
  /**
   * The certificates trusted to vouch for an SMP: CA certificates (the SMP certificate must chain to one), or an
   * SMP certificate itself (pinned). Required; there is no default trust.
   */
  trustAnchors: readonly CertificateInput[];
  /** Intermediate CA certificates that may complete the path (besides those in the response's KeyInfo). */
  intermediates?: readonly CertificateInput[];
  /** The time at which validity is checked. Default: now. */
  at?: Date;
}

const MAX_PATH = 6;

function within(cert: X509Certificate, at: Date): boolean {
  return new Date(cert.validFrom) <= at && at <= new Date(cert.validTo);
}

const untrusted = (message: string, details: Record<string, unknown>) =>
  new EhmiError('EHMI_SMP_CERTIFICATE_UNTRUSTED', message, { details });

/**
 * Checks that `cert` chains to one of the trust anchors and that every certificate on the way is within its
 * validity at `at` (RFC 5280 §6.1, without policies or revocation: the caller adds CRL/OCSP when the network has
 * them). A path goes signer → zero or more CA intermediates (basicConstraints cA=true) → an anchor; the signer may
 * also be an anchor itself. Returns the path, signer first.
 *
 * @example
 * checkCertificateTrust(smpCert, { trustAnchors: [peppolSmpCa] });
 */
export function checkCertificateTrust(cert: X509Certificate, options: TrustOptions): X509Certificate[] {
  if (!options || !Array.isArray(options.trustAnchors) || options.trustAnchors.length === 0) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      'SMP signature verification needs trustAnchors (none configured)',
    );
  }
  const at = options.at ?? new Date();
  const anchors = options.trustAnchors.map((a) => toCertificate(a, 'trust anchor'));
  const intermediates = (options.intermediates ?? []).map((c) =>
    toCertificate(c, 'intermediate certificate'),
  );
  const details = { subject: cert.subject, issuer: cert.issuer, serialNumber: cert.serialNumber };
  if (!within(cert, at)) {
    throw untrusted(
      `the SMP certificate "${oneLine(cert.subject)}" is not valid at ${at.toISOString()} (valid ${cert.validFrom} to ${cert.validTo})`,
      { ...details, validFrom: cert.validFrom, validTo: cert.validTo },
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
          `the trust anchor "${oneLine(anchor.subject)}" is not valid at ${at.toISOString()}`,
          details,
        );
      }
      path.push(anchor);
      return path;
    }
    const next = intermediates.find((c) => c.ca && !path.includes(c) && issued(current, c));
    if (!next) break;
    if (!within(next, at)) {
      throw untrusted(
        `the intermediate CA "${oneLine(next.subject)}" is not valid at ${at.toISOString()}`,
        details,
      );
    }
    path.push(next);
    current = next;
  }
  throw untrusted(
    `the SMP certificate "${oneLine(cert.subject)}" (issuer "${oneLine(cert.issuer)}") does not chain to a trust anchor`,
    details,
  );
}

/** `issuer` issued `cert`: names match and the signature verifies with the issuer's key. */
function issued(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}
