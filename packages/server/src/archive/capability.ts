const R4_SP = 'http://hl7.org/fhir/SearchParameter/';

/** The search parameters of `GET /DocumentReference` (routes.ts reads them), for the CapabilityStatement. */
export const ARCHIVE_SEARCH_PARAMS = [
  {
    name: 'patient',
    definition: `${R4_SP}clinical-patient`,
    type: 'reference',
    documentation:
      'With :identifier, the patient by CPR: patient:identifier=urn:oid:1.2.208.176.1.2|<CPR> (also subject:identifier)',
  },
  {
    name: 'type',
    definition: `${R4_SP}clinical-type`,
    type: 'token',
    documentation: 'DocumentReference.type (XDS typeCode): system|code or code',
  },
  {
    name: 'date',
    definition: `${R4_SP}DocumentReference-date`,
    type: 'date',
    documentation:
      'DocumentReference.date, else content.attachment.creation (XDS creationTime); prefixes eq, ne, lt, gt, ge, le, sa, eb; any precision',
  },
  {
    name: 'author',
    definition: `${R4_SP}DocumentReference-author`,
    type: 'reference',
    documentation:
      'With :identifier, the author organisation by SOR: author:identifier=urn:oid:1.2.208.176.1.1|<SOR>',
  },
  {
    name: 'status',
    definition: `${R4_SP}DocumentReference-status`,
    type: 'token',
    documentation: 'current | superseded | entered-in-error',
  },
  { name: '_id', definition: `${R4_SP}Resource-id`, type: 'token', documentation: 'The logical id' },
] as const;

/**
 * The CapabilityStatement of `GET /metadata` (FHIR R4 http.html §3.1.0.13): DocumentReference read and search,
 * Binary read; the archive is written by copies over eDelivery (AS4), not over this API.
 */
export function capabilityStatement(baseUrl: string, date: string, version: string): Record<string, unknown> {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date,
    publisher: 'ehmi-node',
    kind: 'instance',
    software: { name: 'ehmi-node document archive (EMR)', version },
    implementation: {
      description: 'The document archive of the EHMI network (copies of shared messages)',
      url: baseUrl,
    },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'application/fhir+xml'],
    rest: [
      {
        mode: 'server',
        documentation:
          'Copies of the messages the network shares arrive over eDelivery as ehmiSBDH envelopes with XDS-METADATA ' +
          '(a MedCom DocumentReference); each is validated and stored with its DocumentReference, whose attachment ' +
          'names the document as a Binary of this server. Every read is audited; a search by patient is flagged ' +
          'for MinLog.',
        resource: [
          {
            type: 'DocumentReference',
            supportedProfile: [
              'https://medcomfhir.dk/ig/xdsdocuments/StructureDefinition/homecare-observation-documentreference',
            ],
            interaction: [{ code: 'read' }, { code: 'search-type' }],
            versioning: 'no-version',
            readHistory: false,
            updateCreate: false,
            searchParam: ARCHIVE_SEARCH_PARAMS.map((p) => ({ ...p })),
          },
          {
            type: 'Binary',
            documentation:
              'The document as it was sent (its own content type), or a Binary resource with Accept: application/fhir+json',
            interaction: [{ code: 'read' }],
          },
        ],
      },
    ],
  };
}
