import {
  array,
  GLN_SYSTEMS,
  isObject,
  type Json,
  SOR_IO_TYPE_SYSTEM,
  SOR_SYSTEM,
  str,
  YDERNUMMER_SYSTEM,
} from './fhir.ts';
import type { EasIndexTable, EasStore } from './tables.ts';

export type IndexKind = EasIndexTable['kind'];

/** What EER sends for one organisation (`PUT /admin/organizations/{id}`), replacing what EAS held. */
export interface EerFeed {
  organization: Json;
  endpoints: Json[];
  devices: Json[];
}

export interface IndexedOrganization extends EerFeed {
  id: string;
  isGp: boolean;
}

/** The form a key is stored and looked up in: ydernumre without leading zeros (`077704` = `77704`). */
export function normaliseKey(kind: IndexKind, value: string): string {
  const v = value.trim();
  if (kind === 'ydernummer') return v.replace(/^0+(?=\d)/, '');
  return v;
}

/**
 * The lookup keys of an organisation: its SOR ids, ydernumre and GLNs (own identifiers and its endpoints' GLN-ID,
 * "SOR-GLN is now the primary identifier of an EER-Endpoint", ehmi-core §4.1) and its addresses' postal codes.
 */
export function indexKeys(feed: EerFeed): { kind: IndexKind; value: string }[] {
  const keys = new Map<string, { kind: IndexKind; value: string }>();
  const add = (kind: IndexKind, value: unknown) => {
    if (typeof value !== 'string' || value.trim() === '') return;
    const v = normaliseKey(kind, value);
    keys.set(`${kind}|${v}`, { kind, value: v });
  };
  for (const id of array(feed.organization.identifier)) {
    if (!isObject(id)) continue;
    const system = str(id.system);
    if (system === SOR_SYSTEM) add('sor', id.value);
    else if (system === YDERNUMMER_SYSTEM) add('ydernummer', id.value);
    else if (system && GLN_SYSTEMS.has(system)) add('gln', id.value);
  }
  for (const endpoint of feed.endpoints) {
    for (const id of array(endpoint.identifier)) {
      if (isObject(id) && GLN_SYSTEMS.has(str(id.system) ?? '')) add('gln', id.value);
    }
  }
  for (const address of array(feed.organization.address)) {
    if (isObject(address)) add('postal-code', address.postalCode);
  }
  return [...keys.values()];
}

/**
 * A GP practice: it has a ydernummer (the GP provider number EAS use case 2 looks up) or the SOR institution-owner
 * type `GeneralPractitioner` (dk.ehmi.terminology `eer-sor-io-organization-type`).
 */
export function isGpPractice(organization: Json): boolean {
  const hasYdernummer = array(organization.identifier).some(
    (id) => isObject(id) && id.system === YDERNUMMER_SYSTEM && typeof id.value === 'string',
  );
  const gpType = array(organization.type).some(
    (t) =>
      isObject(t) &&
      array(t.coding).some(
        (c) => isObject(c) && c.system === SOR_IO_TYPE_SYSTEM && c.code === 'GeneralPractitioner',
      ),
  );
  return hasYdernummer || gpType;
}

/** EAS's own persisted index of the organisations, endpoints and devices EER propagates to it. */
export class EasIndex {
  readonly #store: EasStore;
  readonly #now: () => number;

  constructor(store: EasStore, now: () => number = Date.now) {
    this.#store = store;
    this.#now = now;
  }

  /** Replace everything held for organisation `id`; true when it was new. */
  async put(
    id: string,
    feed: EerFeed,
  ): Promise<{ created: boolean; keys: { kind: IndexKind; value: string }[] }> {
    const keys = indexKeys(feed);
    const created = await this.#store.transaction(async (trx) => {
      const existing = await trx
        .selectFrom('eas_organizations')
        .select('id')
        .where('id', '=', id)
        .executeTakeFirst();
      // Upsert the organisation row first: on PostgreSQL a concurrent PUT of the same id waits here for the other
      // transaction to commit, and its deletes below then see (and replace) what that one wrote.
      const row = {
        resource: JSON.stringify(feed.organization),
        is_gp: isGpPractice(feed.organization) ? 1 : 0,
        updated_at: this.#now(),
      };
      await trx
        .insertInto('eas_organizations')
        .values({ id, ...row })
        .onConflict((oc) => oc.column('id').doUpdateSet(row))
        .execute();
      await trx.deleteFrom('eas_index').where('organization_id', '=', id).execute();
      await trx.deleteFrom('eas_endpoints').where('organization_id', '=', id).execute();
      await trx.deleteFrom('eas_devices').where('organization_id', '=', id).execute();
      const endpoints = new Map(feed.endpoints.map((e) => [String(e.id), e]));
      if (endpoints.size > 0) {
        await trx
          .insertInto('eas_endpoints')
          .values(
            [...endpoints].map(([eid, e]) => ({
              organization_id: id,
              endpoint_id: eid,
              resource: JSON.stringify(e),
            })),
          )
          .execute();
      }
      const devices = new Map(feed.devices.map((d) => [String(d.id), d]));
      if (devices.size > 0) {
        await trx
          .insertInto('eas_devices')
          .values(
            [...devices].map(([did, d]) => ({
              organization_id: id,
              device_id: did,
              resource: JSON.stringify(d),
            })),
          )
          .execute();
      }
      if (keys.length > 0) {
        await trx
          .insertInto('eas_index')
          .values(keys.map((k) => ({ organization_id: id, kind: k.kind, value: k.value })))
          .execute();
      }
      return existing === undefined;
    });
    return { created, keys };
  }

  /** Forget organisation `id`; true when it was held. */
  async remove(id: string): Promise<boolean> {
    return this.#store.transaction(async (trx) => {
      await trx.deleteFrom('eas_index').where('organization_id', '=', id).execute();
      await trx.deleteFrom('eas_endpoints').where('organization_id', '=', id).execute();
      await trx.deleteFrom('eas_devices').where('organization_id', '=', id).execute();
      const r = await trx.deleteFrom('eas_organizations').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    });
  }

  async get(id: string): Promise<IndexedOrganization | undefined> {
    return (await this.#load([id]))[0];
  }

  /**
   * Organisations with a key of `kind` among `values`, each with the key it was found by (one organisation may come
   * back once per matching key). `gpOnly` keeps GP practices only.
   */
  async find(
    kind: IndexKind,
    values: readonly string[],
    options: { gpOnly?: boolean } = {},
  ): Promise<{ key: string; organization: IndexedOrganization }[]> {
    const wanted = [...new Set(values.map((v) => normaliseKey(kind, v)))];
    if (wanted.length === 0) return [];
    let q = this.#store.db
      .selectFrom('eas_index')
      .innerJoin('eas_organizations', 'eas_organizations.id', 'eas_index.organization_id')
      .select(['eas_index.value as value', 'eas_index.organization_id as id'])
      .where('eas_index.kind', '=', kind)
      .where('eas_index.value', 'in', wanted);
    if (options.gpOnly) q = q.where('eas_organizations.is_gp', '=', 1);
    const rows = await q.orderBy('eas_index.organization_id').execute();
    const orgs = new Map((await this.#load([...new Set(rows.map((r) => r.id))])).map((o) => [o.id, o]));
    return rows.flatMap((r) => {
      const organization = orgs.get(r.id);
      return organization ? [{ key: r.value, organization }] : [];
    });
  }

  /** Every GP practice (for `$getListOfGpByPostalCode` without postal codes). */
  async allGps(): Promise<IndexedOrganization[]> {
    const rows = await this.#store.db
      .selectFrom('eas_organizations')
      .select('id')
      .where('is_gp', '=', 1)
      .orderBy('id')
      .execute();
    return this.#load(rows.map((r) => r.id));
  }

  async #load(ids: readonly string[]): Promise<IndexedOrganization[]> {
    if (ids.length === 0) return [];
    const db = this.#store.db;
    const [orgs, endpoints, devices] = await Promise.all([
      db.selectFrom('eas_organizations').selectAll().where('id', 'in', ids).orderBy('id').execute(),
      db
        .selectFrom('eas_endpoints')
        .selectAll()
        .where('organization_id', 'in', ids)
        .orderBy('endpoint_id')
        .execute(),
      db
        .selectFrom('eas_devices')
        .selectAll()
        .where('organization_id', 'in', ids)
        .orderBy('device_id')
        .execute(),
    ]);
    return orgs.map((o) => ({
      id: o.id,
      isGp: Number(o.is_gp) === 1,
      organization: JSON.parse(o.resource) as Json,
      endpoints: endpoints
        .filter((e) => e.organization_id === o.id)
        .map((e) => JSON.parse(e.resource) as Json),
      devices: devices.filter((d) => d.organization_id === o.id).map((d) => JSON.parse(d.resource) as Json),
    }));
  }
}
