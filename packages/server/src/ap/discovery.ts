import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { EhmiError } from '@ehmi/errors';
import type { DiscoveredEndpoint, ReceiverDiscovery } from '../contract.ts';
import type { ApConfig } from './config.ts';

/** `iso6523-actorid-upis::0088:x`, `0088:X` → `0088:x`: participant values compare case-insensitively (POLICY 2). */
export function normaliseParticipant(value: string): string {
  return value
    .trim()
    .replace(/^iso6523-actorid-upis::/i, '')
    .replace(/^urn:oasis:names:tc:ebcore:partyid-type:iso6523:/i, '')
    .toLowerCase();
}

/**
 * A four-corner property (`originalSender`, `finalRecipient`) as a participant. Peppol style is the value
 * `0088:<GLN>` with type `iso6523-actorid-upis`; an ebCore-typed property (eDelivery AS4 1.15 §2.6.1 allows
 * `type="urn:oasis:names:tc:ebcore:partyid-type:iso6523:0088"` with the bare GLN) is read as `0088:<GLN>` too.
 */
export function participantOfProperty(
  property: { value: string; type?: string } | undefined,
): string | undefined {
  if (!property) return undefined;
  const icd = /^urn:oasis:names:tc:ebcore:partyid-type:iso6523:(\d{4})$/i.exec(property.type ?? '')?.[1];
  if (icd && !property.value.includes(':')) return `${icd}:${property.value.trim()}`;
  return property.value.trim();
}

/**
 * The endpoint's certificate, checked: a discovery written in JavaScript could return none, or another library's
 * certificate object, where the contract names node:crypto's.
 */
export function endpointCertificate(endpoint: DiscoveredEndpoint): X509Certificate {
  const c = endpoint.certificate as unknown;
  if (c instanceof X509Certificate) return c;
  throw new EhmiError('EHMI_SMP_RESPONSE_INVALID', 'the discovered endpoint has no usable certificate');
}

/**
 * The static map that stands in for SML/SMP discovery until the registers run (ehmi-core §1.2 step 3):
 * `config.ap.discovery.static`, participant → AS4 URL, certificate file, transport profile. Certificates are read
 * once, at creation, so a missing file is a configuration error at start-up. The document type and process are
 * not checked: the static map registers a participant for everything.
 *
 * @example
 * const discovery = staticDiscovery(config.ap.discovery.static);
 * const { endpointUrl } = await discovery.lookup('0088:5790000000002', documentType, process);
 */
export function staticDiscovery(entries: ApConfig['discovery']['static']): ReceiverDiscovery {
  const map = new Map<string, DiscoveredEndpoint>();
  for (const [participant, entry] of Object.entries(entries)) {
    let pem: string;
    try {
      pem = readFileSync(entry.certificate, 'utf8');
    } catch (err) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        `ap.discovery.static["${participant}"].certificate: cannot read ${entry.certificate}`,
        { cause: err },
      );
    }
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(pem);
    } catch (err) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        `ap.discovery.static["${participant}"].certificate: ${entry.certificate} is not a PEM certificate`,
        { cause: err },
      );
    }
    map.set(normaliseParticipant(participant), {
      endpointUrl: entry.url,
      certificate,
      transportProfile: entry.transportProfile,
    });
  }
  return {
    async accessPointCertificates(participant: string): Promise<X509Certificate[]> {
      const found = map.get(normaliseParticipant(participant));
      return found ? [found.certificate] : [];
    },
    async lookup(participant: string, documentType: string, process?: string): Promise<DiscoveredEndpoint> {
      const found = map.get(normaliseParticipant(participant));
      if (!found) {
        throw new EhmiError(
          'EHMI_SMP_NOT_REGISTERED',
          `participant ${participant} is not in the static discovery map (ap.discovery.static)`,
          { details: { participant, documentType, process } },
        );
      }
      return found;
    },
  };
}

/**
 * Lookups that bypass the discovery cache, at most one per participant per `intervalMs`: when a signer (or a
 * receiver's certificate) is not the one the cached register answer names, the AP asks the register once more,
 * because the participant may have rolled its certificate over since. The limit keeps a forger, who can send as
 * many messages as they like, from making the AP ask the SMP for each. Concurrent callers share the lookup in
 * flight; within the interval after it, `run` answers `undefined` without asking (the cache then holds the fresh
 * answer anyway).
 *
 * @example
 * const fresh = new FreshLookups(60_000, Date.now);
 * const certs = await fresh.run(sender, () => discovery.accessPointCertificates(sender, { fresh: true }));
 */
export class FreshLookups {
  readonly #last = new Map<string, number>();
  readonly #inflight = new Map<string, Promise<unknown>>();
  readonly #intervalMs: number;
  readonly #now: () => number;
  /** Fresh lookups made (not refused by the limit, not shared): for tests and logs. */
  made = 0;

  constructor(intervalMs: number, now: () => number) {
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  async run<T>(key: string, load: () => Promise<T>): Promise<T | undefined> {
    const pending = this.#inflight.get(key) as Promise<T> | undefined;
    if (pending) return pending;
    const now = this.#now();
    const last = this.#last.get(key);
    if (last !== undefined && now - last < this.#intervalMs) return undefined;
    this.#last.set(key, now);
    this.#prune(now);
    this.made++;
    const p = load().finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, p);
    return p;
  }

  /** Entries older than the interval limit nothing: dropped, so the map stays as small as the recent participants. */
  #prune(now: number): void {
    if (this.#last.size <= 1024) return;
    for (const [key, at] of this.#last) if (now - at >= this.#intervalMs) this.#last.delete(key);
  }
}
