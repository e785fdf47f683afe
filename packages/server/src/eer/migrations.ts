import { type Kysely, type Migration, sql } from 'kysely';
import { SOR_SYSTEM } from './identifiers.ts';

/** The eer role's migrations, named `00NN_eer_…` (Kysely runs all roles' migrations in name order). */
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
  '0010_eer_sor_unique_and_publication': {
    async up(db: Kysely<unknown>) {
      // One Organization per SOR id (ehmi-core §4.1: EER is "keyed by SOR id"). The search index holds every current
      // Organization's SOR ids (param `sor`), so a unique index over those rows lets the database refuse a second
      // one on every engine, also between two writes racing on two instances. Existing duplicates stop the
      // migration with their names: which one stays is the operator's decision, not the migration's.
      const duplicates = await sql<{ value: string; ids: string }>`
        select value, min(resource_id) || ', ' || max(resource_id) as ids from eer_search
        where resource_type = 'Organization' and param = 'sor'
        group by value having count(distinct resource_id) > 1`.execute(db);
      if (duplicates.rows.length > 0) {
        throw new Error(
          `EER holds several Organizations with one SOR id (${duplicates.rows.map((r) => `${r.value}: ${r.ids}`).join('; ')}); delete all but one of each before upgrading`,
        );
      }
      await db.schema
        .createIndex('eer_search_sor_unique')
        .on('eer_search')
        .column('value')
        .unique()
        .where(sql.ref('resource_type'), '=', sql.lit('Organization'))
        .where(sql.ref('param'), '=', sql.lit('sor'))
        .where(sql.ref('system'), '=', sql.lit(SOR_SYSTEM))
        .execute();
      // The last publication of each organisation to each target (SMP, EAS): what `$publication-status`, the
      // `ehmi_eer_publications` gauge and the CLI show, so a failure is not only a log line.
      await db.schema
        .createTable('eer_publication')
        .addColumn('organization_id', 'text', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('requested_at', 'bigint', (c) => c.notNull())
        .addColumn('attempted_at', 'bigint')
        .addColumn('published_at', 'bigint')
        .addColumn('failures', 'integer', (c) => c.notNull())
        .addColumn('gave_up', 'integer', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('notes', 'text')
        .addPrimaryKeyConstraint('eer_publication_pk', ['organization_id', 'target'])
        .execute();
      await db.schema
        .createIndex('eer_publication_status')
        .on('eer_publication')
        .columns(['status'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('eer_publication').execute();
      await db.schema.dropIndex('eer_search_sor_unique').execute();
    },
  },
};
