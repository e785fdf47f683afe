import { X509Certificate } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { EhmiError } from '@ehmi/errors';
import { YDERNUMMER_SYSTEM } from './identifiers.ts';
import { EXT, SOR_SYSTEM } from './profiles.ts';

const EER = 'http://medcomehmi.dk/ig/eer/StructureDefinition/';
const TERM = 'http://medcomehmi.dk/ig/terminology/CodeSystem/';

/**
 * Payload types an EHMI messaging endpoint takes by default: HomeCareObservation 1.1 (MessageHeader.definition
 * `…MedComHomeCareObservationMessageDefinition|1.1` of the 1.2.1 examples, so the DOCUMENTID a sender's ehmiSBDH
 * carries) and 1.2, Acknowledgement 2.0, the ehmiSBDH EnvelopeReceipt.
 */
export const DEFAULT_MESSAGE_TYPES = [
  'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message::1.1',
  'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message::1.2',
  'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::acknowledgement-message##urn:dk:medcom:fhir:acknowledgement-message::2.0',
  'urn:dk:healthcare:messaging:oasis:ebxml:schema:xsd::ehmisbdh-acknowledgement##urn:dk:ehmi:sbdh:ehmisbdh-acknowledgement::1.0',
] as const;

export { YDERNUMMER_SYSTEM };

export interface EerOrganisationInput {
  /** Prefix of the resource ids: `<key>` (Organization), `<key>-endpoint`, `<key>-ap` (Device). */
  key: string;
  /** Organization.name. */
  title: string;
  /** SOR id (SOR-ID slice). */
  sor: string;
  /** GLN of the messaging endpoint (GLN-ID slice): the eDelivery participant `0088:<GLN>`. */
  gln: string;
  ydernummer?: string;
  /** The organisation's access point URL, exactly as the SMP should publish it. */
  apUrl: string;
  /** The access point's certificate (PEM or DER): senders encrypt to it. */
  apCertificate: string | Uint8Array;
  /** Endpoint.payloadType codes; default {@link DEFAULT_MESSAGE_TYPES}. */
  messageTypes?: readonly string[];
  /** SOR-Hierarchy type; default `OU`. */
  hierarchy?: 'IO' | 'HI' | 'OU';
  address?: { line?: string[]; city?: string; postalCode?: string };
  /** Endpoint.period.start; default 2025-01-01. */
  since?: string;
}

export interface EerOrganisationResources {
  organization: Record<string, unknown>;
  endpoint: Record<string, unknown>;
  device: Record<string, unknown>;
}

function derBase64(cert: string | Uint8Array): string {
  try {
    return new X509Certificate(typeof cert === 'string' ? cert : Buffer.from(cert)).raw.toString('base64');
  } catch (cause) {
    throw new EhmiError('EHMI_CERTIFICATE_INVALID', 'the access point certificate cannot be read', { cause });
  }
}

/**
 * The EER resources of one organisation with an eDelivery messaging endpoint, valid against the EER profiles
 * (Eer.Messaging.Organization, eer.dk.endpoint.messaging, EerDevice): what `ehmi up` or an operator PUTs to seed
 * the register. The AP certificate travels on the AP Device as the EER pilot registers it (`smp-public-key`).
 *
 * @example
 * const { organization, endpoint, device } = eerResourcesFor({ key: 'gp', title: 'Skødstrup Lægepraksis',
 *   sor: '52581000016005', gln: '5790000127092', apUrl: 'https://127.0.0.1:8721/as4', apCertificate: pem });
 */
export function eerResourcesFor(input: EerOrganisationInput): EerOrganisationResources {
  const endpointId = `${input.key}-endpoint`;
  const deviceId = `${input.key}-ap`;
  const device = {
    resourceType: 'Device',
    id: deviceId,
    meta: { profile: [`${EER}EerDevice`] },
    extension: [
      {
        url: EXT.smpPublicKey,
        extension: [{ url: EXT.smpPublicCertificate, valueBase64Binary: derBase64(input.apCertificate) }],
      },
    ],
    identifier: [{ value: deviceId }],
    type: { coding: [{ system: `${TERM}eer-device-type`, code: 'AP', display: 'eDelivery Access Point' }] },
    status: 'active',
    deviceName: [{ name: `${input.title} AP`, type: 'user-friendly-name' }],
    manufacturer: 'ehmi-node',
  };
  const organization = {
    resourceType: 'Organization',
    id: input.key,
    meta: { profile: [`${EER}Eer.Messaging.Organization`] },
    identifier: [
      { system: SOR_SYSTEM, value: input.sor },
      ...(input.ydernummer ? [{ system: YDERNUMMER_SYSTEM, value: input.ydernummer }] : []),
    ],
    active: true,
    type: [{ coding: [{ system: `${TERM}eer-sor-organization-type`, code: input.hierarchy ?? 'OU' }] }],
    name: input.title,
    ...(input.address ? { address: [input.address] } : {}),
    endpoint: [{ reference: `Endpoint/${endpointId}` }],
  };
  const endpoint = {
    resourceType: 'Endpoint',
    id: endpointId,
    meta: { profile: [`${EER}eer.dk.endpoint.messaging`] },
    extension: [{ url: EXT.apSystem, valueReference: { reference: `Device/${deviceId}` } }],
    identifier: [{ system: 'http://www.gs1.org/gln', value: input.gln }],
    status: 'active',
    connectionType: { system: `${TERM}eer-endpoint-connection-type`, code: 'EerMessagingEdeliveryFhir' },
    name: `${input.title} (eDelivery)`,
    managingOrganization: { reference: `Organization/${input.key}` },
    period: { start: input.since ?? '2025-01-01' },
    payloadType: (input.messageTypes ?? DEFAULT_MESSAGE_TYPES).map((code) => ({
      coding: [{ system: `${TERM}ehmi-message-definition-uri`, code }],
    })),
    payloadMimeType: ['application/fhir+xml', 'application/fhir+json'],
    address: input.apUrl,
  };
  return { organization, endpoint, device };
}

/** A resource as JSON without what the server sets on a write (`meta.versionId`, `meta.lastUpdated`). */
function withoutServerMeta(resource: unknown): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(resource)) as Record<string, unknown>;
  const meta = copy.meta as Record<string, unknown> | undefined;
  if (meta) {
    delete meta.versionId;
    delete meta.lastUpdated;
    if (Object.keys(meta).length === 0) delete copy.meta;
  }
  return copy;
}

/** What {@link seedEer} did: `Type/id` of the resources it PUT and of those it left as they were. */
export interface SeedEerResult {
  written: string[];
  unchanged: string[];
}

/**
 * PUTs an organisation's resources to an EER (device, organization, endpoint: each write is validated; the last
 * one triggers propagation to the SMP and EAS). A resource EER already holds with the same content is not PUT
 * again, so re-seeding at every start adds no history versions and no propagation jobs. Throws
 * `EHMI_VALIDATION_FAILED` with EER's OperationOutcome when EER refuses one.
 *
 * @example
 * await seedEer(eerRole.url, eerResourcesFor(input));
 */
export async function seedEer(
  baseUrl: string,
  resources: EerOrganisationResources,
  doFetch: typeof fetch = fetch,
): Promise<SeedEerResult> {
  const result: SeedEerResult = { written: [], unchanged: [] };
  for (const r of [resources.device, resources.organization, resources.endpoint]) {
    const url = `${baseUrl.replace(/\/+$/, '')}/${r.resourceType}/${r.id}`;
    let res: Response;
    try {
      // R4 http.html: a PUT always makes a new version; skip it when the stored resource is the same.
      const current = await doFetch(url, { method: 'GET', headers: { accept: 'application/fhir+json' } });
      const text = await current.text();
      if (
        current.status === 200 &&
        isDeepStrictEqual(withoutServerMeta(JSON.parse(text)), withoutServerMeta(r))
      ) {
        result.unchanged.push(`${r.resourceType}/${r.id}`);
        continue;
      }
      res = await doFetch(url, {
        method: 'PUT',
        headers: {
          'content-type': 'application/fhir+json',
          accept: 'application/fhir+json',
          prefer: 'return=minimal',
        },
        body: JSON.stringify(r),
      });
    } catch (cause) {
      throw new EhmiError('EHMI_UNAVAILABLE', `EER GET or PUT ${url} failed: ${(cause as Error).message}`, {
        cause,
      });
    }
    const text = await res.text();
    if (res.ok) {
      result.written.push(`${r.resourceType}/${r.id}`);
      continue;
    }
    const outcome = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    const code =
      res.status === 422 ? 'EHMI_VALIDATION_FAILED' : res.status >= 500 ? 'EHMI_UNAVAILABLE' : 'EHMI_USAGE';
    throw new EhmiError(
      code,
      `EER refused ${r.resourceType}/${r.id} (${res.status}): ${text.slice(0, 500)}`,
      {
        details: { outcome },
      },
    );
  }
  return result;
}
