import { readdirSync, readFileSync } from 'node:fs';
import pino from 'pino';
import type { EasConfig } from '../../src/eas/config.ts';
import { createEasRole, type EasRole } from '../../src/eas/index.ts';
import { easRole } from '../../src/eas/role.ts';
import type { EasTables } from '../../src/eas/tables.ts';
import { roleContext as createRoleContext } from '../../src/node.ts';
import type { ConfigInput, NodeTables } from '../../src/role-list.ts';
import { loadConfig } from '../../src/role-list.ts';
import type { RoleContext } from '../../src/roles.ts';
import { JobQueue, type Store } from '../../src/store/index.ts';
import { FIXTURES } from '../helpers/fixtures.ts';

export { FIXTURES };

export const ADMIN_TOKEN = 'eas-admin-token-for-tests-0123456789';
/** A fixed clock: the Lægerne Stjernepladsen endpoints (from 2025-01-01) are active, the Aarhus ones (to 2024-01-01) are not. */
export const NOW = Date.parse('2026-06-01T12:00:00Z');

export type Json = Record<string, unknown>;

export function readFixture(path: string): Json {
  return JSON.parse(readFileSync(`${FIXTURES}${path}`, 'utf8')) as Json;
}

/** Every resource of a fixture folder, by `Type/id`. */
export function fixtureResources(folder: string): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const f of readdirSync(`${FIXTURES}${folder}`)) {
    if (!f.endsWith('.json')) continue;
    const r = readFixture(`${folder}/${f}`);
    out.set(`${String(r.resourceType)}/${String(r.id)}`, r);
  }
  return out;
}

const SOR = 'urn:oid:1.2.208.176.1.1';
const YDERNUMMER = 'urn:oid:1.2.208.176.1.4';

/**
 * What the tests add to the EER examples (eer/json), which have no ydernummer and almost no addresses:
 * - the Lægerne Stjernepladsen messaging organisations all carry the placeholder SOR 543210987654321; their ids carry
 *   their own SOR codes (`…AarhusN.698161000016009`), used here so one SOR names one organisation;
 * - the Stjernepladsen OU (a GP) gets ydernummer 077704 (the gpId of the EAS example request) and a postal code 8200
 *   (Aarhus N, as its id says);
 * - example-eer-messaging-organization becomes a GP in 2100 with ydernummer 057584 (the Ydernummer example of the EAS
 *   fixtures, MC.SOR.OU-Novax.672291000016004);
 * - the Aarhus municipal unit 1053851000016007 gets postal code 8200 (a non-GP in the same postal code).
 */
function augment(org: Json): Json {
  const o = structuredClone(org);
  const id = String(o.id);
  const stjerne = /^LaegerneStjernepladsen\.8200\.AarhusN\.(\d+)$/.exec(id);
  if (stjerne) o.identifier = [{ system: SOR, value: stjerne[1] }];
  if (id === 'LaegerneStjernepladsen.8200.AarhusN.698161000016009') {
    (o.identifier as Json[]).push({ system: YDERNUMMER, value: '077704' });
    o.address = [{ line: ['Stjernepladsen 1'], city: 'Aarhus N', postalCode: '8200' }];
  }
  if (id === 'example-eer-messaging-organization') {
    (o.identifier as Json[]).push({ system: YDERNUMMER, value: '057584' });
    o.address = [{ line: ['123 Example Street'], city: 'København Ø', postalCode: '2100' }];
  }
  if (id === 'Eer.SOR.OU-AAR-Kommune.1053851000016007') {
    o.address = [{ city: 'Aarhus N', postalCode: '8200' }];
  }
  return o;
}

/** The admin API bodies for every EER example Organization: its endpoints, and the devices they or it reference. */
export function eerFeeds(): {
  id: string;
  body: { organization: Json; endpoints: Json[]; devices: Json[] };
}[] {
  const all = fixtureResources('eer/json');
  const refs = (holder: Json, type: string): string[] =>
    [
      ...((holder.endpoint as Json[] | undefined) ?? []).map((r) => r.reference),
      ...((holder.extension as Json[] | undefined) ?? []).map(
        (e) => (e.valueReference as Json | undefined)?.reference,
      ),
    ].filter((r): r is string => typeof r === 'string' && r.startsWith(`${type}/`));
  const feeds = [];
  for (const [key, org] of all) {
    if (!key.startsWith('Organization/')) continue;
    const endpoints = refs(org, 'Endpoint').flatMap((r) => (all.has(r) ? [all.get(r)!] : []));
    const devices = [...new Set([org, ...endpoints].flatMap((h) => refs(h, 'Device')))].flatMap((r) =>
      all.has(r) ? [all.get(r)!] : [],
    );
    feeds.push({ id: String(org.id), body: { organization: augment(org), endpoints, devices } });
  }
  return feeds;
}

export function roleContext(
  store: Store<NodeTables>,
  overrides: ConfigInput['eas'] = {},
  tls?: { key: string; cert: string; ca: string[] },
  /**
   * The node's settings besides `eas` (`authorization`). Without `authorization` the node is `insecure` (EAS refuses
   * to start otherwise): tests not about tokens.
   */
  node: Omit<ConfigInput, 'eas'> = {},
): RoleContext<EasConfig, EasTables> {
  const config = loadConfig({
    env: {},
    overrides: {
      ...(node.authorization ? {} : { insecure: true }),
      ...node,
      log: { level: 'silent' },
      eas: { enabled: true, port: 0, adminToken: ADMIN_TOKEN, ...overrides },
    },
  });
  return createRoleContext(easRole, {
    config,
    store,
    queue: new JobQueue(store, { leaseMs: 1000, maxAttempts: 1, backoffBaseMs: 10, backoffMaxMs: 10 }),
    logger: pino({ level: 'silent' }),
    ...(tls ? { tls } : {}),
  });
}

export async function startEas(ctx: RoleContext<EasConfig, EasTables>): Promise<EasRole> {
  const eas = await createEasRole(ctx, { now: () => NOW });
  await eas.start();
  return eas;
}

export function admin(method: string, body?: unknown, token = ADMIN_TOKEN): RequestInit {
  return {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  };
}

export function postParameters(parameters: Json): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json' },
    body: JSON.stringify(parameters),
  };
}
