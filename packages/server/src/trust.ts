import type { X509Certificate } from 'node:crypto';
import { asEhmiError, EhmiError, type EhmiErrorCode } from '@ehmi/errors';
import { RevocationChecker } from '@ehmi/pki';
import type { NodeConfig } from './config/index.ts';

/** The node's revocation checker (CRL/OCSP, cached per `revocation.refreshMs`), shared by its roles. */
export function revocationChecker(config: NodeConfig['revocation']): RevocationChecker {
  return new RevocationChecker({
    refreshMs: config.refreshMs,
    requireRevocationInfo: config.requireRevocationInfo,
  });
}

/**
 * Check that the first certificate of a trust path (leaf first, as `checkCertificateTrust` returns it) is not
 * revoked by its issuer, the next one on the path. A path of one certificate is a pinned certificate: nothing here
 * issued it, so there is nothing to ask. A revoked certificate, or a revocation status that cannot be had (the CRL
 * unreachable, not signed by the issuer, out of date), fails closed with the caller's error code, so each protocol
 * reports it in its own terms (EBMS:0101 for AS4, 401 for an API client).
 */
export async function checkNotRevoked(
  revocation: RevocationChecker,
  path: readonly X509Certificate[],
  options: { what: string; errorCode: EhmiErrorCode },
): Promise<void> {
  const [leaf, issuer] = path;
  if (!leaf || !issuer) return;
  try {
    await revocation.check(leaf, issuer);
  } catch (err) {
    const e = asEhmiError(err);
    throw new EhmiError(options.errorCode, `the ${options.what}: ${e.message}`, {
      cause: err,
      details: { ...e.details, revocation: e.code },
    });
  }
}
