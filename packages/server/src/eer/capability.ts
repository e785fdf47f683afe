import { DEFAULT_PROFILE, EER_PROFILES, EER_TYPES, eerSearchParameters } from './profiles.ts';
import { SEARCH_PARAMS } from './search-params.ts';

/** The CapabilityStatement of `GET /metadata` (FHIR R4 http.html §3.1.0.13 capabilities). */
export function capabilityStatement(baseUrl: string, date: string): Record<string, unknown> {
  const definitions = new Map(eerSearchParameters().map((sp) => [sp.url, sp]));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date,
    publisher: 'ehmi-node',
    kind: 'instance',
    software: { name: 'ehmi-node EER (EHMI Endpoint Register)' },
    implementation: { description: 'EHMI Endpoint Register', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'application/fhir+xml'],
    implementationGuide: ['http://medcomehmi.dk/ig/eer'],
    rest: [
      {
        mode: 'server',
        documentation:
          'Writes are validated against the EER profiles (dk.ehmi.eer 2.0.1-draft) and pushed to the SMP and EAS.',
        interaction: [{ code: 'transaction' }],
        resource: EER_TYPES.map((type) => ({
          type,
          profile: DEFAULT_PROFILE[type],
          supportedProfile: [...EER_PROFILES[type]],
          interaction: ['read', 'vread', 'update', 'delete', 'history-instance', 'create', 'search-type'].map(
            (code) => ({ code }),
          ),
          versioning: 'versioned',
          readHistory: true,
          updateCreate: true,
          conditionalCreate: false,
          conditionalUpdate: false,
          // One match is deleted, several are a 412 (routes.ts `DELETE /{type}?…`).
          conditionalDelete: 'single',
          searchInclude: Object.entries(SEARCH_PARAMS[type])
            .filter(([, d]) => d.kind === 'reference')
            .map(([code]) => `${type}:${code}`),
          searchRevInclude: EER_TYPES.flatMap((source) =>
            Object.entries(SEARCH_PARAMS[source])
              .filter(([, d]) => d.kind === 'reference' && d.targets?.includes(type))
              .map(([code]) => `${source}:${code}`),
          ),
          searchParam: [
            { name: '_id', type: 'token' },
            ...Object.entries(SEARCH_PARAMS[type]).map(([name, d]) => ({
              name,
              type: d.kind,
              ...(d.definition ? { definition: d.definition } : {}),
              documentation:
                (d.definition && definitions.get(d.definition)?.description) ||
                (d.kind === 'string'
                  ? `${d.expression} (contains, case-insensitive; :exact for the whole value)`
                  : d.expression),
            })),
          ],
        })),
      },
    ],
  };
}
