import type { ServiceMetadata, SmpFlavour } from '../../src/index.ts';
import { documentId, participantId, processId } from '../../src/index.ts';

export const HCO_CURRENT =
  'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message::1.2';
export const HCO_LEGACY =
  'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition:homecareobservation-message:1.2';
export const RECEIVER = '0088:5790000121526';
export const SDN = 'urn:ehmi:sdn-emergence';

/** A ServiceMetadata for an EHMI receiver: one process, one eDelivery AS4 endpoint with the AP certificate. */
export function sampleMetadata(
  apCertificateDer: Buffer,
  options: {
    flavour?: SmpFlavour;
    participant?: string;
    documentType?: string;
    endpointUrl?: string;
    transportProfile?: string;
  } = {},
): ServiceMetadata {
  return {
    flavour: options.flavour ?? 'oasis-bdxr-1',
    serviceInformation: {
      participant: participantId(options.participant ?? RECEIVER),
      documentType: documentId(options.documentType ?? HCO_CURRENT),
      processes: [
        {
          processId: processId(SDN),
          endpoints: [
            {
              transportProfile: options.transportProfile ?? 'bdxr-transport-ebms3-as4-v1p0',
              endpointUrl: options.endpointUrl ?? 'https://ap.ehmi.test/as4',
              requireBusinessLevelSignature: false,
              serviceActivationDate: new Date('2025-01-01T00:00:00Z'),
              serviceExpirationDate: new Date('2035-01-01T00:00:00Z'),
              certificate: apCertificateDer.toString('base64'),
              serviceDescription: 'EHMI test access point <& "quotes">',
              technicalContactUrl: 'mailto:support@ehmi.test',
            },
          ],
        },
      ],
    },
  };
}
