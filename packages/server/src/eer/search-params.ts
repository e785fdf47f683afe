import { type EerType, EXT, GLN_SYSTEMS, SOR_SYSTEM } from './profiles.ts';

type Json = Record<string, unknown>;

/** One row of the search index (tables.ts EerSearchTable, without the resource's own keys). */
export interface IndexEntry {
  param: string;
  system: string;
  value: string;
}

export type ParamKind = 'token' | 'string' | 'reference';

/** A search parameter over the index; `via` ones are answered through the endpoints an Organization lists. */
export interface ParamDef {
  kind: ParamKind;
  /** FHIRPath of what is indexed (documentation, CapabilityStatement). */
  expression: string;
  /** Target types of a reference parameter (for `_include`). */
  targets?: readonly EerType[];
  /** For Organization's `messageType` and `gln`: match Endpoints on this parameter, then `Organization.endpoint`. */
  via?: { type: 'Endpoint'; param: string };
  /** Canonical URL of the SearchParameter when it is not R4's own. */
  definition?: string;
}

const asArray = (v: unknown): Json[] =>
  (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]).filter(
    (x): x is Json => typeof x === 'object' && x !== null,
  );
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function identifiers(list: unknown, param: string, only?: readonly string[]): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (const i of asArray(list)) {
    const value = str(i.value);
    const system = str(i.system) ?? '';
    if (!value || (only && !only.includes(system))) continue;
    out.push({ param, system, value });
  }
  return out;
}

function codings(concepts: unknown, param: string): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (const cc of asArray(concepts)) {
    // A CodeableConcept has `coding`; Endpoint.connectionType is a bare Coding.
    const list = 'coding' in cc ? asArray(cc.coding) : [cc];
    for (const c of list) {
      const code = str(c.code);
      if (code) out.push({ param, system: str(c.system) ?? '', value: code });
    }
  }
  return out;
}

function strings(values: unknown[], param: string): IndexEntry[] {
  return values
    .filter((v): v is string => typeof v === 'string' && v.trim() !== '')
    .map((v) => ({ param, system: '', value: v.toLowerCase() }));
}

function references(refs: unknown, param: string, base: string | undefined): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (const r of asArray(refs)) {
    const key = referenceKey(str(r.reference), base);
    if (key) out.push({ param, system: '', value: key });
  }
  return out;
}

function extensionRefs(resource: Json, urls: readonly string[]): Json[] {
  return asArray(resource.extension)
    .filter((e) => urls.includes(e.url as string))
    .map((e) => e.valueReference)
    .filter((r): r is Json => typeof r === 'object' && r !== null);
}

const TYPE_ID =
  /^(Organization|Endpoint|Device)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/**
 * `Type/id` for a reference to a resource of this register: relative (`Endpoint/x`, `Endpoint/x/_history/2`) or
 * absolute under this server's base URL. Undefined for contained (`#x`) and other servers' references.
 */
export function referenceKey(reference: string | undefined, base: string | undefined): string | undefined {
  if (!reference) return undefined;
  let ref = reference;
  if (/^https?:\/\//.test(ref)) {
    const b = base?.replace(/\/+$/, '');
    if (!b || !ref.startsWith(`${b}/`)) return undefined;
    ref = ref.slice(b.length + 1);
  }
  const m = TYPE_ID.exec(ref);
  return m ? `${m[1]}/${m[2]}` : undefined;
}

const SOR_DEF = 'urn:ehmi-node:fhir:SearchParameter:eer-sor';
const GLN_DEF = 'urn:ehmi-node:fhir:SearchParameter:eer-gln';
const MESSAGE_TYPE_DEF = 'http://medcomehmi.dk/ig/eer/SearchParameter/SearchParameter-MessageType';

/** The search parameters of each type (R4's, the EER IG's `messageType`, and `sor`/`gln`: resources/eer/). */
export const SEARCH_PARAMS: Record<EerType, Record<string, ParamDef>> = {
  Organization: {
    identifier: { kind: 'token', expression: 'Organization.identifier' },
    sor: {
      kind: 'token',
      expression: `Organization.identifier.where(system='${SOR_SYSTEM}')`,
      definition: SOR_DEF,
    },
    gln: {
      kind: 'token',
      expression: 'Organization.endpoint.resolve().identifier (GLN)',
      via: { type: 'Endpoint', param: 'gln' },
      definition: GLN_DEF,
    },
    messageType: {
      kind: 'token',
      expression: 'Organization.endpoint.resolve().payloadType.coding',
      via: { type: 'Endpoint', param: 'payload-type' },
      definition: MESSAGE_TYPE_DEF,
    },
    name: { kind: 'string', expression: 'Organization.name | Organization.alias' },
    type: { kind: 'token', expression: 'Organization.type' },
    active: { kind: 'token', expression: 'Organization.active' },
    endpoint: { kind: 'reference', expression: 'Organization.endpoint', targets: ['Endpoint'] },
    partof: { kind: 'reference', expression: 'Organization.partOf', targets: ['Organization'] },
    device: {
      kind: 'reference',
      expression: 'Organization.extension(eua-system | msh-system).value',
      targets: ['Device'],
    },
  },
  Endpoint: {
    identifier: { kind: 'token', expression: 'Endpoint.identifier' },
    gln: {
      kind: 'token',
      expression: "Endpoint.identifier.where(system='http://www.gs1.org/gln')",
      definition: GLN_DEF,
    },
    name: { kind: 'string', expression: 'Endpoint.name' },
    status: { kind: 'token', expression: 'Endpoint.status' },
    'connection-type': { kind: 'token', expression: 'Endpoint.connectionType' },
    'payload-type': { kind: 'token', expression: 'Endpoint.payloadType' },
    organization: {
      kind: 'reference',
      expression: 'Endpoint.managingOrganization',
      targets: ['Organization'],
    },
    device: {
      kind: 'reference',
      expression: 'Endpoint.extension(ap-system | msh-system).value',
      targets: ['Device'],
    },
  },
  Device: {
    identifier: { kind: 'token', expression: 'Device.identifier' },
    'device-name': { kind: 'string', expression: 'Device.deviceName.name' },
    manufacturer: { kind: 'string', expression: 'Device.manufacturer' },
    type: { kind: 'token', expression: 'Device.type' },
    status: { kind: 'token', expression: 'Device.status' },
    organization: { kind: 'reference', expression: 'Device.owner', targets: ['Organization'] },
  },
};

/** What a resource contributes to the search index. */
export function indexEntries(type: EerType, r: Json, base: string | undefined): IndexEntry[] {
  const token = (param: string, system: string, value: unknown): IndexEntry[] =>
    typeof value === 'string' || typeof value === 'boolean' ? [{ param, system, value: String(value) }] : [];
  switch (type) {
    case 'Organization':
      return [
        ...identifiers(r.identifier, 'identifier'),
        ...identifiers(r.identifier, 'sor', [SOR_SYSTEM]),
        ...strings([r.name, ...(Array.isArray(r.alias) ? r.alias : [])], 'name'),
        ...codings(r.type, 'type'),
        ...token('active', '', r.active),
        ...references(r.endpoint, 'endpoint', base),
        ...references(r.partOf, 'partof', base),
        ...references(extensionRefs(r, [EXT.euaSystem, EXT.mshSystem]), 'device', base),
      ];
    case 'Endpoint':
      return [
        ...identifiers(r.identifier, 'identifier'),
        ...identifiers(r.identifier, 'gln', GLN_SYSTEMS),
        ...strings([r.name], 'name'),
        ...token('status', 'http://hl7.org/fhir/endpoint-status', r.status),
        ...codings(r.connectionType, 'connection-type'),
        ...codings(r.payloadType, 'payload-type'),
        ...references(r.managingOrganization, 'organization', base),
        ...references(extensionRefs(r, [EXT.apSystem, EXT.mshSystem]), 'device', base),
      ];
    case 'Device':
      return [
        ...identifiers(r.identifier, 'identifier'),
        ...strings(
          asArray(r.deviceName).map((d) => d.name),
          'device-name',
        ),
        ...strings([r.manufacturer], 'manufacturer'),
        ...codings(r.type, 'type'),
        ...token('status', 'http://hl7.org/fhir/device-status', r.status),
        ...references(r.owner, 'organization', base),
      ];
  }
}
