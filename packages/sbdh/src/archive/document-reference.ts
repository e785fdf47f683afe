import { createHash, randomUUID } from 'node:crypto';
import { SYSTEM } from '../constants.ts';
import type { MedComMessageFacts } from '../fhir/message.ts';
import { arr, entries, isObject, type Json, resolveReference, str } from '../fhir/resolve.ts';

/** Per-standard XDS codes (MedCom XDS metadata, DK IHE code lists; IG example DocumentReference-77787891…). */
interface XdsProfile {
  profile: string;
  type: { system: string; code: string; display: string };
  format: (version: string) => { system: string; code: string; display: string };
  title: string;
}

const XDS: Readonly<Record<string, XdsProfile>> = {
  'homecareobservation-message': {
    profile:
      'https://medcomfhir.dk/ig/xdsdocuments/StructureDefinition/homecare-observation-documentreference',
    type: { system: 'urn:oid:1.2.208.184.100.1', code: 'HCOM', display: 'HomeCareObservation message' },
    format: (v) => ({
      system: 'urn:oid:1.2.208.184.100.10',
      code: `urn:ad:dk:medcom:hcom-v${v}:full`,
      display: 'DK HomeCareObservation message',
    }),
    title: 'Kommunale prøvesvar',
  },
};

export interface DocumentReferenceOptions {
  /** DocumentReference.id (also the entryUUID in `identifier`); default a new UUID. */
  id?: string;
  /** XDS facilityType / practiceSetting codings; the HomeCareObservation default is the IG example's home care. */
  facilityType?: Json;
  practiceSetting?: Json;
}

/**
 * The MedCom DocumentReference for the archive copy (XDS-METADATA), built from the message: the patient, the author
 * organisation (sender) and the authenticating practitioner become contained resources, as in the IG example.
 *
 * @example
 * const docRef = documentReferenceFor(readMessageFacts(bundle), { bytes, mimeType: 'application/fhir+json' });
 */
export function documentReferenceFor(
  facts: MedComMessageFacts,
  payload: { bytes: Uint8Array; mimeType: string },
  options: DocumentReferenceOptions = {},
): Json {
  const bundle = facts.bundle;
  const xds = XDS[facts.eventCode];
  const id = options.id ?? randomUUID();
  const contained: Json[] = [];
  const patient = entries(bundle).find((e) => e.resource.resourceType === 'Patient')?.resource;
  const header = (arr(bundle.entry)[0] as Json).resource as Json;
  const sender = resolveReference(bundle, header.sender);
  if (patient) {
    contained.push(
      compact({
        resourceType: 'Patient',
        id: str(patient.id) ?? 'patient',
        meta: { profile: ['http://medcomfhir.dk/ig/document/StructureDefinition/medcom-document-patient'] },
        identifier: facts.patient
          ? [{ system: facts.patient.system, value: facts.patient.value }]
          : undefined,
        name: patient.name,
        gender: patient.gender,
        birthDate: patient.birthDate,
      }),
    );
  }
  if (sender) {
    contained.push(
      compact({
        resourceType: 'Organization',
        id: str(sender.id) ?? 'author',
        meta: {
          profile: ['http://medcomfhir.dk/ig/document/StructureDefinition/medcom-document-organization'],
        },
        identifier: [{ system: SYSTEM.sor, value: facts.senderSor }],
        name: sender.name,
      }),
    );
  }
  const practitioner = entries(bundle).find((e) => e.resource.resourceType === 'Practitioner')?.resource;
  if (practitioner) {
    contained.push(
      compact({
        resourceType: 'Practitioner',
        id: str(practitioner.id) ?? 'authenticator',
        meta: {
          profile: ['http://medcomfhir.dk/ig/document/StructureDefinition/medcom-document-practitioner'],
        },
        name: practitioner.name,
      }),
    );
  }
  const ref = (r: Json | undefined): Json | undefined => (r ? { reference: `#${String(r.id)}` } : undefined);
  const containedOf = (type: string): Json | undefined => contained.find((c) => c.resourceType === type);
  const created = str(facts.provenance?.recorded) ?? facts.timestamp;
  const isUuid = (v: string): boolean =>
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v);
  return compact({
    resourceType: 'DocumentReference',
    id,
    meta: xds ? { profile: [xds.profile] } : undefined,
    contained,
    extension: [
      {
        url: 'http://medcomfhir.dk/ig/document/StructureDefinition/medcom-document-homecommunityid-extension',
        valueCoding: {
          system: 'urn:oid:1.2.208.176.8.1',
          code: '1.2.208.176.8.1',
          display:
            'Common Danish IHE XDS domain. Integrating the Healthcare Enterprise (IHE) cross[X]-enterprise Document Sharing (XDS) domain',
        },
      },
    ],
    // The document's uniqueId: the message's letter id (MessageHeader.id), stable across re-sends.
    masterIdentifier: {
      use: 'usual',
      system: 'urn:ietf:rfc:3986',
      value: isUuid(facts.messageHeaderId) ? `urn:uuid:${facts.messageHeaderId}` : `urn:uuid:${randomUUID()}`,
    },
    identifier: [{ value: `urn:uuid:${isUuid(id) ? id : randomUUID()}` }],
    status: 'current',
    type: xds ? { coding: [xds.type] } : { text: facts.eventCode },
    category: [{ coding: [{ system: 'urn:oid:1.2.208.184.100.9', code: '006', display: 'Workflow' }] }],
    subject: ref(containedOf('Patient')),
    author: containedOf('Organization') ? [ref(containedOf('Organization'))] : undefined,
    authenticator: ref(containedOf('Practitioner')),
    securityLabel: [{ coding: [{ code: 'N' }] }],
    content: [
      {
        attachment: compact({
          contentType: payload.mimeType,
          language: 'da',
          url: facts.profile,
          size: payload.bytes.byteLength,
          // Attachment.hash: base64 SHA-1 of the data (FHIR R4).
          hash: createHash('sha1').update(payload.bytes).digest('base64'),
          title: xds?.title ?? facts.eventCode,
          creation: created,
        }),
        format: xds ? xds.format(facts.version) : undefined,
      },
    ],
    context: compact({
      facilityType:
        options.facilityType ?? (xds ? homeCare('550621000005101', 'hjemmesygeplejeenhed') : undefined),
      practiceSetting:
        options.practiceSetting ?? (xds ? homeCare('658161000005107', 'hjemmesygepleje') : undefined),
      sourcePatientInfo: containedOf('Patient')
        ? compact({
            ...ref(containedOf('Patient')),
            identifier: facts.patient ? { value: facts.patient.value } : undefined,
          })
        : undefined,
    }),
  });
}

function homeCare(code: string, display: string): Json {
  return {
    coding: [
      { system: 'http://snomed.info/sct', version: 'http://snomed.info/sct/554471000005108', code, display },
    ],
  };
}

/** Drop undefined members and empty arrays/objects (a FHIR resource has no empty elements). */
function compact<T extends Json>(o: T): T {
  for (const [k, v] of Object.entries(o)) {
    if (
      v === undefined ||
      (Array.isArray(v) && v.length === 0) ||
      (isObject(v) && Object.keys(v).length === 0)
    ) {
      delete o[k];
    }
  }
  return o;
}
