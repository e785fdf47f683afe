import assert from 'node:assert/strict';
import { readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openNodeStore } from '../../src/role-list.ts';
import {
  BlobStore,
  collectBlobGarbage,
  noteBlob,
  storeBlob,
  sweepUnnamedBlobs,
} from '../../src/store/index.ts';
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

    it('a small blob is kept in its row, collected with it when no row names it, kept when one does', async () => {
      const now = Date.now();
      await named('nothing');
      const orphan = await storeBlob(t.store, 'a receipt whose message crashed', { now: now - 2 * HOUR });
      const kept = await storeBlob(t.store, 'a receipt of a message', { now: now - 2 * HOUR });
      await named(kept.hash);
      for (const ref of [orphan, kept]) {
        const rows = await t.store.db
          .selectFrom('blobs')
          .select('content')
          .where('hash', '=', ref.hash)
          .execute();
        assert.ok(rows[0]?.content, 'in its row');
      }
      assert.equal(await collect(now), 1);
      assert.equal(await t.store.blobs.has(orphan.hash), false);
      assert.deepEqual(
        await t.store.db.selectFrom('blobs').select('hash').where('hash', '=', orphan.hash).execute(),
        [],
      );
      assert.equal((await t.store.blobs.read(kept)).toString(), 'a receipt of a message');
    });

    it('a crash between a small put and the commit naming it leaves no reference and a row the collector takes', async () => {
      const now = Date.now();
      await named('nothing');
      // The put committed its row; the transaction that would name it never commits (the process died in it).
      const ref = await t.store.blobs.put('put, then the process died', { now: now - 2 * HOUR });
      await assert.rejects(
        t.store.transaction(async (trx) => {
          await sql`insert into gc_test_refs (hash) values (${ref.hash})`.execute(trx);
          throw new Error('killed before the commit');
        }),
        /killed before the commit/,
      );
      const refs = await sql<{
        hash: string;
      }>`select hash from gc_test_refs where hash = ${ref.hash}`.execute(t.store.db);
      assert.deepEqual(refs.rows, [], 'no dangling reference');
      assert.equal(await t.store.blobs.has(ref.hash), true);
      assert.equal(await collect(now), 1);
      assert.equal(await t.store.blobs.has(ref.hash), false);
    });

    it('a small blob named by a commit is read by another opening of the same store', async () => {
      const ref = await t.store.blobs.put('a message accepted');
      await t.store.transaction(async (trx) => {
        await noteBlob(trx, t.store, ref, 'a message accepted');
        await sql`insert into gc_test_refs (hash) values (${ref.hash})`.execute(trx);
      });
      const other = await openNodeStore({ ...t.connection, busyTimeoutMs: 5000, poolSize: 2 });
      try {
        assert.equal((await other.blobs.read(ref)).toString(), 'a message accepted');
      } finally {
        await other.close();
      }
    });

    it('a write racing the collector finds the file gone and stores it again', async () => {
      const now = Date.now();
      // A file (over the rows' threshold): a small blob's put refreshes its row itself, so no collection can come
      // between its put and its note.
      const raced = 'raced'.repeat(20_000);
      const ref = await storeBlob(t.store, raced, { now: now - 2 * HOUR });
      // The collector removed row and file between the writer's put and its note: storeBlob sees it and puts again.
      let puts = 0;
      const source = () => {
        puts++;
        return raced;
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
      assert.equal((await t.store.blobs.read(ref)).toString(), raced);
    });

    describe('the sweep of files no row notes', () => {
      const sweep = (now: number, options: { limit?: number; from?: string } = {}) =>
        sweepUnnamedBlobs(t.store, { graceMs: HOUR, now, references, ...options });
      // A file put and never noted: the process stopped before the transaction that would have named it committed.
      // The same folder without a database: the sweep is of files (a small blob's row is the collector's).
      const files = () => new BlobStore(t.store.blobs.dir);
      const leftByCrash = async (content: string, modifiedAt: number) => {
        const ref = await files().put(content);
        await utimes(t.store.blobs.path(ref.hash), modifiedAt / 1000, modifiedAt / 1000);
        return ref;
      };

      it('removes an old file no row notes or names, keeps a fresh one, a noted one and a named one', async () => {
        const now = Date.now();
        await named('nothing');
        const orphan = await leftByCrash('put, then the process crashed', now - 2 * HOUR);
        const fresh = await leftByCrash('its transaction may still be running', now - 1000);
        const noted = await storeBlob(
          { db: t.store.db, blobs: files() },
          'noted, the row collector decides',
          { now },
        );
        await utimes(t.store.blobs.path(noted.hash), (now - 2 * HOUR) / 1000, (now - 2 * HOUR) / 1000);
        const namedOnly = await leftByCrash('named by a column, no blobs row', now - 2 * HOUR);
        await named(namedOnly.hash);
        const result = await sweep(now);
        assert.equal(result.removed, 1);
        assert.equal(await t.store.blobs.has(orphan.hash), false);
        for (const kept of [fresh, noted, namedOnly]) assert.equal(await t.store.blobs.has(kept.hash), true);
        const rows = await t.store.db
          .selectFrom('blobs')
          .select('hash')
          .where('hash', '=', orphan.hash)
          .execute();
        assert.deepEqual(rows, [], 'the sweep leaves no row behind');
      });

      it('a blob noted by its transaction before the sweep stays; one noted after is stored again', async () => {
        const now = Date.now();
        await named('nothing');
        const first = await leftByCrash('noted first', now - 2 * HOUR);
        await t.store.transaction(async (trx) => {
          await noteBlob(trx, t.store, first, 'noted first', now);
          await sql`insert into gc_test_refs (hash) values (${first.hash})`.execute(trx);
        });
        const second = await leftByCrash('swept first', now - 2 * HOUR);
        assert.equal((await sweep(now)).removed, 1);
        assert.equal(await t.store.blobs.has(first.hash), true);
        assert.equal(await t.store.blobs.has(second.hash), false);
        // The writer put the file before the sweep and notes it after: its check finds the file gone, stores it again.
        await t.store.transaction(async (trx) => {
          await noteBlob(trx, t.store, second, () => 'swept first', now);
          await sql`insert into gc_test_refs (hash) values (${second.hash})`.execute(trx);
        });
        assert.equal((await t.store.blobs.read(second)).toString(), 'swept first');
        await sweep(now + 3 * HOUR);
        assert.equal(await t.store.blobs.has(second.hash), true, 'noted and named: the sweep leaves it');
      });

      it('a file written again after the sweep chose it is left for its writer to note', async () => {
        const now = Date.now();
        const ref = await leftByCrash('written again meanwhile', now - 2 * HOUR);
        const original = t.store.transaction.bind(t.store);
        let raced = false;
        // Between the sweep's choice and its transaction, a put of the same content renames a fresh copy into place.
        t.store.transaction = (async (fn: Parameters<typeof original>[0]) => {
          if (!raced) {
            raced = true;
            await writeFile(t.store.blobs.path(ref.hash), 'written again meanwhile');
          }
          return original(fn);
        }) as typeof t.store.transaction;
        try {
          assert.equal((await sweep(now)).removed, 0);
        } finally {
          t.store.transaction = original;
        }
        assert.equal(await t.store.blobs.has(ref.hash), true);
      });

      it('removes temporary files a crashed write left, once old', async () => {
        const now = Date.now();
        const tmp = join(t.store.blobs.dir, 'tmp');
        await writeFile(join(tmp, 'crashed-put'), 'half of a payload');
        await utimes(join(tmp, 'crashed-put'), (now - 2 * HOUR) / 1000, (now - 2 * HOUR) / 1000);
        await writeFile(join(tmp, 'being-written'), 'a put in progress');
        assert.equal((await sweep(now)).removed, 1);
        assert.deepEqual((await readdir(tmp)).sort(), ['being-written']);
      });

      it('sweeps a large store over several runs, each bounded, going on where the last one stopped', async () => {
        const now = Date.now();
        const refs: { hash: string }[] = [];
        for (let i = 0; i < 6; i++) refs.push(await leftByCrash(`crash ${i}`, now - 2 * HOUR));
        const tops = [...new Set(refs.map((r) => r.hash.slice(7, 9)))].sort();
        assert.ok(tops.length >= 2, 'the contents spread over top folders');
        const run = await sweep(now, { limit: 1, from: tops[0]! });
        assert.ok(run.removed >= 1);
        assert.equal(run.next > tops[0]! || run.next < tops[0]!, true);
        const left = async () =>
          (await Promise.all(refs.map((r) => t.store.blobs.has(r.hash)))).filter(Boolean);
        assert.ok((await left()).length > 0, 'one run stops at its limit');
        let from = run.next;
        for (let i = 0; i < 256 && (await left()).length > 0; i++)
          from = (await sweep(now, { limit: 1, from })).next;
        assert.equal((await left()).length, 0);
      });
    });
  });
}
