import type { X509Certificate } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { EhmiError } from '@ehmi/errors';
import {
  documentId,
  type IdentifierInput,
  participantId,
  processId,
  type SmpIdentifier,
} from '../identifiers/identifier.ts';
import { sameDocumentType, sameProcess } from '../identifiers/medcom.ts';
import { serviceGroupUrl, serviceMetadataUrl } from '../model/build.ts';
import { MAX_SMP_RESPONSE_BYTES, parseServiceGroup } from '../model/parse.ts';
import type { Endpoint, ServiceGroup } from '../model/types.ts';
import { bdxlHostname } from '../naming/bdxl.ts';
import { smpUrlFromNaptr } from '../naming/naptr.ts';
import { smlHostname } from '../naming/sml.ts';
import { type CertificateInput, toCertificate } from '../signature/trust.ts';
import { type VerifiedServiceMetadata, verifySignedServiceMetadata } from '../signature/verify.ts';
import { TtlCache } from './cache.ts';
import {
  createResolver,
  type DnsOptions,
  type DnsResolver,
  type DnsServerOptions,
  isAbsent,
  isResolver,
  lookupFailed,
  lookupVia,
} from './dns.ts';
import { fetchHttpGet, type HttpGet, type HttpResponse, nodeHttpGet } from './http.ts';

/**
 * Transport profiles we can send with, preferred first (eDelivery AS4 1.15 in OASIS SMP; Peppol AS4 2.0).
 *
 * @example
 * new SmpClient({ smpUrl, trustAnchors, transportProfiles: [DEFAULT_TRANSPORT_PROFILES[0]] });
 */
export const DEFAULT_TRANSPORT_PROFILES = [
  'bdxr-transport-ebms3-as4-v1p0',
  'peppol-transport-as4-v2_0',
] as const;

export interface SmlOptions {
  /** The SML / BDXL DNS zone (`edelivery.tech.ec.europa.eu`, `acc.edelivery.tech.ec.europa.eu`, …). */
  zone: string;
  /**
   * `naptr` (default): BDXL U-NAPTR `Meta:SMP` (Peppol Policy for use of Identifiers 4.4 POLICY 7; eDelivery BDXL);
   * `cname`: the Peppol SML `B-<md5>` host, SMP at `http://<host>/`; `naptr-then-cname`: NAPTR, then CNAME when
   * the NAPTR name is not registered (networks in migration).
   */
  naming?: 'naptr' | 'cname' | 'naptr-then-cname';
  /** Port of an SMP found by CNAME. Default 80 (Peppol SMP 1.x: "MUST be port 80"); other values for test networks. */
  cnamePort?: number;
}

/** `fresh`: the answer is asked of the SMP now, not taken from the cache, and replaces the cached one. */
export interface SmpFreshness {
  fresh?: boolean;
}

export interface SmpClientOptions {
  /** A fixed SMP base URL: no DNS discovery (a network with one SMP, or a test). */
  smpUrl?: string;
  /** Discovery through SML/BDXL DNS names. Either this or `smpUrl`. */
  sml?: SmlOptions;
  /**
   * The DNS server(s) to ask instead of the system's (also for the SMP's host name, falling back to the system
   * resolver for hosts that DNS does not know), or a resolver of your own.
   */
  dns?: (DnsServerOptions & DnsOptions) | DnsResolver;
  /** A resolver of your own (same as passing it as `dns`; takes precedence). */
  resolver?: DnsResolver;
  /** CA certificates (or pinned SMP certificates) an SMP's signing certificate must chain to. Required. */
  trustAnchors: readonly CertificateInput[];
  /** Intermediate CA certificates for the path to the anchors. */
  intermediates?: readonly CertificateInput[];
  /** How long a successful lookup is reused. Default 10 minutes; 0 disables the cache. */
  cacheTtlMs?: number;
  /** A fetch to use for HTTP (proxy, mTLS). Default: node:http(s), host names resolved through `dns`/`resolver`. */
  fetch?: typeof fetch;
  /** Per-request timeout. Default 10 s. */
  timeoutMs?: number;
  /** Acceptable transport profiles, preferred first. Default {@link DEFAULT_TRANSPORT_PROFILES}. */
  transportProfiles?: readonly string[];
  /** Accept RSA-SHA1 signed responses (real Peppol SMPs). Default true. */
  allowSha1?: boolean;
  /** Clock for certificate validity, endpoint activation and the cache's `cacheTtlMs`. */
  clock?: () => Date;
  /**
   * More checks of the SMP's signing certificate once its path to an anchor is built (`path`: signer first, anchor
   * last), e.g. its key usage and revocation status; throw to refuse the answer.
   */
  checkSigner?: (path: readonly X509Certificate[]) => void | Promise<void>;
}

/** What a sender needs to reach a receiver (eDelivery AS4 1.15 §1.5.4 Dynamic Sender: address and certificate). */
export interface SmpLookupResult {
  participant: SmpIdentifier;
  /** The document type as the SMP published it (may be another MedCom spelling of the one asked for). */
  documentType: SmpIdentifier;
  process: SmpIdentifier;
  transportProfile: string;
  endpointUrl: string;
  /** The receiving access point's certificate (encryption and signature verification). */
  certificate: X509Certificate;
  requireBusinessLevelSignature: boolean;
  serviceActivationDate?: Date;
  serviceExpirationDate?: Date;
  serviceDescription: string;
  technicalContactUrl: string;
  /** The SMP base URL used. */
  smpUrl: string;
  /** The certificate that signed the SMP response. */
  smpCertificate: X509Certificate;
}

const MAX_BODY_IN_ERROR = 2000;

/**
 * An SMP client: finds a participant's SMP (a configured URL, or DNS: BDXL U-NAPTR or the Peppol SML CNAME, with
 * the DNS server configurable), fetches its signed ServiceMetadata, verifies signature and SMP certificate against
 * the trust anchors, and picks the endpoint. Successful lookups are cached for `cacheTtlMs`; concurrent lookups of
 * the same key share one request.
 *
 * Errors say which case it is: `EHMI_SMP_IDENTIFIER_INVALID` (malformed input, before any I/O),
 * `EHMI_SMP_NOT_REGISTERED` (DNS says no such name, the SMP answers 404 — its error body is in
 * `details.smpBody` — or it has no such document type, process or usable endpoint), `EHMI_SMP_LOOKUP_FAILED`
 * (DNS or HTTP failed: transient, retry later), `EHMI_SMP_SIGNATURE_INVALID` / `EHMI_SMP_CERTIFICATE_UNTRUSTED`
 * (the response must not be used), `EHMI_SMP_RESPONSE_INVALID`.
 *
 * @example
 * const smp = new SmpClient({
 *   sml: { zone: 'edelivery.tech.ec.europa.eu' },
 *   dns: { host: '10.0.0.53' },
 *   trustAnchors: [smpCaPem],
 *   cacheTtlMs: 600_000,
 * });
 * const { endpointUrl, certificate } = await smp.lookup('0088:5790000121526', documentType, 'urn:ehmi:sdn-emergence');
 */
export class SmpClient {
  readonly #options: SmpClientOptions;
  readonly #resolver: DnsResolver | undefined;
  readonly #get: HttpGet;
  readonly #results: TtlCache<SmpLookupResult>;
  readonly #smpUrls: TtlCache<string>;
  readonly #apCertificates: TtlCache<X509Certificate[]>;
  readonly #profiles: readonly string[];
  readonly #anchors: X509Certificate[];
  readonly #intermediates: X509Certificate[];

  constructor(options: SmpClientOptions) {
    if (!options || !Array.isArray(options.trustAnchors) || options.trustAnchors.length === 0) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        'SmpClient: trustAnchors is not configured (no default trust)',
      );
    }
    let anchors: X509Certificate[];
    let intermediates: X509Certificate[];
    try {
      anchors = options.trustAnchors.map((c) => toCertificate(c, 'trust anchor'));
      intermediates = (options.intermediates ?? []).map((c) => toCertificate(c, 'intermediate certificate'));
    } catch (err) {
      throw new EhmiError('EHMI_CONFIG_INVALID', `SmpClient: ${(err as Error).message}`, { cause: err });
    }
    if (!options.smpUrl && !options.sml?.zone) {
      throw new EhmiError('EHMI_CONFIG_INVALID', 'SmpClient: configure smpUrl or sml.zone');
    }
    if (options.smpUrl && !/^https?:\/\//i.test(options.smpUrl)) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        `SmpClient: smpUrl "${options.smpUrl}" is not an http(s) URL`,
      );
    }
    this.#options = options;
    this.#anchors = anchors;
    this.#intermediates = intermediates;
    this.#profiles = options.transportProfiles ?? DEFAULT_TRANSPORT_PROFILES;
    const dns = options.dns;
    this.#resolver =
      options.resolver ??
      (isResolver(dns) ? dns : dns ? createResolver(dns, dns) : options.sml ? new Resolver() : undefined);
    const timeoutMs = options.timeoutMs ?? 10_000;
    const maxBytes = MAX_SMP_RESPONSE_BYTES;
    this.#get = options.fetch
      ? fetchHttpGet(options.fetch, { timeoutMs, maxBytes })
      : nodeHttpGet({
          timeoutMs,
          maxBytes,
          ...(options.resolver || options.dns ? { lookup: lookupVia(this.#resolver!) as never } : {}),
        });
    const ttl = options.cacheTtlMs ?? 10 * 60_000;
    const now = () => this.#now().getTime();
    this.#results = new TtlCache(ttl, { now });
    this.#smpUrls = new TtlCache(ttl, { now });
    this.#apCertificates = new TtlCache(ttl, { now });
  }

  /**
   * The access point certificates the SMP publishes for a participant: those of the endpoints it serves for each of
   * its document types (with the acceptable transport profiles), each from verified ServiceMetadata. What a receiver
   * checks a sender's signature against: the signer is the sender only when its certificate is one of these.
   * Cached like lookups; `fresh` asks the SMP again (each document type too) and replaces what was cached, e.g.
   * when a signer is not among the cached certificates because the participant's AP rolled its certificate over.
   *
   * @example
   * const certs = await smp.accessPointCertificates('0088:5790000123117');
   * certs.some((c) => c.raw.equals(signer.raw));
   */
  async accessPointCertificates(
    participant: IdentifierInput,
    options: SmpFreshness = {},
  ): Promise<X509Certificate[]> {
    const p = participantId(participant);
    return this.#apCertificates.get(
      p.key(),
      async () => {
        const group = await this.serviceGroup(p);
        const found = new Map<string, X509Certificate>();
        for (const ref of group.references) {
          if (!ref.documentType) continue;
          try {
            const r = await this.lookup(p, ref.documentType, undefined, options);
            found.set(r.certificate.fingerprint256, r.certificate);
          } catch (err) {
            // A document type whose endpoints are not active, or none with our transport profile, names no AP.
            if ((err as EhmiError).code !== 'EHMI_SMP_NOT_REGISTERED') throw err;
          }
        }
        return [...found.values()];
      },
      options,
    );
  }

  /**
   * Resolves where to send `documentType` (optionally for `process`) to `participant`. Cached for `cacheTtlMs`;
   * `fresh` asks the SMP again and replaces the cached answer (the SMP's location, found through DNS, stays cached).
   *
   * @example
   * const r = await smp.lookup('0088:5790000121526', medcomDocumentId('homecareobservation-message', '1.2'));
   * r.endpointUrl; r.certificate; r.transportProfile;
   */
  async lookup(
    participant: IdentifierInput,
    documentType: IdentifierInput,
    process?: IdentifierInput,
    options: SmpFreshness = {},
  ): Promise<SmpLookupResult> {
    const p = participantId(participant);
    const d = documentId(documentType);
    const proc = process === undefined ? undefined : processId(process);
    const key = `${p.key()}|${d.key()}|${proc?.key() ?? ''}`;
    return this.#results.get(key, () => this.#lookup(p, d, proc), options);
  }

  /** Forgets cached lookups and SMP locations. */
  clearCache(): void {
    this.#results.clear();
    this.#smpUrls.clear();
    this.#apCertificates.clear();
  }

  /**
   * The SMP base URL of a participant: the configured `smpUrl`, or found through DNS.
   *
   * @example
   * await smp.smpUrlOf(participantId('0088:5790000121526')); // 'https://smp.example/'
   */
  async smpUrlOf(participant: IdentifierInput): Promise<string> {
    const p = participantId(participant);
    if (this.#options.smpUrl) return this.#options.smpUrl;
    return this.#smpUrls.get(p.key(), () => this.#discover(p));
  }

  /**
   * The participant's ServiceGroup (unsigned by design: OASIS BDXR SMP 1.0 signs only ServiceMetadata).
   *
   * @example
   * (await smp.serviceGroup('0088:5790000121526')).references.map((r) => r.documentType?.value);
   */
  async serviceGroup(participant: IdentifierInput): Promise<ServiceGroup> {
    const p = participantId(participant);
    const base = await this.smpUrlOf(p);
    const url = serviceGroupUrl(base, p);
    const res = await this.#fetch(url);
    if (res.status === 404)
      throw notRegistered(`participant ${p} is not registered at the SMP ${base}`, p, res, url);
    if (res.status !== 200) throw statusError(res, url);
    return parseServiceGroup(res.body);
  }

  async #lookup(
    p: SmpIdentifier,
    d: SmpIdentifier,
    proc: SmpIdentifier | undefined,
  ): Promise<SmpLookupResult> {
    const base = await this.smpUrlOf(p);
    const verified = await this.#serviceMetadata(base, p, d);
    const info = verified.serviceMetadata.serviceInformation!;
    const processes = proc ? info.processes.filter((x) => sameProcess(x.processId, proc)) : info.processes;
    if (processes.length === 0) {
      throw new EhmiError(
        'EHMI_SMP_NOT_REGISTERED',
        `participant ${p} has no process ${proc} for document type ${d} (it has ${info.processes.map((x) => x.processId.toString()).join(', ')})`,
        {
          details: {
            reason: 'process',
            participant: p.toString(),
            documentType: d.toString(),
            process: proc?.toString(),
          },
        },
      );
    }
    const now = this.#now();
    let best: { endpoint: Endpoint; process: SmpIdentifier; rank: number } | undefined;
    for (const x of processes) {
      for (const e of x.endpoints) {
        const rank = this.#profiles.indexOf(e.transportProfile);
        if (rank < 0) continue;
        // OASIS BDXR SMP 1.0 EndpointType: outside [ServiceActivationDate, ServiceExpirationDate] it is not in use.
        if (e.serviceActivationDate && e.serviceActivationDate > now) continue;
        if (e.serviceExpirationDate && e.serviceExpirationDate < now) continue;
        if (!best || rank < best.rank) best = { endpoint: e, process: x.processId, rank };
      }
    }
    if (!best) {
      const offered = processes.flatMap((x) => x.endpoints.map((e) => e.transportProfile));
      throw new EhmiError(
        'EHMI_SMP_NOT_REGISTERED',
        `participant ${p} has no active endpoint with a transport profile we use (${this.#profiles.join(', ')}) for ${d}; offered: ${offered.join(', ') || 'none'}`,
        { details: { reason: 'endpoint', participant: p.toString(), documentType: d.toString(), offered } },
      );
    }
    const e = best.endpoint;
    let certificate: X509Certificate;
    try {
      certificate = toCertificate(Buffer.from(e.certificate, 'base64'));
    } catch (err) {
      throw new EhmiError(
        'EHMI_SMP_RESPONSE_INVALID',
        `the endpoint certificate published for ${p} cannot be read`,
        {
          cause: err,
        },
      );
    }
    const result: SmpLookupResult = {
      participant: p,
      documentType: info.documentType,
      process: best.process,
      transportProfile: e.transportProfile,
      endpointUrl: e.endpointUrl,
      certificate,
      requireBusinessLevelSignature: e.requireBusinessLevelSignature,
      serviceDescription: e.serviceDescription,
      technicalContactUrl: e.technicalContactUrl,
      smpUrl: base,
      smpCertificate: verified.certificate,
    };
    if (e.serviceActivationDate) result.serviceActivationDate = e.serviceActivationDate;
    if (e.serviceExpirationDate) result.serviceExpirationDate = e.serviceExpirationDate;
    return result;
  }

  /** Fetches and verifies the ServiceMetadata; on 404, looks for another MedCom spelling in the ServiceGroup. */
  async #serviceMetadata(base: string, p: SmpIdentifier, d: SmpIdentifier): Promise<VerifiedServiceMetadata> {
    const url = serviceMetadataUrl(base, p, d);
    const res = await this.#fetch(url);
    if (res.status === 200) return this.#verified(res.body, url, p, d, true);
    if (res.status !== 404) throw statusError(res, url);
    // The document identifier format is still moving in MedCom's material (docs/architecture.md
    // "Identifiers"): the SMP may publish the same message under another spelling; the ServiceGroup lists
    // what it has.
    const groupUrl = serviceGroupUrl(base, p);
    const groupRes = await this.#fetch(groupUrl);
    if (groupRes.status === 404) {
      throw notRegistered(`participant ${p} is not registered at the SMP ${base}`, p, groupRes, groupUrl);
    }
    if (groupRes.status !== 200) throw statusError(groupRes, groupUrl);
    const group = parseServiceGroup(groupRes.body);
    const ref = group.references.find((r) => r.documentType && sameDocumentType(r.documentType, d));
    if (!ref) {
      const err = notRegistered(
        `participant ${p} is not registered for document type ${d} at the SMP ${base}`,
        p,
        res,
        url,
      );
      Object.assign(err.details as Record<string, unknown>, {
        reason: 'document-type',
        documentType: d.toString(),
        available: group.references.map((r) => r.documentType?.toString() ?? r.href),
      });
      throw err;
    }
    const other = await this.#fetch(ref.href);
    if (other.status === 404)
      throw notRegistered(`the SMP lists ${ref.href} but answers 404`, p, other, ref.href);
    if (other.status !== 200) throw statusError(other, ref.href);
    return this.#verified(other.body, ref.href, p, d, true);
  }

  async #verified(
    body: string,
    url: string,
    p: SmpIdentifier,
    d: SmpIdentifier,
    mayRedirect: boolean,
  ): Promise<VerifiedServiceMetadata> {
    const verified = verifySignedServiceMetadata(body, {
      trustAnchors: this.#anchors,
      intermediates: this.#intermediates,
      at: this.#now(),
      ...(this.#options.allowSha1 !== undefined ? { allowSha1: this.#options.allowSha1 } : {}),
    });
    await this.#options.checkSigner?.(verified.path);
    const md = verified.serviceMetadata;
    if (md.redirect) {
      // OASIS BDXR SMP 1.0 Redirect: one hop; the target must be signed by the certificate the redirect names.
      if (!mayRedirect) {
        throw new EhmiError('EHMI_SMP_RESPONSE_INVALID', `the SMP at ${url} redirects a second time`, {
          details: { url },
        });
      }
      const target = md.redirect.href;
      const res = await this.#fetch(target);
      if (res.status === 404)
        throw notRegistered(`the redirect target ${target} answers 404`, p, res, target);
      if (res.status !== 200) throw statusError(res, target);
      const next = await this.#verified(res.body, target, p, d, false);
      if (!certificateHasUid(next.certificate, md.redirect.certificateUid)) {
        throw new EhmiError(
          'EHMI_SMP_CERTIFICATE_UNTRUSTED',
          `the redirect target ${target} is signed by "${next.certificate.subject.replace(/\n/g, ', ')}", not by the certificate ${md.redirect.certificateUid} the redirect names`,
          { details: { url: target, certificateUid: md.redirect.certificateUid } },
        );
      }
      return next;
    }
    const info = md.serviceInformation!;
    // A validly signed answer about someone else (a replayed response) is no answer to this question.
    if (!info.participant.equals(p) || !sameDocumentType(info.documentType, d)) {
      throw new EhmiError(
        'EHMI_SMP_RESPONSE_INVALID',
        `the SMP at ${url} answered for ${info.participant} / ${info.documentType}, not ${p} / ${d}`,
        { details: { url } },
      );
    }
    return verified;
  }

  async #discover(p: SmpIdentifier): Promise<string> {
    const sml = this.#options.sml!;
    const resolver = this.#resolver!;
    const naming = sml.naming ?? 'naptr';
    if (naming === 'cname') return this.#cname(p, sml, resolver);
    try {
      return await this.#naptr(p, sml, resolver);
    } catch (err) {
      if (
        naming === 'naptr-then-cname' &&
        err instanceof EhmiError &&
        err.code === 'EHMI_SMP_NOT_REGISTERED'
      ) {
        return this.#cname(p, sml, resolver);
      }
      throw err;
    }
  }

  async #naptr(p: SmpIdentifier, sml: SmlOptions, resolver: DnsResolver): Promise<string> {
    const name = bdxlHostname(p, sml.zone);
    let records: Awaited<ReturnType<DnsResolver['resolveNaptr']>>;
    try {
      records = await resolver.resolveNaptr(name);
    } catch (err) {
      if (isAbsent(err)) throw dnsNotRegistered(p, name, 'NAPTR', err);
      throw lookupFailed(name, 'NAPTR', err);
    }
    const url = smpUrlFromNaptr(records, name);
    if (!url) {
      throw new EhmiError(
        'EHMI_SMP_NOT_REGISTERED',
        `participant ${p}: ${name} has no U-NAPTR record for Meta:SMP`,
        {
          details: { reason: 'dns', participant: p.toString(), name, type: 'NAPTR' },
        },
      );
    }
    return url;
  }

  async #cname(p: SmpIdentifier, sml: SmlOptions, resolver: DnsResolver): Promise<string> {
    const name = smlHostname(p, sml.zone);
    try {
      await resolver.resolveCname(name);
    } catch (err) {
      if (!isAbsent(err)) throw lookupFailed(name, 'CNAME', err);
      // ENODATA: the name exists without a CNAME; an SML may publish an A record directly.
      if ((err as { code?: string }).code !== 'ENODATA') throw dnsNotRegistered(p, name, 'CNAME', err);
      try {
        await resolver.resolve4(name);
      } catch (err2) {
        if (isAbsent(err2)) throw dnsNotRegistered(p, name, 'CNAME', err2);
        throw lookupFailed(name, 'A', err2);
      }
    }
    const port = sml.cnamePort ?? 80;
    return `http://${name}${port === 80 ? '' : `:${port}`}/`;
  }

  async #fetch(url: string): Promise<HttpResponse> {
    try {
      return await this.#get(url);
    } catch (err) {
      if (err instanceof EhmiError) throw err;
      const e = err as { code?: string; message?: string; cause?: { code?: string } };
      throw new EhmiError(
        'EHMI_SMP_LOOKUP_FAILED',
        `the SMP request to ${url} failed: ${e?.message ?? err}`,
        {
          cause: err,
          details: { url, code: e?.code ?? e?.cause?.code },
        },
      );
    }
  }

  #now(): Date {
    return this.#options.clock ? this.#options.clock() : new Date();
  }
}

function trimBody(body: string): string {
  return body.length > MAX_BODY_IN_ERROR ? `${body.slice(0, MAX_BODY_IN_ERROR)}…` : body;
}

/** A 404 from an SMP, with its error body (OASIS BDXR SMP 1.0 REST binding: unknown resource → 404). */
function notRegistered(message: string, p: SmpIdentifier, res: HttpResponse, url: string): EhmiError {
  const body = trimBody(res.body);
  const summary = body
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
  return new EhmiError('EHMI_SMP_NOT_REGISTERED', summary ? `${message} (SMP says: ${summary})` : message, {
    details: { reason: 'smp', participant: p.toString(), url, smpStatus: res.status, smpBody: body },
  });
}

function dnsNotRegistered(p: SmpIdentifier, name: string, type: string, err: unknown): EhmiError {
  return new EhmiError(
    'EHMI_SMP_NOT_REGISTERED',
    `participant ${p} is not registered: no DNS ${type} record for ${name}`,
    {
      cause: err,
      details: {
        reason: 'dns',
        participant: p.toString(),
        name,
        type,
        dnsCode: (err as { code?: string })?.code,
      },
    },
  );
}

function statusError(res: HttpResponse, url: string): EhmiError {
  return new EhmiError('EHMI_SMP_LOOKUP_FAILED', `the SMP answered HTTP ${res.status} for ${url}`, {
    details: { url, smpStatus: res.status, smpBody: trimBody(res.body) },
  });
}

/** Whether a certificate is the one a Redirect's CertificateUID names (subject, a subject attribute, or serial). */
function certificateHasUid(cert: X509Certificate, uid: string): boolean {
  const want = uid.trim().toLowerCase();
  if (!want) return false;
  const attrs = cert.subject.split('\n').filter(Boolean);
  const candidates = [
    cert.subject.replace(/\n/g, ', '),
    [...attrs].reverse().join(','),
    cert.serialNumber,
    ...attrs.map((a) => a.slice(a.indexOf('=') + 1)),
  ];
  return candidates.some((c) => c.trim().toLowerCase() === want);
}
