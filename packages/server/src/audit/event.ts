import type { AuditRecord } from './record.ts';

type Json = Record<string, unknown>;

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
/** The CPR number's identifier system (as EAS and the MedCom profiles name it). */
export const CPR_SYSTEM = 'urn:oid:1.2.208.176.1.2';
/** The client_id of an OAuth client, as an identifier. */
const CLIENT_ID_SYSTEM = 'urn:ietf:params:oauth:client-id';
/**
 * The marker of a person-specific lookup reported to MinLog: `purposeOfEvent` with this code. No EHMI or MedCom
 * code system names one; ours, so that an export finds them by `AuditEvent.purposeOfEvent`.
 */
export const MINLOG_SYSTEM = 'urn:ehmi:audit:minlog';
export const MINLOG_CODE = 'person-lookup';
/** The entity type of the X-Request-Id entity (BALP's `XrequestId`). */
const BALP_ENTITY_TYPE = 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType';
const OUTCOME_TEXT: Record<string, string> = { '4': 'Minor failure', '8': 'Serious failure' };
const INTERACTIONS = new Set([
  'read',
  'vread',
  'update',
  'patch',
  'delete',
  'history',
  'history-instance',
  'history-type',
  'history-system',
  'create',
  'search',
  'search-type',
  'search-system',
  'capabilities',
  'transaction',
  'batch',
  'operation',
]);

/**
 * The IHE BALP-shaped FHIR AuditEvent of one call (the RESTful patterns, the OAuth "minimal" token pattern): type
 * `rest`, subtype the FHIR interaction (or the HTTP method), the client (who.identifier its client_id, name its
 * certificate subject, its network address), the token's `iss`+`sub` as the user with its `jti` as policy, the server,
 * the source (node and server), and the entities: the patient, the query (base64), the X-Request-Id, the resource.
 */
export function auditEvent(r: AuditRecord): Json {
  const subtype: Json[] = [];
  if (r.fhir && r.subtype.startsWith('$')) {
    subtype.push({ system: 'http://hl7.org/fhir/restful-interaction', code: 'operation' });
    subtype.push({ system: 'urn:ehmi:audit:operation', code: r.subtype });
  } else if (r.fhir && INTERACTIONS.has(r.subtype)) {
    subtype.push({ system: 'http://hl7.org/fhir/restful-interaction', code: r.subtype });
  } else {
    subtype.push({ system: 'http://hl7.org/fhir/http-verb', code: r.subtype });
  }
  const c = r.caller;
  const client: Json = {
    type: { coding: [{ system: DCM, code: '110153', display: 'Source Role ID' }] },
    who: c.clientId
      ? { identifier: { system: CLIENT_ID_SYSTEM, value: c.clientId } }
      : { display: c.certificate ? 'unauthenticated client (certificate only)' : 'anonymous client' },
    requestor: !c.subject,
    ...(c.certificate ? { name: c.certificate } : {}),
    ...(c.address ? { network: { address: c.address, type: '2' } } : {}),
  };
  const org = c.organisation;
  if (org) {
    const ext: Json[] = [];
    if (org.cvr) ext.push({ url: 'cvr', valueString: org.cvr });
    if (org.name) ext.push({ url: 'name', valueString: org.name });
    if (org.deviceId) ext.push({ url: 'deviceId', valueString: org.deviceId });
    for (const ctx of org.contexts ?? []) {
      ext.push({
        url: 'context',
        extension: [
          { url: 'sor', valueString: ctx.sor },
          { url: 'gln', valueString: ctx.gln },
          ...(ctx.name ? [{ url: 'name', valueString: ctx.name }] : []),
        ],
      });
    }
    client.extension = [{ url: 'urn:ehmi:audit:organisation', extension: ext }];
  }
  const agents: Json[] = [client];
  if (c.subject) {
    agents.push({
      type: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }],
      },
      who: { identifier: { ...(c.issuer ? { system: c.issuer } : {}), value: c.subject } },
      requestor: true,
      ...(c.tokenId ? { policy: [c.tokenId] } : {}),
    });
  } else if (c.tokenId) {
    client.policy = [c.tokenId];
  }
  if (c.proxy) {
    // The TLS-terminating proxy the client's certificate came through (http.trustedProxies): not the requestor.
    agents.push({
      type: { text: 'TLS-terminating proxy' },
      who: { display: 'trusted proxy' },
      name: c.proxy,
      requestor: false,
    });
  }
  agents.push({
    type: { coding: [{ system: DCM, code: '110152', display: 'Destination Role ID' }] },
    who: { display: `${r.node} ${r.service}` },
    requestor: false,
    ...(r.serverUrl ? { network: { address: r.serverUrl, type: '5' } } : {}),
  });
  const entities: Json[] = [];
  if (r.patient) {
    entities.push({
      what: { identifier: { system: CPR_SYSTEM, value: r.patient } },
      type: {
        system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
        code: '1',
        display: 'Person',
      },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
    });
  }
  if (r.resource) {
    entities.push({
      what: r.resource.includes('/') ? { reference: r.resource } : { display: r.resource },
      type: {
        system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
        code: '2',
        display: 'System Object',
      },
      role: {
        system: 'http://terminology.hl7.org/CodeSystem/object-role',
        code: '4',
        display: 'Domain Resource',
      },
    });
  }
  if (r.query) {
    entities.push({
      type: {
        system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
        code: '2',
        display: 'System Object',
      },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '24', display: 'Query' },
      query: Buffer.from(r.query, 'utf8').toString('base64'),
    });
  }
  entities.push({
    what: { identifier: { value: r.requestId } },
    type: { system: BALP_ENTITY_TYPE, code: 'XrequestId' },
  });
  entities.push({
    what: { display: `${r.method} ${r.route}` },
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '4', display: 'Other' },
    detail: [{ type: 'http-status', valueString: String(r.status) }],
  });
  return {
    resourceType: 'AuditEvent',
    id: r.id,
    type: {
      system: 'http://terminology.hl7.org/CodeSystem/audit-event-type',
      code: 'rest',
      display: 'RESTful Operation',
    },
    subtype,
    action: r.action,
    recorded: new Date(r.recorded).toISOString(),
    outcome: r.outcome,
    ...(r.outcome !== '0'
      ? { outcomeDesc: `${OUTCOME_TEXT[r.outcome]}: HTTP ${r.status}${r.detail ? ` ${r.detail}` : ''}` }
      : {}),
    ...(r.minlog ? { purposeOfEvent: [{ coding: [{ system: MINLOG_SYSTEM, code: MINLOG_CODE }] }] } : {}),
    agent: agents,
    source: {
      site: r.node,
      observer: { display: `${r.node} ${r.service}` },
      type: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/security-source-type',
          code: '4',
          display: 'Application Server',
        },
      ],
    },
    entity: entities,
  };
}
