import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { asEhmiError, EhmiError, type EhmiErrorCode } from '@ehmi/errors';
import { checkCertificatePurpose, RevocationChecker } from '@ehmi/pki';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NodeConfig } from './config/index.ts';
import {
  certificatesOfPem,
  clientCertificateOf,
  type HttpsOptions,
  type TrustedProxies,
} from './http/index.ts';
import { readPem } from './roles.ts';

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
      await checkTlsClientCertificate(request.raw, options.revocation, options.anchorsKey);
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
 * That the request has a verified client certificate — presented on its TLS connection (node's TLS verified it
 * against the server's CAs), or forwarded by a trusted proxy and verified against the same CAs
 * (`clientCertificateOf`) — meant for TLS client authentication and not revoked. Throws EHMI_UNAUTHORIZED saying
 * why (`anchorsKey` names the trust configuration); each server answers it in its own protocol (an
 * OperationOutcome, or OAuth's `invalid_client`).
 */
export async function checkTlsClientCertificate(
  request: IncomingMessage,
  revocation: RevocationChecker,
  anchorsKey = 'tls.ca',
): Promise<void> {
  const client = clientCertificateOf(request);
  const path = client.verified ? client.path : [];
  if (path.length === 0) {
    throw new EhmiError(
      'EHMI_UNAUTHORIZED',
      `a client certificate issued under ${anchorsKey} is required${client.error ? ` (${client.error})` : ''}`,
    );
  }
  const what = client.proxy ? 'forwarded client certificate' : 'client certificate';
  checkCertificatePurpose(path[0]!, 'tls-client', { what, errorCode: 'EHMI_UNAUTHORIZED' });
  await checkNotRevoked(revocation, path, { what, errorCode: 'EHMI_UNAUTHORIZED' });
}

/**
 * HTTPS options that ask for a client certificate without requiring one: node's TLS verifies it against `anchors`
 * and says so in `socket.authorized`, and the role answers a missing or untrusted one in its own protocol (401 with
 * an OperationOutcome, `invalid_client`) instead of a failed handshake. Without anchors, no certificate is asked for.
 */
export function askForClientCertificate(
  tls: { key: string; cert: string; proxies?: TrustedProxies | undefined },
  anchors: readonly string[],
): HttpsOptions {
  return {
    key: tls.key,
    cert: tls.cert,
    ...(anchors.length > 0 ? { ca: [...anchors], requestCert: true, rejectUnauthorized: false } : {}),
    // The node's trusted proxies (http.trustedProxies): their forwarded certificates are checked against `anchors`.
    ...(anchors.length > 0 && tls.proxies ? { proxies: tls.proxies } : {}),
  };
}

/**
 * The node's trusted proxies (config `http.trustedProxies`, `http.clientCertificateHeader`), their certificates
 * read from their PEM files; undefined when none is configured (a forwarded certificate is then refused). A file
 * that cannot be read, or holds no certificate, fails the start naming its key.
 */
export function trustedProxiesOf(http: NodeConfig['http']): TrustedProxies | undefined {
  if (http.trustedProxies.length === 0) return undefined;
  const certificates = http.trustedProxies.map((p, i) => {
    const key = `http.trustedProxies[${i}].certificate`;
    const [certificate] = certificatesOfPem([readPem(p.certificate, key)]);
    if (!certificate) {
      throw new EhmiError('EHMI_CONFIG_INVALID', `${key}: ${p.certificate} holds no PEM certificate`);
    }
    return certificate;
  });
  return { certificates, header: http.clientCertificateHeader.toLowerCase() };
}
