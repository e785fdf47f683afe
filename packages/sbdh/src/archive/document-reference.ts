import { createHash, randomUUID } from 'node:crypto';
import { SYSTEM } from '../constants.ts';
import type { MedComMessageFacts } from '../fhir/message.ts';
import { arr, entries, isObject, type Json, resolveReference, str } from '../fhir/resolve.ts';

/** The MedCom XDS DocumentReference of a prøvesvar copy (ehmi-core §1.3; fixtures/SOURCES-xds-documents.md). */
export const HCO_DOCUMENT_REFERENCE_PROFILE =
  'https://medcomfhir.dk/ig/xdsdocuments/StructureDefinition/homecare-observation-documentreference';
const CORE_DOCUMENT = 'http://medcomfhir.dk/ig/coredocument/StructureDefinition/';
/** The extensions MedComCoreDocumentReference requires (1..1 each): the XDS homeCommunityId and the version. */
export const XDS_EXTENSION = {
  homeCommunityId: `${CORE_DOCUMENT}medcom-core-document-homecommunityid-extension`,
  versionId: `${CORE_DOCUMENT}medcom-core-document-version-id-extension`,
} as const;
/** The profiles of the contained author, authenticator and patient (MedCom core document IG). */
const CONTAINED_PROFILE = {
  Patient: `${CORE_DOCUMENT}medcom-core-document-patient`,
  Organization: `${CORE_DOCUMENT}medcom-core-document-organization`,
  Practitioner: `${CORE_DOCUMENT}medcom-core-document-practitioner`,
} as const;

/** Per-standard XDS codes (MedCom XDS documents IG: HomeCareObservationDocumentReference and its value sets). */
interface XdsProfile {
  profile: string;
  type: { system: string; code: string; display: string };
  format: (version: string) => { system: string; code: string; display: string };
  title: string;
  /** The DocumentReference version the profile fixes (`extension[versionid].valueString`). */
  version: string;
}

const XDS: Readonly<Record<string, XdsProfile>> = {
  'homecareobservation-message': {
    profile: HCO_DOCUMENT_REFERENCE_PROFILE,
    // medcom-dk-xds-hco-typecode-VS
    type: { system: 'urn:oid:1.2.208.184.100.1', code: 'HCOMsg', display: 'HomeCareObservation Message' },
    format: (v) => ({
      system: 'urn:oid:1.2.208.184.100.10',
      code: `urn:ad:dk:medcom:hcom-v${v}:full`,
      display: 'DK HomeCareObservation message',
    }),
    title: 'Kommunale prøvesvar',
    version: '1.1.0',
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
        meta: { profile: [CONTAINED_PROFILE.Patient] },
        identifier: facts.patient
          ? [{ system: facts.patient.system, value: facts.patient.value }]
          : undefined,
        name: patient.name,
        // XDS sourcePatientInfo needs both; a MedCom message may leave them out, the CPR number carries them.
        gender: str(patient.gender) ?? cprFacts(facts.patient)?.gender,
        birthDate: str(patient.birthDate) ?? cprFacts(facts.patient)?.birthDate,
      }),
    );
  }
  if (sender) {
    contained.push(
      compact({
        resourceType: 'Organization',
        id: str(sender.id) ?? 'author',
        meta: { profile: [CONTAINED_PROFILE.Organization] },
        identifier: [{ system: SYSTEM.sor, value: facts.senderSor }],
        name: sender.name,
      }),
    );
  }
  const practitioner = entries(bundle).find((e) => e.resource.resourceType === 'Practitioner')?.resource;
  // The authenticator (0..1) is a MedComCoreDocumentPractitioner: one with a given and a family name, else none.
  const named = arr(practitioner?.name).some(
    (n) => isObject(n) && !!str(n.family) && arr(n.given).some((g) => !!str(g)),
  );
  if (practitioner && named) {
    contained.push(
      compact({
        resourceType: 'Practitioner',
        id: str(practitioner.id) ?? 'authenticator',
        meta: { profile: [CONTAINED_PROFILE.Practitioner] },
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
        url: XDS_EXTENSION.homeCommunityId,
        // medcom-dk-xds-hco-homeCommunityId-VS
        valueCoding: {
          system: 'urn:oid:1.2.208.176.8.1',
          code: '1.2.208.176.8.1',
          display:
            'Common Danish DK IHE XDS domain. Integrating the Healthcare Enterprise (IHE) cross[X]-enterprise Document Sharing (XDS) domain',
        },
      },
      ...(xds ? [{ url: XDS_EXTENSION.versionId, valueString: xds.version }] : []),
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

/**
 * Birth date and sex as a CPR number carries them (CPR-kontoret: DDMMYY, the 7th digit gives the century, an odd
 * last digit is male); undefined for another identifier or a number whose first six digits are no date.
 */
export function cprFacts(
  patient: { system: string; value: string } | undefined,
): { birthDate: string; gender: 'male' | 'female' } | undefined {
  if (!patient || patient.system !== SYSTEM.cpr || !/^\d{10}$/.test(patient.value)) return undefined;
  const v = patient.value;
  const day = Number(v.slice(0, 2));
  const month = Number(v.slice(2, 4));
  const yy = Number(v.slice(4, 6));
  const c = Number(v[6]);
  const century = c <= 3 ? 1900 : c === 4 || c === 9 ? (yy <= 36 ? 2000 : 1900) : yy <= 57 ? 2000 : 1800;
  const year = century + yy;
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day)
    return undefined;
  return {
    birthDate: `${String(year)}-${v.slice(2, 4)}-${v.slice(0, 2)}`,
    gender: Number(v[9]) % 2 === 1 ? 'male' : 'female',
  };
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
