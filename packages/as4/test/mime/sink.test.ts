import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { ByteBudget } from '../../src/budget.ts';
import { type TempFileSinkTarget, tempFileSink } from '../../src/mime/sink.ts';

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

/** A sink on a fresh folder (removed after `fn`) whose parts over `partBytes` go to files, a pool of `poolBytes`, its first part. */
async function withPart(
  poolBytes: number,
  fn: (s: {
    dir: string;
    budget: ByteBudget;
    sink: ReturnType<typeof tempFileSink>;
    target: TempFileSinkTarget;
  }) => Promise<void>,
  partBytes = 4096,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ehmi-sink-'));
  try {
    const budget = new ByteBudget(poolBytes, 'attachment parts held in memory');
    const sink = tempFileSink({ dir, memory: { budget, partBytes } });
    const target = sink.create({ contentId: 'p1@x', headers: {}, index: 1 }) as TempFileSinkTarget;
    await fn({ dir, budget, sink, target });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** 64 KiB written to `target` (so it is a file in `dir`), a reader following it that has read them, and the file's name. */
async function followed(target: TempFileSinkTarget, dir: string) {
  const first = randomBytes(64 * 1024);
  await write(target.writable, first);
  const reader = (target.open() as Readable)[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const got: Buffer[] = [];
  await readOctets(reader, first.length, got);
  const [file] = await readdir(dir);
  return { first, reader, got, file };
}

describe('tempFileSink: a reader following a part as it arrives', () => {
  it('takes the last writes from memory, in order, even from a writer that reuses its buffer', () =>
    withPart(32 * MiB, async ({ dir, budget, sink, target }) => {
      const { first, reader, got, file } = await followed(target, dir);
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
    }));

  it('keeps a part trickled in one-octet writes in a few window entries, read back in order from memory', () =>
    withPart(32 * MiB, async ({ dir, budget, sink, target }) => {
      const { first, reader, got, file } = await followed(target, dir);
      // 10,000 writes of one octet each (each its own write, as TLS records of one octet each would come), the reader
      // taking what came every 997 writes: it reads part of an entry that later writes then add to.
      const trickled = randomBytes(10_000);
      const reused = Buffer.alloc(1);
      for (let i = 0; i < trickled.length; i++) {
        reused[0] = trickled[i]!;
        await write(target.writable, reused);
        if (i % 997 === 996) await readOctets(reader, 997, got);
      }
      const { entries, bytes } = target.followWindow;
      assert.equal(entries, 1, 'one entry per 64 KiB of small writes, not one per write');
      assert.ok(bytes <= 2 * MiB, `the window is charged ${bytes} octets`);
      // What the reader has not read yet comes from memory: the file is emptied.
      await truncate(join(dir, file!), 0);
      reused.fill(trickled[trickled.length - 1]! ^ 0xff);
      target.writable.end();
      await readOctets(reader, Number.POSITIVE_INFINITY, got);
      assert.ok(Buffer.concat(got).equals(Buffer.concat([first, trickled])), 'every octet, in order');
      assert.deepEqual(target.followWindow, { entries: 0, bytes: 0 }, 'the window is emptied at the end');
      await sink.dispose();
      assert.equal(budget.used, 0);
    }));

  it('bounds the window’s entries and octets under writes of every size, the oldest read back from the file', () =>
    withPart(32 * MiB, async ({ budget, sink, target }) => {
      const reader = (target.open() as Readable)[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      const expected: Buffer[] = [];
      const sizes = [300 * 1024, 1, 1, 7, 100 * 1024, 50 * 1024, 40 * 1024, 3, 500 * 1024, 64 * 1024 - 1];
      // Four rounds, the reader not reading meanwhile: past 2 MiB, the oldest writes leave the window.
      let most = 0;
      for (let round = 0; round < 4; round++)
        for (const size of sizes) {
          const chunk = randomBytes(size);
          expected.push(chunk);
          await write(target.writable, chunk);
          const { entries, bytes } = target.followWindow;
          assert.ok(bytes <= 2 * MiB, `the window is charged ${bytes} octets`);
          most = Math.max(most, entries);
        }
      assert.ok(most <= 32, `at most 2 MiB / 64 KiB entries, ${most} seen`);
      target.writable.end();
      const got: Buffer[] = [];
      await readOctets(reader, Number.POSITIVE_INFINITY, got);
      assert.ok(Buffer.concat(got).equals(Buffer.concat(expected)), 'every octet, in order');
      await sink.dispose();
      assert.equal(budget.used, 0);
    }));

  it('gives a window back when the sink is disposed, also one whose reader was abandoned', () =>
    withPart(32 * MiB, async ({ budget, sink, target }) => {
      await write(target.writable, randomBytes(64 * 1024));
      const reader = (target.open() as Readable)[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      await readOctets(reader, 1, []);
      assert.ok(budget.used >= 2 * MiB);
      // Neither ended nor destroyed: the reader is left waiting for the rest.
      await sink.dispose();
      assert.equal(budget.used, 0);
      target.writable.destroy();
    }));

  it('reads the file when the pool has no room for a window', () =>
    withPart(MiB, async ({ dir, budget, sink, target }) => {
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
    }));
});

describe('tempFileSink: a small part held in memory', () => {
  it('gathers small writes into a few buffers, in order, and a larger write between them keeps its place', () =>
    withPart(
      32 * MiB,
      async ({ dir, sink, target }) => {
        const expected: Buffer[] = [];
        const put = async (chunk: Buffer) => {
          expected.push(Buffer.from(chunk));
          await write(target.writable, chunk);
        };
        // A writer that reuses one buffer, one octet at a time: what is held is a copy.
        const reused = Buffer.alloc(1);
        for (let i = 0; i < 10_000; i++) {
          reused[0] = i & 0xff;
          await put(reused);
        }
        assert.deepEqual(target.inMemory, { entries: 3, bytes: 10_000 }, 'one buffer per 4 KiB of octets');
        await put(randomBytes(5000));
        for (let i = 0; i < 3; i++) await put(randomBytes(7));
        assert.deepEqual(target.inMemory, { entries: 5, bytes: 15_021 });
        target.writable.end();
        await finished(target.writable);
        assert.deepEqual(await readdir(dir), [], 'nothing went to a file');
        const got: Buffer[] = [];
        for await (const c of target.open()) got.push(c as Buffer);
        assert.ok(Buffer.concat(got).equals(Buffer.concat(expected)), 'every octet, in order');
        await sink.dispose();
      },
      64 * 1024,
    ));
});
