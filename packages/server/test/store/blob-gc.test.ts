import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { collectBlobGarbage, noteBlob, storeBlob } from '../../src/store/index.ts';
import { engines, type TestStore } from '../helpers/engines.ts';

const HOUR = 3_600_000;

for (const engine of engines()) {
  describe(`blob garbage collection on ${engine.name}`, { skip: engine.skip }, () => {
    let t: TestStore;
    before(async () => {
      t = await engine.open();
    });
    after(async () => {
      await t?.cleanup();
    });

    // A role's column that names blobs (roles declare theirs in their tables.ts; here a table of the test's own).
    const references = [['gc_test_refs', 'hash']] as const;
    const named = async (hash: string) => {
      await sql`create table if not exists gc_test_refs (hash text not null)`.execute(t.store.db);
      await sql`insert into gc_test_refs (hash) values (${hash})`.execute(t.store.db);
    };
    const collect = (now: number) => collectBlobGarbage(t.store, { graceMs: HOUR, now, references });

    it('removes an old blob no row names (its transaction rolled back), keeps a named one and a fresh one', async () => {
      const now = Date.now();
      const orphan = await storeBlob(t.store, 'rolled back', { now: now - 2 * HOUR });
      const kept = await storeBlob(t.store, 'named by the access point', { now: now - 2 * HOUR });
      await named(kept.hash);
      const fresh = await storeBlob(t.store, 'its transaction may still be running', { now });
      assert.equal(await collect(now), 1);
      assert.equal(await t.store.blobs.has(orphan.hash), false);
      assert.equal(await t.store.blobs.has(kept.hash), true);
      assert.equal(await t.store.blobs.has(fresh.hash), true);
      const rows = await t.store.db
        .selectFrom('blobs')
        .select('hash')
        .where('hash', '=', orphan.hash)
        .execute();
      assert.deepEqual(rows, []);
    });

    it('a write of the same content again refreshes the blob, so the collector keeps it', async () => {
      const now = Date.now();
      await named('nothing');
      const first = await storeBlob(t.store, 'written twice', { now: now - 2 * HOUR });
      await storeBlob(t.store, 'written twice', { now });
      assert.equal(await collect(now), 0);
      assert.equal(await t.store.blobs.has(first.hash), true);
    });

    it('a blob noted in the transaction that names it commits with it, or is noted on its own when that rolls back', async () => {
      const now = Date.now();
      await named('nothing');
      const kept = await t.store.blobs.put('named in its transaction');
      await t.store.transaction(async (trx) => {
        await noteBlob(trx, t.store, kept, 'named in its transaction', now - 2 * HOUR);
        await sql`insert into gc_test_refs (hash) values (${kept.hash})`.execute(trx);
      });
      const orphan = await t.store.blobs.put('its transaction rolled back');
      await assert.rejects(
        t.store.transaction(async (trx) => {
          await noteBlob(trx, t.store, orphan, 'its transaction rolled back', now - 2 * HOUR);
          throw new Error('the transaction fails after the note');
        }),
        /fails after the note/,
      );
      const rows = await t.store.db
        .selectFrom('blobs')
        .select('hash')
        .where('hash', 'in', [kept.hash, orphan.hash])
        .execute();
      assert.equal(rows.length, 2);
      assert.equal(await collect(now), 1);
      assert.equal(await t.store.blobs.has(kept.hash), true);
      assert.equal(await t.store.blobs.has(orphan.hash), false);
    });

    it('a blob collected between its put and the transaction that names it is stored again there', async () => {
      const now = Date.now();
      await named('nothing');
      const ref = await storeBlob(t.store, 'collected meanwhile', { now: now - 2 * HOUR });
      assert.equal(await collect(now), 1);
      assert.equal(await t.store.blobs.has(ref.hash), false);
      await t.store.transaction(async (trx) => {
        await noteBlob(trx, t.store, ref, () => 'collected meanwhile', now);
        await sql`insert into gc_test_refs (hash) values (${ref.hash})`.execute(trx);
      });
      assert.equal((await t.store.blobs.read(ref)).toString(), 'collected meanwhile');
      await collect(now + 2 * HOUR);
      assert.equal(await t.store.blobs.has(ref.hash), true);
    });

    it('a write racing the collector finds the file gone and stores it again', async () => {
      const now = Date.now();
      const ref = await storeBlob(t.store, 'raced', { now: now - 2 * HOUR });
      // The collector removed row and file between the writer's put and its note: storeBlob sees it and puts again.
      let puts = 0;
      const source = () => {
        puts++;
        return 'raced';
      };
      const original = t.store.blobs.put.bind(t.store.blobs);
      t.store.blobs.put = async (content, options) => {
        const r = await original(content, options);
        if (puts === 1) await collect(now);
        return r;
      };
      try {
        const again = await storeBlob(t.store, source);
        assert.equal(again.hash, ref.hash);
      } finally {
        t.store.blobs.put = original;
      }
      assert.equal(puts, 2);
      assert.equal(await t.store.blobs.has(ref.hash), true);
      assert.equal((await t.store.blobs.read(ref)).toString(), 'raced');
    });
  });
}
