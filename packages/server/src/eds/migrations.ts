import { type Kysely, type Migration, PostgresAdapter, sql } from 'kysely';

/** The eds role's migrations, named `00NN_eds_…` (Kysely runs all roles' migrations in name order). */
export const edsMigrations: Record<string, Migration> = {
  '0011_eds_events': {
    async up(db: Kysely<unknown>) {
      // String search is a case-insensitive prefix match, answered as a range over the lower-cased value. On
      // PostgreSQL the index column compares byte by byte ("C" collation) so that a range is a prefix, as on SQLite.
      const bytewise = db.getExecutor().adapter instanceof PostgresAdapter;
      // The event's identity is the key: the same event posted twice is stored once (repository.ts eventDigest).
      await db.schema
        .createTable('eds_events')
        .addColumn('digest', 'text', (c) => c.primaryKey())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('recorded', 'bigint', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('last_updated', 'bigint', (c) => c.notNull())
        .addColumn('content', 'text', (c) => c.notNull())
        .execute();
      // The logical id (a UUID the server assigns, unique by construction; time-ordered since repository.ts `eventId`). A search finds ids in
      // eds_search, then counts, filters and sorts them by this index alone, never reading the rows (an event's JSON
      // is kilobytes; a page of a search by organisation sorts hundreds of them). Not a unique index on purpose:
      // with one, SQLite looks ids up through it and reads the rows for the sort keys.
      await db.schema
        .createIndex('eds_events_id')
        .on('eds_events')
        .columns(['id', 'last_updated', 'recorded', 'outcome'])
        .execute();
      await db.schema
        .createIndex('eds_events_recorded')
        .on('eds_events')
        .columns(['recorded', 'id'])
        .execute();
      await db.schema
        .createIndex('eds_events_updated')
        .on('eds_events')
        .columns(['last_updated', 'id'])
        .execute();
      await db.schema
        .createTable('eds_search')
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('param', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) =>
          bytewise ? c.notNull().modifyFront(sql`collate "C"`) : c.notNull(),
        )
        .addColumn('raw', 'text', (c) => c.notNull())
        .execute();
      // A search looks a value (or a prefix of one) up per parameter and gets the events from the index alone.
      await db.schema
        .createIndex('eds_search_value')
        .on('eds_search')
        .columns(['param', 'value', 'event_id'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('eds_search').execute();
      await db.schema.dropTable('eds_events').execute();
    },
  },
};
