import type { X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/** What the checks read from a certificate's extensions, parsed once per certificate. */
export interface CertificateFacts {
  /** KeyUsage flags (`x509.KeyUsageFlags`), undefined when the extension is absent. */
  keyUsage: number | undefined;
  /** ExtendedKeyUsage OIDs, undefined when the extension is absent. */
  extendedKeyUsage: string[] | undefined;
  ocsp: string[];
  crl: string[];
}

/** Certificates seen most recently, by SHA-256 fingerprint (a peer's certificate is checked on every message). */
const MAX_ENTRIES = 1000;
const cache = new Map<string, CertificateFacts>();

/**
 * The extensions the purpose and revocation checks need. Parsing a certificate with @peculiar/x509 costs about half
 * a millisecond; a peer's certificate is checked on each message and each request, so the result is kept, by the
 * certificate's fingerprint, for the most recent certificates.
 */
export function certificateFacts(cert: X509Certificate): CertificateFacts {
  const key = cert.fingerprint256;
  const held = cache.get(key);
  if (held) {
    // Most recently used last: the oldest entry is the one to go.
    cache.delete(key);
    cache.set(key, held);
    return held;
  }
  const parsed = new x509.X509Certificate(cert.raw);
  const ku = parsed.getExtension(x509.KeyUsagesExtension);
  const eku = parsed.getExtension(x509.ExtendedKeyUsageExtension);
  const aia = parsed.getExtension(x509.AuthorityInfoAccessExtension);
  const cdp = parsed.getExtension(x509.CRLDistributionPointsExtension);
  const uri = (n: { type: string; value: string }) => (n.type === 'url' ? [n.value] : []);
  const facts: CertificateFacts = {
    keyUsage: ku ? ku.usages : undefined,
    extendedKeyUsage: eku ? eku.usages.map(String) : undefined,
    ocsp: aia ? aia.ocsp.flatMap((n) => uri(n.toJSON())) : [],
    crl: (cdp?.distributionPoints ?? []).flatMap((dp) =>
      (dp.distributionPoint?.fullName ?? []).flatMap((g) =>
        g.uniformResourceIdentifier ? [g.uniformResourceIdentifier] : [],
      ),
    ),
  };
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(key, facts);
  return facts;
}
