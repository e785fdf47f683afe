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

/**
 * How many prepared statements a SQLite connection keeps. The node's queries are a few hundred SQL texts at most
 * (`in (?, ?, …)` lists of varying length add a few); the least recently used one is finalised beyond this.
 */
export const STATEMENT_CACHE_SIZE = 500;

/**
 * The SQLite connection as Kysely's SQLite dialect sees it, preparing each SQL text once. Kysely's driver calls
 * `prepare` for every query it runs; preparing (parsing and planning the SQL) cost about as much CPU as running the
 * node's statements did, so the prepared statement is kept per SQL text (bounded, least recently used out) and
 * bound afresh on each run. A statement still busy in `iterate()` (a streamed query not read to its end) cannot be
 * run again until it is reset, so a second user of the same text gets a fresh statement, not kept.
 */
export class CachedStatements implements SqliteDialectDatabase {
  readonly #db: SqliteDatabase.Database;
  readonly #max: number;
  readonly #cache = new Map<string, SqliteDatabase.Statement>();

  constructor(db: SqliteDatabase.Database, max = STATEMENT_CACHE_SIZE) {
    this.#db = db;
    this.#max = max;
  }

  prepare(sql: string): SqliteStatement {
    const cached = this.#cache.get(sql);
    if (cached) {
      if (cached.busy) return this.#db.prepare(sql);
      // Map order is insertion order: moving the hit to the end keeps the least recently used first.
      this.#cache.delete(sql);
      this.#cache.set(sql, cached);
      return cached;
    }
    const stmt = this.#db.prepare(sql);
    this.#cache.set(sql, stmt);
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

/**
 * The node's SQLite dialect for Kysely on the database file at `path`: WAL, `synchronous=FULL`, foreign keys, the
 * busy timeout, transactions that take the write lock up front, each SQL text prepared once.
 */
export function sqliteDialect(path: string, busyTimeoutMs: number): SqliteDialect {
  return new ImmediateSqliteDialect({ database: new CachedStatements(openSqlite(path, busyTimeoutMs)) });
}

function openSqlite(path: string, busyTimeoutMs: number): SqliteDatabase.Database {
  const db = new SqliteDatabase(path, { timeout: busyTimeoutMs });
  // WAL lets readers run beside the writer; synchronous=FULL fsyncs the WAL on every commit, so an accepted
  // message survives a power loss (https://www.sqlite.org/pragma.html#pragma_synchronous).
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
  db.pragma('foreign_keys = ON');
  return db;
}
