import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { ByteBudget } from '../../src/budget.ts';
import { tempFileSink } from '../../src/mime/sink.ts';

const MiB = 1024 * 1024;

/** Writes `chunk` and resolves once the sink has taken it (its write callback). */
function write(w: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => w.write(chunk, (err) => (err ? reject(err) : resolve())));
}

/** Reads from `reader` until `octets` more have come, or it ends. */
async function readOctets(it: AsyncIterator<Buffer>, octets: number, into: Buffer[]): Promise<void> {
  let got = 0;
  while (got < octets) {
    const r = await it.next();
    if (r.done) return;
    into.push(Buffer.from(r.value));
    got += r.value.length;
  }
}

describe('tempFileSink: a reader following a part as it arrives', () => {
  it('takes the last writes from memory, in order, even from a writer that reuses its buffer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ehmi-sink-'));
    try {
      const budget = new ByteBudget(32 * MiB, 'attachment parts held in memory');
      const sink = tempFileSink({ dir, memory: { budget, partBytes: 4096 } });
      const target = sink.create({ contentId: 'p1@x', headers: {}, index: 1 });
      const first = randomBytes(64 * 1024);
      await write(target.writable, first);
      const reader = (target.open() as Readable)[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      const got: Buffer[] = [];
      await readOctets(reader, first.length, got);
      const [file] = await readdir(dir);
      const reused = Buffer.alloc(256 * 1024);
      const expected: Buffer[] = [first];
      // 1.5 MiB: within the window (2 MiB), which the reader, not reading meanwhile, does not fall behind.
      for (let i = 0; i < 6; i++) {
        reused.fill(i + 1);
        expected.push(Buffer.from(reused));
        await write(target.writable, reused);
        // The file is emptied after each write: a read of it would give zeros or end short, so what the reader gets
        // comes from memory. And it is not copied by the reader: the buffer is refilled before the reader's next turn.
        await truncate(join(dir, file!), 0);
      }
      reused.fill(0xee);
      assert.ok(budget.used >= 2 * MiB, 'the window is taken from the pool while the reader follows');
      target.writable.end();
      await readOctets(reader, Number.POSITIVE_INFINITY, got);
      assert.ok(Buffer.concat(got).equals(Buffer.concat(expected)), 'every octet, in order, as written');
      await sink.dispose();
      assert.equal(budget.used, 0, 'the pool gets the window back');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives a window back when the sink is disposed, also one whose reader was abandoned', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ehmi-sink-'));
    try {
      const budget = new ByteBudget(32 * MiB, 'attachment parts held in memory');
      const sink = tempFileSink({ dir, memory: { budget, partBytes: 4096 } });
      const target = sink.create({ contentId: 'p1@x', headers: {}, index: 1 });
      await write(target.writable, randomBytes(64 * 1024));
      const reader = (target.open() as Readable)[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      await readOctets(reader, 1, []);
      assert.ok(budget.used >= 2 * MiB);
      // Neither ended nor destroyed: the reader is left waiting for the rest.
      await sink.dispose();
      assert.equal(budget.used, 0);
      target.writable.destroy();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads the file when the pool has no room for a window', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ehmi-sink-'));
    try {
      const budget = new ByteBudget(MiB, 'attachment parts held in memory');
      const sink = tempFileSink({ dir, memory: { budget, partBytes: 4096 } });
      const target = sink.create({ contentId: 'p1@x', headers: {}, index: 1 });
      const reader = (target.open() as Readable)[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      const expected: Buffer[] = [];
      const got: Buffer[] = [];
      for (let i = 0; i < 8; i++) {
        const chunk = randomBytes(300 * 1024);
        expected.push(chunk);
        await write(target.writable, chunk);
        await readOctets(reader, chunk.length, got);
      }
      assert.equal(budget.used, 0, 'no window taken');
      target.writable.end();
      await readOctets(reader, Number.POSITIVE_INFINITY, got);
      assert.ok(Buffer.concat(got).equals(Buffer.concat(expected)));
      await sink.dispose();
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
