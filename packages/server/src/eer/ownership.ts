import { EhmiError } from '@ehmi/errors';
import type { Kysely } from 'kysely';
import type { AccessClaims, OrganisationContext } from '../authz.ts';
import { GLN_SYSTEMS, SOR_SYSTEM } from './profiles.ts';
import { current, referrers } from './propagate.ts';
import type { Json } from './repository.ts';
import { referenceKey } from './search-params.ts';
import type { EerTables } from './tables.ts';

/** One write as the ownership check sees it: the resource as it is now (if any) and as it will be (if any). */
export interface OwnedWrite {
  type: 'Organization' | 'Endpoint' | 'Device';
  id: string;
  /** The resource after the write; undefined for a delete. */
  after: Json | undefined;
}

/**
 * An organisation's own maintainer changes only its own organisation's resources (docs/architecture.md "Who is
 * asking"): a client whose token names organisations (`ehmi:org_context`) may create, change and delete only
 * - an Organization carrying one of their SOR or GLN identifiers,
 * - an Endpoint whose `managingOrganization` is such an Organization,
 * - a Device whose `owner` is such an Organization, or, without an owner, that such an Organization or one of its
 *   Endpoints references (a Device nobody references yet needs `owner`),
 * both as the resource is now and as the write leaves it, so another organisation's resource can neither be
 * changed nor moved to one's own, nor one's own given away. A client that names no organisation (the network's
 * maintainer) may change any; without an access token (the `insecure` development switch) nothing is checked.
 * Refused: 403 (EHMI_FORBIDDEN) naming the resource.
 *
 * `pending` holds the resources a transaction writes before they are stored (`Type/id` → resource), so an Endpoint
 * may name the Organization created in the same Bundle.
 */
export async function checkOwnWrite(
  access: AccessClaims | undefined,
  write: OwnedWrite,
  o: { db: Kysely<EerTables>; base: string | undefined; pending?: ReadonlyMap<string, Json> },
): Promise<void> {
  const contexts = access?.organisation?.contexts ?? [];
  if (contexts.length === 0) return;
  type Lookup = (type: string, id: string) => Promise<Json | undefined>;
  // As the write leaves things (a transaction's own resources first), and as they are stored now.
  const after: Lookup = async (type, id) =>
    o.pending?.has(`${type}/${id}`) ? o.pending.get(`${type}/${id}`) : current(o.db, type, id);
  const stored: Lookup = (type, id) => current(o.db, type, id);
  const owned = (org: Json | undefined) => org !== undefined && ownsOrganization(org, contexts);
  const organisationsOf = async (
    type: OwnedWrite['type'],
    id: string,
    r: Json,
    lookup: Lookup,
  ): Promise<Json[]> => {
    if (type === 'Organization') return [r];
    const ref = (field: unknown) => {
      const key = referenceKey((field as Json | undefined)?.reference as string | undefined, o.base);
      return key?.startsWith('Organization/') ? key.slice('Organization/'.length) : undefined;
    };
    if (type === 'Endpoint') {
      const org = ref(r.managingOrganization);
      const found = org === undefined ? undefined : await lookup('Organization', org);
      return found ? [found] : [];
    }
    const owner = ref(r.owner);
    if (owner !== undefined) {
      const found = await lookup('Organization', owner);
      return found ? [found] : [];
    }
    // A Device without an owner belongs to whoever references it: an Organization, or an Endpoint's organisation.
    const key = `Device/${id}`;
    const orgs: Json[] = [];
    for (const org of await referrers(o.db, 'Organization', 'device', key)) {
      const found = await lookup('Organization', org);
      if (found) orgs.push(found);
    }
    for (const endpoint of await referrers(o.db, 'Endpoint', 'device', key)) {
      const e = await lookup('Endpoint', endpoint);
      if (e) orgs.push(...(await organisationsOf('Endpoint', endpoint, e, lookup)));
    }
    return orgs;
  };
  const who = contexts.map((c) => `SOR ${c.sor} / GLN ${c.gln}`).join(', ');
  const before = write.id === '' ? undefined : await stored(write.type, write.id);
  if (before !== undefined) {
    const orgs = await organisationsOf(write.type, write.id, before, stored);
    if (orgs.length === 0 || !orgs.every(owned)) {
      throw new EhmiError(
        'EHMI_FORBIDDEN',
        `${write.type}/${write.id} belongs to another organisation: the access token acts for ${who}, and may change only that organisation's resources`,
      );
    }
  }
  if (write.after !== undefined) {
    const orgs = await organisationsOf(write.type, write.id, write.after, after);
    if (orgs.length === 0 || !orgs.every(owned)) {
      throw new EhmiError(
        'EHMI_FORBIDDEN',
        `${write.type}/${write.id} would belong to ${orgs.length === 0 ? 'no organisation of yours' : 'another organisation'}: the access token acts for ${who}, and may write only that organisation's resources (${ownerField(write.type)})`,
      );
    }
  }
}

function ownerField(type: OwnedWrite['type']): string {
  if (type === 'Organization') return 'its SOR or GLN identifier';
  if (type === 'Endpoint') return 'Endpoint.managingOrganization';
  return 'Device.owner, or an Organization or Endpoint of yours that references it';
}

/** Whether an Organization carries the SOR or GLN identifier of one of the token's organisation contexts. */
function ownsOrganization(org: Json, contexts: readonly OrganisationContext[]): boolean {
  const identifiers = Array.isArray(org.identifier) ? (org.identifier as Json[]) : [];
  return identifiers.some((i) =>
    contexts.some(
      (c) =>
        (i.system === SOR_SYSTEM && i.value === c.sor) ||
        ((GLN_SYSTEMS as readonly unknown[]).includes(i.system) && i.value === c.gln),
    ),
  );
}
