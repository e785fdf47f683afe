import { type Kysely, type Migration, type MigrationProvider, Migrator, PostgresAdapter, sql } from 'kysely';

// One set of migrations for both engines: only types that mean the same on SQLite and PostgreSQL
// (text, integer, bigint), and no engine-specific defaults. Never edit a published migration; add one.
const migrations: Record<string, Migration> = {
  '0001_jobs_and_blobs': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('queue', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('max_attempts', 'integer', (c) => c.notNull())
        .addColumn('run_at', 'bigint', (c) => c.notNull())
        .addColumn('lease_until', 'bigint')
        .addColumn('lease_token', 'text')
        .addColumn('locked_by', 'text')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('finished_at', 'bigint')
        .execute();
      // The claim query scans ready jobs of one queue by due time, and expired leases of running ones.
      await db.schema.createIndex('jobs_claim').on('jobs').columns(['queue', 'status', 'run_at']).execute();
      await db.schema.createIndex('jobs_lease').on('jobs').columns(['status', 'lease_until']).execute();
      await db.schema
        .createTable('blobs')
        .addColumn('hash', 'text', (c) => c.primaryKey())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('blobs').execute();
      await db.schema.dropTable('jobs').execute();
    },
  },
  // The live jobs of a queue in due order, and nothing else: a claim, `nextDue` and `backlog` seek the queue's ready
  // and running jobs without visiting the finished ones the table keeps until they are purged. Partial, so done and
  // dead jobs cost it no entry (both engines support the form; the queries repeat its condition word for word).
  '0032_jobs_due': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createIndex('jobs_due')
        .on('jobs')
        .columns(['queue', 'run_at', 'id'])
        .where(sql.ref('status'), 'in', [sql.lit('ready'), sql.lit('running')])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('jobs_due').execute();
    },
  },
  // The dead-lettered jobs, which an operator lists and retries (`JobQueue.deadNaming`, `retryDead`): partial, so the
  // live and done jobs cost it no entry.
  '0034_jobs_dead': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createIndex('jobs_dead')
        .on('jobs')
        .columns(['finished_at', 'id'])
        .where(sql.ref('status'), '=', sql.lit('dead'))
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('jobs_dead').execute();
    },
  },
  // Small blobs kept in their row (`BlobStore`, ROW_BLOB_BYTES): the content, null for a blob kept as a file. The
  // one column whose type differs by engine (SQLite's BLOB, PostgreSQL's bytea: both take and give a Buffer).
  '0037_blobs_content': {
    async up(db: Kysely<unknown>) {
      const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
      await db.schema
        .alterTable('blobs')
        .addColumn('content', sql.raw(postgres ? 'bytea' : 'blob'))
        .execute();
    },
    async down(db: Kysely<unknown>) {
      // The column holds the only copy of every small blob: dropping it while one is there would lose messages.
      const held = await sql<{
        n: number;
      }>`select count(*) as n from blobs where content is not null`.execute(db);
      if (Number(held.rows[0]?.n ?? 0) > 0) {
        throw new Error(
          'blobs.content holds small blobs (their only copy): this migration cannot be undone without losing them',
        );
      }
      await db.schema.alterTable('blobs').dropColumn('content').execute();
    },
  },
};

/** The store's own migrations (not the roles'), for the tests of a migration's `down`. */
export const storeMigrations: Readonly<Record<string, Migration>> = migrations;

class InCodeProvider implements MigrationProvider {
  readonly #roles: Readonly<Record<string, Migration>>;
  constructor(roles: Readonly<Record<string, Migration>>) {
    this.#roles = roles;
  }
  async getMigrations(): Promise<Record<string, Migration>> {
    // Each role keeps its migrations beside its code, under its own name prefix (0002_ap_…, 0003_msh_…); Kysely
    // runs them in name order, the store's own first.
    for (const name of Object.keys(this.#roles)) {
      if (name in migrations)
        throw new Error(`migration ${name} is the store's own; a role must use its prefix`);
    }
    return { ...migrations, ...this.#roles };
  }
}

/** The names of the migrations the database ran; undefined when it has no migration table yet. */
async function applied(db: Kysely<unknown>, schema: string | undefined): Promise<Set<string> | undefined> {
  const table = schema ? sql.table(`${schema}.kysely_migration`) : sql.table('kysely_migration');
  try {
    const { rows } = await sql<{ name: string }>`select name from ${table}`.execute(db);
    return new Set(rows.map((r) => r.name));
  } catch {
    // No such table (a new database), or one the migrator will report on: it decides.
    return undefined;
  }
}

/** Bring the database to the latest schema; safe when several processes start at once (Kysely's migration lock). */
export async function migrateToLatest(
  db: Kysely<unknown>,
  schema?: string,
  roleMigrations: Readonly<Record<string, Migration>> = {},
): Promise<string[]> {
  // PostgreSQL: name the schema of Kysely's own tables. Without it Kysely looks for kysely_migration(_lock) in every
  // schema of the database, finds another node's, skips creating its own, and fails ("relation … does not exist").
  // The store and each role keep their migrations beside their code, numbered in one sequence. A database made
  // before a module's migration existed may already have run ones numbered above it (another module's, or a test's
  // older schema): each pending migration then runs once, in name order among the pending ones, instead of the
  // store refusing to open. The modules' migrations touch only their own tables, so their relative order is free.
  // Nothing pending (a restart, a second instance): one read of the migration table, without the migrator's checks
  // of its tables and its lock.
  const wanted = Object.keys(await new InCodeProvider(roleMigrations).getMigrations());
  const done = await applied(db, schema);
  if (done && wanted.every((name) => done.has(name))) return [];
  const migrator = new Migrator({
    db,
    provider: new InCodeProvider(roleMigrations),
    allowUnorderedMigrations: true,
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await migrator.migrateToLatest();
    if (!error) return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
    // Kysely finds its tables by introspecting every schema of the database; a schema another node (or a test)
    // drops meanwhile makes that catalog query fail with 3F000 invalid_schema_name. Nothing ran: try again.
    if (!(schema && attempt < 5 && (error as { code?: string }).code === '3F000')) throw error;
    await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
  }
}
