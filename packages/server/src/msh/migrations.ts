import type { Kysely, Migration } from 'kysely';

/** The msh role's migrations, named `0003_msh_…` (Kysely runs all roles' migrations in name order). */
export const mshMigrations: Record<string, Migration> = {
  '0003_msh_messages_inbox': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('msh_messages')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('needs_action', 'text')
        .addColumn('message_header_id', 'text')
        .addColumn('bundle_id', 'text')
        // An identical resubmission (same Bundle.id and MessageHeader.id) finds the first one, on every instance.
        .addColumn('submit_key', 'text', (c) => c.unique())
        .addColumn('envelope_id', 'text', (c) => c.notNull())
        .addColumn('envelope_hash', 'text', (c) => c.notNull())
        .addColumn('envelope_size', 'bigint', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('sender', 'text', (c) => c.notNull())
        .addColumn('receiver', 'text', (c) => c.notNull())
        .addColumn('document_type', 'text', (c) => c.notNull())
        .addColumn('process', 'text', (c) => c.notNull())
        .addColumn('resends', 'integer', (c) => c.notNull())
        .addColumn('ack_code', 'text')
        .addColumn('ack_at', 'bigint')
        .addColumn('failure_reason', 'text')
        .addColumn('failure_ebms', 'text')
        .addColumn('receipt_due', 'bigint')
        .addColumn('ack_due', 'bigint')
        .addColumn('inbox_id', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('msh_messages_header')
        .on('msh_messages')
        .column('message_header_id')
        .execute();
      await db.schema
        .createIndex('msh_messages_status')
        .on('msh_messages')
        .columns(['status', 'created_at'])
        .execute();

      await db.schema
        .createTable('msh_submissions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('message_id', 'text')
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('sender', 'text', (c) => c.notNull())
        .addColumn('receiver', 'text', (c) => c.notNull())
        .addColumn('document_type', 'text', (c) => c.notNull())
        .addColumn('process', 'text', (c) => c.notNull())
        .addColumn('envelope_hash', 'text', (c) => c.notNull())
        .addColumn('envelope_size', 'bigint', (c) => c.notNull())
        .addColumn('as4_message_id', 'text')
        .addColumn('ebms_code', 'text')
        .addColumn('reason', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('msh_submissions_message')
        .on('msh_submissions')
        .column('message_id')
        .execute();

      await db.schema
        .createTable('msh_events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('message_id', 'text', (c) => c.notNull())
        .addColumn('code', 'text', (c) => c.notNull())
        .addColumn('station', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('detail', 'text')
        .addColumn('time', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('msh_events_message')
        .on('msh_events')
        .columns(['message_id', 'time'])
        .execute();

      await db.schema
        .createTable('msh_inbox')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('as4_message_id', 'text', (c) => c.notNull())
        .addColumn('envelope_id', 'text', (c) => c.notNull())
        .addColumn('message_header_id', 'text')
        .addColumn('bundle_id', 'text')
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('sender', 'text', (c) => c.notNull())
        .addColumn('receiver', 'text', (c) => c.notNull())
        .addColumn('mime_type', 'text', (c) => c.notNull())
        .addColumn('envelope_hash', 'text', (c) => c.notNull())
        .addColumn('envelope_size', 'bigint', (c) => c.notNull())
        .addColumn('received_at', 'bigint', (c) => c.notNull())
        .addColumn('removed_at', 'bigint')
        .addColumn('receipt_message_id', 'text', (c) => c.notNull())
        .addColumn('ack_message_id', 'text')
        .addColumn('ack_hash', 'text')
        .addColumn('ack_code', 'text')
        .addColumn('acknowledged_at', 'bigint')
        .execute();
      await db.schema
        .createIndex('msh_inbox_list')
        .on('msh_inbox')
        .columns(['removed_at', 'received_at'])
        .execute();

      await db.schema
        .createTable('msh_dedup')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('inbox_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('msh_dedup_inbox').on('msh_dedup').column('inbox_id').execute();

      await db.schema
        .createTable('msh_received')
        .addColumn('as4_message_id', 'text', (c) => c.primaryKey())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('inbox_id', 'text')
        .addColumn('detail', 'text')
        .addColumn('received_at', 'bigint', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      for (const t of [
        'msh_received',
        'msh_dedup',
        'msh_inbox',
        'msh_events',
        'msh_submissions',
        'msh_messages',
      ]) {
        await db.schema.dropTable(t).execute();
      }
    },
  },
  /**
   * The patient each message is about (the CPR of its MedCom Patient, `urn:oid:1.2.208.176.1.2`), so that a token
   * restricted to one patient lists and reaches that patient's messages only. Rows from before stay without one:
   * a restricted token does not see them.
   */
  '0010_msh_patient': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('msh_messages').addColumn('patient_cpr', 'text').execute();
      await db.schema.alterTable('msh_inbox').addColumn('patient_cpr', 'text').execute();
      // The lists of a restricted token: `GET /messages` by creation, `GET /inbox` and its stream by arrival.
      await db.schema
        .createIndex('msh_messages_patient')
        .on('msh_messages')
        .columns(['patient_cpr', 'created_at'])
        .execute();
      await db.schema
        .createIndex('msh_inbox_patient')
        .on('msh_inbox')
        .columns(['patient_cpr', 'removed_at', 'received_at'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('msh_inbox_patient').execute();
      await db.schema.dropIndex('msh_messages_patient').execute();
      await db.schema.alterTable('msh_inbox').dropColumn('patient_cpr').execute();
      await db.schema.alterTable('msh_messages').dropColumn('patient_cpr').execute();
    },
  },
  /**
   * What EDS reporting keeps: each envelope's facts (its MSH and AP steps report them without reading it again),
   * and when the EUA took a received message (06.1) or a sent message's acknowledgement (16.1), each reported once.
   */
  '0021_msh_delivery_status': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('msh_submissions').addColumn('eds_facts', 'text').execute();
      await db.schema.alterTable('msh_inbox').addColumn('eds_facts', 'text').execute();
      await db.schema.alterTable('msh_inbox').addColumn('eua_taken_at', 'bigint').execute();
      await db.schema.alterTable('msh_messages').addColumn('ack_eds_facts', 'text').execute();
      await db.schema.alterTable('msh_messages').addColumn('ack_taken_at', 'bigint').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('msh_messages').dropColumn('ack_taken_at').execute();
      await db.schema.alterTable('msh_messages').dropColumn('ack_eds_facts').execute();
      await db.schema.alterTable('msh_inbox').dropColumn('eua_taken_at').execute();
      await db.schema.alterTable('msh_inbox').dropColumn('eds_facts').execute();
      await db.schema.alterTable('msh_submissions').dropColumn('eds_facts').execute();
    },
  },
  /**
   * Webhooks (docs/architecture.md "Push delivery"): the registrations, and each event's delivery to each of them
   * (its tries are an `msh.webhook` job). Deliveries are found by webhook and time (the failure list), by what is
   * still to be delivered, and by age (retention).
   */
  '0034_msh_webhooks': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('msh_webhooks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('events', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('disabled_at', 'bigint')
        .addColumn('disabled_reason', 'text')
        .execute();
      await db.schema
        .createTable('msh_webhook_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('webhook_id', 'text', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('last_attempt_at', 'bigint')
        .addColumn('last_status', 'integer')
        .addColumn('last_error', 'text')
        .addColumn('delivered_at', 'bigint')
        .addColumn('failed_at', 'bigint')
        .execute();
      await db.schema
        .createIndex('msh_webhook_deliveries_webhook')
        .on('msh_webhook_deliveries')
        .columns(['webhook_id', 'delivered_at', 'created_at'])
        .execute();
      await db.schema
        .createIndex('msh_webhook_deliveries_age')
        .on('msh_webhook_deliveries')
        .column('created_at')
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('msh_webhook_deliveries').execute();
      await db.schema.dropTable('msh_webhooks').execute();
    },
  },
  /**
   * Who acknowledged a received message (the organisation's system, or a person acting as its EUA in the console),
   * and the order `GET /messages` pages in (by creation time, then id: a page is an index range after the cursor).
   */
  '0035_msh_paging_acknowledged_by': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('msh_inbox').addColumn('acknowledged_by', 'text').execute();
      await db.schema
        .createIndex('msh_messages_created')
        .on('msh_messages')
        .columns(['created_at', 'id'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('msh_messages_created').execute();
      await db.schema.alterTable('msh_inbox').dropColumn('acknowledged_by').execute();
    },
  },
  /**
   * What an envelope's EnvelopeReceipt is checked against (`ReceiptKeys` beyond the row's id and parties), kept
   * when the envelope is submitted: the receipt is correlated without reading and parsing the envelope again.
   */
  '0036_msh_submission_receipt_keys': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('msh_submissions').addColumn('receipt_keys', 'text').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('msh_submissions').dropColumn('receipt_keys').execute();
    },
  },
};
