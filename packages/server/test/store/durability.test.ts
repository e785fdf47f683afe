// The SQLite store's durability barrier (docs/architecture.md "Durability"): commits without an fsync, and one fsync
// of the WAL, off the event loop, shared by every caller that waits while it runs.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import { commitsDurable, durableCommits, type WalBarrier } from '../../src/store/index.ts';
import { holdSyncs } from '../helpers/durability.ts';
import { engines, type TestStore } from '../helpers/engines.ts';

const sqlite = engines().find((e) => e.name === 'sqlite')!;

describe('the SQLite durability barrier', () => {
  let t: TestStore;
  let wal: WalBarrier;
  const insert = (n: number) =>
    t.store.db
      .insertInto('blobs')
      .values({ hash: `sha256:${n.toString(16).padStart(64, '0')}`, size: n, created_at: n })
      .execute();
  beforeEach(async () => {
    t = await sqlite.open();
    wal = t.store.wal!;
    await t.store.durable();
  });
  afterEach(async () => {
    wal.faults = undefined;
    await t.cleanup();
  });

  it('resolves at once, with no sync, when nothing was committed since the last one', async () => {
    const before = wal.syncs;
    await sql`select 1`.execute(t.store.db);
    await t.store.db.selectFrom('jobs').selectAll().execute();
    assert.equal(wal.pending, false, 'reads are not commits');
    await t.store.durable();
    await durableCommits();
    assert.equal(wal.syncs, before);
  });

  it('a commit, autocommitted or in a transaction, is pending until one sync makes it durable', async () => {
    await insert(1);
    assert.equal(wal.pending, true);
    assert.equal(commitsDurable(), false);
    const before = wal.syncs;
    await t.store.durable();
    assert.equal(wal.syncs, before + 1);
    assert.equal(wal.pending, false);
    await t.store.transaction(async (trx) => {
      await trx
        .insertInto('blobs')
        .values({ hash: `sha256:${'b'.repeat(64)}`, size: 1, created_at: 1 })
        .execute();
    });
    assert.equal(wal.pending, true);
    await durableCommits();
    assert.equal(wal.syncs, before + 2);
  });

  it('many commits waiting together share one sync; those made while it runs wait for the next one', async () => {
    const events: string[] = [];
    const hold = holdSyncs(wal, events);
    const before = wal.syncs;
    await insert(1);
    const first = t.store.durable().then(() => events.push('first durable'));
    await hold.held();
    // Twenty commits while the first sync runs: it began before them, so none of them may count on it.
    const later: Promise<unknown>[] = [];
    for (let i = 2; i < 22; i++) {
      await insert(i);
      later.push(t.store.durable().then(() => events.push(`durable ${i}`)));
    }
    hold.release();
    await first;
    await hold.held();
    assert.deepEqual(
      events,
      ['sync', 'released', 'first durable', 'sync'],
      'the later commits wait for a second sync',
    );
    hold.release();
    await Promise.all(later);
    assert.equal(wal.syncs, before + 2, 'two syncs for twenty-one commits');
    assert.equal(events.filter((e) => e === 'sync').length, 2);
    hold.free();
  });

  it('a sync that fails fails the store for good: later commits are never called durable, and the health check says so', async () => {
    wal.faults = {
      beforeSync: () => {
        throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
      },
    };
    await insert(1);
    await assert.rejects(t.store.durable(), { code: 'EHMI_STORE_UNAVAILABLE' });
    wal.faults = undefined;
    await insert(2);
    await assert.rejects(t.store.durable(), { code: 'EHMI_STORE_UNAVAILABLE' });
    await assert.rejects(durableCommits(), { code: 'EHMI_STORE_UNAVAILABLE' });
    await assert.rejects(t.store.ping(), { code: 'EHMI_STORE_UNAVAILABLE' });
  });

  it('closing the store syncs what is pending and leaves the process-wide barrier', async () => {
    const other = await sqlite.open();
    try {
      const otherWal = other.store.wal!;
      await other.store.db
        .insertInto('blobs')
        .values({ hash: `sha256:${'c'.repeat(64)}`, size: 1, created_at: 1 })
        .execute();
      const before = otherWal.syncs;
      await other.store.close();
      assert.equal(otherWal.syncs, before + 1);
      assert.equal(commitsDurable(), !wal.pending);
    } finally {
      await other.cleanup().catch(() => {});
    }
  });
});

for (const engine of engines()) {
  if (engine.name !== 'postgres') continue;
  describe('PostgreSQL: commits are durable when they return', { skip: engine.skip }, () => {
    it('has no barrier and durable() resolves at once', async () => {
      const t = await engine.open();
      try {
        assert.equal(t.store.wal, undefined);
        await t.store.durable();
      } finally {
        await t.cleanup();
      }
    });
  });
}
