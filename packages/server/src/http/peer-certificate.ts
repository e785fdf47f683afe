import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { toCertificate } from '@ehmi/pki';

/**
 * The certificate path each connection's peer presented, read once per connection: the peer cannot change it on
 * this connection (the node's HTTPS servers refuse renegotiation, `createHttpServer`), and reading it from node's
 * TLS (`getPeerCertificate`) costs more than a request's worth of work with keep-alive. Whoever needs the peer
 * certificate — the client certificate checks, the token binding, the authorization server, the audit log — takes
 * it from here.
 */
const paths = new WeakMap<TLSSocket, readonly X509Certificate[]>();

/** Longest path read: leaf, up to six issuers, the anchor. */
const MAX_PATH = 8;

/**
 * The certificate chain the peer presented on this TLS connection, leaf first, ending at the certificate node's
 * TLS verified it against (the chain's own issuers as the peer sent them, then the anchor); empty when it
 * presented none. Whether it is trusted is `socket.authorized` and the caller's checks, not this function's.
 *
 * @example
 * const leaf = peerCertificatePath(request.raw.socket as TLSSocket)[0];
 */
export function peerCertificatePath(socket: TLSSocket): readonly X509Certificate[] {
  let path = paths.get(socket);
  if (!path) {
    path = Object.freeze(readPath(socket));
    // Before the handshake there is nothing to read, and nothing to remember.
    if (path.length > 0 || socket.getProtocol?.()) paths.set(socket, path);
  }
  return path;
}

function readPath(socket: TLSSocket): X509Certificate[] {
  const path: X509Certificate[] = [];
  if (typeof socket.getPeerCertificate !== 'function') return path;
  let current = socket.getPeerCertificate(true);
  while (current?.raw && path.length < MAX_PATH) {
    const cert = toCertificate(current.raw);
    // A self-signed anchor is its own issuer.
    if (path.some((c) => c === cert || c.raw.equals(cert.raw))) break;
    path.push(cert);
    current = current.issuerCertificate;
  }
  return path;
}
