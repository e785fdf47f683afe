import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { CachedStatements } from '../../src/store/sqlite.ts';

interface Tables {
  t: { id: number; v: string };
}

function open(max?: number) {
  const raw = new SqliteDatabase(':memory:');
  let prepares = 0;
  const prepare = raw.prepare.bind(raw);
  raw.prepare = ((text: string) => {
    prepares++;
    return prepare(text);
  }) as typeof raw.prepare;
  const cache = new CachedStatements(raw, max);
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: cache }) });
  return { db, cache, prepares: () => prepares };
}

describe('SQLite statements prepared once', () => {
  it('prepares a SQL text once and binds its parameters afresh on each run', async () => {
    const { db, prepares } = open();
    await sql`create table t (id integer primary key, v text not null)`.execute(db);
    const before = prepares();
    for (let i = 1; i <= 5; i++)
      await db
        .insertInto('t')
        .values({ id: i, v: `v${i}` })
        .execute();
    for (let i = 1; i <= 5; i++) {
      const row = await db.selectFrom('t').selectAll().where('id', '=', i).executeTakeFirstOrThrow();
      assert.deepEqual(row, { id: i, v: `v${i}` });
    }
    assert.equal(prepares() - before, 2);
    await db.destroy();
  });

  it('gives a statement still busy in an iteration to no one else, and the kept one again once it is reset', async () => {
    const { db, cache } = open();
    await sql`create table t (id integer primary key, v text not null)`.execute(db);
    await db
      .insertInto('t')
      .values([1, 2, 3].map((id) => ({ id, v: `v${id}` })))
      .execute();
    const text = 'select id from t order by id';
    const first = cache.prepare(text);
    const iter = first.iterate([]);
    assert.deepEqual(iter.next().value, { id: 1 });
    // Kysely holds SQLite's one connection for a stream, so only a caller of the connection itself sees this.
    const second = cache.prepare(text);
    assert.notEqual(second, first);
    assert.deepEqual(second.all([]), [{ id: 1 }, { id: 2 }, { id: 3 }]);
    iter.return?.();
    assert.equal(cache.prepare(text), first);
    assert.deepEqual(
      (await db.selectFrom('t').select('id').orderBy('id').execute()).map((r) => r.id),
      [1, 2, 3],
    );
    // A stream left early resets its statement, which then serves the next query again.
    for await (const row of db.selectFrom('t').select('id').orderBy('id').stream()) {
      assert.equal(row.id, 1);
      break;
    }
    assert.equal((await db.selectFrom('t').select('id').orderBy('id').execute()).length, 3);
    await db.destroy();
  });

  it('keeps at most its bound of statements, the least recently used out first', async () => {
    const { db, cache, prepares } = open(3);
    await sql`create table t (id integer primary key, v text not null)`.execute(db);
    const byIds = (n: number) =>
      db
        .selectFrom('t')
        .select('id')
        .where(
          'id',
          'in',
          Array.from({ length: n }, (_, i) => i),
        )
        .execute();
    await byIds(1);
    await byIds(2);
    await byIds(3);
    assert.equal(cache.size, 3);
    const before = prepares();
    await byIds(1); // a hit: now the most recently used
    await byIds(4); // evicts the least recently used (the create table's text)
    await byIds(5); // evicts byIds(2)
    assert.equal(cache.size, 3);
    await byIds(1);
    assert.equal(prepares() - before, 2);
    await byIds(2);
    assert.equal(prepares() - before, 3);
    await db.destroy();
  });

  it('a statement of a rolled-back transaction runs again after it', async () => {
    const { db } = open();
    await sql`create table t (id integer primary key, v text not null)`.execute(db);
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ id: 1, v: 'a' }).execute();
        await trx.insertInto('t').values({ id: 1, v: 'a' }).execute();
      }),
      /UNIQUE/,
    );
    await db.insertInto('t').values({ id: 1, v: 'a' }).execute();
    assert.equal((await db.selectFrom('t').selectAll().execute()).length, 1);
    await db.destroy();
  });
});
