import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { asEhmiError, EhmiError } from '@ehmi/errors';
import { checkCertificateTrust, oneLineName, toCertificate } from '@ehmi/pki';
import { parseItem, parseList } from 'structured-headers';
import { peerCertificatePath } from './peer-certificate.ts';

/**
 * The TLS-terminating proxies a server takes forwarded client certificates from (config `http.trustedProxies`), and
 * the header they forward them in (RFC 9440 `Client-Cert`, its chain in `Client-Cert-Chain`).
 */
export interface TrustedProxies {
  /** The proxies' own TLS client certificates (pinned): only a connection authenticated by one is a proxy's. */
  readonly certificates: readonly X509Certificate[];
  /** Lower case; default `client-cert`. */
  readonly header: string;
}

/** Who is asking, as far as certificates say: the client certificate of a request, presented or forwarded. */
export interface ClientCertificate {
  /**
   * The client's certificate path, leaf first, ending at the trust anchor it was verified against (a presented one:
   * as node's TLS verified it; a forwarded one: as the server verified it). Empty when the client presented none,
   * or when a trusted proxy forwarded none.
   */
  readonly path: readonly X509Certificate[];
  /** Whether the path chains to the server's client CAs and is within its validity (TLS's verdict, or ours). */
  readonly verified: boolean;
  /** Why it is not verified (the TLS error, the forwarded certificate's failure), for the refusal. */
  readonly error?: string | undefined;
  /** The trusted proxy the certificate came through (its own certificate); undefined for a presented one. */
  readonly proxy?: X509Certificate | undefined;
}

/** Each request's client certificate, resolved once (`resolveClientCertificate`). */
const resolved = new WeakMap<IncomingMessage, ClientCertificate>();

/**
 * The client certificate of a request: the one the server resolved for it (`resolveClientCertificate`, which every
 * server of `createHttpServer` runs first), else the one presented on its TLS connection. The one place the node
 * asks for it: the client certificate checks (`trust.ts`), the token binding (`authz.ts`), the authorization server
 * (`auth/`) and the audit log take it from here, never from the socket.
 *
 * @example
 * const leaf = clientCertificateOf(request.raw).path[0];
 */
export function clientCertificateOf(request: IncomingMessage): ClientCertificate {
  const known = resolved.get(request);
  if (known) return known;
  return presented(request.socket as TLSSocket);
}

function presented(socket: TLSSocket | undefined): ClientCertificate {
  if (!socket?.encrypted) return { path: [], verified: false };
  const path = peerCertificatePath(socket);
  // A resumed TLS session of a client that presented no certificate reads as `authorized` with no peer
  // certificate: verified means a verified certificate here, so one must be there too.
  const verified = socket.authorized === true && path.length > 0;
  const error = socket.authorizationError ? String(socket.authorizationError) : undefined;
  return { path, verified, ...(error ? { error } : {}) };
}

/**
 * Resolve a request's client certificate, once, before anything asks who is calling: the one presented on the TLS
 * connection, or — when that connection is a trusted proxy's (its verified certificate is one of `proxies`) — the
 * one the proxy forwards in its header, parsed (RFC 9440: a structured-field byte sequence of the DER) and chained
 * to the server's client CAs (`anchors`, with `Client-Cert-Chain`'s certificates as intermediates) and within its
 * validity. Purpose and revocation are then checked as for a presented one (`trust.ts`).
 *
 * Fail closed: a request carrying the header on any other connection is refused (401), never served as if the
 * header were not there; a malformed or untrusted forwarded certificate is refused (401). A request from a
 * trusted proxy without the header has no client certificate (the proxy is not a client): whatever needs one
 * refuses it.
 */
export function resolveClientCertificate(
  request: IncomingMessage,
  options: { proxies: TrustedProxies | undefined; anchors: readonly X509Certificate[] },
): ClientCertificate {
  const own = presented(request.socket as TLSSocket);
  const header = options.proxies?.header ?? 'client-cert';
  const forwarded = request.headers[header];
  const chainHeader = `${header}-chain`;
  const leaf = own.path[0];
  const proxy =
    own.verified && leaf && options.proxies?.certificates.some((p) => p === leaf || p.raw.equals(leaf.raw))
      ? leaf
      : undefined;
  if (!proxy) {
    resolved.set(request, own);
    if (forwarded !== undefined || request.headers[chainHeader] !== undefined) {
      throw new EhmiError(
        'EHMI_UNAUTHORIZED',
        `a forwarded client certificate (${header}) is taken only from a trusted proxy (http.trustedProxies), and this connection is not one${leaf ? ` (its certificate: "${oneLineName(leaf.subject)}")` : ''}`,
      );
    }
    return own;
  }
  if (forwarded === undefined) {
    const none: ClientCertificate = {
      path: [],
      verified: false,
      error: `the trusted proxy "${oneLineName(proxy.subject)}" forwarded no client certificate (${header})`,
      proxy,
    };
    resolved.set(request, none);
    return none;
  }
  // Until it is verified, the request has no client certificate (the audit log names the proxy).
  resolved.set(request, { path: [], verified: false, proxy });
  const certificate = forwardedCertificate(forwarded, header);
  const intermediates = chainOf(request.headers[chainHeader], chainHeader);
  let path: X509Certificate[];
  try {
    path = checkCertificateTrust(certificate, {
      trustAnchors: options.anchors,
      intermediates,
      what: 'forwarded client certificate',
      errorCode: 'EHMI_UNAUTHORIZED',
    });
  } catch (err) {
    const e = asEhmiError(err);
    throw new EhmiError('EHMI_UNAUTHORIZED', e.message, { cause: err, details: e.details });
  }
  const client: ClientCertificate = { path, verified: true, proxy };
  resolved.set(request, client);
  return client;
}

/** RFC 9440 §2.2: `Client-Cert` is a structured-field Item, a byte sequence (`:<base64 DER>:`). */
function forwardedCertificate(value: string | string[], header: string): X509Certificate {
  const bytes = byteSequence(Array.isArray(value) ? value.join(', ') : value, header, parseItem);
  try {
    return toCertificate(bytes, { what: `${header} certificate` });
  } catch (err) {
    throw new EhmiError('EHMI_UNAUTHORIZED', `${header} is not a DER X.509 certificate`, { cause: err });
  }
}

/** RFC 9440 §2.3: `Client-Cert-Chain` is a structured-field List of byte sequences, the issuers after the leaf. */
function chainOf(value: string | string[] | undefined, header: string): X509Certificate[] {
  if (value === undefined) return [];
  const text = Array.isArray(value) ? value.join(', ') : value;
  let list: ReturnType<typeof parseList>;
  try {
    list = parseList(text);
  } catch (err) {
    throw new EhmiError('EHMI_UNAUTHORIZED', `${header} is not a structured-field list (RFC 9440 §2.3)`, {
      cause: err,
    });
  }
  return list.map(([item], i) => {
    if (!(item instanceof ArrayBuffer)) {
      throw new EhmiError('EHMI_UNAUTHORIZED', `${header} entry ${i + 1} is not a byte sequence`);
    }
    try {
      return toCertificate(new Uint8Array(item), { what: `${header} certificate` });
    } catch (err) {
      throw new EhmiError('EHMI_UNAUTHORIZED', `${header} entry ${i + 1} is not a DER X.509 certificate`, {
        cause: err,
      });
    }
  });
}

function byteSequence(text: string, header: string, parse: typeof parseItem): Uint8Array {
  let item: ReturnType<typeof parseItem>;
  try {
    item = parse(text);
  } catch (err) {
    throw new EhmiError(
      'EHMI_UNAUTHORIZED',
      `${header} is not a structured-field byte sequence (RFC 9440 §2.2: ":<base64 of the DER>:")`,
      { cause: err },
    );
  }
  if (!(item[0] instanceof ArrayBuffer)) {
    throw new EhmiError(
      'EHMI_UNAUTHORIZED',
      `${header} is not a byte sequence (RFC 9440 §2.2: ":<base64 of the DER>:")`,
    );
  }
  return new Uint8Array(item[0]);
}

/** The certificates of PEM texts (a file may hold several). */
export function certificatesOfPem(pems: readonly (string | Buffer)[]): X509Certificate[] {
  return pems.flatMap((pem) =>
    (String(pem).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((c) =>
      toCertificate(c),
    ),
  );
}
