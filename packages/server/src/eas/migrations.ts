import type { Kysely, Migration } from 'kysely';

/** The eas role's migrations, named `0006_eas_…`, `0009_eas_…` (Kysely runs all roles' migrations in name order). */
export const easMigrations: Record<string, Migration> = {
  '0006_eas_index_and_patients': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('eas_organizations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('is_gp', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('eas_endpoints')
        .addColumn('organization_id', 'text', (c) => c.notNull())
        .addColumn('endpoint_id', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('eas_endpoints_pk', ['organization_id', 'endpoint_id'])
        .execute();
      await db.schema
        .createTable('eas_devices')
        .addColumn('organization_id', 'text', (c) => c.notNull())
        .addColumn('device_id', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('eas_devices_pk', ['organization_id', 'device_id'])
        .execute();
      await db.schema
        .createTable('eas_index')
        .addColumn('organization_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('eas_index_pk', ['kind', 'value', 'organization_id'])
        .execute();
      // Replacing an organisation deletes its keys by organisation.
      await db.schema
        .createIndex('eas_index_organization')
        .on('eas_index')
        .column('organization_id')
        .execute();
      await db.schema
        .createTable('eas_patient_gp')
        .addColumn('cpr', 'text', (c) => c.primaryKey())
        .addColumn('sor', 'text')
        .addColumn('ydernummer', 'text')
        .addColumn('gln', 'text')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      for (const t of ['eas_patient_gp', 'eas_index', 'eas_devices', 'eas_endpoints', 'eas_organizations']) {
        await db.schema.dropTable(t).execute();
      }
    },
  },
  '0009_eas_audit': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('eas_audit')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('client_id', 'text')
        .addColumn('organisation', 'text')
        .addColumn('certificate', 'text')
        .addColumn('operation', 'text', (c) => c.notNull())
        .addColumn('cpr', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('detail', 'text')
        .execute();
      // "Who looked this citizen up", newest last.
      await db.schema.createIndex('eas_audit_cpr').on('eas_audit').columns(['cpr', 'at']).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('eas_audit').execute();
    },
  },
};
