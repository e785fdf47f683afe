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
  '0008_auth_accounts_and_oidc_records': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('auth_accounts')
        .addColumn('username', 'text', (c) => c.primaryKey())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('roles', 'text', (c) => c.notNull())
        .addColumn('organisation_gln', 'text')
        .addColumn('organisation_sor', 'text')
        .addColumn('organisation_name', 'text')
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('failed_logins', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_failed_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('auth_oidc_records')
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('grant_id', 'text')
        .addColumn('uid', 'text')
        .addColumn('expires_at', 'bigint')
        .addColumn('consumed_at', 'bigint')
        .addPrimaryKeyConstraint('auth_oidc_records_pk', ['model', 'id'])
        .execute();
      await db.schema
        .createIndex('auth_oidc_records_grant')
        .on('auth_oidc_records')
        .column('grant_id')
        .execute();
      await db.schema
        .createIndex('auth_oidc_records_uid')
        .on('auth_oidc_records')
        .columns(['model', 'uid'])
        .execute();
      await db.schema
        .createIndex('auth_oidc_records_expiry')
        .on('auth_oidc_records')
        .column('expires_at')
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('auth_oidc_records').execute();
      await db.schema.dropTable('auth_accounts').execute();
    },
  },
};
