import type { X509Certificate } from 'node:crypto';
import {
  type CertificateInput,
  checkCertificateTrust as checkTrust,
  type TrustOptions as PkiTrustOptions,
  toCertificate as toPkiCertificate,
} from '@ehmi/pki';

export type { CertificateInput };

/** Trust anchors (required), intermediates and the time of the check; see `@ehmi/pki`'s `checkCertificateTrust`. */
export type TrustOptions = Omit<PkiTrustOptions, 'what' | 'errorCode'>;

/**
 * Normalises a certificate input (PEM, DER, or X509Certificate); unreadable input is EHMI_USAGE naming `what`.
 *
 * @example
 * const anchor = toCertificate(readFileSync('smp-ca.pem', 'utf8'), 'trust anchor');
 */
export function toCertificate(input: CertificateInput, what = 'certificate'): X509Certificate {
  return toPkiCertificate(input, { what, errorCode: 'EHMI_USAGE' });
}

/**
 * Checks that an SMP certificate chains to one of the trust anchors and is valid at `at`
 * (EHMI_SMP_CERTIFICATE_UNTRUSTED otherwise). Returns the path, signer first.
 *
 * @example
 * checkCertificateTrust(smpCert, { trustAnchors: [peppolSmpCa] });
 */
export function checkCertificateTrust(cert: X509Certificate, options: TrustOptions): X509Certificate[] {
  return checkTrust(cert, {
    ...options,
    what: 'SMP certificate',
    errorCode: 'EHMI_SMP_CERTIFICATE_UNTRUSTED',
  });
}
