import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import { recordBlob } from '../../src/store/index.ts';
import { engines, type TestStore } from '../helpers/engines.ts';

const isCode = (code: string) => (err: unknown) => err instanceof EhmiError && err.code === code;

// The blob store is on disk whatever the engine; the sqlite case suffices for it.
const [sqlite] = engines();

describe('blob store', () => {
  let t: TestStore;
  before(async () => {
    t = await sqlite!.open();
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
    const ref = await t.store.blobs.put('held once');
    const path = t.store.blobs.path(ref.hash);
    const before = (await stat(path)).ino;
    assert.deepEqual(await t.store.blobs.put('held once'), ref);
    assert.equal((await stat(path)).ino, before);
    await writeFile(path, 'HELD ONCE');
    assert.deepEqual(await t.store.blobs.put(Buffer.from('held once')), ref);
    assert.equal((await t.store.blobs.read(ref)).toString(), 'held once');
  });

  it('makes its fan-out folders once, and again when one was removed meanwhile', async () => {
    assert.equal((await readdir(join(t.store.blobs.dir, 'sha256'))).length, 256);
    const ref = await t.store.blobs.put('its folder goes');
    await t.store.blobs.delete(ref.hash);
    await rm(dirname(t.store.blobs.path(ref.hash)), { recursive: true });
    assert.deepEqual(await t.store.blobs.put('its folder goes'), ref);
    assert.equal((await t.store.blobs.read(ref)).toString(), 'its folder goes');
    const w = t.store.blobs.writer();
    w.writable.end('placed after its folder went');
    await new Promise((resolve) => w.writable.once('finish', resolve));
    const target = dirname(
      t.store.blobs.path(
        `sha256:${createHash('sha256').update('placed after its folder went').digest('hex')}`,
      ),
    );
    await rm(target, { recursive: true, force: true });
    const placed = await w.place();
    await w.discard();
    assert.equal((await t.store.blobs.read(placed)).toString(), 'placed after its folder went');
  });

  it('fails a read whose bytes on disk no longer match the hash', async () => {
    const ref = await t.store.blobs.put('original content');
    await writeFile(t.store.blobs.path(ref.hash), 'tampered content');
    await assert.rejects(t.store.blobs.read(ref), isCode('EHMI_BLOB_CORRUPT'));
  });

  it('refuses content over the size limit and leaves no file behind', async () => {
    await assert.rejects(t.store.blobs.put('x'.repeat(101), { maxBytes: 100 }), isCode('EHMI_TOO_LARGE'));
    assert.deepEqual(await readdir(join(t.store.blobs.dir, 'tmp')), []);
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
    t.store.blobs.faults = {
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
      const w = t.store.blobs.writer({ memory: { lease, bytes: 1024 } });
      for (const part of ['gathered ', 'in ', 'memory']) w.writable.write(part);
      w.writable.end();
      await new Promise((resolve) => w.writable.once('finish', resolve));
      assert.equal(writes, 1, 'one write');
      assert.equal(taken, 'gathered in memory'.length);
      const placed = await w.place();
      assert.equal((await t.store.blobs.read(placed)).toString(), 'gathered in memory');
      assert.deepEqual(await readdir(join(t.store.blobs.dir, 'tmp')), [], 'renamed: no temporary file left');
      let read = '';
      for await (const c of w.open()) read += c;
      assert.equal(read, 'gathered in memory', 'read from memory after placing');
      // Collected since: placed again from memory.
      await t.store.blobs.delete(placed.hash);
      assert.deepEqual(await w.place(), placed);
      assert.equal((await t.store.blobs.read(placed)).toString(), 'gathered in memory');
      await w.discard();
      assert.equal(
        (await t.store.blobs.read(placed)).toString(),
        'gathered in memory',
        'discard keeps the blob',
      );
    } finally {
      t.store.blobs.faults = undefined;
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
      const w = t.store.blobs.writer({ memory: { lease, bytes } });
      w.writable.write('sixteen octets..');
      w.writable.end('!');
      await new Promise((resolve) => w.writable.once('finish', resolve));
      const placed = await w.place();
      assert.equal((await t.store.blobs.read(placed)).toString(), 'sixteen octets..!');
      assert.equal(
        (await readdir(join(t.store.blobs.dir, 'tmp'))).length,
        1,
        'linked: the temporary file stays',
      );
      await w.discard();
      assert.deepEqual(await readdir(join(t.store.blobs.dir, 'tmp')), []);
      await t.store.blobs.delete(placed.hash);
    }
  });
});
