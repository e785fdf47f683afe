import type { Kysely, Migration } from 'kysely';

/** The ap role's migrations, named `0002_ap_…` (Kysely runs all roles' migrations in name order). */
export const apMigrations: Record<string, Migration> = {
  '0002_ap_received_and_outbound': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('ap_received')
        // The primary key is the duplicate check shared by every instance on one database
        // (docs/architecture.md "Durability").
        .addColumn('message_id', 'text', (c) => c.primaryKey())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('sender', 'text', (c) => c.notNull())
        .addColumn('receiver', 'text', (c) => c.notNull())
        .addColumn('process', 'text', (c) => c.notNull())
        .addColumn('document_type', 'text', (c) => c.notNull())
        .addColumn('conversation_id', 'text', (c) => c.notNull())
        .addColumn('blob_hash', 'text')
        .addColumn('blob_size', 'bigint')
        .addColumn('receipt', 'text', (c) => c.notNull())
        .addColumn('received_at', 'bigint', (c) => c.notNull())
        .addColumn('delivered_at', 'bigint')
        .execute();
      await db.schema
        .createIndex('ap_received_retention')
        .on('ap_received')
        .columns(['status', 'received_at'])
        .execute();
      await db.schema
        .createTable('ap_outbound')
        .addColumn('submission_id', 'text', (c) => c.primaryKey())
        .addColumn('as4_message_id', 'text', (c) => c.notNull().unique())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('sender', 'text', (c) => c.notNull())
        .addColumn('receiver', 'text', (c) => c.notNull())
        .addColumn('document_type', 'text', (c) => c.notNull())
        .addColumn('process', 'text', (c) => c.notNull())
        .addColumn('tracking_identifier', 'text')
        .addColumn('blob_hash', 'text', (c) => c.notNull())
        .addColumn('blob_size', 'bigint', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('sent_references', 'text', (c) => c.notNull())
        .addColumn('endpoint_url', 'text')
        .addColumn('receipt', 'text')
        .addColumn('ebms_code', 'text')
        .addColumn('reason', 'text')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('finished_at', 'bigint')
        .addColumn('outcome_at', 'bigint')
        .execute();
      await db.schema
        .createIndex('ap_outbound_retention')
        .on('ap_outbound')
        .columns(['status', 'finished_at'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('ap_outbound').execute();
      await db.schema.dropTable('ap_received').execute();
    },
  },
  '0007_ap_evidence': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('ap_evidence')
        .addColumn('message_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('direction', 'text', (c) => c.notNull())
        .addColumn('counterpart', 'text', (c) => c.notNull())
        .addColumn('signer_subject', 'text', (c) => c.notNull())
        .addColumn('signer_serial', 'text', (c) => c.notNull())
        .addColumn('certificate_chain', 'text', (c) => c.notNull())
        .addColumn('content', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('received_at', 'bigint', (c) => c.notNull())
        // One item per message and kind: a duplicate adds none.
        .addPrimaryKeyConstraint('ap_evidence_pk', ['message_id', 'kind'])
        .execute();
      await db.schema.createIndex('ap_evidence_retention').on('ap_evidence').column('received_at').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('ap_evidence').execute();
    },
  },
  /** The facts of each envelope for EDS reporting (03.2 and 04.2 report them without reading the envelope). */
  '0022_ap_delivery_status': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('ap_outbound').addColumn('eds_facts', 'text').execute();
      await db.schema.alterTable('ap_received').addColumn('eds_facts', 'text').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('ap_received').dropColumn('eds_facts').execute();
      await db.schema.alterTable('ap_outbound').dropColumn('eds_facts').execute();
    },
  },
  /** The last ebMS test-service exchange with each partner (`ehmi ping`, the console's health page). */
  '0034_ap_pings': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('ap_pings')
        .addColumn('receiver', 'text', (c) => c.primaryKey())
        .addColumn('last_ok_at', 'bigint')
        .addColumn('round_trip_ms', 'bigint')
        .addColumn('receipt_at', 'bigint')
        .addColumn('as4_message_id', 'text')
        .addColumn('endpoint_url', 'text')
        .addColumn('last_attempt_at', 'bigint', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('ap_pings').execute();
    },
  },
};
