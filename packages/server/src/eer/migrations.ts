import type { Kysely, Migration } from 'kysely';

/** The eer role's migrations, named `0005_eer_…` (Kysely runs all roles' migrations in name order). */
export const eerMigrations: Record<string, Migration> = {
  '0005_eer_resources': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('eer_resources')
        .addColumn('resource_type', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('version_id', 'integer', (c) => c.notNull())
        .addColumn('last_updated', 'bigint', (c) => c.notNull())
        .addColumn('deleted', 'integer', (c) => c.notNull())
        .addColumn('content', 'text')
        .addPrimaryKeyConstraint('eer_resources_pk', ['resource_type', 'id'])
        .execute();
      await db.schema
        .createIndex('eer_resources_updated')
        .on('eer_resources')
        .columns(['resource_type', 'deleted', 'last_updated'])
        .execute();
      await db.schema
        .createTable('eer_history')
        .addColumn('resource_type', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('version_id', 'integer', (c) => c.notNull())
        .addColumn('last_updated', 'bigint', (c) => c.notNull())
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('deleted', 'integer', (c) => c.notNull())
        .addColumn('content', 'text')
        .addPrimaryKeyConstraint('eer_history_pk', ['resource_type', 'id', 'version_id'])
        .execute();
      await db.schema
        .createTable('eer_search')
        .addColumn('resource_type', 'text', (c) => c.notNull())
        .addColumn('resource_id', 'text', (c) => c.notNull())
        .addColumn('param', 'text', (c) => c.notNull())
        .addColumn('system', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
      // Searches look a value up per parameter; writes replace a resource's rows.
      await db.schema
        .createIndex('eer_search_value')
        .on('eer_search')
        .columns(['resource_type', 'param', 'value'])
        .execute();
      await db.schema
        .createIndex('eer_search_resource')
        .on('eer_search')
        .columns(['resource_type', 'resource_id'])
        .execute();
      await db.schema
        .createTable('eer_smp_published')
        .addColumn('organization_id', 'text', (c) => c.notNull())
        .addColumn('participant', 'text', (c) => c.notNull())
        .addColumn('document_type', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('eer_smp_published_pk', ['organization_id', 'participant', 'document_type'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('eer_smp_published').execute();
      await db.schema.dropTable('eer_search').execute();
      await db.schema.dropTable('eer_history').execute();
      await db.schema.dropTable('eer_resources').execute();
    },
  },
};
