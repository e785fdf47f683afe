import type { FastifyRequest } from 'fastify';
import type { ConsoleApiDeps, ConsoleUser } from '../session.ts';
import { fhirJson, resourcesOf } from './upstream.ts';

/** An organisation of the network as the console shows it: its key in network.json, name, GLN, services. */
export interface ConsoleOrganisation {
  /** The key of its services (`msh:<key>`, `node:<key>`): network.json's organisation name. */
  key: string;
  name: string;
  gln?: string;
  sor?: string;
  /** The kinds of services it has (`msh`, `ap`, `node`). */
  services: string[];
}

const GLN_SYSTEMS = new Set(['https://www.gs1.org/gln', 'http://www.gs1.org/gln', 'urn:oid:1.3.88']);
const SOR_SYSTEM = 'urn:oid:1.2.208.176.1.1';

/**
 * The document archive's node among the console's services: its FHIR API is the service `archive`, its access point
 * and its own server `ap:archive` and `node:archive`. It is a node of the network, no organisation's.
 */
export const ARCHIVE_NODE = 'archive';

/**
 * The organisations named by the console's services (`msh:<key>`, `ap:<key>`, `node:<key>`), the central node
 * excluded, and the archive's node when the console knows the archive.
 */
export function organisationKeys(deps: Pick<ConsoleApiDeps, 'services'>): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  const archive = deps.services[ARCHIVE_NODE] !== undefined;
  for (const name of Object.keys(deps.services)) {
    const m = /^(msh|ap|node):(.+)$/.exec(name);
    if (!m || m[2] === 'central' || (archive && m[2] === ARCHIVE_NODE)) continue;
    const list = keys.get(m[2] as string) ?? [];
    list.push(m[1] as string);
    keys.set(m[2] as string, list);
  }
  return keys;
}

interface Cached {
  at: number;
  byKey: Map<string, { name: string; gln?: string; sor?: string }>;
}
let cache: Cached | undefined;
const CACHE_MS = 60_000;

/**
 * Names, SOR codes and GLNs of the network's organisations, from EER: the network registers each organisation as the
 * Organization `<key>` (its name and SOR), its messaging Endpoint carries the GLN. Register data, no patient data:
 * kept a minute.
 */
async function namesFromEer(request: FastifyRequest): Promise<Cached['byKey']> {
  if (cache && Date.now() - cache.at < CACHE_MS) return cache.byKey;
  const byKey: Cached['byKey'] = new Map();
  try {
    const [orgs, endpoints] = await Promise.all([
      fhirJson(request, 'eer', '/Organization?_count=500'),
      fhirJson(request, 'eer', '/Endpoint?_count=500'),
    ]);
    const glnOf = new Map<string, string>();
    for (const e of resourcesOf(endpoints)) {
      const owner = String((e.managingOrganization as { reference?: string } | undefined)?.reference ?? '');
      const gln = identifiers(e).find((i) => GLN_SYSTEMS.has(i.system ?? ''))?.value;
      if (owner && gln) glnOf.set(owner, gln);
    }
    for (const o of resourcesOf(orgs)) {
      const key = String(o.id ?? '');
      byKey.set(key, {
        name: String(o.name ?? key),
        gln:
          identifiers(o).find((i) => GLN_SYSTEMS.has(i.system ?? ''))?.value ??
          glnOf.get(`Organization/${key}`),
        sor: identifiers(o).find((i) => i.system === SOR_SYSTEM)?.value,
      });
    }
    cache = { at: Date.now(), byKey };
  } catch {
    // EER away or refusing: the keys alone still name the organisations
  }
  return byKey;
}

function identifiers(resource: Record<string, unknown>): { system?: string; value?: string }[] {
  return (resource.identifier as { system?: string; value?: string }[] | undefined) ?? [];
}

/** Whether the user sees the whole network (the network operator) rather than one organisation. */
export function seesNetwork(user: ConsoleUser | undefined): boolean {
  return user?.roles.includes('network-operator') === true;
}

/** Every organisation of the network the console knows (register data: names, GLN and SOR), whoever asks. */
export async function networkOrganisations(
  request: FastifyRequest,
  deps: ConsoleApiDeps,
): Promise<ConsoleOrganisation[]> {
  const names = await namesFromEer(request);
  return [...organisationKeys(deps)].map(([key, services]): ConsoleOrganisation => {
    const known = names.get(key);
    return { key, name: known?.name ?? key, gln: known?.gln, sor: known?.sor, services };
  });
}

/**
 * The organisations the user may see: all for the network operator; for an organisation's user, its own (matched
 * by GLN or SOR). The resource servers decide again on every call; this only spares calls that would be refused.
 */
export async function visibleOrganisations(
  request: FastifyRequest,
  deps: ConsoleApiDeps,
): Promise<ConsoleOrganisation[]> {
  const user = request.consoleUser;
  const all = await networkOrganisations(request, deps);
  if (seesNetwork(user)) return all;
  const own = user?.organisation;
  if (!own) return [];
  return all.filter((o) => (o.gln && o.gln === own.gln) || (o.sor && o.sor === own.sor));
}
