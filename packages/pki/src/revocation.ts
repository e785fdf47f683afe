import 'reflect-metadata';
import type { X509Certificate } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { oneLineName } from './certificate.ts';
import { readCrl, type VerifiedCrl } from './crl.ts';
import { certificateFacts } from './facts.ts';
import { createOcspRequest, type OcspStatus, readOcspResponse } from './ocsp.ts';

/** How the checker fetches: a GET of a CRL, or a POST of an OCSP request. Resolves to the body of a 200 answer. */
export type RevocationFetch = (
  url: string,
  request?: { body: Uint8Array; contentType: string },
) => Promise<Uint8Array>;

export interface RevocationCheckerOptions {
  /** How long a fetched CRL or OCSP answer is used before it is fetched again (at most until its nextUpdate). */
  refreshMs?: number;
  /** Default: the global fetch with `timeoutMs` and `maxBytes`. */
  fetch?: RevocationFetch;
  /** The clock, in ms since the epoch. Default Date.now. */
  now?: () => number;
  /** Refuse a certificate that names neither a CRL distribution point nor an OCSP responder. Default false. */
  requireRevocationInfo?: boolean;
  /** How long past its nextUpdate a CRL or OCSP answer is still accepted (a CA publishing late). */
  graceMs?: number;
  /** Timeout of one fetch by the default fetch. */
  timeoutMs?: number;
  /** Largest CRL or OCSP answer the default fetch reads. */
  maxBytes?: number;
  /** Send a nonce with OCSP requests and require it echoed (RFC 8954). Default false: many responders pre-sign. */
  ocspNonce?: boolean;
}

/**
 * Defaults, with their reason: CAs publish CRLs daily or more often and a revocation should bite within minutes,
 * so 10 minutes between fetches; 5 minutes of grace for a CA that publishes late; 10 s and 10 MB keep a slow or
 * hostile CRL server from holding a message.
 */
export const REVOCATION_DEFAULTS = {
  refreshMs: 10 * 60_000,
  graceMs: 5 * 60_000,
  timeoutMs: 10_000,
  maxBytes: 10 * 1024 * 1024,
} as const;

/** The global fetch with a timeout and a size limit; redirects are followed (CRLs are often served via CDNs). */
export function defaultRevocationFetch(
  options: { timeoutMs?: number; maxBytes?: number } = {},
): RevocationFetch {
  const timeoutMs = options.timeoutMs ?? REVOCATION_DEFAULTS.timeoutMs;
  const maxBytes = options.maxBytes ?? REVOCATION_DEFAULTS.maxBytes;
  return async (url, request) => {
    if (!/^https?:\/\//i.test(url)) throw new Error(`not an http(s) URL: ${url}`);
    const res = await fetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      ...(request
        ? { method: 'POST', body: request.body, headers: { 'content-type': request.contentType } }
        : {}),
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status} from ${url}`);
    }
    if (Number(res.headers.get('content-length') ?? 0) > maxBytes) {
      await res.body?.cancel();
      throw new Error(`the answer from ${url} is larger than ${maxBytes} bytes`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of res.body ?? []) {
      size += chunk.byteLength;
      if (size > maxBytes) throw new Error(`the answer from ${url} is larger than ${maxBytes} bytes`);
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  };
}

/** The OCSP responder and CRL distribution point URLs a certificate names (RFC 5280 §4.2.2.1, §4.2.1.13). */
export function revocationUrls(cert: X509Certificate): { ocsp: string[]; crl: string[] } {
  const { ocsp, crl } = certificateFacts(cert);
  return { ocsp, crl };
}

interface Cached<T> {
  value: T;
  fetchedAt: number;
  /** Until when it may be used without a refetch. */
  freshUntil: number;
  /** Until when it may be used when a refetch fails (its nextUpdate plus grace). */
  usableUntil: number;
}

/**
 * Checks that a certificate is not revoked, by OCSP when it names a responder, else by its CRL distribution
 * points. Fails closed: when no source gives a verified, current answer, `check` throws. CRLs and OCSP answers
 * are cached until min(nextUpdate, fetch + refreshMs); when a refetch fails, a cached answer is used for at most
 * `graceMs` more (and never past its nextUpdate plus `graceMs`). Concurrent checks share one fetch per URL.
 *
 * A revoked certificate throws EHMI_CERTIFICATE_REVOKED with details `{ revoked: true, serialNumber,
 * revokedAt, reason }`; no revocation answer throws EHMI_CERTIFICATE_UNTRUSTED with `{ revocation: 'unavailable' }`.
 *
 * @example
 * const revocation = new RevocationChecker();
 * await revocation.check(peerCertificate, issuerCertificate);
 */
export class RevocationChecker {
  readonly #refreshMs: number;
  readonly #graceMs: number;
  readonly #fetch: RevocationFetch;
  readonly #now: () => number;
  readonly #requireInfo: boolean;
  readonly #nonce: boolean;
  readonly #crls = new Map<string, Cached<VerifiedCrl>>();
  readonly #ocsp = new Map<string, Cached<OcspStatus>>();
  /** Certificate-issuer pairs whose signature verified. */
  readonly #issued = new Set<string>();
  readonly #inflight = new Map<string, Promise<unknown>>();

  constructor(options: RevocationCheckerOptions = {}) {
    this.#refreshMs = options.refreshMs ?? REVOCATION_DEFAULTS.refreshMs;
    this.#graceMs = options.graceMs ?? REVOCATION_DEFAULTS.graceMs;
    this.#fetch = options.fetch ?? defaultRevocationFetch(options);
    this.#now = options.now ?? Date.now;
    this.#requireInfo = options.requireRevocationInfo ?? false;
    this.#nonce = options.ocspNonce ?? false;
  }

  /** Throws unless `cert` (issued by `issuer`) is known not to be revoked. */
  async check(cert: X509Certificate, issuer: X509Certificate): Promise<void> {
    const urls = revocationUrls(cert);
    const name = oneLineName(cert.subject);
    const details = { subject: cert.subject, serialNumber: cert.serialNumber, issuer: issuer.subject };
    // The CRL and OCSP answers are verified against `issuer`: it must be the one that signed `cert` (a signature
    // checked once per pair: a peer's certificate is checked on every message).
    if (!this.#issuedBy(cert, issuer)) {
      throw new EhmiError(
        'EHMI_CERTIFICATE_UNTRUSTED',
        `the certificate "${name}" was not issued by "${oneLineName(issuer.subject)}", whose revocation lists were asked`,
        { details },
      );
    }
    if (urls.ocsp.length === 0 && urls.crl.length === 0) {
      if (!this.#requireInfo) return;
      throw new EhmiError(
        'EHMI_CERTIFICATE_UNTRUSTED',
        `the certificate "${name}" names neither an OCSP responder nor a CRL, and revocation information is required`,
        { details: { ...details, revocation: 'missing' } },
      );
    }
    const failures: unknown[] = [];
    for (const url of urls.ocsp) {
      let answer: OcspStatus;
      try {
        answer = await this.#ocspStatus(url, cert, issuer);
      } catch (err) {
        failures.push(err);
        continue;
      }
      if (answer.status === 'revoked') throw this.#revoked(cert, answer.revokedAt, answer.reason, url);
      if (answer.status === 'good') return;
      throw new EhmiError(
        'EHMI_CERTIFICATE_UNTRUSTED',
        `the OCSP responder ${url} does not know the certificate "${name}" (status unknown)`,
        { details: { ...details, revocation: 'unknown', url } },
      );
    }
    for (const url of urls.crl) {
      let crl: VerifiedCrl;
      try {
        crl = await this.#crl(url, issuer);
      } catch (err) {
        failures.push(err);
        continue;
      }
      const entry = crl.revoked(cert.serialNumber);
      if (entry) throw this.#revoked(cert, entry.revokedAt, entry.reason, url);
      return;
    }
    const reasons = failures.map((f) => (f instanceof Error ? f.message : String(f)));
    throw new EhmiError(
      'EHMI_CERTIFICATE_UNTRUSTED',
      `the revocation status of the certificate "${name}" cannot be established: ${reasons.join('; ')}`,
      {
        details: { ...details, revocation: 'unavailable', reasons },
        ...(failures.length === 1 ? { cause: failures[0] } : { cause: new AggregateError(failures) }),
      },
    );
  }

  #issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
    const key = `${cert.fingerprint256} ${issuer.fingerprint256}`;
    if (this.#issued.has(key)) return true;
    if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) return false;
    if (this.#issued.size >= 1000) this.#issued.delete(this.#issued.values().next().value!);
    this.#issued.add(key);
    return true;
  }

  #revoked(cert: X509Certificate, revokedAt: Date | undefined, reason: string | undefined, source: string) {
    return new EhmiError(
      'EHMI_CERTIFICATE_REVOKED',
      `the certificate "${oneLineName(cert.subject)}" (serial ${cert.serialNumber}) was revoked${revokedAt ? ` at ${revokedAt.toISOString()}` : ''}${reason ? ` (${reason})` : ''}`,
      {
        details: {
          revoked: true,
          subject: cert.subject,
          serialNumber: cert.serialNumber,
          revokedAt: revokedAt?.toISOString(),
          reason,
          source,
        },
      },
    );
  }

  async #crl(url: string, issuer: X509Certificate): Promise<VerifiedCrl> {
    const key = `${issuer.fingerprint256} ${url}`;
    return this.#cached(this.#crls, key, async () => {
      const bytes = await this.#fetch(url).catch((err: unknown) => {
        throw new Error(`the CRL ${url} cannot be fetched: ${err instanceof Error ? err.message : err}`, {
          cause: err,
        });
      });
      const crl = readCrl(bytes, issuer, { at: new Date(this.#now()), graceMs: this.#graceMs });
      const held = this.#crls.get(key)?.value;
      // A CRL older than the one we hold (a replayed or rolled-back copy) does not replace it.
      if (held?.crlNumber !== undefined && crl.crlNumber !== undefined && crl.crlNumber < held.crlNumber) {
        return held;
      }
      return crl;
    });
  }

  async #ocspStatus(url: string, cert: X509Certificate, issuer: X509Certificate): Promise<OcspStatus> {
    const key = `${issuer.fingerprint256} ${url} ${cert.serialNumber}`;
    return this.#cached(this.#ocsp, key, async () => {
      const request = createOcspRequest(cert, issuer, { nonce: this.#nonce });
      const bytes = await this.#fetch(url, {
        body: request.der,
        contentType: 'application/ocsp-request',
      }).catch((err: unknown) => {
        throw new Error(
          `the OCSP responder ${url} cannot be reached: ${err instanceof Error ? err.message : err}`,
          {
            cause: err,
          },
        );
      });
      return readOcspResponse(bytes, {
        cert,
        issuer,
        at: new Date(this.#now()),
        graceMs: this.#graceMs,
        ...(request.nonce ? { nonce: request.nonce } : {}),
      });
    });
  }

  /** The cached answer while fresh; else one shared fetch; a failed fetch falls back to a still-usable answer. */
  async #cached<T extends { nextUpdate?: Date }>(
    cache: Map<string, Cached<T>>,
    key: string,
    load: () => Promise<T>,
  ): Promise<T> {
    const now = this.#now();
    const held = cache.get(key);
    if (held && now < held.freshUntil) return held.value;
    let pending = this.#inflight.get(key) as Promise<T> | undefined;
    if (!pending) {
      pending = load().finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    try {
      const value = await pending;
      const fetchedAt = this.#now();
      const refresh = fetchedAt + this.#refreshMs;
      const next = value.nextUpdate?.getTime();
      cache.set(key, {
        value,
        fetchedAt,
        freshUntil: next === undefined ? refresh : Math.min(next, refresh),
        // When a refetch fails the answer stands in for at most `graceMs` past its refresh: whoever can keep the
        // CRL from us must not keep a revoked certificate working until a nextUpdate a day away. Never beyond
        // its nextUpdate (plus the grace); without one, not beyond the refresh interval.
        usableUntil: next === undefined ? refresh : Math.min(next + this.#graceMs, refresh + this.#graceMs),
      });
      return value;
    } catch (err) {
      if (held && now < held.usableUntil) return held.value;
      throw err;
    }
  }
}
