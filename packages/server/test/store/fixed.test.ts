import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { fixedStatement, insertRow, insertRows } from '../../src/store/index.ts';
import type { CoreTables } from '../../src/store/types.ts';
import { engines, type TestStore } from '../helpers/engines.ts';

const hash = (c: string) => `sha256:${c.repeat(64)}`;

for (const engine of engines()) {
  describe(`fixed statements on ${engine.name}`, { skip: engine.skip }, () => {
    let t: TestStore;
    let db: Kysely<CoreTables>;
    before(async () => {
      t = await engine.open();
      db = t.store.db as unknown as Kysely<CoreTables>;
    });
    after(async () => {
      await t?.cleanup();
    });

    it('runs with the values of each call, in the store and in its transactions, constants kept', async () => {
      const write = fixedStatement(['hash', 'size', 'now'], (d, p) =>
        (d as Kysely<CoreTables>)
          .insertInto('blobs')
          .values({ hash: p.hash, size: p.size, created_at: p.now })
          .onConflict((oc) => oc.column('hash').doUpdateSet({ created_at: p.now })),
      );
      const sizeOf = fixedStatement<'hash', { size: number }>(['hash'], (d, p) =>
        (d as Kysely<CoreTables>)
          .selectFrom('blobs')
          .select('size')
          .where('hash', '=', p.hash)
          .where('size', '>', 0),
      );
      assert.equal(await write.affected(db, { hash: hash('1'), size: 11, now: 1 }), 1);
      await t.store.transaction(async (trx) => {
        await write.run(trx, { hash: hash('2'), size: 22, now: 2 });
        assert.equal((await sizeOf.first(trx, { hash: hash('2') }))?.size, 22);
      });
      await write.run(db, { hash: hash('1'), size: 11, now: 3 });
      assert.equal((await sizeOf.first(db, { hash: hash('1') }))?.size, 11);
      assert.equal(await sizeOf.first(db, { hash: hash('3') }), undefined);
      const rows = await db.selectFrom('blobs').select(['hash', 'created_at']).orderBy('hash').execute();
      assert.deepEqual(rows, [
        { hash: hash('1'), created_at: 3 },
        { hash: hash('2'), created_at: 2 },
      ]);
      // A value that would end a string literal stays a value.
      const evil = `x'); delete from blobs; --`;
      assert.equal(await sizeOf.first(db, { hash: evil }), undefined);
      assert.equal((await db.selectFrom('blobs').select('hash').execute()).length, 2);
    });

    it('refuses a build that writes a placeholder into the SQL text, changes one, or leaves one unbound', async () => {
      const inText = fixedStatement(['hash'], (d, p) =>
        (d as Kysely<CoreTables>).selectFrom('blobs').select('size').where(sql.ref(p.hash), '=', 1),
      );
      await assert.rejects(inText.run(db, { hash: 'size' }), /placeholder was written into the SQL text/);
      const unused = fixedStatement(['hash', 'size'], (d, p) =>
        (d as Kysely<CoreTables>).selectFrom('blobs').select('size').where('hash', '=', p.hash),
      );
      await assert.rejects(unused.run(db, { hash: 'h', size: 1 }), /"size" is not bound/);
      // A placeholder changed by the build, even when it is also bound as it is elsewhere.
      for (const changed of [(h: string) => `%${h}`, (h: string) => `${h}%`]) {
        const like = fixedStatement(['hash'], (d, p) =>
          (d as Kysely<CoreTables>)
            .selectFrom('blobs')
            .select('size')
            .where('hash', 'like', changed(p.hash))
            .where('hash', '!=', p.hash),
        );
        await assert.rejects(like.run(db, { hash: 'zzz' }), /placeholder was changed by the build/);
      }
    });

    it('insertRows writes each row with its values, null included', async () => {
      await insertRows(
        db,
        'blobs',
        ['hash', 'size', 'created_at', 'content'],
        [
          { hash: hash('a'), size: 1, created_at: 7, content: null },
          { hash: hash('b'), size: 2, created_at: 8, content: Buffer.from('xy') },
        ],
      );
      const rows = await db
        .selectFrom('blobs')
        .select(['hash', 'size', 'created_at', 'content'])
        .where('hash', 'in', [hash('a'), hash('b')])
        .orderBy('hash')
        .execute();
      assert.deepEqual(
        rows.map((r) => [
          r.hash,
          r.size,
          r.created_at,
          r.content === null ? null : Buffer.from(r.content).toString(),
        ]),
        [
          [hash('a'), 1, 7, null],
          [hash('b'), 2, 8, 'xy'],
        ],
      );
    });

    it('insertRow refuses a value no driver binds as it is, and a name that is not plain, writing nothing', async () => {
      const refused = { code: 'EHMI_INTERNAL' };
      await assert.rejects(
        insertRow(db, 'blobs', { hash: hash('c'), size: sql`1`, created_at: 1, content: null }),
        refused,
      );
      await assert.rejects(
        insertRow(db, 'blobs', { hash: hash('c'), size: () => 1, created_at: 1, content: null }),
        refused,
      );
      await assert.rejects(
        insertRow(db, 'blobs', { hash: hash('c'), size: 1, created_at: 1, 'content") values (1); --': null }),
        refused,
      );
      await assert.rejects(insertRows(db, 'blobs"; --', ['hash'], [{ hash: hash('c') }]), refused);
      assert.equal(
        (await db.selectFrom('blobs').select('hash').where('hash', '=', hash('c')).execute()).length,
        0,
      );
    });
  });
}
