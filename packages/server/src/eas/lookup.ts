import { randomUUID } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { medcomDocumentType } from '@ehmi/smp';
import { CPR_SYSTEM, normaliseCpr } from './cpr.ts';
import { array, EAS_MESSAGING_ORGANIZATION, isObject, type Json, referencedId, str } from './fhir.ts';
import { type OperationInput, strings } from './operations.ts';
import type { PatientGpRegistry } from './registry.ts';
import { type EasIndex, type IndexedOrganization, type IndexKind, normaliseKey } from './store.ts';

/**
 * True when an endpoint's payload type names the requested message type: the same string, or two MedCom spellings of
 * the same message and version. EAS's own example asks for
 * `urn:dk:healthcare:medcom:messaging:fhir:structuredefinition:homecareobservation:1.1` while EER endpoints carry
 * `…structuredefinition::homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message::1.1`
 * (ehmi-core §2.3: the format is still moving; keep it data, accept the known variants).
 */
export function sameMessageType(requested: string, offered: string): boolean {
  if (requested === offered) return true;
  const a = medcomDocumentType(requested);
  const b = medcomDocumentType(offered);
  return a !== undefined && b !== undefined && a.canonicalName === b.canonicalName && a.version === b.version;
}

/** Start/end of a FHIR date or dateTime as epoch ms; a date-only end covers its whole day. */
function instant(value: unknown, end: boolean): number | undefined {
  if (typeof value !== 'string') return undefined;
  const t = Date.parse(value.length === 4 ? `${value}-01-01` : value.length === 7 ? `${value}-01` : value);
  if (Number.isNaN(t)) return undefined;
  if (!end || value.length > 10) return t;
  const next = new Date(t);
  if (value.length === 4) next.setUTCFullYear(next.getUTCFullYear() + 1);
  else if (value.length === 7) next.setUTCMonth(next.getUTCMonth() + 1);
  else next.setUTCDate(next.getUTCDate() + 1);
  return next.getTime() - 1;
}

/** An endpoint that can receive now: status `active` and `period` (1..1 in EerEndpointMessaging) covering now. */
export function endpointActive(endpoint: Json, now: number): boolean {
  if (endpoint.status !== 'active') return false;
  const period = isObject(endpoint.period) ? endpoint.period : {};
  const start = instant(period.start, false);
  const end = instant(period.end, true);
  return (start === undefined || start <= now) && (end === undefined || now <= end);
}

/** Every requested message type is among the endpoint's payload types (EAS use case 1: "the system of the GP may not support receiving the particular type of message"). */
export function endpointReceives(endpoint: Json, messageTypes: readonly string[]): boolean {
  const offered = array(endpoint.payloadType).flatMap((t) =>
    isObject(t)
      ? array(t.coding).flatMap((c) => (isObject(c) && typeof c.code === 'string' ? [c.code] : []))
      : [],
  );
  return messageTypes.every((m) => offered.some((o) => sameMessageType(m, o)));
}

interface Match {
  organization: IndexedOrganization;
  endpoints: Json[];
}

function qualify(org: IndexedOrganization, messageTypes: readonly string[], now: number): Match {
  return {
    organization: org,
    endpoints: org.endpoints.filter((e) => endpointActive(e, now) && endpointReceives(e, messageTypes)),
  };
}

function orgLabel(org: IndexedOrganization): string {
  const name = str(org.organization.name);
  return name ? `${name} (Organization/${org.id})` : `Organization/${org.id}`;
}

function notFound(message: string, details: Record<string, unknown> = {}): EhmiError {
  return new EhmiError('EHMI_NOT_FOUND', message, { details });
}

function outcomeEntry(notes: string[]): Json {
  return {
    fullUrl: `urn:uuid:${randomUUID()}`,
    resource: {
      resourceType: 'OperationOutcome',
      issue: notes.map((n) => ({ severity: 'information', code: 'informational', diagnostics: n })),
    },
    search: { mode: 'outcome' },
  };
}

export interface EasLookupDeps {
  index: EasIndex;
  registry: PatientGpRegistry;
  now: () => number;
  /** Base URL of this EAS server (fullUrls). */
  base: () => string;
}

/**
 * The four EAS operations (EAS IG 2.0.0, `input/fsh/operations/`). Results are a `searchset` Bundle of
 * EasMessagingOrganization (search mode `match`) with their Endpoints and the Devices those reference (mode
 * `include`): "Response resources will be returned in a Bundle" (each OperationDefinition's description).
 *
 * Nothing found (EAS IG index.md: "either a concrete result response bundled as in normal FHIR server searches, or an
 * OperationOutcome that outlines whether it was a failure, or an OperationOutcome containing an informative note"):
 * the three "receiving organisation" lookups answer 404 with an OperationOutcome naming which of the IG's error use
 * cases applies (1a patient unknown, 1b/2a/4a no organisation, 1c/2b/4b no endpoint for the message types); the GP
 * list by postal code is a search and answers an empty searchset with an informational OperationOutcome entry.
 */
export class EasLookup {
  readonly #deps: EasLookupDeps;

  constructor(deps: EasLookupDeps) {
    this.#deps = deps;
  }

  /** `Organization/$getReceivingOrganizationBySORId` (use case 4). */
  async bySorId(input: OperationInput): Promise<Json> {
    const sorIds = strings(input, 'sorId');
    for (const s of sorIds) {
      if (!/^\d{1,18}$/.test(s.value as string)) {
        throw new EhmiError('EHMI_USAGE', `sorId ${JSON.stringify(s.value)}: expected a SOR code (digits)`, {
          expression: [s.expression],
          details: { parameter: 'sorId' },
        });
      }
    }
    const wanted = [...new Set(sorIds.map((s) => s.value as string))];
    return this.#receiving('sor', wanted, 'SOR id', messageTypes(input), '4');
  }

  /** `Organization/$getReceivingOrganizationByGPId` (use case 2): gpId is the ydernummer. */
  async byGpId(input: OperationInput): Promise<Json> {
    const gp = strings(input, 'gpId')[0]!;
    if (!/^\d{1,7}$/.test(gp.value as string)) {
      throw new EhmiError('EHMI_USAGE', `gpId ${JSON.stringify(gp.value)}: expected a ydernummer (digits)`, {
        expression: [gp.expression],
        details: { parameter: 'gpId' },
      });
    }
    return this.#receiving('ydernummer', [gp.value as string], 'ydernummer', messageTypes(input), '2');
  }

  /** `Organization/$getReceivingOrganizationByPatientId` (use case 1): CPR → GP (patient register) → organisation. */
  async byPatient(input: OperationInput): Promise<Json> {
    const p = input.get('easCorePatient')![0]!;
    const cpr = cprOf(p.value as Json, p.expression);
    const gp = await this.#deps.registry.gpOf(cpr);
    // The CPR stays out of messages: they are logged.
    if (!gp)
      throw notFound(
        'PatId does not exist: the patient register has no GP for this patient (EAS IG error use case 1a)',
      );
    const tried: string[] = [];
    for (const [kind, value, label] of [
      ['sor', gp.sor, 'SOR id'],
      ['ydernummer', gp.ydernummer, 'ydernummer'],
      ['gln', gp.gln, 'GLN'],
    ] as const) {
      if (!value) continue;
      tried.push(`${label} ${value}`);
      const found = await this.#deps.index.find(kind, [value]);
      if (found.length > 0) {
        return this.#answer(
          found.map((f) => f.organization),
          messageTypes(input),
          '1',
        );
      }
    }
    throw notFound(
      `SOR information does not exist: the patient's GP (${tried.join(', ')}) is not a known organisation (EAS IG error use case 1b)`,
    );
  }

  /** `Organization/$getListOfGpByPostalCode` (use case 3, first call): GP practices with an address in the postal codes. */
  async gpsByPostalCode(input: OperationInput): Promise<Json> {
    const codes = strings(input, 'postalCode');
    for (const c of codes) {
      // Danish postal codes are four digits (the IG's example: 2100, 2300).
      if (!/^\d{4}$/.test(c.value as string)) {
        throw new EhmiError(
          'EHMI_USAGE',
          `postalCode ${JSON.stringify(c.value)}: expected a Danish postal code (4 digits)`,
          {
            expression: [c.expression],
            details: { parameter: 'postalCode' },
          },
        );
      }
    }
    const wanted = [...new Set(codes.map((c) => c.value as string))];
    // postalCode is 0..* in the OperationDefinition: no postal code lists every GP practice.
    const orgs =
      wanted.length > 0
        ? (await this.#deps.index.find('postal-code', wanted, { gpOnly: true })).map((f) => f.organization)
        : await this.#deps.index.allGps();
    const now = this.#deps.now();
    const matches = unique(orgs)
      .map((o) => qualify(o, [], now))
      .filter((m) => m.endpoints.length > 0);
    const notes =
      matches.length === 0
        ? [
            `No GP practice with an active endpoint has an address with postal code ${wanted.join(', ') || '(any)'} (EAS IG error use case 3a)`,
          ]
        : [];
    return this.#bundle(matches, notes);
  }

  async #receiving(
    kind: IndexKind,
    values: string[],
    label: string,
    types: string[],
    useCase: '2' | '4',
  ): Promise<Json> {
    const found = await this.#deps.index.find(kind, values);
    const known = new Set(found.map((f) => f.key));
    const missing = values.filter((v) => !known.has(normaliseKey(kind, v)));
    if (found.length === 0) {
      throw notFound(
        `SOR information does not exist: EAS knows no organisation with ${label} ${values.join(', ')} (EAS IG error use case ${useCase}a)`,
        { [kind]: values },
      );
    }
    const notes = missing.map(
      (v) => `No organisation with ${label} ${v} (EAS IG error use case ${useCase}a)`,
    );
    return this.#answer(
      found.map((f) => f.organization),
      types,
      useCase,
      notes,
    );
  }

  #answer(orgs: IndexedOrganization[], types: string[], useCase: string, notes: string[] = []): Json {
    const now = this.#deps.now();
    const all = unique(orgs).map((o) => qualify(o, types, now));
    const matches = all.filter((m) => m.endpoints.length > 0);
    const without = all.filter((m) => m.endpoints.length === 0);
    const why = types.length > 0 ? `that receives ${types.join(' and ')}` : '';
    if (matches.length === 0) {
      throw notFound(
        `EER receiver data does not exist: ${without.map((m) => orgLabel(m.organization)).join(', ')} has no active endpoint${why ? ` ${why}` : ''} (EAS IG error use case ${useCase}${useCase === '1' ? 'c' : 'b'})`,
        { messageType: types },
      );
    }
    for (const m of without) {
      notes.push(`${orgLabel(m.organization)} has no active endpoint${why ? ` ${why}` : ''}`);
    }
    return this.#bundle(matches, notes);
  }

  #bundle(matches: Match[], notes: string[]): Json {
    const base = this.#deps.base();
    const entry: Json[] = [];
    const included = new Set<string>();
    const include = (type: string, resource: Json) => {
      const key = `${type}/${String(resource.id)}`;
      if (included.has(key)) return;
      included.add(key);
      entry.push({ fullUrl: `${base}/${key}`, resource, search: { mode: 'include' } });
    };
    const includes: [string, Json][] = [];
    for (const { organization: org, endpoints } of matches) {
      const resource: Json = {
        ...org.organization,
        // EasMessagingOrganization derives from EerMessagingOrganization: an EER organisation with at least one
        // endpoint conforms; `endpoint` lists the endpoints that qualified for this request.
        meta: {
          ...(isObject(org.organization.meta) ? org.organization.meta : {}),
          profile: [EAS_MESSAGING_ORGANIZATION],
        },
        endpoint: endpoints.map((e) => ({ reference: `Endpoint/${String(e.id)}` })),
      };
      entry.push({ fullUrl: `${base}/Organization/${org.id}`, resource, search: { mode: 'match' } });
      for (const e of endpoints) includes.push(['Endpoint', e]);
      const devices = new Map(org.devices.map((d) => [String(d.id), d]));
      for (const holder of [org.organization, ...endpoints]) {
        for (const ext of array(holder.extension)) {
          const id = isObject(ext) ? referencedId(ext.valueReference, 'Device') : undefined;
          const device = id ? devices.get(id) : undefined;
          if (device) includes.push(['Device', device]);
        }
      }
    }
    for (const [type, r] of includes) include(type, r);
    if (notes.length > 0) entry.push(outcomeEntry(notes));
    return {
      resourceType: 'Bundle',
      id: randomUUID(),
      meta: { lastUpdated: new Date(this.#deps.now()).toISOString() },
      type: 'searchset',
      timestamp: new Date(this.#deps.now()).toISOString(),
      total: matches.length,
      entry,
    };
  }
}

function unique(orgs: IndexedOrganization[]): IndexedOrganization[] {
  const seen = new Map<string, IndexedOrganization>();
  for (const o of orgs) if (!seen.has(o.id)) seen.set(o.id, o);
  return [...seen.values()];
}

function messageTypes(input: OperationInput): string[] {
  return [...new Set(strings(input, 'messageType').map((m) => m.value as string))];
}

/**
 * The CPR of the EasCorePatient: an identifier with the CPR system, or (as in the IG's own example request, which
 * gives only `identifier.value`) one without a system.
 */
export function cprOf(patient: Json, expression: string): string {
  const ids = array(patient.identifier);
  let index = ids.findIndex((i) => isObject(i) && i.system === CPR_SYSTEM);
  if (index < 0) index = ids.findIndex((i) => isObject(i) && i.system === undefined);
  const id = ids[index];
  if (!isObject(id) || typeof id.value !== 'string') {
    throw new EhmiError(
      'EHMI_USAGE',
      `easCorePatient: the Patient has no CPR identifier (system ${CPR_SYSTEM})`,
      { expression: [`${expression}.identifier`], details: { parameter: 'easCorePatient' } },
    );
  }
  try {
    return normaliseCpr(id.value);
  } catch {
    // The value is not echoed: it may be a mistyped CPR, and refusals are logged.
    throw new EhmiError(
      'EHMI_USAGE',
      'easCorePatient: the CPR is not 10 digits starting with a date (DDMMYYSSSS)',
      {
        expression: [`${expression}.identifier[${index}].value`],
        details: { parameter: 'easCorePatient' },
      },
    );
  }
}
