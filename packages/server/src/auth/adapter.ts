import type { AuthStore } from './tables.ts';

/** A model's payload as oidc-provider hands it to its adapter. */
type Payload = Record<string, unknown> & { grantId?: string; uid?: string; consumed?: number };

/**
 * The models the authorization code flow keeps (oidc-provider's adapter interface). Client-credentials access
 * tokens are JWTs that are never stored (RFC 9068); everything else a model saves goes here.
 */
export interface OidcAdapter {
  upsert(id: string, payload: Payload, expiresIn: number): Promise<void>;
  find(id: string): Promise<Payload | undefined>;
  findByUid(uid: string): Promise<Payload | undefined>;
  findByUserCode(userCode: string): Promise<Payload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

/**
 * oidc-provider's storage in the node's database (`auth_oidc_records`): sessions, interactions, pushed
 * authorization requests, authorization codes, grants, refresh tokens and replay records, each with its expiry, so
 * that every instance on one database sees the same flow and a restart loses no session. A record past its expiry
 * is never found (and the role's timer purges it, {@link purgeExpiredOidcRecords}); a consumed one is found with
 * its `consumed` time, which oidc-provider takes as used (a replayed code or refresh token revokes its grant).
 *
 * @example
 * new Provider(issuer, { adapter: databaseAdapter(store, Date.now), … });
 */
export function databaseAdapter(store: AuthStore, now: () => number): new (model: string) => OidcAdapter {
  const db = store.db;
  const live = (expiresAt: number | null) => expiresAt === null || Number(expiresAt) > now();
  const payloadOf = (row: { payload: string; expires_at: number | null; consumed_at: number | null }) => {
    if (!live(row.expires_at)) return undefined;
    const payload = JSON.parse(row.payload) as Payload;
    if (row.consumed_at !== null) payload.consumed = Math.floor(Number(row.consumed_at) / 1000);
    return payload;
  };
  return class DatabaseAdapter implements OidcAdapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: Payload, expiresIn: number): Promise<void> {
      const values = {
        payload: JSON.stringify(payload),
        grant_id: typeof payload.grantId === 'string' ? payload.grantId : null,
        uid: typeof payload.uid === 'string' ? payload.uid : null,
        expires_at: expiresIn > 0 ? now() + expiresIn * 1000 : null,
      };
      await db
        .insertInto('auth_oidc_records')
        .values({ model: this.model, id, ...values, consumed_at: null })
        .onConflict((oc) => oc.columns(['model', 'id']).doUpdateSet(values))
        .execute();
    }

    async find(id: string): Promise<Payload | undefined> {
      const row = await db
        .selectFrom('auth_oidc_records')
        .select(['payload', 'expires_at', 'consumed_at'])
        .where('model', '=', this.model)
        .where('id', '=', id)
        .executeTakeFirst();
      return row ? payloadOf(row) : undefined;
    }

    async findByUid(uid: string): Promise<Payload | undefined> {
      const row = await db
        .selectFrom('auth_oidc_records')
        .select(['payload', 'expires_at', 'consumed_at'])
        .where('model', '=', this.model)
        .where('uid', '=', uid)
        .executeTakeFirst();
      return row ? payloadOf(row) : undefined;
    }

    /** No device flow is offered: no user code is ever stored. */
    async findByUserCode(): Promise<undefined> {
      return undefined;
    }

    async consume(id: string): Promise<void> {
      await db
        .updateTable('auth_oidc_records')
        .set({ consumed_at: now() })
        .where('model', '=', this.model)
        .where('id', '=', id)
        .execute();
    }

    async destroy(id: string): Promise<void> {
      await db.deleteFrom('auth_oidc_records').where('model', '=', this.model).where('id', '=', id).execute();
    }

    /** Everything issued under a grant goes with it: its codes and refresh tokens as well as the grant itself. */
    async revokeByGrantId(grantId: string): Promise<void> {
      await db
        .deleteFrom('auth_oidc_records')
        .where((eb) =>
          eb.or([eb('grant_id', '=', grantId), eb.and([eb('model', '=', 'Grant'), eb('id', '=', grantId)])]),
        )
        .execute();
    }
  };
}

/** Delete the records whose expiry has passed; returns how many. */
export async function purgeExpiredOidcRecords(store: AuthStore, now: number): Promise<number> {
  const result = await store.db
    .deleteFrom('auth_oidc_records')
    .where('expires_at', 'is not', null)
    .where('expires_at', '<=', now)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
