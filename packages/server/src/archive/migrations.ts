import type { Kysely, Migration } from 'kysely';

/** The archive role's migrations, named `00NN_archive_…` (Kysely runs all roles' migrations in name order). */
export const archiveMigrations: Record<string, Migration> = {
  '0034_archive_documents': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('archive_documents')
        .addColumn('id', 'text', (c) => c.primaryKey())
        // The AP may hand a copy over again after a crash: it is archived once.
        .addColumn('as4_message_id', 'text', (c) => c.notNull().unique())
        .addColumn('envelope_id', 'text', (c) => c.notNull())
        .addColumn('message_id', 'text', (c) => c.notNull())
        .addColumn('sender', 'text', (c) => c.notNull())
        .addColumn('patient_cpr', 'text', (c) => c.notNull())
        .addColumn('type_token', 'text', (c) => c.notNull())
        .addColumn('type_code', 'text', (c) => c.notNull())
        .addColumn('date', 'bigint', (c) => c.notNull())
        .addColumn('author_sor', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('content_type', 'text', (c) => c.notNull())
        .addColumn('document_hash', 'text', (c) => c.notNull())
        .addColumn('document_size', 'bigint', (c) => c.notNull())
        .addColumn('content', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      // Searches are by patient (the usual one: a citizen's documents), newest first; by author or type otherwise.
      await db.schema
        .createIndex('archive_documents_patient')
        .on('archive_documents')
        .columns(['patient_cpr', 'date', 'id'])
        .execute();
      await db.schema
        .createIndex('archive_documents_date')
        .on('archive_documents')
        .columns(['date', 'id'])
        .execute();
      await db.schema
        .createIndex('archive_documents_author')
        .on('archive_documents')
        .columns(['author_sor', 'date'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('archive_documents').execute();
    },
  },
};
