import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Json = Record<string, unknown>;

/** One row of the search index (tables.ts EdsSearchTable, without the event's id). */
export interface IndexEntry {
  param: string;
  value: string;
  raw: string;
}

/** The eds-otherId extension (GLN of an agent). */
export const OTHER_ID = 'http://medcomehmi.dk/ig/eds/StructureDefinition/eds-otherId';

/** A search parameter of EDS and the index rows (`params`) it looks its values up in. */
export interface EdsParam {
  kind: 'string' | 'token';
  params: readonly string[];
  /** Canonical URL of its SearchParameter (resources/eds/). */
  definition: string;
}

const SP = 'http://medcomehmi.dk/ig/eds/SearchParameter/';

/**
 * The EDS IG's search parameters (dk.ehmi.eds 1.0.2, resources/eds/), each as its expression says: every one is a
 * string parameter (case-insensitive prefix match; `:exact` for the whole value, case-sensitive) but
 * `ehmiMessageType`, a token (the exact value). The union parameters (`entityIdentifier`, `senderOrg`,
 * `receiverOrg`, `participant-sor`) look in the rows of each part of their expression.
 */
export const EDS_PARAMS: Record<string, EdsParam> = {
  'message-id': {
    kind: 'string',
    params: ['message-id'],
    definition: `${SP}SearchParameter-EDS-EHMIMessage-Id`,
  },
  'orig-message-id': {
    kind: 'string',
    params: ['orig-message-id'],
    definition: `${SP}SearchParameter-EDS-Original-EHMIMessage-Id`,
  },
  entityIdentifier: {
    kind: 'string',
    params: ['message-id', '_envelope', '_transport', 'orig-message-id', '_orig-transport'],
    definition: `${SP}SearchParameter-Entity-Identifier`,
  },
  'sender-gln': {
    kind: 'string',
    params: ['sender-gln'],
    definition: `${SP}SearchParameter-EDS-EHMISender-GLN`,
  },
  'sender-sor': {
    kind: 'string',
    params: ['sender-sor'],
    definition: `${SP}SearchParameter-EDS-EHMISender-SOR`,
  },
  'sender-name': {
    kind: 'string',
    params: ['sender-name'],
    definition: `${SP}SearchParameter-EDS-EHMISender-Name`,
  },
  senderOrg: {
    kind: 'string',
    params: ['sender-sor', 'sender-gln', 'sender-name'],
    definition: `${SP}SearchParameter-EHMI-SenderOrg`,
  },
  'receiver-gln': {
    kind: 'string',
    params: ['receiver-gln'],
    definition: `${SP}SearchParameter-EDS-EHMIReceiver-GLN`,
  },
  'receiver-sor': {
    kind: 'string',
    params: ['receiver-sor'],
    definition: `${SP}SearchParameter-EDS-EHMIReceiver-SOR`,
  },
  'receiver-name': {
    kind: 'string',
    params: ['receiver-name'],
    definition: `${SP}SearchParameter-EDS-EHMIReceiver-Name`,
  },
  receiverOrg: {
    kind: 'string',
    params: ['receiver-sor', 'receiver-gln', 'receiver-name'],
    definition: `${SP}SearchParameter-EHMI-ReceiverOrg`,
  },
  'participant-sor': {
    kind: 'string',
    params: ['receiver-sor', 'sender-sor'],
    definition: `${SP}SearchParameter-EDS-Participant-SOR`,
  },
  cpr: { kind: 'string', params: ['cpr'], definition: `${SP}SearchParameter-EDS-CPR` },
  ehmiMessageType: {
    kind: 'token',
    params: ['ehmiMessageType'],
    definition: `${SP}SearchParameter-EDS-MessageType`,
  },
};

const asArray = (v: unknown): Json[] =>
  (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]).filter(
    (x): x is Json => typeof x === 'object' && x !== null,
  );
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const obj = (v: unknown): Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};

/** `entity.where(type.code = code).what.identifier.value` */
export function entityIdentifiers(event: Json, code: string): string[] {
  return asArray(event.entity)
    .filter((e) => obj(e.type).code === code)
    .map((e) => str(obj(obj(e.what).identifier).value))
    .filter((v): v is string => v !== undefined);
}

/** The agents of a role (`agent.where(type.coding.code = role)`). */
export function agentsOf(event: Json, role: 'ehmiSender' | 'ehmiReceiver'): Json[] {
  return asArray(event.agent).filter((a) => asArray(obj(a.type).coding).some((c) => c.code === role));
}

/** `who.identifier.value`: the SOR id of a sender or receiver agent. */
export const agentSor = (agent: Json): string | undefined => str(obj(obj(agent.who).identifier).value);

/** `extension('…eds-otherId').value.ofType(Identifier).value`: the GLN of a sender or receiver agent. */
export function agentOtherIds(agent: Json): string[] {
  return asArray(agent.extension)
    .filter((e) => e.url === OTHER_ID)
    .map((e) => str(obj(e.valueIdentifier).value))
    .filter((v): v is string => v !== undefined);
}

/** What an event contributes to the search index. */
export function indexEntries(event: Json): IndexEntry[] {
  const out: IndexEntry[] = [];
  const add = (param: string, values: (string | undefined)[]) => {
    for (const v of values)
      if (v !== undefined && v.trim() !== '') out.push({ param, value: v.toLowerCase(), raw: v });
  };
  add('message-id', entityIdentifiers(event, 'ehmiMessage'));
  add('orig-message-id', entityIdentifiers(event, 'ehmiOrigMessage'));
  add('_envelope', entityIdentifiers(event, 'ehmiMessageEnvelope'));
  add('_transport', entityIdentifiers(event, 'ehmiTransportEnvelope'));
  add('_orig-transport', entityIdentifiers(event, 'ehmiOrigTransportEnvelope'));
  add('cpr', entityIdentifiers(event, 'ehmiPatient'));
  for (const [role, prefix] of [
    ['ehmiSender', 'sender'],
    ['ehmiReceiver', 'receiver'],
  ] as const) {
    for (const agent of agentsOf(event, role)) {
      add(`${prefix}-sor`, [agentSor(agent)]);
      add(`${prefix}-gln`, agentOtherIds(agent));
      add(`${prefix}-name`, [str(agent.name)]);
    }
  }
  add(
    'ehmiMessageType',
    asArray(event.entity).flatMap((e) =>
      asArray(e.detail)
        .filter((d) => d.type === 'ehmiMessageType')
        .map((d) => str(d.valueString)),
    ),
  );
  return out;
}

/** A SearchParameter resource of resources/eds/ (see its PROVENANCE.md). */
export interface SearchParameterResource {
  resourceType: 'SearchParameter';
  url: string;
  code: string;
  type: string;
  description?: string;
  expression?: string;
}

const RESOURCES_DIR = fileURLToPath(new URL('../../resources/eds/', import.meta.url));
let searchParameters: SearchParameterResource[] | undefined;

/** The EDS IG's SearchParameters, read once from resources/eds/. */
export function edsSearchParameters(): SearchParameterResource[] {
  searchParameters ??= readdirSync(RESOURCES_DIR)
    .filter((f) => f.startsWith('SearchParameter-') && f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(RESOURCES_DIR, f), 'utf8')) as SearchParameterResource);
  return searchParameters;
}
