import { X509Certificate } from 'node:crypto';
import { EhmiError, type EhmiErrorCode } from '@ehmi/errors';

/** A certificate as our APIs accept it: node:crypto's X509Certificate, PEM text, or DER bytes. */
export type CertificateInput = X509Certificate | string | Uint8Array;

/**
 * Certificates parsed most recently, by their exact input (PEM text, or the DER octets). A peer's certificate comes
 * again with every message and every request, and node:crypto takes about 0.4 ms to parse one (plus what it derives
 * on first use: subject, fingerprint, public key, which the X509Certificate keeps). Only parsing is saved: the
 * object is immutable and is what the same octets always parse to; validity, trust and revocation are still
 * decided by each use, with its own time.
 */
const MAX_PARSED = 1000;
const parsed = new Map<string, X509Certificate>();

function parse(input: string | Uint8Array): X509Certificate {
  // The octets themselves are the key (one byte per character), so equal keys are equal inputs: no hash to trust.
  const key =
    typeof input === 'string'
      ? `p${input}`
      : `d${Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1')}`;
  const held = parsed.get(key);
  if (held) {
    // Most recently used last: the oldest entry is the one to go.
    parsed.delete(key);
    parsed.set(key, held);
    return held;
  }
  const cert = new X509Certificate(typeof input === 'string' ? input : Buffer.from(input));
  if (parsed.size >= MAX_PARSED) parsed.delete(parsed.keys().next().value!);
  parsed.set(key, cert);
  return cert;
}

/**
 * Normalise a certificate input to node:crypto's X509Certificate, which also reads the RSA-PSS-signed Danish OCES3
 * certificates. Unreadable input throws `errorCode` (default EHMI_CERTIFICATE_INVALID) naming `what`. The same
 * input gives the same (immutable) object: the most recent certificates are parsed once.
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
    return parse(input);
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
