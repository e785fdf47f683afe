import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EhmiError } from '@ehmi/errors';
import { PROCESS_ID } from '@ehmi/sbdh';
import { DEFAULT_MESSAGE_TYPES, documentTypeOf, eerResourcesFor, seedEer } from '@ehmi/server';
import { TokenClient } from '@ehmi/server/token-client';
import { SmpClient } from '@ehmi/smp';
import type { Logger } from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import type { OrganisationSpec } from './organisations.ts';
import { participantOf } from './organisations.ts';
import { CENTRAL_NAME } from './pki.ts';

/** The local network's SML/BDXL zone: the SMP's DNS server is authoritative for it. */
export const LOCAL_SML_ZONE = 'sml.ehmi.internal';

/** The central node's own health/metrics server takes the last of the ten ports kept for central services. */
export const CENTRAL_NODE_PORT_OFFSET = 9;

/**
 * The SMP's admin API (HTTPS, access tokens) takes the last port of the network's span: the ten central ports are
 * all named, and the organisations (three ports each) never reach it (40 ports hold 13 organisations).
 */
export const SMP_ADMIN_PORT_OFFSET = 49;

/** The admin tokens of the central services, generated on first start and kept in `<data>/central/secrets.json`. */
export interface CentralSecrets {
  smpAdminToken: string;
  easAdminToken: string;
}

/** Where the central node is reached, as the organisations' nodes and network.json see it. */
export interface CentralUrls {
  smp: string;
  /** The SMP's admin API: HTTPS, with access tokens (EER publishes through it). */
  smpAdmin: string;
  eer: string;
  eas: string;
  /** EDS, the delivery status service (track and trace). */
  eds: string;
  /** The authorization server (its issuer identifier). */
  auth: string;
  /** `dns://host:port` of the SML/BDXL zone server (UDP and TCP). */
  dns: string;
  /** The central node's health/metrics server. */
  node: string;
  /** The web console (its sign-in and pages). */
  console: string;
}

/** Read the secrets file, or create it (mode 0600, written atomically) with fresh random tokens. */
export function ensureCentralSecrets(dataDir: string): CentralSecrets {
  const dir = join(dataDir, CENTRAL_NAME);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'secrets.json');
  if (existsSync(file)) {
    try {
      const s = JSON.parse(readFileSync(file, 'utf8')) as Partial<CentralSecrets>;
      if (
        typeof s.smpAdminToken === 'string' &&
        s.smpAdminToken.length >= 16 &&
        typeof s.easAdminToken === 'string' &&
        s.easAdminToken.length >= 16
      ) {
        return { smpAdminToken: s.smpAdminToken, easAdminToken: s.easAdminToken };
      }
    } catch {
      // Unreadable: issue new tokens below (EER, SMP and EAS all read them from here, so nothing else is stale).
    }
  }
  const secrets: CentralSecrets = {
    smpAdminToken: randomBytes(24).toString('base64url'),
    easAdminToken: randomBytes(24).toString('base64url'),
  };
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return secrets;
}

/**
 * Payloads of other standards the local network's organisations take (codes of `ehmi-message-definition-uri`), so
 * `ehmi send --payload` finds their receivers: the EDIFACT and the OIOXML laboratory report, and the OIOXML binary
 * document transport, which carries a CDA document (the code system names no CDA document type).
 */
export const PAYLOAD_MESSAGE_TYPES = [
  'urn:dk:healthcare:medcom:messaging:edifact:medrpt:rpt01:r0131k',
  'urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medrpt:xrpt01:xr0131k',
  'urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medbin:xbin01:xb0131x',
] as const;

/**
 * The Endpoint.payloadType codes of an organisation of the local network that names none of its own: the MedCom
 * FHIR messages (`DEFAULT_MESSAGE_TYPES`) and the payloads above.
 */
export const NETWORK_MESSAGE_TYPES: readonly string[] = [...DEFAULT_MESSAGE_TYPES, ...PAYLOAD_MESSAGE_TYPES];

/**
 * The document types an organisation's endpoint is published for, as the SMP holds them (EER's mapping): those of
 * the message types it receives, default `NETWORK_MESSAGE_TYPES`.
 */
export function publishedDocumentTypes(messageTypes: readonly string[] = NETWORK_MESSAGE_TYPES): string[] {
  return [...new Set(messageTypes.map((code) => documentTypeOf(code)))];
}

/** An organisation as the registers are seeded with it. */
export interface SeedOrganisation {
  spec: OrganisationSpec;
  /** The message types it receives (Endpoint.payloadType codes); default `NETWORK_MESSAGE_TYPES`. */
  messageTypes?: readonly string[];
  /** The AP's AS4 endpoint: network.json's `ap` URL exactly as spelled there (the AP takes AS4 on its base URL). */
  as4Url: string;
  /** PEM file of the AP's certificate. */
  apCertificate: string;
}

/** A fetch that trusts the network's root CA (EER is HTTPS with the central node's certificate). */
export function fetchTrusting(caPem: string): { fetch: typeof fetch; close(): Promise<void> } {
  const agent = new Agent({ connect: { ca: caPem } });
  return {
    fetch: ((url: string, init: RequestInit) =>
      undiciFetch(url, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch,
    close: () => agent.close(),
  };
}

/** A client of the network's authorization server: its id, its TLS client certificate and what it asks for. */
export interface NetworkTokenClientOptions {
  /** The authorization server's URL (its issuer). */
  authUrl: string;
  caPem: string;
  /** PEM files of the client's TLS client certificate and key: they authenticate it and the token is bound to them. */
  tls: { cert: string; key: string };
  clientId: string;
  scope: string;
  /** The resource server the token is for (RFC 8707). */
  resource: string;
}

/**
 * A fetch that calls a resource server of the network as a registered client: over mTLS with the client's
 * certificate, with a certificate-bound access token of the authorization server (`TokenClient` of
 * `@ehmi/server/token-client`: client credentials, `tls_client_auth`; docs/specs/security.md 1c), asked for again
 * shortly before it expires.
 */
export function fetchWithToken(o: NetworkTokenClientOptions): {
  fetch: typeof fetch;
  close(): Promise<void>;
} {
  const agent = new Agent({
    connect: { ca: o.caPem, cert: readFileSync(o.tls.cert, 'utf8'), key: readFileSync(o.tls.key, 'utf8') },
  });
  const tokens = new TokenClient({ issuer: o.authUrl, clientId: o.clientId, dispatcher: agent });
  return {
    fetch: tokens.fetch({ resource: o.resource, scope: o.scope }),
    close: () => agent.close(),
  };
}

/**
 * PUT each organisation's Organization, messaging Endpoint and AP Device into EER with stable ids (`<name>`,
 * `<name>-endpoint`, `<name>-ap`), so a restart updates rather than duplicates; EER propagates them to the SMP
 * and to EAS through its job queue (ehmi-core §4.1: EER is the master register).
 */
export async function seedRegisters(
  eerUrl: string,
  organisations: readonly SeedOrganisation[],
  doFetch: typeof fetch,
): Promise<void> {
  for (const o of organisations) {
    const resources = eerResourcesFor({
      key: o.spec.name,
      title: o.spec.title,
      sor: o.spec.sor,
      gln: o.spec.gln,
      ...(o.spec.ydernummer ? { ydernummer: o.spec.ydernummer } : {}),
      address: o.spec.address,
      apUrl: o.as4Url,
      apCertificate: readFileSync(o.apCertificate, 'utf8'),
      messageTypes: o.messageTypes ?? NETWORK_MESSAGE_TYPES,
    });
    await seedEer(eerUrl, resources, doFetch);
  }
}

export interface WaitForSmpOptions {
  dnsServer: { host: string; port: number };
  zone: string;
  trustAnchorPem: string;
  timeoutMs: number;
  logger: Logger;
  pollMs?: number;
  /**
   * A count that grows as the propagation gets work done (the central node's finished `eer.propagate` jobs): it
   * counts as progress too, since a job that publishes again what is served already shows nothing new to the poll.
   */
  progress?: () => Promise<number>;
}

/**
 * Poll the registers as an access point sees them — BDXL NAPTR through the network's DNS server, then the signed
 * ServiceMetadata of every document type, verified against the root CA — until every organisation's AP is
 * published with the expected URL, or the propagation stalls: `timeoutMs` pass without one more document type
 * served (then `EHMI_UNAVAILABLE` naming what is missing). The central node publishes one document type after the
 * other, so a slow machine takes longer in all but stalls no longer; a propagation that has stopped still fails
 * within `timeoutMs` of its last step.
 */
export async function waitForSmp(
  organisations: readonly SeedOrganisation[],
  options: WaitForSmpOptions,
): Promise<void> {
  const client = new SmpClient({
    sml: { zone: options.zone, naming: 'naptr' },
    dns: { host: options.dnsServer.host, port: options.dnsServer.port, timeoutMs: 1000, tries: 1 },
    trustAnchors: [options.trustAnchorPem],
    cacheTtlMs: 0,
    timeoutMs: 2000,
  });
  const pending = new Set(
    organisations.flatMap((o) =>
      publishedDocumentTypes(o.messageTypes).map((t) => JSON.stringify([participantOf(o.spec), t, o.as4Url])),
    ),
  );
  const progress = async (last: number): Promise<number> =>
    options.progress ? options.progress().catch(() => last) : last;
  let done = await progress(0);
  let deadline = Date.now() + options.timeoutMs;
  let lastError = '';
  for (;;) {
    const before = pending.size;
    await Promise.all(
      [...pending].map(async (key) => {
        const [participant, documentType, expected] = JSON.parse(key) as [string, string, string];
        try {
          const r = await client.lookup(participant, documentType, PROCESS_ID);
          if (r.endpointUrl === expected) pending.delete(key);
          else lastError = `${participant} is published with ${r.endpointUrl}, not ${expected}`;
        } catch (err) {
          lastError = `${participant} ${documentType}: ${(err as Error).message}`;
        }
      }),
    );
    if (pending.size === 0) return;
    const nowDone = await progress(done);
    if (pending.size < before || nowDone > done) deadline = Date.now() + options.timeoutMs;
    else if (Date.now() >= deadline) {
      const missing = [...new Set([...pending].map((k) => (JSON.parse(k) as string[])[0]))];
      throw new EhmiError(
        'EHMI_UNAVAILABLE',
        `the SMP does not serve ${missing.join(', ')}: no more published within ${options.timeoutMs} ms (EER → SMP propagation, the eer.propagate jobs of the central node; last error: ${lastError})`,
      );
    }
    done = nowDone;
    options.logger.debug({ pending: pending.size, lastError }, 'waiting for the SMP');
    await new Promise((r) => setTimeout(r, options.pollMs ?? 100));
  }
}
