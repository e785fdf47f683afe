import type { Kysely, Migration } from 'kysely';

/**
 * The audit log's table, under its own prefix (`_audit_`), run with the roles' migrations. Numbered after every
 * role's migration of its time, so that a database that ran those takes it in order.
 */
export const AUDIT_MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0030_audit_events': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('audit_events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('recorded', 'bigint', (c) => c.notNull())
        .addColumn('service', 'text', (c) => c.notNull())
        .addColumn('client_id', 'text')
        .addColumn('patient', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('operation', 'text', (c) => c.notNull())
        .addColumn('resource', 'text')
        .addColumn('minlog', 'integer', (c) => c.notNull())
        .addColumn('record', 'text', (c) => c.notNull())
        .execute();
      // The operator's searches: by time (newest first), by patient, by client, by request id; retention by time.
      await db.schema.createIndex('audit_events_recorded').on('audit_events').columns(['recorded']).execute();
      await db.schema
        .createIndex('audit_events_patient')
        .on('audit_events')
        .columns(['patient', 'recorded'])
        .execute();
      await db.schema
        .createIndex('audit_events_client')
        .on('audit_events')
        .columns(['client_id', 'recorded'])
        .execute();
      await db.schema
        .createIndex('audit_events_request')
        .on('audit_events')
        .columns(['request_id'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('audit_events').execute();
    },
  },
};
