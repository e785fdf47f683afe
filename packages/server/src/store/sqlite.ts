import SqliteDatabase from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  SqliteDialect,
  type SqliteDialectConfig,
  type SqliteDatabase as SqliteDialectDatabase,
  SqliteDriver,
  type SqliteStatement,
} from 'kysely';
import { registerBarrier, WalBarrier } from './durability.ts';

/**
 * How many prepared statements a SQLite connection keeps. The node's queries are a few hundred SQL texts at most
 * (`in (?, ?, …)` lists of varying length add a few); the least recently used one is finalised beyond this.
 */
export const STATEMENT_CACHE_SIZE = 500;

/**
 * A statement that may end a transaction with a commit: SQLite counts transaction control as read-only
 * (`sqlite3_stmt_readonly`), so a COMMIT (or END, or the RELEASE that ends a transaction) is named here.
 */
const COMMIT_SQL = /^\s*(commit|end|release)\b/i;

interface Cached {
  stmt: SqliteDatabase.Statement;
  /** Writes, or may commit: noted in the durability barrier each time it runs. */
  writes: boolean;
}

/**
 * The SQLite connection as Kysely's SQLite dialect sees it, preparing each SQL text once. Kysely's driver calls
 * `prepare` for every query it runs; preparing (parsing and planning the SQL) cost about as much CPU as running the
 * node's statements did, so the prepared statement is kept per SQL text (bounded, least recently used out) and
 * bound afresh on each run. A statement still busy in `iterate()` (a streamed query not read to its end) cannot be
 * run again until it is reset, so a second user of the same text gets a fresh statement, not kept.
 *
 * Each statement that writes or may commit is noted in `barrier` when it is prepared to run: Kysely's driver runs
 * it in the same synchronous step, before any sync the barrier starts can begin.
 */
export class CachedStatements implements SqliteDialectDatabase {
  readonly #db: SqliteDatabase.Database;
  readonly #max: number;
  readonly #barrier: WalBarrier | undefined;
  readonly #cache = new Map<string, Cached>();

  constructor(db: SqliteDatabase.Database, max = STATEMENT_CACHE_SIZE, barrier?: WalBarrier) {
    this.#db = db;
    this.#max = max;
    this.#barrier = barrier;
  }

  prepare(sql: string): SqliteStatement {
    const cached = this.#cache.get(sql);
    if (cached) {
      if (cached.writes) this.#barrier?.noteWrite();
      if (cached.stmt.busy) return this.#db.prepare(sql);
      // Map order is insertion order: moving the hit to the end keeps the least recently used first.
      this.#cache.delete(sql);
      this.#cache.set(sql, cached);
      return cached.stmt;
    }
    const stmt = this.#db.prepare(sql);
    const writes = !stmt.readonly || COMMIT_SQL.test(sql);
    if (writes) this.#barrier?.noteWrite();
    this.#cache.set(sql, { stmt, writes });
    // A statement left out is finalised by the garbage collector (better-sqlite3 has no explicit finalize); one
    // busy in an iteration stays valid for its user until then.
    if (this.#cache.size > this.#max) this.#cache.delete(this.#cache.keys().next().value as string);
    return stmt;
  }

  /** Prepared statements kept now (for tests). */
  get size(): number {
    return this.#cache.size;
  }

  close(): void {
    this.#cache.clear();
    this.#db.close();
  }
}

// Kysely's SQLite driver opens transactions with a plain (deferred) BEGIN. A deferred transaction that reads and
// then writes can fail with SQLITE_BUSY when another process wrote in between, and the busy timeout does not help
// (https://www.sqlite.org/lang_transaction.html). BEGIN IMMEDIATE takes the write lock up front and waits for it.
const BEGIN_IMMEDIATE = CompiledQuery.raw('begin immediate');

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(BEGIN_IMMEDIATE);
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #cfg: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#cfg = config;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#cfg);
  }
}

/** A SQLite connection for Kysely, and the durability barrier of its commits. */
export interface SqliteConnection {
  dialect: SqliteDialect;
  /** Syncs the WAL for the commits made through `dialect` (see {@link WalBarrier}). */
  barrier: WalBarrier;
}

/**
 * The node's SQLite connection for Kysely on the database file at `path`: WAL with `synchronous=NORMAL` and the
 * barrier that makes its commits durable, foreign keys, the busy timeout, transactions that take the write lock up
 * front, each SQL text prepared once. The barrier counts in `durableCommits` until it is closed.
 */
export function sqliteConnection(path: string, busyTimeoutMs: number): SqliteConnection {
  const db = openSqlite(path, busyTimeoutMs);
  const barrier = new WalBarrier(`${path}-wal`);
  registerBarrier(barrier);
  return {
    dialect: new ImmediateSqliteDialect({ database: new CachedStatements(db, undefined, barrier) }),
    barrier,
  };
}

function openSqlite(path: string, busyTimeoutMs: number): SqliteDatabase.Database {
  const db = new SqliteDatabase(path, { timeout: busyTimeoutMs });
  // WAL lets readers run beside the writer. synchronous=NORMAL: a commit writes the WAL without an fsync, so it
  // never blocks the event loop on the disk; the database stays consistent after a power loss, which can take back
  // only the latest commits (https://www.sqlite.org/pragma.html#pragma_synchronous, https://www.sqlite.org/wal.html).
  // Nothing leaves the process before those are made durable by the WalBarrier's one fsync off the event loop
  // (docs/architecture.md "Durability").
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
  db.pragma('foreign_keys = ON');
  return db;
}
