import type { Kysely, Migration } from 'kysely';

/** The auth role's migrations, named `0008_auth_…` (Kysely runs all roles' migrations in name order). */
export const authMigrations: Record<string, Migration> = {
  '0008_auth_signing_keys': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('auth_signing_keys')
        .addColumn('kid', 'text', (c) => c.primaryKey())
        .addColumn('alg', 'text', (c) => c.notNull())
        .addColumn('private_jwk', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('auth_signing_keys').execute();
    },
  },
};
