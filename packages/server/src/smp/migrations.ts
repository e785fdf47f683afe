import type { Kysely, Migration } from 'kysely';

/** The smp role's migrations, named `0004_smp_…` (Kysely runs all roles' migrations in name order). */
export const smpMigrations: Record<string, Migration> = {
  '0004_smp_service_groups_and_metadata': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('smp_service_groups')
        .addColumn('participant_key', 'text', (c) => c.primaryKey())
        .addColumn('participant_scheme', 'text', (c) => c.notNull())
        .addColumn('participant_value', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('smp_service_metadata')
        .addColumn('participant_key', 'text', (c) => c.notNull())
        .addColumn('document_key', 'text', (c) => c.notNull())
        .addColumn('document_scheme', 'text', (c) => c.notNull())
        .addColumn('document_value', 'text', (c) => c.notNull())
        .addColumn('xml', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('smp_service_metadata_pk', ['participant_key', 'document_key'])
        // Deleting a ServiceGroup deletes its ServiceMetadata (OASIS BDXR SMP 1.0 REST binding, phoss SMP).
        .addForeignKeyConstraint(
          'smp_service_metadata_group_fk',
          ['participant_key'],
          'smp_service_groups',
          ['participant_key'],
          (fk) => fk.onDelete('cascade'),
        )
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('smp_service_metadata').execute();
      await db.schema.dropTable('smp_service_groups').execute();
    },
  },
};
