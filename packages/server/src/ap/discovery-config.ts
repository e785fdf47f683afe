import { EBMS_URI } from '@ehmi/as4';
import { EhmiError } from '@ehmi/errors';
import { checkCertificatePurpose, type RevocationChecker } from '@ehmi/pki';
import { SmpClient, type SmpClientOptions } from '@ehmi/smp';
import type { DiscoveredEndpoint, ReceiverDiscovery } from '../contract.ts';
import { readPem } from '../roles.ts';
import { checkNotRevoked } from '../trust.ts';
import type { ApConfig } from './config.ts';
import { normaliseParticipant, staticDiscovery } from './discovery.ts';

/**
 * Dynamic discovery for the access point (ehmi-core §1.2 step 3; eDelivery AS4 1.15 §1.5.4 Dynamic Sender): DNS
 * (BDXL NAPTR or SML CNAME) and the SMP through an `SmpClient`, instead of a static map. The client's errors pass
 * through unchanged: `EHMI_SMP_NOT_REGISTERED` (permanent), `EHMI_SMP_LOOKUP_FAILED` (transient), and
 * `EHMI_SMP_SIGNATURE_INVALID` / `EHMI_SMP_CERTIFICATE_UNTRUSTED` / `EHMI_SMP_RESPONSE_INVALID` (the answer is
 * refused, so nothing is sent).
 *
 * @example
 * const discovery = smpDiscovery(new SmpClient({ sml: { zone: 'sml.ehmi.internal' }, dns: { host: '127.0.0.1', port: 8753 }, trustAnchors: [caPem] }));
 * const { endpointUrl, certificate } = await discovery.lookup('0088:5790000121526', documentType, 'urn:ehmi:sdn-emergence');
 */
export function smpDiscovery(
  client: Pick<SmpClient, 'lookup' | 'accessPointCertificates' | 'serviceGroup'>,
): ReceiverDiscovery {
  return {
    accessPointCertificates: (participant, options) => client.accessPointCertificates(participant, options),
    // The test service is no document type of the register: the participant's AP is the one it publishes for its
    // document types (the first whose endpoint is active; lookups are cached).
    async accessPointEndpoint(participant): Promise<DiscoveredEndpoint> {
      const group = await client.serviceGroup(participant);
      let last: unknown;
      for (const ref of group.references) {
        if (!ref.documentType) continue;
        try {
          const r = await client.lookup(participant, ref.documentType);
          return {
            endpointUrl: r.endpointUrl,
            certificate: r.certificate,
            transportProfile: r.transportProfile,
          };
        } catch (err) {
          if ((err as { code?: string }).code !== 'EHMI_SMP_NOT_REGISTERED') throw err;
          last = err;
        }
      }
      throw (
        last ??
        new EhmiError('EHMI_SMP_NOT_REGISTERED', `the SMP publishes no document type for ${participant}`, {
          details: { participant },
        })
      );
    },
    async lookup(participant, documentType, process, options): Promise<DiscoveredEndpoint> {
      const r = await client.lookup(participant, documentType, process, options);
      return {
        endpointUrl: r.endpointUrl,
        certificate: r.certificate,
        transportProfile: r.transportProfile,
      };
    },
  };
}

type SmpDiscoveryConfig = NonNullable<ApConfig['discovery']['smp']>;

/** The `SmpClient` options of `ap.discovery.smp` (trust anchors read from their PEM files now: errors at start). */
export function smpClientOptions(
  config: SmpDiscoveryConfig,
  revocation: RevocationChecker,
): SmpClientOptions {
  const trustAnchors = config.trustAnchors.map((file) => readPem(file, 'ap.discovery.smp.trustAnchors'));
  return {
    ...(config.url ? { smpUrl: config.url } : {}),
    ...(config.zone
      ? {
          sml: {
            zone: config.zone,
            naming: config.naming,
            ...(config.cnamePort ? { cnamePort: config.cnamePort } : {}),
          },
        }
      : {}),
    ...(config.dnsServer
      ? { dns: { host: config.dnsServer.host, port: config.dnsServer.port, timeoutMs: config.timeoutMs } }
      : {}),
    trustAnchors,
    // The SMP's signing certificate is meant for signing SMP answers (not a TLS certificate) and is not revoked.
    checkSigner: async (path) => {
      const what = 'SMP signing certificate';
      const errorCode = 'EHMI_SMP_CERTIFICATE_UNTRUSTED';
      checkCertificatePurpose(path[0]!, 'smp-signing', { what, errorCode });
      await checkNotRevoked(revocation, path, { what, errorCode });
    },
    cacheTtlMs: config.cacheTtlMs,
    timeoutMs: config.timeoutMs,
  };
}

/**
 * The AP's receiver discovery as `ap.discovery` configures it: with `smp`, DNS + SMP through an `SmpClient`
 * (participants in the static map, if any, still come from the map: an operator's override); without, the static
 * map alone.
 *
 * @example
 * const discovery = configuredDiscovery(config.ap.discovery);
 */
export function configuredDiscovery(
  config: Pick<ApConfig['discovery'], 'static' | 'smp'>,
  revocation: RevocationChecker,
): ReceiverDiscovery {
  const fromMap = staticDiscovery(config.static);
  if (!config.smp) return fromMap;
  const dynamic = smpDiscovery(new SmpClient(smpClientOptions(config.smp, revocation)));
  const listed = new Set(Object.keys(config.static).map(normaliseParticipant));
  if (listed.size === 0) return dynamic;
  const from = (participant: string) => (listed.has(normaliseParticipant(participant)) ? fromMap : dynamic);
  return {
    lookup: (participant, documentType, process, options) =>
      from(participant).lookup(participant, documentType, process, options),
    accessPointCertificates: (participant, options) =>
      from(participant).accessPointCertificates(participant, options),
    accessPointEndpoint: async (participant) => {
      const d = from(participant);
      return d.accessPointEndpoint
        ? d.accessPointEndpoint(participant)
        : d.lookup(participant, EBMS_URI.testAction, EBMS_URI.testService);
    },
  };
}
