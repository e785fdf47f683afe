import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { openNodeStore } from '../../src/role-list.ts';
import { afterRollback } from '../../src/store/db.ts';
import {
  afterCommit,
  beforeCommit,
  insertAtCommit,
  onSavepointRollback,
  savepoint,
  writePending,
} from '../../src/store/index.ts';
import { storeMigrations } from '../../src/store/migrations.ts';
import { engines, type TestStore } from '../helpers/engines.ts';

for (const engine of engines()) {
  describe(`store on ${engine.name}`, { skip: engine.skip }, () => {
    let t: TestStore;
    before(async () => {
      t = await engine.open();
    });
    after(async () => {
      await t?.cleanup();
    });

    it('opens on the expected engine with the tables migrated', async () => {
      assert.equal(t.store.engine, engine.name);
      await t.store.ping();
      assert.deepEqual(await t.store.db.selectFrom('jobs').selectAll().execute(), []);
    });

    it('migrates once: opening the same database again applies nothing and keeps the data', async () => {
      await t.store.db
        .insertInto('blobs')
        .values({ hash: `sha256:${'a'.repeat(64)}`, size: 1, created_at: 1 })
        .execute();
      const again = await openNodeStore({ ...t.connection, dataDir: t.dataDir });
      try {
        const rows = await again.db.selectFrom('blobs').selectAll().execute();
        assert.equal(rows.length, 1);
        assert.equal(rows[0]?.created_at, 1, 'bigint columns come back as numbers');
      } finally {
        await again.close();
      }
    });

    it('0037_blobs_content down: refused while a row holds a small blob (its only copy), the column dropped when none does', async () => {
      const own = await engine.open();
      try {
        const db = own.store.db as unknown as Kysely<unknown>;
        const migration = storeMigrations['0037_blobs_content']!;
        const hasColumn = () =>
          sql`select content from blobs`.execute(db).then(
            () => true,
            () => false,
          );
        const ref = await own.store.blobs.put('a small blob, kept in its row');
        assert.ok(own.store.blobs.inRow(ref.size));
        await assert.rejects(migration.down!(db), /blobs\.content holds small blobs/);
        assert.ok(await hasColumn(), 'the column kept');
        assert.equal((await own.store.blobs.read(ref)).toString(), 'a small blob, kept in its row');
        // A row without content (a blob kept as a file) does not stop it.
        await own.store.db.updateTable('blobs').set({ content: null }).execute();
        await migration.down!(db);
        assert.equal(await hasColumn(), false, 'the column dropped');
        await migration.up(db);
        assert.ok(await hasColumn(), 'and made again by up');
      } finally {
        await own.cleanup();
      }
    });

    it('rolls a failed transaction back completely', async () => {
      const hash = `sha256:${'b'.repeat(64)}`;
      await assert.rejects(
        t.store.transaction(async (trx) => {
          await trx.insertInto('blobs').values({ hash, size: 1, created_at: 1 }).execute();
          throw new Error('abort');
        }),
      );
      assert.equal(
        await t.store.db.selectFrom('blobs').selectAll().where('hash', '=', hash).executeTakeFirst(),
        undefined,
      );
    });

    it('runs the before-commit hooks in the transaction, in order, after its work; one that fails rolls it back', async () => {
      const hash = (c: string) => `sha256:${c.repeat(64)}`;
      const order: string[] = [];
      await t.store.transaction(async (trx) => {
        assert.equal(
          beforeCommit(trx, async () => {
            order.push('first');
            // A hook may add another: it runs too, after it.
            beforeCommit(trx, async () => {
              order.push('added');
              await trx
                .insertInto('blobs')
                .values({ hash: hash('d'), size: 1, created_at: 1 })
                .execute();
            });
          }),
          true,
        );
        beforeCommit(trx, async () => order.push('second'));
        order.push('work');
      });
      assert.deepEqual(order, ['work', 'first', 'second', 'added']);
      assert.ok(
        await t.store.db.selectFrom('blobs').select('hash').where('hash', '=', hash('d')).executeTakeFirst(),
      );
      await assert.rejects(
        t.store.transaction(async (trx) => {
          await trx
            .insertInto('blobs')
            .values({ hash: hash('e'), size: 1, created_at: 1 })
            .execute();
          beforeCommit(trx, async () => {
            throw new Error('hook failed');
          });
        }),
        /hook failed/,
      );
      assert.equal(
        await t.store.db.selectFrom('blobs').select('hash').where('hash', '=', hash('e')).executeTakeFirst(),
        undefined,
      );
      assert.equal(
        beforeCommit(t.store.db, async () => {}),
        false,
        'not on the plain handle',
      );
    });

    it('a savepoint rolled back undoes its writes, its rows kept for the commit, its hooks and what it noted in memory; the transaction goes on', async () => {
      const hash = (c: string) => `sha256:${c.repeat(64)}`;
      const row = (c: string, size: number) => ({ hash: hash(c), size, created_at: 1 });
      const ran: string[] = [];
      const gathered: string[] = [];
      const results = await t.store.transaction(async (trx) => {
        insertAtCommit(trx, 'blobs', row('p', 1));
        afterCommit(trx, () => ran.push('committed before'));
        gathered.push('before');
        const failed = await savepoint(trx, async () => {
          await trx.insertInto('blobs').values(row('q', 2)).execute();
          insertAtCommit(trx, 'blobs', row('r', 3));
          // Rows kept before the savepoint, written early inside it: rolled back with it, kept for the commit again.
          await writePending(trx);
          beforeCommit(trx, async () => {
            await trx.insertInto('blobs').values(row('s', 4)).execute();
          });
          afterCommit(trx, () => ran.push('committed inside'));
          afterRollback(trx, async () => {
            ran.push('rolled back inside');
          });
          gathered.push('inside');
          onSavepointRollback(trx, () => gathered.pop());
          throw new Error('refused (test)');
        });
        const kept = await savepoint(trx, async () => {
          await trx.insertInto('blobs').values(row('t', 5)).execute();
          afterCommit(trx, () => ran.push('committed kept'));
          return 'kept';
        });
        return [failed, kept] as const;
      });
      assert.equal(results[0].ok, false);
      assert.match(String(!results[0].ok && (results[0].error as Error).message), /refused/);
      assert.deepEqual(results[1], { ok: true, value: 'kept' });
      const sizes = (
        await t.store.db
          .selectFrom('blobs')
          .select('size')
          .where('hash', 'in', ['p', 'q', 'r', 's', 't'].map(hash))
          .orderBy('size')
          .execute()
      ).map((r) => r.size);
      assert.deepEqual(
        sizes,
        [1, 5],
        'the row kept before it and the later savepoint’s, none of the rolled back one',
      );
      // Its rollback hooks run once the transaction ended (committed here); its commit hooks do not.
      assert.deepEqual(ran, ['committed before', 'rolled back inside', 'committed kept']);
      assert.deepEqual(gathered, ['before']);
    });

    it('savepoints nest under one name: an inner one rolled back keeps the outer one’s writes, an outer one rolled back undoes both; each statement is one SQL text', async () => {
      const hash = (c: string) => `sha256:${c.repeat(64)}`;
      const row = (c: string, size: number) => ({ hash: hash(c), size, created_at: 1 });
      const texts = new Set<string>();
      await t.store.transaction(async (trx) => {
        // What the savepoints send, seen on the transaction's executor (the one `sql…execute(trx)` goes through).
        const executor = trx.getExecutor();
        const run = executor.executeQuery.bind(executor);
        Object.assign(executor, {
          executeQuery: (q: Parameters<typeof run>[0]) => {
            if (/^\s*(savepoint|release|rollback to)\b/i.test(q.sql)) texts.add(q.sql);
            return run(q);
          },
        });
        const outer = await savepoint(trx, async () => {
          await trx.insertInto('blobs').values(row('u', 11)).execute();
          const inner = await savepoint(trx, async () => {
            await trx.insertInto('blobs').values(row('v', 12)).execute();
            throw new Error('inner refused (test)');
          });
          assert.equal(inner.ok, false);
          const kept = await savepoint(trx, async () => {
            await trx.insertInto('blobs').values(row('w', 13)).execute();
          });
          assert.equal(kept.ok, true);
        });
        assert.equal(outer.ok, true);
        const undone = await savepoint(trx, async () => {
          await trx.insertInto('blobs').values(row('x', 14)).execute();
          const inner = await savepoint(trx, async () => {
            await trx.insertInto('blobs').values(row('y', 15)).execute();
          });
          assert.equal(inner.ok, true);
          throw new Error('outer refused (test)');
        });
        assert.equal(undone.ok, false);
      });
      const sizes = (
        await t.store.db
          .selectFrom('blobs')
          .select('size')
          .where('hash', 'in', ['u', 'v', 'w', 'x', 'y'].map(hash))
          .orderBy('size')
          .execute()
      ).map((r) => r.size);
      assert.deepEqual(sizes, [11, 13]);
      // Five savepoints, one text each for savepoint, release and rollback to: no one-off statements per savepoint.
      assert.equal(texts.size, 3, [...texts].join(' | '));
    });

    it('the rollback hooks of a savepoint rolled back in a transaction that commits have run when the transaction resolves', async () => {
      const hash = (c: string) => `sha256:${c.repeat(64)}`;
      const ran: string[] = [];
      await t.store.transaction(async (trx) => {
        await savepoint(trx, async () => {
          afterRollback(trx, async () => {
            // Statements on the plain handle (the transaction is gone), as the blob store's hooks do.
            await t.store.db.selectFrom('blobs').select('hash').where('hash', '=', hash('z')).execute();
            await t.store.db.selectFrom('blobs').select('hash').where('hash', '=', hash('z')).execute();
            ran.push('rolled back');
          });
          throw new Error('refused (test)');
        });
      });
      assert.deepEqual(ran, ['rolled back']);
    });

    it('writes the rows kept for the commit in one INSERT, after the before-commit hooks, and none on a rollback', async () => {
      const hash = (c: string) => `sha256:${c.repeat(64)}`;
      const seen = (trx: typeof t.store.db, c: string) =>
        trx.selectFrom('blobs').select('hash').where('hash', '=', hash(c)).executeTakeFirst();
      await t.store.transaction(async (trx) => {
        assert.equal(insertAtCommit(trx, 'blobs', { hash: hash('1'), size: 1, created_at: 1 }), true);
        assert.equal(await seen(trx, '1'), undefined, 'kept for the commit, not written yet');
        // A hook's row joins the others in the same statement.
        beforeCommit(trx, async () => {
          insertAtCommit(trx, 'blobs', { hash: hash('2'), size: 2, created_at: 1 });
        });
        insertAtCommit(trx, 'blobs', { hash: hash('3'), size: 3, created_at: 1 });
      });
      const rows = await t.store.db
        .selectFrom('blobs')
        .select(['hash', 'size'])
        .where('hash', 'in', [hash('1'), hash('2'), hash('3')])
        .orderBy('size')
        .execute();
      assert.deepEqual(
        rows.map((r) => r.size),
        [1, 2, 3],
      );
      if (engine.name === 'postgres') {
        // cmin: the command of its transaction that inserted the row. One statement wrote all three.
        const { rows: cmins } = await sql<{
          cmin: string;
        }>`select cmin::text as cmin from blobs where hash in (${hash(
          '1',
        )}, ${hash('2')}, ${hash('3')})`.execute(t.store.db);
        assert.equal(new Set(cmins.map((r) => r.cmin)).size, 1, 'one INSERT');
      }
      // writePending: written now, so the transaction's own reads see it.
      await t.store.transaction(async (trx) => {
        insertAtCommit(trx, 'blobs', { hash: hash('4'), size: 4, created_at: 1 });
        await writePending(trx);
        assert.ok(await seen(trx, '4'));
      });
      // A kept row that cannot be written (its key is taken) rolls the whole transaction back at its commit.
      await assert.rejects(
        t.store.transaction(async (trx) => {
          await trx
            .insertInto('blobs')
            .values({ hash: hash('5'), size: 5, created_at: 1 })
            .execute();
          insertAtCommit(trx, 'blobs', { hash: hash('1'), size: 1, created_at: 1 });
        }),
      );
      assert.equal(await seen(t.store.db, '5'), undefined);
      // A rollback writes nothing kept.
      await assert.rejects(
        t.store.transaction(async (trx) => {
          insertAtCommit(trx, 'blobs', { hash: hash('6'), size: 6, created_at: 1 });
          throw new Error('abort');
        }),
        /abort/,
      );
      assert.equal(await seen(t.store.db, '6'), undefined);
      assert.equal(
        insertAtCommit(t.store.db, 'blobs', { hash: hash('7'), size: 7, created_at: 1 }),
        false,
        'not on the plain handle',
      );
    });

    if (engine.name === 'sqlite') {
      it('runs SQLite in WAL mode with synchronous=NORMAL (its commits made durable by the barrier)', async () => {
        const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(t.store.db);
        const sync = await sql<{ synchronous: number }>`pragma synchronous`.execute(t.store.db);
        assert.equal(mode.rows[0]?.journal_mode, 'wal');
        assert.equal(sync.rows[0]?.synchronous, 1, '1 = NORMAL');
      });
    } else {
      it('keeps this node in its own PostgreSQL schema', async () => {
        const r = await sql<{ s: string }>`select current_schema() as s`.execute(t.store.db);
        assert.equal(r.rows[0]?.s, t.connection.schema);
      });

      it('migrates a new schema while another schema holds a migration lock: each schema has its own', {
        timeout: 120_000,
      }, async () => {
        // The lock Kysely's migrator takes for any schema of the database (another tool's or an older node's).
        const admin = new pg.Client({ connectionString: t.connection.databaseUrl });
        await admin.connect();
        const schema = `${t.connection.schema}_b`;
        try {
          await admin.query('select pg_advisory_lock(3853314791062309107)');
          const other = await openNodeStore({ ...t.connection, schema });
          try {
            await other.ping();
            assert.deepEqual(await other.db.selectFrom('jobs').selectAll().execute(), []);
          } finally {
            await other.close();
          }
        } finally {
          await admin.query(`drop schema if exists "${schema}" cascade`).catch(() => {});
          await admin.end();
        }
      });

      it("introspects its own schema's tables, with their columns, and no other schema's", async () => {
        const tables = await t.store.db.introspection.getTables();
        assert.ok(tables.length > 10);
        assert.ok(tables.every((table) => table.schema === t.connection.schema));
        const jobs = tables.find((table) => table.name === 'jobs');
        assert.ok(jobs);
        const runAt = jobs.columns.find((c) => c.name === 'run_at');
        assert.deepEqual(
          [runAt?.dataType, runAt?.isNullable],
          ['int8', false],
          'run_at is a bigint, not null',
        );
        assert.equal(jobs.columns.find((c) => c.name === 'lease_until')?.isNullable, true);
        assert.ok(!tables.some((table) => table.name === 'kysely_migration'));
        const withKysely = await t.store.db.introspection.getTables({ withInternalKyselyTables: true });
        assert.ok(withKysely.some((table) => table.name === 'kysely_migration'));
      });

      it('a connection the server ends mid-transaction fails that transaction only: the process and the store carry on', async () => {
        const admin = new pg.Client({ connectionString: t.connection.databaseUrl });
        await admin.connect();
        try {
          await assert.rejects(
            t.store.transaction(async (trx) => {
              const me = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
              await admin.query('select pg_terminate_backend($1)', [me.rows[0]!.pid]);
              // The server's FATAL reaches the client as an 'error' event; without a listener it ends the process.
              await sql`select 1`.execute(trx);
            }),
          );
          await t.store.ping();
        } finally {
          await admin.end();
        }
      });
    }
  });
}
