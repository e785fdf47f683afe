import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { EhmiError } from '@ehmi/errors';
import { type AnyDb, coreDb } from './types.ts';

/** A stored blob: its content hash (`sha256:<hex>`) and size in bytes. */
export interface BlobRef {
  hash: string;
  size: number;
}

export interface PutOptions {
  /** Refuse (EHMI_TOO_LARGE) and discard the blob once it grows past this many bytes. */
  maxBytes?: number;
}

const HASH = /^sha256:([0-9a-f]{64})$/;

/**
 * Content-addressed files on disk. Writes stream through a SHA-256 hash into a temporary file, which is fsynced and
 * renamed into place (and the folder fsynced) before `put` resolves: a row that points to a blob is committed only
 * after the blob is durable. Reads check the hash and size as they stream.
 */
export class BlobStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  async init(): Promise<void> {
    await mkdir(join(this.dir, 'tmp'), { recursive: true });
    await mkdir(join(this.dir, 'sha256'), { recursive: true });
  }

  /** Where a blob lives on disk. */
  path(hash: string): string {
    const m = HASH.exec(hash);
    if (!m) throw new EhmiError('EHMI_BLOB_NOT_FOUND', `not a blob hash: ${hash}`);
    const hex = m[1]!;
    return join(this.dir, 'sha256', hex.slice(0, 2), hex.slice(2, 4), hex);
  }

  /**
   * Store content from a stream, iterable or buffer; resolves once the content is durable on disk.
   *
   * @example
   * // Roles store through storeBlob(store, …), which also notes the write for the garbage collection.
   * const ref = await store.blobs.put(request.raw, { maxBytes: 200 * 1024 * 1024 });
   */
  async put(
    source: Readable | AsyncIterable<Uint8Array> | Uint8Array | string,
    options: PutOptions = {},
  ): Promise<BlobRef> {
    const tmp = join(this.dir, 'tmp', randomUUID());
    const hash = createHash('sha256');
    let size = 0;
    const file = await open(tmp, 'wx', 0o600);
    try {
      const chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array> =
        typeof source === 'string'
          ? [Buffer.from(source, 'utf8')]
          : source instanceof Uint8Array
            ? [source]
            : (source as AsyncIterable<Uint8Array>);
      for await (const chunk of chunks) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        size += buf.byteLength;
        if (options.maxBytes !== undefined && size > options.maxBytes) {
          throw new EhmiError('EHMI_TOO_LARGE', `content is larger than ${options.maxBytes} bytes`, {
            details: { maxBytes: options.maxBytes },
          });
        }
        hash.update(buf);
        await file.write(buf);
      }
      await file.sync();
    } catch (err) {
      await file.close().catch(() => {});
      await rm(tmp, { force: true });
      throw err;
    }
    await file.close();
    const ref: BlobRef = { hash: `sha256:${hash.digest('hex')}`, size };
    const target = this.path(ref.hash);
    await mkdir(dirname(target), { recursive: true });
    // Same content, same name: if it is already there, the earlier copy serves (rename replaces it atomically).
    await rename(tmp, target);
    await fsyncDir(dirname(target));
    return ref;
  }

  async has(hash: string): Promise<boolean> {
    try {
      await stat(this.path(hash));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A stream of the blob's content that fails with EHMI_BLOB_CORRUPT if the bytes on disk no longer match the hash
   * (the error arrives at the end of the stream, after the last chunk).
   */
  open(ref: BlobRef | string): Readable {
    const hashText = typeof ref === 'string' ? ref : ref.hash;
    const expectedSize = typeof ref === 'string' ? undefined : ref.size;
    const path = this.path(hashText);
    const hash = createHash('sha256');
    let size = 0;
    const check = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.byteLength;
        done(null, chunk);
      },
      flush(done) {
        const actual = `sha256:${hash.digest('hex')}`;
        if (actual !== hashText || (expectedSize !== undefined && size !== expectedSize)) {
          done(
            new EhmiError(
              'EHMI_BLOB_CORRUPT',
              `blob ${hashText} is corrupt on disk (read ${actual}, ${size} bytes)`,
            ),
          );
        } else done();
      },
    });
    const file = createReadStream(path);
    file.on('error', (err: NodeJS.ErrnoException) => {
      check.destroy(
        err.code === 'ENOENT'
          ? new EhmiError('EHMI_BLOB_NOT_FOUND', `blob ${hashText} is missing`, { cause: err })
          : err,
      );
    });
    return file.pipe(check);
  }

  /** The whole blob in memory, for small content (envelopes, receipts); checks the hash. */
  async read(ref: BlobRef | string, maxBytes = 64 * 1024 * 1024): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.open(ref)) {
      size += (chunk as Buffer).byteLength;
      if (size > maxBytes) throw new EhmiError('EHMI_TOO_LARGE', `blob is larger than ${maxBytes} bytes`);
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  async delete(hash: string): Promise<void> {
    await rm(this.path(hash), { force: true });
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Note a blob write in the `blobs` table: creates its row, or refreshes `created_at` (the time of the latest write
 * of this content) when the content was stored before. Idempotent. Use {@link storeBlob}, which calls it at the
 * right moment; calling it again inside the transaction that names the blob is harmless.
 */
export async function recordBlob(db: AnyDb, ref: BlobRef, now = Date.now()): Promise<void> {
  await coreDb(db)
    .insertInto('blobs')
    .values({ hash: ref.hash, size: ref.size, created_at: now })
    .onConflict((oc) => oc.column('hash').doUpdateSet({ created_at: now }))
    .execute();
}

/** Content for {@link storeBlob}: given directly, or opened anew for each try (a stream can be read once). */
export type BlobSource =
  | string
  | Uint8Array
  | (() => Readable | AsyncIterable<Uint8Array> | Uint8Array | string);

/**
 * Store content for a row that will name it, safely against the blob garbage collection (`store/blob-gc.ts`):
 * put the file, note the write (refreshing the row, so the collector sees the blob as fresh), then check that the
 * file is still there. The collector deletes a file only inside the transaction that deletes the blob's row, under
 * that row's lock; so a write noted after such a deletion finds the file gone and stores it again. Call this before
 * the transaction that names the blob: a blob of a transaction that then rolls back stays noted, and the collector
 * removes it once no row names it and its grace period has passed.
 */
export async function storeBlob(
  store: { db: AnyDb; blobs: BlobStore },
  source: BlobSource,
  options: PutOptions & { now?: number } = {},
): Promise<BlobRef> {
  for (let attempt = 0; ; attempt++) {
    const content = typeof source === 'function' ? source() : source;
    const ref = await store.blobs.put(content, options);
    await recordBlob(store.db, ref, options.now ?? Date.now());
    if ((await store.blobs.has(ref.hash)) || attempt >= 2) return ref;
  }
}
