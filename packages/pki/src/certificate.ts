import { X509Certificate } from 'node:crypto';
import { EhmiError, type EhmiErrorCode } from '@ehmi/errors';

/** A certificate as our APIs accept it: node:crypto's X509Certificate, PEM text, or DER bytes. */
export type CertificateInput = X509Certificate | string | Uint8Array;

/**
 * Normalise a certificate input to node:crypto's X509Certificate, which also reads the RSA-PSS-signed Danish OCES3
 * certificates. Unreadable input throws `errorCode` (default EHMI_CERTIFICATE_INVALID) naming `what`.
 *
 * @example
 * const anchor = toCertificate(readFileSync('root-ca.pem', 'utf8'), { what: 'trust anchor' });
 */
export function toCertificate(
  input: CertificateInput,
  options: { what?: string; errorCode?: EhmiErrorCode } = {},
): X509Certificate {
  if (input instanceof X509Certificate) return input;
  try {
    return new X509Certificate(typeof input === 'string' ? input : Buffer.from(input));
  } catch (err) {
    throw new EhmiError(
      options.errorCode ?? 'EHMI_CERTIFICATE_INVALID',
      `the ${options.what ?? 'certificate'} is not an X.509 certificate`,
      { cause: err },
    );
  }
}

/** A distinguished name on one line (`CN=x, O=y`), for messages. */
export function oneLineName(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}
