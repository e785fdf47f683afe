import type { Kysely, Migration } from 'kysely';

/** The console role's migrations, named `…_console_…`. */
export const consoleMigrations: Record<string, Migration> = {
  '0033_console_sessions': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('console_sessions')
        .addColumn('id_hash', 'text', (c) => c.primaryKey())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('user', 'text', (c) => c.notNull())
        .addColumn('refresh_token', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('console_sessions_expiry')
        .on('console_sessions')
        .column('expires_at')
        .execute();
      await db.schema
        .createTable('console_logins')
        .addColumn('id_hash', 'text', (c) => c.primaryKey())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('nonce', 'text', (c) => c.notNull())
        .addColumn('code_verifier', 'text', (c) => c.notNull())
        .addColumn('return_to', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('console_logins').execute();
      await db.schema.dropTable('console_sessions').execute();
    },
  },
  '0036_console_readings': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('console_readings')
        .addColumn('node', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('requests', 'double precision')
        .addColumn('failures', 'double precision')
        .addColumn('receipt_sum', 'double precision')
        .addColumn('receipt_count', 'double precision')
        .addPrimaryKeyConstraint('console_readings_pk', ['node', 'at'])
        .execute();
      await db.schema.createIndex('console_readings_at').on('console_readings').column('at').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('console_readings').execute();
    },
  },
};
