import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { alongside, runAlongside } from '../src/contract.ts';
import { engines, type TestStore } from './helpers/engines.ts';

for (const engine of engines()) {
  describe(`a hand-over's two records on ${engine.name}`, { skip: engine.skip }, () => {
    let t: TestStore;
    let other: TestStore;
    before(async () => {
      t = await engine.open();
      other = await engine.open();
    });
    after(async () => {
      await t?.cleanup();
      await other?.cleanup();
    });

    // The caller's record: a row of the store's own `blobs` table stands in for a job's completion.
    const record = (hash: string) => ({ hash, size: 1, created_at: 0 });
    const recorded = async (store: TestStore, hash: string) =>
      (await store.store.db
        .selectFrom('blobs')
        .select('hash')
        .where('hash', '=', hash)
        .executeTakeFirst()) !== undefined;

    it("commits the caller's record in the callee's transaction when both are on one store", async () => {
      const part = alongside<string>(t.store.db, async (trx, result) => {
        await trx.insertInto('blobs').values(record(result)).execute();
      });
      await t.store.transaction(async (trx) => {
        await runAlongside(part, t.store.db, trx, 'caller-one-store');
        assert.equal(part.committed(), false);
      });
      assert.equal(part.committed(), true);
      assert.equal(await recorded(t, 'caller-one-store'), true);
    });

    it('leaves the record to the caller when the callee is on another store', async () => {
      const part = alongside(t.store.db, async (trx) => {
        await trx.insertInto('blobs').values(record('caller-other-store')).execute();
      });
      await other.store.transaction((trx) => runAlongside(part, other.store.db, trx, undefined));
      assert.equal(part.committed(), false);
      assert.equal(await recorded(other, 'caller-other-store'), false);
    });

    it("keeps nothing of the caller's record when the callee's transaction rolls back", async () => {
      const part = alongside(t.store.db, async (trx) => {
        await trx.insertInto('blobs').values(record('caller-rolled-back')).execute();
      });
      await assert.rejects(
        t.store.transaction(async (trx) => {
          await runAlongside(part, t.store.db, trx, undefined);
          throw new Error('the callee fails after the caller’s part');
        }),
        /the callee fails/,
      );
      assert.equal(part.committed(), false);
      assert.equal(await recorded(t, 'caller-rolled-back'), false);
    });
  });
}
