import { randomUUID } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import type { Kysely } from 'kysely';
import { isUniqueViolation } from '../store/index.ts';
import { SOR_SYSTEM, sorIdsOf } from './identifiers.ts';
import type { EerType } from './profiles.ts';
import { indexEntries } from './search-params.ts';
import type { EerStore, EerTables } from './tables.ts';

export type Json = Record<string, unknown>;

/** One version of a resource as stored. */
export interface StoredVersion {
  type: EerType;
  id: string;
  versionId: number;
  lastUpdated: number;
  deleted: boolean;
  method: 'POST' | 'PUT' | 'DELETE';
  /** The resource with meta.versionId and meta.lastUpdated; absent for a deletion. */
  resource?: Json;
}

/** One write of a transaction. */
export interface WriteOp {
  method: 'POST' | 'PUT' | 'DELETE';
  type: EerType;
  id: string;
  resource?: Json;
  ifMatch?: number;
}

export interface WriteResult {
  version: StoredVersion;
  /** A new resource (201), or a new version of one (200). */
  created: boolean;
}

/** Called inside every write's transaction, with the versions before and after (for propagation). */
export type WriteHook = (
  trx: Kysely<EerTables>,
  change: { type: EerType; id: string; before: Json | undefined; after: Json | undefined },
) => Promise<void>;

export interface RepositoryOptions {
  store: EerStore;
  /** Base URL of the FHIR server: absolute references under it index like relative ones. */
  baseUrl: () => string | undefined;
  onWrite?: WriteHook;
  now?: () => number;
}

/** What a delete answers: the resource it deleted and the version that is the deletion. */
export function deletedOutcome(v: Pick<StoredVersion, 'type' | 'id' | 'versionId'>): Json {
  const message = `${v.type}/${v.id} is deleted (version ${v.versionId})`;
  return {
    resourceType: 'OperationOutcome',
    issue: [
      { severity: 'information', code: 'informational', diagnostics: message, details: { text: message } },
    ],
  };
}

/** FHIR R4 id: 1–64 of [A-Za-z0-9\-.] (datatypes.html#id). */
export const ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;

function parse(content: string | null): Json | undefined {
  return content === null ? undefined : (JSON.parse(content) as Json);
}

/**
 * The register's storage: current versions (`eer_resources`), every version (`eer_history`) and the search index
 * (`eer_search`), written in one transaction together with the propagation jobs the write causes.
 */
export class EerRepository {
  readonly #store: EerStore;
  readonly #opts: RepositoryOptions;
  readonly #now: () => number;

  constructor(options: RepositoryOptions) {
    this.#store = options.store;
    this.#opts = options;
    this.#now = options.now ?? Date.now;
  }

  async read(
    type: EerType,
    id: string,
    db: Kysely<EerTables> = this.#store.db,
  ): Promise<StoredVersion | undefined> {
    const row = await db
      .selectFrom('eer_resources')
      .selectAll()
      .where('resource_type', '=', type)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    const resource = parse(row.content);
    return {
      type,
      id,
      versionId: Number(row.version_id),
      lastUpdated: Number(row.last_updated),
      deleted: Number(row.deleted) === 1,
      method: Number(row.deleted) === 1 ? 'DELETE' : 'PUT',
      ...(resource ? { resource } : {}),
    };
  }

  async vread(type: EerType, id: string, versionId: number): Promise<StoredVersion | undefined> {
    const rows = await this.#history(type, id, versionId);
    return rows[0];
  }

  /** Every version, newest first (FHIR R4 http.html §3.1.0.12: "sorted with oldest versions last"). */
  history(type: EerType, id: string): Promise<StoredVersion[]> {
    return this.#history(type, id);
  }

  async #history(type: EerType, id: string, versionId?: number): Promise<StoredVersion[]> {
    let q = this.#store.db
      .selectFrom('eer_history')
      .selectAll()
      .where('resource_type', '=', type)
      .where('id', '=', id);
    if (versionId !== undefined) q = q.where('version_id', '=', versionId);
    const rows = await q.orderBy('version_id', 'desc').execute();
    return rows.map((row) => {
      const resource = parse(row.content);
      return {
        type,
        id,
        versionId: Number(row.version_id),
        lastUpdated: Number(row.last_updated),
        deleted: Number(row.deleted) === 1,
        method: row.method as StoredVersion['method'],
        ...(resource ? { resource } : {}),
      };
    });
  }

  /** FHIR create: the server assigns the id (R4 http.html §3.1.0.7). */
  create(type: EerType, resource: Json): Promise<StoredVersion> {
    return this.#store.transaction((trx) => this.#create(trx, type, randomUUID(), resource));
  }

  /**
   * FHIR update (R4 http.html §3.1.0.4), creating the resource under the client's id when it does not exist.
   * `ifMatch` is the version the client last saw; another current version is a 412.
   */
  update(
    type: EerType,
    id: string,
    resource: Json,
    ifMatch?: number,
  ): Promise<{ version: StoredVersion; created: boolean }> {
    return this.#store.transaction((trx) => this.#update(trx, type, id, resource, ifMatch));
  }

  /** FHIR delete (R4 http.html §3.1.0.7.1): a deleted version in the history; undefined when there is none. */
  delete(type: EerType, id: string): Promise<StoredVersion | undefined> {
    return this.#store.transaction((trx) => this.#delete(trx, type, id));
  }

  /**
   * FHIR conditional delete (R4 http.html §3.1.0.7.1): `find` searches (in the delete's transaction); no match
   * deletes nothing, one match is deleted, several are refused with 412 (CapabilityStatement
   * `conditionalDelete: single`: a criterion that names more than one entry is a mistake the register does not
   * act on). Returns the deleted version, or undefined when nothing matched.
   */
  deleteWhere(
    type: EerType,
    find: (db: Kysely<EerTables>) => Promise<string[]>,
    criteria: string,
  ): Promise<StoredVersion | undefined> {
    return this.#store.transaction(async (trx) => {
      const ids = await find(trx);
      if (ids.length > 1) {
        throw new EhmiError(
          'EHMI_PRECONDITION_FAILED',
          `${criteria} matches ${ids.length} ${type} resources (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}); a conditional delete removes one`,
        );
      }
      return ids[0] === undefined ? undefined : this.#delete(trx, type, ids[0]);
    });
  }

  /**
   * Several writes in one transaction (a FHIR transaction Bundle, R4 http.html §3.1.0.11): all of them or none.
   * A POST carries the id the caller assigned (so references between the entries could be rewritten first).
   */
  transaction(ops: readonly WriteOp[]): Promise<WriteResult[]> {
    return this.#store.transaction(async (trx) => {
      const out: WriteResult[] = [];
      for (const op of ops) {
        if (op.method === 'POST') {
          out.push({ version: await this.#create(trx, op.type, op.id, op.resource!), created: true });
        } else if (op.method === 'PUT') {
          out.push(await this.#update(trx, op.type, op.id, op.resource!, op.ifMatch));
        } else {
          const version = await this.#delete(trx, op.type, op.id);
          if (!version) throw new EhmiError('EHMI_NOT_FOUND', `${op.type}/${op.id} is not known`);
          out.push({ version, created: false });
        }
      }
      return out;
    });
  }

  #create(trx: Kysely<EerTables>, type: EerType, id: string, resource: Json): Promise<StoredVersion> {
    return this.#write(trx, type, id, resource, undefined, 'POST');
  }

  async #update(
    trx: Kysely<EerTables>,
    type: EerType,
    id: string,
    resource: Json,
    ifMatch: number | undefined,
  ): Promise<WriteResult> {
    const current = await this.read(type, id, trx);
    if (ifMatch !== undefined && (!current || current.versionId !== ifMatch)) {
      throw new EhmiError(
        'EHMI_PRECONDITION_FAILED',
        `If-Match W/"${ifMatch}" does not match the current version of ${type}/${id} (${current ? `W/"${current.versionId}"` : 'none'})`,
      );
    }
    const version = await this.#write(trx, type, id, resource, current, 'PUT');
    return { version, created: !current || current.deleted };
  }

  async #delete(trx: Kysely<EerTables>, type: EerType, id: string): Promise<StoredVersion | undefined> {
    const current = await this.read(type, id, trx);
    if (!current) return undefined;
    if (current.deleted) return current;
    return this.#write(trx, type, id, undefined, current, 'DELETE');
  }

  /** One Organization per SOR id (ehmi-core §4.1: the register is keyed by SOR id). */
  async #checkSorUnique(trx: Kysely<EerTables>, id: string, resource: Json): Promise<void> {
    const sors = sorIdsOf(resource);
    if (sors.length === 0) return;
    const holder = await trx
      .selectFrom('eer_search')
      .select(['resource_id', 'value'])
      .where('resource_type', '=', 'Organization')
      .where('param', '=', 'sor')
      .where('system', '=', SOR_SYSTEM)
      .where('value', 'in', sors)
      .where('resource_id', '!=', id)
      .executeTakeFirst();
    if (holder) throw sorTaken([holder.value], holder.resource_id);
  }

  async #write(
    trx: Kysely<EerTables>,
    type: EerType,
    id: string,
    input: Json | undefined,
    current: StoredVersion | undefined,
    method: StoredVersion['method'],
  ): Promise<StoredVersion> {
    const versionId = (current?.versionId ?? 0) + 1;
    const lastUpdated = Math.max(this.#now(), (current?.lastUpdated ?? 0) + 1);
    let resource: Json | undefined;
    if (input) {
      const meta = { ...((input.meta as Json | undefined) ?? {}) };
      meta.versionId = String(versionId);
      meta.lastUpdated = new Date(lastUpdated).toISOString();
      // The server's id and meta come first, as FHIR servers write them.
      const { resourceType: _t, id: _i, meta: _m, ...rest } = input;
      resource = { resourceType: type, id, meta, ...rest };
    }
    const content = resource ? JSON.stringify(resource) : null;
    const deleted = resource ? 0 : 1;
    if (current) {
      const res = await trx
        .updateTable('eer_resources')
        .set({ version_id: versionId, last_updated: lastUpdated, deleted, content })
        .where('resource_type', '=', type)
        .where('id', '=', id)
        .where('version_id', '=', current.versionId)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) {
        throw new EhmiError('EHMI_CONFLICT', `${type}/${id} was changed by another request; try again`);
      }
    } else {
      await trx
        .insertInto('eer_resources')
        .values({
          resource_type: type,
          id,
          version_id: versionId,
          last_updated: lastUpdated,
          deleted,
          content,
        })
        .execute();
    }
    await trx
      .insertInto('eer_history')
      .values({
        resource_type: type,
        id,
        version_id: versionId,
        last_updated: lastUpdated,
        method,
        deleted,
        content,
      })
      .execute();
    await trx
      .deleteFrom('eer_search')
      .where('resource_type', '=', type)
      .where('resource_id', '=', id)
      .execute();
    if (resource) {
      if (type === 'Organization') await this.#checkSorUnique(trx, id, resource);
      const rows = indexEntries(type, resource, this.#opts.baseUrl());
      const unique = new Map(rows.map((r) => [`${r.param}\u0000${r.system}\u0000${r.value}`, r]));
      if (unique.size > 0) {
        try {
          await trx
            .insertInto('eer_search')
            .values([...unique.values()].map((r) => ({ resource_type: type, resource_id: id, ...r })))
            .execute();
        } catch (err) {
          // The unique index on SOR ids (migration 0010): another transaction wrote the SOR id since the check.
          if (type === 'Organization' && isUniqueViolation(err)) {
            throw sorTaken(sorIdsOf(resource), undefined, err);
          }
          throw err;
        }
      }
    }
    await this.#opts.onWrite?.(trx, { type, id, before: current?.resource, after: resource });
    return {
      type,
      id,
      versionId,
      lastUpdated,
      deleted: !resource,
      method,
      ...(resource ? { resource } : {}),
    };
  }
}

/**
 * A second Organization with a SOR id the register holds: 422 with issue type `duplicate` (FHIR R4 http.html
 * §3.1.0.4.1: 422 "the proposed resource violated … server business rules"; 409 is for version conflicts, which a
 * retry could resolve, and this one no retry resolves).
 */
function sorTaken(sors: string[], holder: string | undefined, cause?: unknown): EhmiError {
  const message = `SOR id ${sors.join(', ')} is already the SOR id of ${holder ? `Organization/${holder}` : 'another Organization'}: the register keeps one Organization per SOR id (update that one instead)`;
  return new EhmiError('EHMI_VALIDATION_FAILED', message, {
    ...(cause ? { cause } : {}),
    details: {
      outcome: {
        resourceType: 'OperationOutcome',
        issue: [
          {
            severity: 'error',
            code: 'duplicate',
            diagnostics: message,
            details: { text: message },
            expression: ['Organization.identifier'],
          },
        ],
      },
      ...(holder ? { existing: `Organization/${holder}` } : {}),
    },
  });
}
