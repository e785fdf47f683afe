import { EhmiError } from '@ehmi/errors';
import { type Compilable, CompiledQuery, PostgresAdapter, type QueryResult } from 'kysely';
import type { AnyDb } from './types.ts';

/**
 * A statement of fixed shape, built with Kysely's builder once per database dialect and then run with new values:
 * the hot statements of the message path, where building and compiling the same query again for every message was
 * a few per cent of a node's CPU (DESIGN-NOTES "Fixed statements built once").
 *
 * `build` writes the query with a placeholder for each value (`p.name`); it is called once per dialect (SQLite or
 * PostgreSQL), so it must not read anything else that varies (a constant such as a status name may be written as
 * itself). Every placeholder must end up as a bound parameter, as it is, never in the SQL text nor changed (`'%' + p.x`):
 * building fails otherwise, as it does for a name never used. Values are always bound by the driver, as Kysely binds them.
 */
export interface FixedStatement<P extends string, R> {
  /**
   * Run with `values` in `db`: the store's handle or a transaction of it, never one made by `withSchema` or
   * `withPlugin` (the SQL is kept per dialect's adapter, which such a handle shares; the store sets its schema by
   * the connection's search_path).
   */
  run(db: AnyDb, values: Readonly<Record<P, unknown>>): Promise<QueryResult<R>>;
  /** The first row, or undefined. */
  first(db: AnyDb, values: Readonly<Record<P, unknown>>): Promise<R | undefined>;
  /** Rows written or changed (INSERT, UPDATE, DELETE without RETURNING). */
  affected(db: AnyDb, values: Readonly<Record<P, unknown>>): Promise<number>;
}

interface Compiled {
  sql: string;
  /** For each bound parameter: the placeholder's name, or the constant the build wrote. */
  params: ({ name: string } | { constant: unknown })[];
}

const MARK = '\u0000ehmi-fixed:';

export function fixedStatement<P extends string, R = unknown>(
  names: readonly P[],
  // biome-ignore lint/suspicious/noExplicitAny: the build names the tables of whichever role's store runs it
  build: (db: AnyDb, p: Readonly<Record<P, any>>) => Compilable<R>,
): FixedStatement<P, R> {
  // By the executor's adapter: one per dialect of a store, shared by its transactions.
  const compiled = new WeakMap<object, Compiled>();
  const compile = (db: AnyDb): Compiled => {
    const adapter = db.getExecutor().adapter;
    let c = compiled.get(adapter);
    if (c) return c;
    const p = Object.fromEntries(names.map((n) => [n, `${MARK}${n}`])) as Record<P, string>;
    const query = build(db, p).compile();
    if (query.sql.includes(MARK)) throw fixedError(query.sql, 'a placeholder was written into the SQL text');
    const params = query.parameters.map((v) => {
      if (typeof v !== 'string' || !v.includes(MARK)) return { constant: v };
      // A placeholder the build changed (`'%' + p.x`, `p.x + '%'`) would be bound as that text forever.
      const name = v.slice(MARK.length);
      if (!v.startsWith(MARK) || !(names as readonly string[]).includes(name))
        throw fixedError(query.sql, `a placeholder was changed by the build (${JSON.stringify(v)})`);
      return { name };
    });
    for (const n of names) {
      if (!params.some((x) => 'name' in x && x.name === n))
        throw fixedError(query.sql, `"${n}" is not bound`);
    }
    c = { sql: query.sql, params };
    compiled.set(adapter, c);
    return c;
  };
  const run = async (db: AnyDb, values: Readonly<Record<P, unknown>>): Promise<QueryResult<R>> => {
    const c = compile(db);
    const parameters = c.params.map((x) => ('name' in x ? values[x.name as P] : x.constant));
    return db.executeQuery<R>(CompiledQuery.raw(c.sql, parameters));
  };
  return {
    run,
    first: async (db, values) => (await run(db, values)).rows[0],
    affected: async (db, values) => Number((await run(db, values)).numAffectedRows ?? 0),
  };
}

function fixedError(sql: string, why: string): EhmiError {
  return new EhmiError('EHMI_INTERNAL', `fixed statement: ${why}: ${sql}`);
}

/**
 * A value Kysely binds as it is, as a parameter: not undefined (left out), not an expression of Kysely's (written
 * into the SQL), not a function (an expression factory). A Date is bound as it is by Kysely too.
 */
export function boundAsIs(v: unknown): boolean {
  return (
    v === null ||
    (typeof v !== 'undefined' && typeof v !== 'object' && typeof v !== 'function') ||
    v instanceof Uint8Array ||
    v instanceof Date
  );
}

/** A table's or column's name as the store's migrations write them: written into the SQL as it is. */
const PLAIN_NAME = /^[a-z_][a-z0-9_]*$/;

/** The SQL of an INSERT of `count` rows into `table`, by engine (placeholders `?` on SQLite, `$n` on PostgreSQL). */
const insertTexts = new Map<string, string>();

function insertText(table: string, columns: readonly string[], count: number, postgres: boolean): string {
  const key = `${postgres ? 'pg' : 'sqlite'} ${table} ${columns.join(',')} ${count}`;
  let text = insertTexts.get(key);
  if (text === undefined) {
    for (const name of [table, ...columns])
      if (!PLAIN_NAME.test(name)) throw fixedError(name, 'a table or column name that is not plain');
    const tuples: string[] = [];
    for (let r = 0; r < count; r++) {
      const marks = columns.map((_, c) => (postgres ? `$${r * columns.length + c + 1}` : '?'));
      tuples.push(`(${marks.join(', ')})`);
    }
    text = `insert into "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) values ${tuples.join(', ')}`;
    insertTexts.set(key, text);
  }
  return text;
}

/**
 * Insert `rows` (each with a value, null included, for every one of `columns`) into `table` in one statement whose
 * SQL is written once per table, columns, row count and engine, the values bound: Kysely's building and compiling
 * of each value was a sizeable part of the CPU of the multi-row inserts (the central node's EDS ingest, the
 * transactions' deferred inserts). Keep `rows` far below either engine's limit on bound parameters (PostgreSQL
 * 65,535; SQLite 32,766).
 */
export async function insertRows<R extends object>(
  db: AnyDb,
  table: string,
  columns: readonly (keyof R & string)[],
  rows: readonly R[],
): Promise<void> {
  if (rows.length === 0) return;
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const parameters: unknown[] = [];
  for (const row of rows) for (const c of columns) parameters.push(row[c]);
  await db.executeQuery(CompiledQuery.raw(insertText(table, columns, rows.length, postgres), parameters));
}

/**
 * Insert one row into `table` as Kysely's `insertInto(table).values(row)` would (a column whose value is undefined is
 * left out), with the SQL written once per table, column list and engine ({@link insertRows}): for the whole rows the
 * message path inserts (a message, a submission, an inbox item), where building and compiling them was most of the
 * statement's cost.
 */
export async function insertRow<R extends object>(db: AnyDb, table: string, row: R): Promise<void> {
  const columns = (Object.keys(row) as (keyof R & string)[]).filter((c) => row[c] !== undefined);
  for (const c of columns)
    if (!boundAsIs(row[c])) throw fixedError(table, `the value of ${c} is not one a driver binds as it is`);
  await insertRows(db, table, columns, [row]);
}

/**
 * The columns of a table's row type `T`, each named once: fails to compile when one is missing (a fixed INSERT of
 * whole rows would leave its value out). `columnsOf<Table>()(['a', 'b'])`.
 */
export function columnsOf<T>() {
  return <const C extends readonly (keyof T & string)[]>(
    columns: C &
      ([Exclude<keyof T, C[number]>] extends [never] ? unknown : { missing: Exclude<keyof T, C[number]> }),
  ): C => columns;
}
