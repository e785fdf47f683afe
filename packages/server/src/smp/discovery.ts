import type { SmpClient } from '@ehmi/smp';
import type { DiscoveredEndpoint, ReceiverDiscovery } from '../ap/contract.ts';

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
export function smpDiscovery(client: Pick<SmpClient, 'lookup'>): ReceiverDiscovery {
  return {
    async lookup(participant, documentType, process): Promise<DiscoveredEndpoint> {
      const r = await client.lookup(participant, documentType, process);
      return {
        endpointUrl: r.endpointUrl,
        certificate: r.certificate,
        transportProfile: r.transportProfile,
      };
    },
  };
}
