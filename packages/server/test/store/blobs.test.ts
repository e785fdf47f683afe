import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import { BlobStore, noteBlob, ROW_BLOB_BYTES, recordBlob } from '../../src/store/index.ts';
import { engines, type TestStore } from '../helpers/engines.ts';

const isCode = (code: string) => (err: unknown) => err instanceof EhmiError && err.code === code;

// The blob store is on disk whatever the engine; the sqlite case suffices for it.
const [sqlite] = engines();

describe('blob store', () => {
  let t: TestStore;
  /** The same folder without a database: every blob a file (the file mechanics below). */
  let files: BlobStore;
  before(async () => {
    t = await sqlite!.open();
    files = new BlobStore(t.store.blobs.dir);
  });
  after(async () => {
    await t?.cleanup();
  });

  it('stores content under its SHA-256 and reads it back', async () => {
    const ref = await t.store.blobs.put('hello EHMI');
    assert.equal(ref.hash, `sha256:${createHash('sha256').update('hello EHMI').digest('hex')}`);
    assert.equal(ref.size, 10);
    assert.equal((await t.store.blobs.read(ref)).toString(), 'hello EHMI');
  });

  it('streams a large payload in and out without holding it whole', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const hash = createHash('sha256');
    async function* source() {
      for (let i = 0; i < 24; i++) {
        hash.update(chunk);
        yield chunk;
      }
    }
    const ref = await t.store.blobs.put(Readable.from(source()));
    assert.equal(ref.size, 24 * 1024 * 1024);
    assert.equal(ref.hash, `sha256:${hash.digest('hex')}`);
    let size = 0;
    for await (const c of t.store.blobs.open(ref)) size += (c as Buffer).length;
    assert.equal(size, ref.size);
  });

  it('stores the same content once', async () => {
    const a = await t.store.blobs.put('same');
    const b = await t.store.blobs.put(Buffer.from('same'));
    assert.deepEqual(a, b);
  });

  it('writes content it holds already no second time, and content damaged on disk again', async () => {
    const ref = await files.put('held once');
    const path = files.path(ref.hash);
    const before = (await stat(path)).ino;
    assert.deepEqual(await files.put('held once'), ref);
    assert.equal((await stat(path)).ino, before);
    await writeFile(path, 'HELD ONCE');
    assert.deepEqual(await files.put(Buffer.from('held once')), ref);
    assert.equal((await files.read(ref)).toString(), 'held once');
  });

  it('makes its fan-out folders once, and again when one was removed meanwhile', async () => {
    assert.equal((await readdir(join(files.dir, 'sha256'))).length, 256);
    const ref = await files.put('its folder goes');
    await files.delete(ref.hash);
    await rm(dirname(files.path(ref.hash)), { recursive: true });
    assert.deepEqual(await files.put('its folder goes'), ref);
    assert.equal((await files.read(ref)).toString(), 'its folder goes');
    const w = files.writer();
    w.writable.end('placed after its folder went');
    await new Promise((resolve) => w.writable.once('finish', resolve));
    const target = dirname(
      files.path(`sha256:${createHash('sha256').update('placed after its folder went').digest('hex')}`),
    );
    await rm(target, { recursive: true, force: true });
    const placed = await w.place();
    await w.discard();
    assert.equal((await files.read(placed)).toString(), 'placed after its folder went');
  });

  it('fails a read whose bytes on disk no longer match the hash', async () => {
    const ref = await files.put('original content');
    await writeFile(files.path(ref.hash), 'tampered content');
    await assert.rejects(files.read(ref), isCode('EHMI_BLOB_CORRUPT'));
  });

  it('refuses content over the size limit and leaves no file behind', async () => {
    await assert.rejects(files.put('x'.repeat(101), { maxBytes: 100 }), isCode('EHMI_TOO_LARGE'));
    assert.deepEqual(await readdir(join(files.dir, 'tmp')), []);
  });

  it('reports a missing blob as not found', async () => {
    await assert.rejects(t.store.blobs.read(`sha256:${'0'.repeat(64)}`), isCode('EHMI_BLOB_NOT_FOUND'));
    assert.throws(() => t.store.blobs.path('md5:abc'), isCode('EHMI_BLOB_NOT_FOUND'));
  });

  it('records a blob row idempotently in a transaction', async () => {
    const ref = await t.store.blobs.put('recorded');
    await t.store.transaction(async (trx) => {
      await recordBlob(trx, ref);
      await recordBlob(trx, ref);
    });
    const rows = await t.store.db.selectFrom('blobs').selectAll().where('hash', '=', ref.hash).execute();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.size, ref.size);
  });

  it('a writer with memory gathers small content, writes it once, renames it into place and reads it back', async () => {
    let writes = 0;
    files.faults = {
      beforeWrite: (area) => {
        if (area === 'blobs') writes++;
      },
    };
    try {
      let taken = 0;
      const lease = {
        take: (octets: number) => {
          taken += octets;
        },
      };
      const w = files.writer({ memory: { lease, bytes: 1024 } });
      for (const part of ['gathered ', 'in ', 'memory']) w.writable.write(part);
      w.writable.end();
      await new Promise((resolve) => w.writable.once('finish', resolve));
      assert.equal(writes, 1, 'one write');
      assert.equal(taken, 'gathered in memory'.length);
      const placed = await w.place();
      assert.equal((await files.read(placed)).toString(), 'gathered in memory');
      assert.deepEqual(await readdir(join(files.dir, 'tmp')), [], 'renamed: no temporary file left');
      let read = '';
      for await (const c of w.open()) read += c;
      assert.equal(read, 'gathered in memory', 'read from memory after placing');
      // Collected since: placed again from memory.
      await files.delete(placed.hash);
      assert.deepEqual(await w.place(), placed);
      assert.equal((await files.read(placed)).toString(), 'gathered in memory');
      await w.discard();
      assert.equal((await files.read(placed)).toString(), 'gathered in memory', 'discard keeps the blob');
    } finally {
      files.faults = undefined;
    }
  });

  it('a writer with memory sends content one octet over its size, or what the lease refuses, to the file', async () => {
    for (const [bytes, refuse] of [
      [16, false],
      [1024, true],
    ] as const) {
      const lease = {
        take: () => {
          if (refuse) throw new Error('the pool is empty');
        },
      };
      const w = files.writer({ memory: { lease, bytes } });
      w.writable.write('sixteen octets..');
      w.writable.end('!');
      await new Promise((resolve) => w.writable.once('finish', resolve));
      const placed = await w.place();
      assert.equal((await files.read(placed)).toString(), 'sixteen octets..!');
      assert.equal((await readdir(join(files.dir, 'tmp'))).length, 1, 'linked: the temporary file stays');
      await w.discard();
      assert.deepEqual(await readdir(join(files.dir, 'tmp')), []);
      await files.delete(placed.hash);
    }
  });
});

for (const engine of engines()) {
  describe(`small blobs in their rows on ${engine.name}`, { skip: engine.skip }, () => {
    let t: TestStore;
    before(async () => {
      t = await engine.open();
    });
    after(async () => {
      await t?.cleanup();
    });
    const row = (hash: string) =>
      t.store.db.selectFrom('blobs').select(['size', 'content']).where('hash', '=', hash).execute();

    it('keeps a small blob in its row, no file, and a large one as a file; reads both back checked', async () => {
      const small = await t.store.blobs.put('a small envelope');
      const rows = await row(small.hash);
      assert.equal(rows.length, 1);
      assert.equal(Buffer.from(rows[0]!.content!).toString(), 'a small envelope');
      assert.equal(await t.store.blobs.has(small.hash), true);
      await assert.rejects(stat(t.store.blobs.path(small.hash)), { code: 'ENOENT' });
      assert.equal((await t.store.blobs.read(small)).toString(), 'a small envelope');
      assert.equal((await t.store.blobs.read(small.hash)).toString(), 'a small envelope');
      let streamed = '';
      for await (const c of t.store.blobs.open(small)) streamed += c;
      assert.equal(streamed, 'a small envelope');
      // A stream that ends within the threshold goes to a row too; one octet over it, to a file.
      const edge = Buffer.alloc(ROW_BLOB_BYTES, 1);
      const inRow = await t.store.blobs.put(Readable.from([edge.subarray(0, 1000), edge.subarray(1000)]));
      assert.equal(inRow.size, ROW_BLOB_BYTES);
      assert.ok((await row(inRow.hash))[0]?.content);
      const over = Buffer.alloc(ROW_BLOB_BYTES + 1, 2);
      const large = await t.store.blobs.put(Readable.from([over.subarray(0, 4096), over.subarray(4096)]));
      assert.equal((await stat(t.store.blobs.path(large.hash))).size, ROW_BLOB_BYTES + 1);
      assert.deepEqual(await t.store.blobs.read(large), over);
      assert.deepEqual(await t.store.blobs.read(inRow), edge);
    });

    it('stores the same content in one row, and refreshes its time', async () => {
      const a = await t.store.blobs.put('the same receipt', { now: 1000 });
      const b = await t.store.blobs.put(Buffer.from('the same receipt'), { now: 2000 });
      assert.deepEqual(a, b);
      const rows = await t.store.db
        .selectFrom('blobs')
        .select('created_at')
        .where('hash', '=', a.hash)
        .execute();
      assert.deepEqual(
        rows.map((r) => Number(r.created_at)),
        [2000],
      );
    });

    it('fails a read whose row content no longer matches the hash, streamed or whole', async () => {
      const ref = await t.store.blobs.put('original row content');
      await t.store.db
        .updateTable('blobs')
        .set({ content: Buffer.from('tampered row content') })
        .where('hash', '=', ref.hash)
        .execute();
      await assert.rejects(t.store.blobs.read(ref), isCode('EHMI_BLOB_CORRUPT'));
      await assert.rejects(
        (async () => {
          for await (const _ of t.store.blobs.open(ref));
        })(),
        isCode('EHMI_BLOB_CORRUPT'),
      );
    });

    it('reads a small blob stored as a file before rows (its row without content)', async () => {
      const files = new BlobStore(t.store.blobs.dir);
      const ref = await files.put('stored as a file');
      await recordBlob(t.store.db, ref);
      assert.equal((await t.store.blobs.read(ref)).toString(), 'stored as a file');
      assert.equal(await t.store.blobs.has(ref.hash), true);
    });

    it('a writer with memory places small content in a row without a temporary file', async () => {
      const w = t.store.blobs.writer({ memory: { lease: { take: () => {} }, bytes: 1024 } });
      w.writable.end('received payload');
      await new Promise((resolve) => w.writable.once('finish', resolve));
      assert.deepEqual(await readdir(join(t.store.blobs.dir, 'tmp')), [], 'no temporary file');
      const placed = await w.place();
      assert.equal(Buffer.from((await row(placed.hash))[0]!.content!).toString(), 'received payload');
      await assert.rejects(stat(t.store.blobs.path(placed.hash)), { code: 'ENOENT' });
      let read = '';
      for await (const c of w.open()) read += c;
      assert.equal(read, 'received payload');
      await w.discard();
      assert.equal((await t.store.blobs.read(placed)).toString(), 'received payload');
    });

    it('a put named in its transaction is written by that commit on PostgreSQL, at once on SQLite', async () => {
      const content = `named by its transaction on ${engine.name}`;
      const ref = await t.store.blobs.put(content, { namedInTransaction: true });
      // PostgreSQL: only hashed, no commit of its own; SQLite: its row written now, as any put.
      assert.equal((await row(ref.hash)).length, engine.name === 'postgres' ? 0 : 1);
      assert.equal(t.store.blobs.rowsAtNaming, engine.name === 'postgres');
      await t.store.transaction(async (trx) => {
        await noteBlob(trx, t.store, ref, content);
      });
      assert.equal(Buffer.from((await row(ref.hash))[0]!.content!).toString(), content);
      assert.equal((await t.store.blobs.read(ref)).toString(), content);
      assert.equal(t.store.blobs.madeDurable(ref.hash), true);
    });

    it('a put named in a transaction that rolls back leaves no content, and a row the collector may take', async () => {
      const content = `rolled back on ${engine.name}`;
      const ref = await t.store.blobs.put(content, { namedInTransaction: true });
      await assert.rejects(
        t.store.transaction(async (trx) => {
          await noteBlob(trx, t.store, ref, content);
          throw new Error('refused after the note');
        }),
        /refused after the note/,
      );
      const rows = await row(ref.hash);
      assert.equal(rows.length, 1, 'noted after the rollback, for the collector');
      if (engine.name === 'postgres') {
        assert.equal(rows[0]!.content, null);
        assert.equal(await t.store.blobs.has(ref.hash), false);
      }
    });

    it('a note whose content is not the blob it names fails, and its transaction writes nothing', async () => {
      // Where the note writes the content (PostgreSQL); SQLite's put wrote it already, and its note writes none.
      if (engine.name !== 'postgres') return;
      const ref = await t.store.blobs.put('the content put', { namedInTransaction: true });
      await assert.rejects(
        t.store.transaction(async (trx) => {
          await noteBlob(trx, t.store, ref, 'other content');
          await trx.insertInto('blobs').values({ hash: 'sha256:marker', size: 0, created_at: 0 }).execute();
        }),
        isCode('EHMI_BLOB_CORRUPT'),
      );
      assert.equal((await row('sha256:marker')).length, 0);
    });

    it('a note of content its row holds already keeps it and refreshes the time', async () => {
      const ref = await t.store.blobs.put('held already', { now: 1000 });
      await t.store.transaction(async (trx) => {
        await noteBlob(trx, t.store, ref, 'held already', 5000);
      });
      const rows = await t.store.db
        .selectFrom('blobs')
        .select(['created_at', 'content'])
        .where('hash', '=', ref.hash)
        .execute();
      assert.equal(Number(rows[0]!.created_at), 5000);
      assert.equal(Buffer.from(rows[0]!.content!).toString(), 'held already');
    });

    it('a full disk fails a row write as it fails a file write', async () => {
      t.store.blobs.faults = {
        beforeWrite: () => {
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        },
      };
      try {
        await assert.rejects(t.store.blobs.put('refused'), isCode('EHMI_STORE_UNAVAILABLE'));
      } finally {
        t.store.blobs.faults = undefined;
      }
      assert.equal(
        await t.store.blobs.has(`sha256:${createHash('sha256').update('refused').digest('hex')}`),
        false,
      );
    });
  });
}
