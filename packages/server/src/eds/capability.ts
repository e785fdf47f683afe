import { BASIC_PROFILE, EDS_PROFILES } from './profiles.ts';
import { EDS_PARAMS, edsSearchParameters } from './search-params.ts';

const R4_SP = 'http://hl7.org/fhir/SearchParameter/';

/**
 * The CapabilityStatement of `GET /metadata` (FHIR R4 http.html §3.1.0.13): AuditEvent with read, search and
 * create only (EDS keeps what happened; no update, patch or delete), every search parameter with its definition.
 */
export function capabilityStatement(baseUrl: string, date: string, version: string): Record<string, unknown> {
  const definitions = new Map(edsSearchParameters().map((sp) => [sp.url, sp]));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date,
    publisher: 'ehmi-node',
    kind: 'instance',
    software: { name: 'ehmi-node EDS (EHMI Delivery Status)', version },
    implementation: { description: 'EHMI Delivery Status (track and trace)', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'application/fhir+xml'],
    implementationGuide: ['http://medcomehmi.dk/ig/eds'],
    rest: [
      {
        mode: 'server',
        documentation:
          'Every station registers each step of a message as an AuditEvent, validated against the EDS profiles ' +
          '(dk.ehmi.eds 1.0.2). The same event posted again is stored once (200 with the stored event). A batch ' +
          'Bundle at the base URL registers many at once, each entry answered on its own.',
        interaction: [{ code: 'batch' }],
        resource: [
          {
            type: 'AuditEvent',
            profile: BASIC_PROFILE,
            supportedProfile: [...EDS_PROFILES],
            interaction: ['read', 'search-type', 'create'].map((code) => ({ code })),
            versioning: 'no-version',
            readHistory: false,
            updateCreate: false,
            conditionalCreate: true,
            conditionalRead: 'not-supported',
            conditionalUpdate: false,
            conditionalDelete: 'not-supported',
            searchParam: [
              { name: '_id', definition: `${R4_SP}Resource-id`, type: 'token' },
              { name: '_lastUpdated', definition: `${R4_SP}Resource-lastUpdated`, type: 'date' },
              {
                name: 'date',
                definition: `${R4_SP}AuditEvent-date`,
                type: 'date',
                documentation: 'AuditEvent.recorded; prefixes eq, ne, lt, gt, ge, le, sa, eb; any precision',
              },
              {
                name: 'outcome',
                definition: `${R4_SP}AuditEvent-outcome`,
                type: 'token',
                documentation: 'AuditEvent.outcome (0 success, 8 serious failure)',
              },
              ...Object.entries(EDS_PARAMS).map(([name, p]) => ({
                name,
                definition: p.definition,
                type: p.kind,
                documentation:
                  (definitions.get(p.definition)?.description ?? name) +
                  (p.kind === 'string' ? ' (starts with, case-insensitive; :exact for the whole value)' : ''),
              })),
            ],
          },
        ],
      },
    ],
  };
}
