import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EhmiError } from '@ehmi/errors';
import {
  CompiledQuery,
  type DatabaseIntrospector,
  type DatabaseMetadataOptions,
  type DialectAdapter,
  Kysely,
  type Migration,
  PostgresAdapter,
  PostgresDialect,
  PostgresIntrospector,
  type RawBuilder,
  sql,
  type TableMetadata,
  type Transaction,
} from 'kysely';
import pg from 'pg';
import { BlobStore } from './blobs.ts';
import type { WalBarrier } from './durability.ts';
import { boundAsIs, insertRows } from './fixed.ts';
import { migrateToLatest } from './migrations.ts';
import { sqliteConnection } from './sqlite.ts';
import type { AnyDb, CoreTables } from './types.ts';

export type Engine = 'sqlite' | 'postgres';

export interface StoreOptions {
  /** Folder for `ehmi.sqlite` (SQLite only) and `blobs/`. */
  dataDir: string;
  /** PostgreSQL URL; SQLite in `dataDir` when absent. */
  databaseUrl?: string | undefined;
  /** PostgreSQL schema holding this node's tables; created when missing. Default `public`. */
  schema?: string;
  busyTimeoutMs?: number;
  poolSize?: number;
  /**
   * The roles' migrations, run after the store's own (`jobs`, `blobs`); each role names its migrations under its
   * own prefix. The node passes those of every role it knows (see `role-list.ts`).
   */
  migrations?: Readonly<Record<string, Migration>>;
}

/**
 * The writers of one SQLite file in this process, taking turns when more than one store of the process has it open
 * (tests run two instances on one file). better-sqlite3 waits for SQLite's write lock synchronously (the busy
 * timeout), on the event loop: a write on one connection while another connection of the same process is inside a
 * transaction would wait out its timeout, since that transaction cannot go on meanwhile. The store's transactions
 * and the blob store's own row writes go through `run`; with one store on the file (a node) it takes no turn.
 */
class SqliteWriters {
  opened = 0;
  #tail: Promise<unknown> = Promise.resolve();
  run<R>(fn: () => Promise<R>): Promise<R> {
    if (this.opened < 2) return fn();
    const turn = this.#tail.then(fn);
    this.#tail = turn.catch(() => {});
    return turn;
  }
}

const sqliteFiles = new Map<string, SqliteWriters>();

/**
 * A database handle of the node: the tables, the blob store, and a transaction helper. `T` types the tables the
 * holder may see: the store's own by default, a role's own tables in the view the node gives that role
 * ({@link storeView}).
 */
export interface Store<T = CoreTables> {
  readonly engine: Engine;
  readonly db: Kysely<T>;
  readonly blobs: BlobStore;
  /** Run `fn` in one transaction (IMMEDIATE on SQLite, so a writer never fails half-way on a lock upgrade). */
  transaction<R>(fn: (trx: Transaction<T>) => Promise<R>): Promise<R>;
  /**
   * Cheap check, for `/health`, that the store can take writes: the database answers and the data folder takes a
   * small write (a probe whose outcome is reused for a few seconds). Rejects with the reason.
   */
  ping(): Promise<void>;
  /**
   * Resolves once every commit made through this store so far is durable (docs/architecture.md "Durability"). On
   * SQLite one fsync of the WAL, off the event loop, shared by every caller that waits meanwhile (group commit); at
   * once when nothing was committed since the last one. On PostgreSQL at once: a commit is durable when it returns.
   * The node's servers and HTTP clients wait for every store's commits before anything leaves the process
   * (`durableCommits`), so a role seldom needs to call it itself.
   */
  durable(): Promise<void>;
  /** SQLite: the WAL's durability barrier (its sync count; {@link WalBarrier.faults} for tests). */
  readonly wal?: WalBarrier;
  close(): Promise<void>;
  /** PostgreSQL only: job notices between the instances that share the database (see {@link JobNotices}). */
  readonly jobNotices?: JobNotices;
}

/**
 * Notices between instances on one PostgreSQL database that a queue got a job (LISTEN/NOTIFY): `notify` in the
 * enqueueing transaction (PostgreSQL delivers it when that commits, and drops it on a rollback), `listen` for the
 * other instances' notices on this schema (`undefined`: any queue, after the listening connection was re-opened,
 * since notices sent meanwhile are lost). Best effort: the workers' polling stays the safety net.
 */
export interface JobNotices {
  notify(trx: Kysely<unknown> | Transaction<unknown>, queue: string): Promise<void>;
  /**
   * For the RETURNING clause of an INSERT into `jobs`: the notice of each row written `ready` for any worker (not
   * named in `locked_by` for a worker of the enqueuing process that claims it at once), naming the row's queue
   * (one statement may write jobs of several queues; PostgreSQL sends a notice once per transaction however often it
   * is raised).
   */
  noticeOfReadyRow(): RawBuilder<unknown>;
  listen(fn: (queue: string | undefined) => void): () => void;
}

const JOB_CHANNEL = 'ehmi_jobs';

class PostgresJobNotices implements JobNotices {
  readonly #url: string;
  readonly #schema: string;
  /** This store's own notices come back to it too: they carry its id and are skipped (it woke its workers itself). */
  readonly #self = randomUUID();
  readonly #listeners = new Set<(queue: string | undefined) => void>();
  #client: pg.Client | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(url: string, schema: string) {
    this.#url = url;
    this.#schema = schema;
  }

  async notify(trx: Kysely<unknown> | Transaction<unknown>, queue: string): Promise<void> {
    await sql`select pg_notify(${JOB_CHANNEL}, ${`${this.#schema}\t${this.#self}\t${queue}`})`.execute(trx);
  }

  noticeOfReadyRow(): RawBuilder<unknown> {
    return sql`case when "status" = 'ready' and "locked_by" is null then pg_notify(${JOB_CHANNEL}, ${`${this.#schema}\t${this.#self}\t`} || "queue") end`;
  }

  listen(fn: (queue: string | undefined) => void): () => void {
    this.#listeners.add(fn);
    if (!this.#client && !this.#retry) this.#connect();
    return () => this.#listeners.delete(fn);
  }

  #connect(): void {
    this.#retry = undefined;
    if (this.#closed) return;
    const client = new pg.Client({ connectionString: this.#url });
    this.#client = client;
    const lost = (): void => {
      if (this.#client !== client) return;
      this.#client = undefined;
      client.end().catch(() => {});
      if (!this.#closed) this.#retry = setTimeout(() => this.#connect(), 1000).unref();
    };
    // Without an 'error' listener a server restart would end the process (as for the pool's connections).
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (n) => {
      const [schema, from, queue] = (n.payload ?? '').split('\t');
      if (n.channel !== JOB_CHANNEL || schema !== this.#schema || from === this.#self) return;
      for (const fn of [...this.#listeners]) fn(queue);
    });
    client
      .connect()
      .then(() => {
        // The listening connection alone never keeps the process running (as the pool's idle connections, which
        // time out, do not): a store left open must not hold the process up for ever.
        socketOf(client)?.unref?.();
        return client.query(`LISTEN ${JOB_CHANNEL}`);
      })
      .then(() => {
        // Notices sent while no connection listened are lost: every queue looks again.
        for (const fn of [...this.#listeners]) fn(undefined);
      })
      .catch(lost);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    const client = this.#client;
    this.#client = undefined;
    // Held again while it closes: `end()` waits for the socket's end, and an unreferenced socket would let the
    // process's event loop run dry first (every pool connection may have timed out), leaving `close()` unsettled.
    socketOf(client)?.ref?.();
    await client?.end().catch(() => {});
  }
}

/** The socket of a pg client (not in its types). */
function socketOf(client: pg.Client | undefined): { ref?: () => void; unref?: () => void } | undefined {
  return (
    client as unknown as { connection?: { stream?: { ref?: () => void; unref?: () => void } } } | undefined
  )?.connection?.stream;
}

const INT8_OID = 20;

function postgresPool(url: string, schema: string, max: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    // Every connection sees this node's schema first, so one database can hold several nodes.
    options: `-c search_path=${schema}`,
    // Our bigint columns hold epoch milliseconds and sizes, all far below 2^53.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as never,
    },
  });
  // A connection the server ends (restart, failover, pg_terminate_backend) emits 'error' on its client, and on the
  // pool when it was idle; without a listener either ends the process. The query running on it fails with the same
  // error (its caller answers 5xx or retries the job), and the pool drops the broken connection.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/**
 * Kysely's PostgreSQL migration lock is one advisory lock for the whole database, whatever the schema: every node
 * (and every test) on one database migrated one after another, each waiting out the others' migrations. This one is
 * the schema's own, so the instances of one node still migrate one at a time, and other schemas do not wait.
 */
class SchemaMigrationLock extends PostgresAdapter {
  readonly #key: bigint;
  constructor(schema: string) {
    super();
    this.#key = createHash('sha256').update(`ehmi migrations ${schema}`).digest().readBigInt64BE(0);
  }
  override async acquireMigrationLock(db: Kysely<unknown>): Promise<void> {
    await sql`select pg_advisory_lock(${sql.lit(this.#key)})`.execute(db);
  }
  override async releaseMigrationLock(db: Kysely<unknown>): Promise<void> {
    await sql`select pg_advisory_unlock(${sql.lit(this.#key)})`.execute(db);
  }
}

/**
 * The tables of the store's schema alone. Kysely's introspector reads every column of every table of every schema
 * of the database (and looks up a serial sequence for each column), which its migrator does twice per start to learn
 * whether its own two tables exist: on a database holding many nodes' (or tests') schemas, that is most of a start.
 */
class SchemaIntrospector extends PostgresIntrospector {
  readonly #db: Kysely<unknown>;
  readonly #schema: string;
  constructor(db: Kysely<unknown>, schema: string) {
    super(db as never);
    this.#db = db;
    this.#schema = schema;
  }
  override async getTables(
    options: DatabaseMetadataOptions = { withInternalKyselyTables: false },
  ): Promise<TableMetadata[]> {
    const { rows } = await sql<{
      table: string;
      kind: string;
      column: string;
      type: string;
      type_schema: string;
      not_null: boolean;
      has_default: boolean;
      serial: string | null;
      comment: string | null;
    }>`select c.relname as "table", c.relkind as kind, a.attname as "column", t.typname as type,
        tn.nspname as type_schema, a.attnotnull as not_null, a.atthasdef as has_default,
        pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname) as serial,
        col_description(c.oid, a.attnum) as comment
      from pg_catalog.pg_class c
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        join pg_catalog.pg_type t on t.oid = a.atttypid
        join pg_catalog.pg_namespace tn on tn.oid = t.typnamespace
      where n.nspname = ${this.#schema} and c.relkind in ('r', 'v', 'p')
      order by c.relname, a.attnum`.execute(this.#db);
    const tables = new Map<string, TableMetadata>();
    for (const r of rows) {
      if (
        !options.withInternalKyselyTables &&
        (r.table === 'kysely_migration' || r.table === 'kysely_migration_lock')
      ) {
        continue;
      }
      let table = tables.get(r.table);
      if (!table) {
        table = { name: r.table, schema: this.#schema, isView: r.kind === 'v', columns: [] };
        tables.set(r.table, table);
      }
      table.columns.push({
        name: r.column,
        dataType: r.type,
        dataTypeSchema: r.type_schema,
        isNullable: !r.not_null,
        isAutoIncrementing: r.serial !== null,
        hasDefaultValue: r.has_default,
        ...(r.comment === null ? {} : { comment: r.comment }),
      });
    }
    return [...tables.values()];
  }
}

/** PostgreSQL with the store's schema: its own migration lock and introspection (see the two classes above). */
class SchemaPostgresDialect extends PostgresDialect {
  readonly #schema: string;
  constructor(pool: pg.Pool, schema: string) {
    super({ pool });
    this.#schema = schema;
  }
  override createAdapter(): DialectAdapter {
    return new SchemaMigrationLock(this.#schema);
  }
  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SchemaIntrospector(db, this.#schema);
  }
}

/** A unique-key conflict on either engine (SQLite SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY, PostgreSQL 23505). */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return (
    e?.code === '23505' ||
    e?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

async function ensureSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  } catch (err) {
    // Two processes creating the same schema at once: one of them gets a unique violation; the schema exists.
    if ((err as { code?: string }).code !== '23505') throw err;
  } finally {
    await client.end();
  }
}

/**
 * Open the node's store: PostgreSQL when `databaseUrl` is given, SQLite in `dataDir` otherwise, migrated to the
 * latest schema.
 *
 * @example
 * const store = await openStore({ dataDir: '.ehmi', databaseUrl: process.env.DATABASE_URL });
 * await store.transaction(async (trx) => queue.enqueue(trx, { queue: 'send', payload: { id } }));
 */
export async function openStore<T = CoreTables>(options: StoreOptions): Promise<Store<T>> {
  mkdirSync(options.dataDir, { recursive: true });
  const blobs = new BlobStore(join(options.dataDir, 'blobs'));
  await blobs.init();
  let db: Kysely<T>;
  let engine: Engine;
  let jobNotices: PostgresJobNotices | undefined;
  let wal: WalBarrier | undefined;
  let writers: SqliteWriters | undefined;
  let sqliteFile: string | undefined;
  const forget = () => {
    if (!writers || !sqliteFile) return;
    writers.opened--;
    if (writers.opened === 0) sqliteFiles.delete(sqliteFile);
    writers = undefined;
  };
  try {
    if (options.databaseUrl) {
      engine = 'postgres';
      const schema = options.schema ?? 'public';
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
        throw new EhmiError(
          'EHMI_CONFIG_INVALID',
          `database schema "${schema}" is not a lower-case SQL identifier`,
        );
      }
      await ensureSchema(options.databaseUrl, schema);
      db = new Kysely<T>({
        dialect: new SchemaPostgresDialect(
          postgresPool(options.databaseUrl, schema, options.poolSize ?? 10),
          schema,
        ),
      });
      jobNotices = new PostgresJobNotices(options.databaseUrl, schema);
    } else {
      engine = 'sqlite';
      const file = join(options.dataDir, 'ehmi.sqlite');
      const connection = sqliteConnection(file, options.busyTimeoutMs ?? 5000);
      wal = connection.barrier;
      db = new Kysely<T>({ dialect: connection.dialect });
      writers = sqliteFiles.get(file) ?? new SqliteWriters();
      sqliteFiles.set(file, writers);
      writers.opened++;
      sqliteFile = file;
    }
  } catch (err) {
    if (err instanceof EhmiError) throw err;
    throw new EhmiError('EHMI_STORE_UNAVAILABLE', `cannot open the database: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    await migrateToLatest(
      db as Kysely<unknown>,
      engine === 'postgres' ? (options.schema ?? 'public') : undefined,
      options.migrations,
    );
  } catch (err) {
    forget();
    await wal?.close().catch(() => {});
    await db.destroy();
    throw new EhmiError('EHMI_STORE_UNAVAILABLE', `cannot migrate the database: ${(err as Error).message}`, {
      cause: err,
    });
  }
  // Run `fn` in one transaction, with the hooks of `beforeCommit`, `afterCommit`, `afterRollback`, `insertAtCommit`.
  const transaction = async <R>(fn: (trx: Transaction<T>) => Promise<R>): Promise<R> => {
    const hooks: TransactionHooks = {
      beforeCommit: [],
      committed: [],
      rolledBack: [],
      undo: [],
      settling: [],
      inserts: new Map(),
    };
    let result: Awaited<ReturnType<typeof fn>>;
    try {
      result = await db.transaction().execute(async (trx) => {
        commitHooks.set(trx, hooks);
        const value = await fn(trx);
        // In order, each once; a hook may add another (it runs too). A hook that fails rolls the transaction back.
        // The rows left for the commit go last, so that rows the hooks add join them in one statement.
        for (let i = 0; ; ) {
          if (i < hooks.beforeCommit.length) await hooks.beforeCommit[i++]!();
          else if (hooks.inserts.size > 0) await writeInserts(trx as Transaction<unknown>, hooks);
          else break;
        }
        return value;
      });
    } catch (err) {
      for (const hook of hooks.rolledBack) await hook().catch(() => {});
      throw err;
    }
    for (const hook of hooks.committed) hook();
    // The rollback hooks of savepoints rolled back have settled before the transaction (and its turn) ends.
    await Promise.all(hooks.settling);
    return result;
  };
  // Small blobs in their rows from here on (the `content` column exists once migrated).
  const turns = writers;
  // PostgreSQL: a small blob named by a transaction is written by it, not in a synchronous commit of its own.
  blobs.useDatabase(db as AnyDb, turns ? (fn) => turns.run(fn) : undefined, {
    rowsAtNaming: engine === 'postgres',
  });
  return {
    engine,
    db,
    blobs,
    transaction: (fn) => (turns ? turns.run(() => transaction(fn)) : transaction(fn)),
    ping: async () => {
      try {
        await sql`select 1`.execute(db);
      } catch (err) {
        throw new EhmiError(
          'EHMI_STORE_UNAVAILABLE',
          `the database does not answer: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      // A failed sync of the WAL fails the store for good (WalBarrier.durable): /health says so.
      await wal?.durable();
      await blobs.checkWritable();
    },
    durable: wal ? () => (wal as WalBarrier).durable() : () => Promise.resolve(),
    close: async () => {
      forget();
      await jobNotices?.close();
      try {
        await wal?.close();
      } finally {
        await db.destroy();
      }
    },
    ...(jobNotices ? { jobNotices } : {}),
    ...(wal ? { wal } : {}),
  };
}

interface TransactionHooks {
  beforeCommit: (() => Promise<unknown>)[];
  committed: (() => void)[];
  rolledBack: (() => Promise<unknown>)[];
  /** What to undo in memory when a {@link savepoint} is rolled back ({@link onSavepointRollback}). */
  undo: (() => void)[];
  /** The rollback hooks of {@link savepoint}s rolled back, started after the commit, awaited before it resolves. */
  settling: Promise<unknown>[];
  /** Rows to insert before the commit, by table, columns and RETURNING expression ({@link insertAtCommit}). */
  inserts: Map<string, PendingInsert>;
}

interface PendingInsert {
  table: string;
  rows: Record<string, unknown>[];
  returning: RawBuilder<unknown> | undefined;
}

const commitHooks = new WeakMap<object, TransactionHooks>();

/**
 * The most rows one deferred INSERT writes: far below either engine's limit on bound parameters (PostgreSQL 65,535;
 * SQLite 32,766) for the tables that use it (up to 14 columns).
 */
const INSERT_ROWS = 200;

async function writeInserts(trx: Transaction<unknown>, hooks: TransactionHooks): Promise<void> {
  const groups = [...hooks.inserts.values()];
  hooks.inserts.clear();
  const anyTrx = trx as Transaction<Record<string, Record<string, unknown>>>;
  for (const g of groups) {
    // Without RETURNING and with a plain value for every column (Kysely leaves out a column that is undefined and
    // writes an expression into the SQL), the SQL written once per row count (`insertRows`); else Kysely builds it.
    const columns = Object.keys(g.rows[0]!);
    const plain = !g.returning && g.rows.every((r) => columns.every((c) => boundAsIs(r[c])));
    for (let i = 0; i < g.rows.length; i += INSERT_ROWS) {
      const part = g.rows.slice(i, i + INSERT_ROWS);
      if (plain) {
        await insertRows(trx, g.table, columns, part);
        continue;
      }
      const insert = anyTrx.insertInto(g.table).values(part);
      await (g.returning ? insert.returning(g.returning.as('r')) : insert).execute();
    }
  }
}

/**
 * Insert `row` into `table` with the other rows of the same table and columns that the transaction writes this way,
 * in one multi-row INSERT just before the commit (after the {@link beforeCommit} hooks), when `trx` is a transaction
 * opened by {@link Store.transaction}: one statement (on PostgreSQL one round trip) for them all instead of one each.
 * For rows nobody reads or updates in the same transaction before it commits (or who calls {@link writePending}
 * first); a failure of the insert rolls the transaction back. `returning`: an expression evaluated for each row
 * inserted (`pg_notify`), with `key` naming it (rows with different expressions are separate statements). False, and
 * nothing is kept, for anything else: the caller inserts the row itself.
 */
export function insertAtCommit(
  trx: unknown,
  table: string,
  row: Record<string, unknown>,
  returning?: { key: string; expression: RawBuilder<unknown> },
): boolean {
  const hooks = typeof trx === 'object' && trx !== null ? commitHooks.get(trx) : undefined;
  if (!hooks) return false;
  const key = `${table}\0${Object.keys(row).join(',')}\0${returning?.key ?? ''}`;
  let group = hooks.inserts.get(key);
  if (!group) {
    group = { table, rows: [], returning: returning?.expression };
    hooks.inserts.set(key, group);
  }
  group.rows.push(row);
  return true;
}

/** Write now the rows {@link insertAtCommit} keeps for `trx` (before a read that must see them). */
export async function writePending(trx: unknown): Promise<void> {
  const hooks = typeof trx === 'object' && trx !== null ? commitHooks.get(trx) : undefined;
  if (hooks && hooks.inserts.size > 0) await writeInserts(trx as Transaction<unknown>, hooks);
}

/**
 * Run `fn` in `trx` after the work of the transaction's function and before its commit, when `trx` is a transaction
 * opened by {@link Store.transaction}: the last writes of the transaction (e.g. one row that gathers what several
 * steps of it noted). Its failure rolls the transaction back. False, and `fn` is not kept, for anything else.
 */
export function beforeCommit(trx: unknown, fn: () => Promise<unknown>): boolean {
  const hooks = typeof trx === 'object' && trx !== null ? commitHooks.get(trx) : undefined;
  if (!hooks) return false;
  hooks.beforeCommit.push(fn);
  return true;
}

/** Whether `trx` is a transaction opened by {@link Store.transaction} (its commit and rollback hooks run). */
export function hasCommitHooks(trx: unknown): boolean {
  return typeof trx === 'object' && trx !== null && commitHooks.has(trx);
}

/**
 * Run `fn` once `trx` has committed, when `trx` is a transaction opened by {@link Store.transaction} (not when it
 * rolls back). False, and `fn` is not kept, for anything else (the plain database handle: its statements commit on
 * their own).
 */
export function afterCommit(trx: unknown, fn: () => void): boolean {
  const hooks = typeof trx === 'object' && trx !== null ? commitHooks.get(trx) : undefined;
  if (!hooks) return false;
  hooks.committed.push(fn);
  return true;
}

/**
 * Run `fn` (on the plain handle: the transaction is gone) once `trx` has rolled back, when `trx` is a transaction
 * opened by {@link Store.transaction}; its failure is ignored, and the transaction's error is what the caller gets.
 * False, and `fn` is not kept, for anything else.
 */
export function afterRollback(trx: unknown, fn: () => Promise<unknown>): boolean {
  const hooks = typeof trx === 'object' && trx !== null ? commitHooks.get(trx) : undefined;
  if (!hooks) return false;
  hooks.rolledBack.push(fn);
  return true;
}

/**
 * One name for every savepoint: nested ones with the same name are fine (ROLLBACK TO and RELEASE act on the latest
 * of that name, on SQLite and PostgreSQL alike), and one SQL text each keeps the prepared statements of the SQLite
 * connection (`CachedStatements`, least recently used out) from filling with one-off names.
 */
const SAVEPOINT = {
  open: CompiledQuery.raw('savepoint ehmi_sp'),
  release: CompiledQuery.raw('release savepoint ehmi_sp'),
  rollback: CompiledQuery.raw('rollback to savepoint ehmi_sp'),
};

/**
 * Undo `fn`'s in-memory counterpart of a write when a {@link savepoint} around it is rolled back (state a transaction
 * keeps beside its hooks, e.g. reports gathered for one job at its commit); the latest first. Nothing for anything
 * but a transaction opened by {@link Store.transaction}, where no savepoint can be.
 */
export function onSavepointRollback(trx: unknown, fn: () => void): void {
  const hooks = typeof trx === 'object' && trx !== null ? commitHooks.get(trx) : undefined;
  hooks?.undo.push(fn);
}

/**
 * Run `fn` in `trx` (a transaction opened by {@link Store.transaction}) under a savepoint. When `fn` throws, what it
 * wrote is rolled back to the savepoint and the transaction goes on: the rows it left for the commit and the commit
 * hooks it added are dropped (the rows it wrote early with {@link writePending}, rolled back too, wait for the commit
 * again), and its rollback hooks run once the transaction has ended, however it ends (they may use the plain handle,
 * which a transaction on SQLite's one connection holds until then), settled before the transaction resolves. Resolves to `fn`'s result, or to its error.
 */
export async function savepoint<R>(
  trx: AnyDb,
  fn: () => Promise<R>,
): Promise<{ ok: true; value: R } | { ok: false; error: unknown }> {
  const hooks = commitHooks.get(trx);
  if (!hooks) throw new EhmiError('EHMI_INTERNAL', 'savepoint: not a transaction of the store');
  const before = {
    beforeCommit: hooks.beforeCommit.length,
    committed: hooks.committed.length,
    rolledBack: hooks.rolledBack.length,
    undo: hooks.undo.length,
    inserts: new Map([...hooks.inserts].map(([k, g]) => [k, { ...g, rows: [...g.rows] }])),
  };
  // Written once, not compiled per use (store/fixed.ts).
  await trx.executeQuery(SAVEPOINT.open);
  try {
    const value = await fn();
    await trx.executeQuery(SAVEPOINT.release);
    return { ok: true, value };
  } catch (error) {
    await trx.executeQuery(SAVEPOINT.rollback);
    await trx.executeQuery(SAVEPOINT.release);
    for (const fn of hooks.undo.splice(before.undo).reverse()) fn();
    const undo = hooks.rolledBack.splice(before.rolledBack);
    hooks.beforeCommit.length = before.beforeCommit;
    hooks.committed.length = before.committed;
    hooks.inserts = before.inserts;
    // Run on a commit too, started in their place among the commit hooks and awaited before the transaction ends
    // (within the SQLite writer's turn, as on a rollback).
    for (const hook of undo) {
      hooks.rolledBack.push(hook);
      hooks.committed.push(() => {
        hooks.settling.push(hook().catch(() => {}));
      });
    }
    return { ok: false, error };
  }
}

/** A store typed with any tables: what the store's own API (queue, blob collector) takes. */
// biome-ignore lint/suspicious/noExplicitAny: any role's table types; the store's API reads only its own tables
export type AnyStore = Store<any>;

/**
 * The same store typed with another set of tables: the view of the store a role gets, which lets its code name its
 * own tables and no other role's. No copy and no new connection: only the type changes.
 */
export function storeView<V>(store: AnyStore): Store<V> {
  return store as unknown as Store<V>;
}
