import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { asEhmiError, EhmiError, type EhmiErrorCode } from '@ehmi/errors';
import { checkCertificatePurpose, RevocationChecker } from '@ehmi/pki';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NodeConfig } from './config/index.ts';
import { type HttpsOptions, peerCertificatePath } from './http/index.ts';

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

/**
 * An `onRequest` hook for an API served with mutual TLS: the client must have presented a certificate that node's
 * TLS verified against the server's CAs (`authorized`), meant for TLS client authentication and not revoked; else
 * the request is refused with 401. Paths in `open` (health, the OpenAPI document) need no certificate. With
 * `bearer` (the server takes certificate-bound access tokens) a refusal carries a `WWW-Authenticate: Bearer`
 * challenge (RFC 9110 §15.5.2: a 401 names how to authenticate): plain `Bearer` when the request has no token
 * (RFC 6750 §3.1), `error="invalid_token"` with the reason when it has one, which the certificate cannot bind
 * (RFC 8705 §3).
 */
export function requireClientCertificate(options: {
  revocation: RevocationChecker;
  /** Names the trust configuration in the error (`msh.clientTrustAnchors`). */
  anchorsKey: string;
  open?: ReadonlySet<string>;
  bearer?: boolean;
}): (request: FastifyRequest, reply?: FastifyReply) => Promise<void> {
  return async (request, reply) => {
    if (options.open?.has(request.url.split('?')[0]!)) return;
    try {
      await checkTlsClientCertificate(
        request.raw.socket as TLSSocket,
        options.revocation,
        options.anchorsKey,
      );
    } catch (err) {
      if (options.bearer && reply && err instanceof EhmiError) {
        reply.header(
          'www-authenticate',
          request.headers.authorization === undefined
            ? 'Bearer'
            : `Bearer error="invalid_token", error_description="${err.message.replace(/[^\x20-\x7e]|["\\]/g, ' ')}"`,
        );
      }
      throw err;
    }
  };
}

/**
 * That a verified client certificate was presented on this connection (node's TLS verified it against the server's
 * CAs: `socket.authorized`), meant for TLS client authentication and not revoked. Throws EHMI_UNAUTHORIZED saying
 * why (`anchorsKey` names the trust configuration); each server answers it in its own protocol (an
 * OperationOutcome, or OAuth's `invalid_client`).
 */
export async function checkTlsClientCertificate(
  socket: TLSSocket,
  revocation: RevocationChecker,
  anchorsKey = 'tls.ca',
): Promise<void> {
  // A resumed TLS session of a client that presented no certificate reads as `authorized` with no peer
  // certificate: authorized means a verified certificate here, so one must be there too.
  const path = socket.authorized ? peerCertificatePath(socket) : [];
  if (path.length === 0) {
    throw new EhmiError(
      'EHMI_UNAUTHORIZED',
      `a client certificate issued under ${anchorsKey} is required${socket.authorizationError ? ` (${String(socket.authorizationError)})` : ''}`,
    );
  }
  const what = 'client certificate';
  checkCertificatePurpose(path[0]!, 'tls-client', { what, errorCode: 'EHMI_UNAUTHORIZED' });
  await checkNotRevoked(revocation, path, { what, errorCode: 'EHMI_UNAUTHORIZED' });
}

/**
 * HTTPS options that ask for a client certificate without requiring one: node's TLS verifies it against `anchors`
 * and says so in `socket.authorized`, and the role answers a missing or untrusted one in its own protocol (401 with
 * an OperationOutcome, `invalid_client`) instead of a failed handshake. Without anchors, no certificate is asked for.
 */
export function askForClientCertificate(
  tls: { key: string; cert: string },
  anchors: readonly string[],
): HttpsOptions {
  return {
    key: tls.key,
    cert: tls.cert,
    ...(anchors.length > 0 ? { ca: [...anchors], requestCert: true, rejectUnauthorized: false } : {}),
  };
}
