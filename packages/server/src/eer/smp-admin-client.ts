import type { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import {
  buildServiceGroup,
  buildServiceMetadata,
  documentId,
  type Endpoint,
  type IdentifierInput,
  participantId,
  processId,
  serviceGroupUrl,
  serviceMetadataUrl,
  toCertificate,
} from '@ehmi/smp';
import type { X509Certificate as PeculiarX509Certificate } from '@peculiar/x509';

export interface SmpAdminClientOptions {
  /** The SMP's base URL (`SmpRole.url`, or its public URL). */
  baseUrl: string;
  /**
   * The SMP's static `smp.adminToken` (development only). Without it, `fetch` authenticates each request: with the
   * node's `authorization`, a `TokenClient`'s fetch (mTLS and an access token with `smp/publication.write`).
   */
  token?: string;
  /** Flavour of the bodies sent; the SMP accepts both and serves its own. Default `oasis`. */
  flavour?: 'oasis' | 'peppol';
  /** Per-request timeout. Default 10 s. */
  timeoutMs?: number;
  /** A fetch of your own (proxy, tests). Default: the global fetch. */
  fetch?: typeof fetch;
}

/** One ServiceMetadata to publish: where `participant` receives `documentType` (ehmi-core §4.1: EER → SMP). */
export interface PublishServiceMetadataInput {
  /** `0088:<GLN>` or `scheme::value`. */
  participant: IdentifierInput;
  /** The document type (a MedCom DOCUMENTID; `dk-medcom-messaging` scheme unless given). */
  documentType: IdentifierInput;
  /** The process(es) the endpoint serves (`urn:ehmi:sdn-emergence`). */
  process: IdentifierInput | readonly IdentifierInput[];
  /** The receiving access point's AS4 URL, exactly as the organisation's `ap` URL is spelled. */
  endpointUrl: string;
  /** The access point's certificate (PEM, DER, or a certificate object): senders encrypt to it. */
  certificatePem: string | Uint8Array | NodeX509Certificate | PeculiarX509Certificate;
  /** Default `bdxr-transport-ebms3-as4-v1p0` (eDelivery AS4 in OASIS SMP). */
  transportProfile?: string;
  requireBusinessLevelSignature?: boolean;
  serviceActivationDate?: Date;
  serviceExpirationDate?: Date;
  /** Default `EHMI access point`. */
  serviceDescription?: string;
  /** Default: the endpoint URL's origin. */
  technicalContactUrl?: string;
  technicalInformationUrl?: string;
}

const TRANSPORT_PROFILE = 'bdxr-transport-ebms3-as4-v1p0';

function base64Der(input: PublishServiceMetadataInput['certificatePem']): string {
  if (typeof input === 'object' && input !== null && 'rawData' in input) {
    return Buffer.from(input.rawData).toString('base64');
  }
  return toCertificate(
    input as string | Uint8Array | NodeX509Certificate,
    'access point certificate',
  ).raw.toString('base64');
}

/**
 * A typed client of the SMP admin API (PUT/DELETE of ServiceGroup and ServiceMetadata, with an access token or,
 * in development, the static token). EER publishes through it. Errors: `EHMI_UNAUTHORIZED` (token, or a token the
 * authorization server refused, with its reason), `EHMI_NOT_FOUND`, `EHMI_USAGE` (the SMP refused the
 * body; its ErrorDescription in the message), `EHMI_UNAVAILABLE` (network failure or 5xx: transient, retry).
 *
 * @example
 * const smp = new SmpAdminClient({ baseUrl: 'http://127.0.0.1:8712', token });
 * await smp.publishServiceGroup('0088:5790000121526');
 * await smp.publishServiceMetadata({
 *   participant: '0088:5790000121526',
 *   documentType: medcomDocumentId('homecareobservation-message', '1.2'),
 *   process: 'urn:ehmi:sdn-emergence',
 *   endpointUrl: 'https://ap.example:8711/as4',
 *   certificatePem,
 * });
 */
export class SmpAdminClient {
  readonly #options: SmpAdminClientOptions;
  readonly #flavour: 'oasis-bdxr-1' | 'peppol';

  constructor(options: SmpAdminClientOptions) {
    if (!/^https?:\/\//i.test(options.baseUrl)) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        `SmpAdminClient: baseUrl "${options.baseUrl}" is not an http(s) URL`,
      );
    }
    if (options.token === undefined && !options.fetch) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        'SmpAdminClient: neither a token nor a fetch that authenticates (a TokenClient fetch)',
      );
    }
    this.#options = options;
    this.#flavour = options.flavour === 'peppol' ? 'peppol' : 'oasis-bdxr-1';
  }

  /** Creates (or keeps) the participant's ServiceGroup; true when it was created. */
  async publishServiceGroup(participant: IdentifierInput): Promise<boolean> {
    const p = participantId(participant);
    const body = buildServiceGroup({ flavour: this.#flavour, participant: p, references: [] });
    const res = await this.#request('PUT', serviceGroupUrl(this.#options.baseUrl, p), body);
    return res.status === 201;
  }

  /**
   * Publishes where the participant receives a document type (its ServiceGroup must exist); true when it was
   * created, false when it replaced the previous one.
   */
  async publishServiceMetadata(input: PublishServiceMetadataInput): Promise<boolean> {
    const p = participantId(input.participant);
    const d = documentId(input.documentType);
    const processes = (Array.isArray(input.process) ? input.process : [input.process]) as IdentifierInput[];
    if (processes.length === 0) throw new EhmiError('EHMI_USAGE', 'publishServiceMetadata: no process');
    const endpoint: Endpoint = {
      transportProfile: input.transportProfile ?? TRANSPORT_PROFILE,
      endpointUrl: input.endpointUrl,
      requireBusinessLevelSignature: input.requireBusinessLevelSignature ?? false,
      certificate: base64Der(input.certificatePem),
      serviceDescription: input.serviceDescription ?? 'EHMI access point',
      technicalContactUrl: input.technicalContactUrl ?? new URL(input.endpointUrl).origin,
    };
    if (input.serviceActivationDate) endpoint.serviceActivationDate = input.serviceActivationDate;
    if (input.serviceExpirationDate) endpoint.serviceExpirationDate = input.serviceExpirationDate;
    if (input.technicalInformationUrl) endpoint.technicalInformationUrl = input.technicalInformationUrl;
    const body = buildServiceMetadata({
      flavour: this.#flavour,
      serviceInformation: {
        participant: p,
        documentType: d,
        processes: processes.map((x) => ({ processId: processId(x), endpoints: [endpoint] })),
      },
    });
    const res = await this.#request('PUT', serviceMetadataUrl(this.#options.baseUrl, p, d), body);
    return res.status === 201;
  }

  /** Removes one ServiceMetadata; false when there was none. */
  async removeServiceMetadata(participant: IdentifierInput, documentType: IdentifierInput): Promise<boolean> {
    const p = participantId(participant);
    const d = documentId(documentType);
    return this.#remove(serviceMetadataUrl(this.#options.baseUrl, p, d));
  }

  /** Removes the participant's ServiceGroup and all its ServiceMetadata; false when there was none. */
  async removeServiceGroup(participant: IdentifierInput): Promise<boolean> {
    return this.#remove(serviceGroupUrl(this.#options.baseUrl, participantId(participant)));
  }

  async #remove(url: string): Promise<boolean> {
    try {
      await this.#request('DELETE', url);
      return true;
    } catch (err) {
      if (err instanceof EhmiError && err.code === 'EHMI_NOT_FOUND') return false;
      throw err;
    }
  }

  async #request(method: 'PUT' | 'DELETE', url: string, body?: string): Promise<{ status: number }> {
    const doFetch = this.#options.fetch ?? fetch;
    let res: Response;
    try {
      res = await doFetch(url, {
        method,
        headers: {
          ...(this.#options.token !== undefined ? { authorization: `Bearer ${this.#options.token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/xml; charset=utf-8' } : {}),
        },
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      // The token client's own refusal (the authorization server's reason) is passed on as it is.
      if (err instanceof EhmiError) throw err;
      throw new EhmiError(
        'EHMI_UNAVAILABLE',
        `SMP admin ${method} ${url} failed: ${(err as Error).message}`,
        {
          cause: err,
          details: { url },
        },
      );
    }
    const text = await res.text();
    if (res.ok) return { status: res.status };
    const described = /<ErrorDescription>([\s\S]*?)<\/ErrorDescription>/.exec(text)?.[1];
    const description =
      described === undefined
        ? text.slice(0, 300)
        : described.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    const message = `SMP admin ${method} ${url} answered ${res.status}: ${description}`;
    const details = { url, status: res.status, body: text.slice(0, 2000) };
    if (res.status === 401) throw new EhmiError('EHMI_UNAUTHORIZED', message, { details });
    if (res.status === 403) throw new EhmiError('EHMI_FORBIDDEN', message, { details });
    if (res.status === 404) throw new EhmiError('EHMI_NOT_FOUND', message, { details });
    if (res.status >= 500) throw new EhmiError('EHMI_UNAVAILABLE', message, { details });
    throw new EhmiError('EHMI_USAGE', message, { details });
  }
}
