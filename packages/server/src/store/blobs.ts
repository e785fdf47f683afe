import { createHash, randomUUID } from 'node:crypto';
import { close, createReadStream, existsSync, open as fsOpen, fsync } from 'node:fs';
import { type FileHandle, link, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { EhmiError } from '@ehmi/errors';
import { sql } from 'kysely';
import { afterCommit, afterRollback } from './db.ts';
import { fixedStatement } from './fixed.ts';
import { type AnyDb, coreDb } from './types.ts';

/** A blob being written: {@link BlobStore.writer}. */
export interface BlobWriter {
  /** Where the content goes; fsynced when it ends. */
  writable: Writable;
  /** The content written (once `writable` has finished), before it is placed. */
  open(): Readable;
  /**
   * Names the written file under its hash (a link, or a rename when the content is also in memory; the folder
   * fsynced); callable again, e.g. after a collection took it.
   */
  place(): Promise<BlobRef>;
  /** Removes the temporary file, if one is left (a placed blob stays). */
  discard(): Promise<void>;
}

/** A stored blob: its content hash (`sha256:<hex>`) and size in bytes. */
export interface BlobRef {
  hash: string;
  size: number;
}

export interface PutOptions {
  /** Refuse (EHMI_TOO_LARGE) and discard the blob once it grows past this many bytes. */
  maxBytes?: number;
  /** The time a blob kept in its row is noted as written (`blobs.created_at`); now by default. */
  now?: number;
  /**
   * The caller names this content (in memory) in a transaction that notes it with the same content first thing
   * (`noteBlob`). Where the store writes a small blob's row in that transaction ({@link BlobStore.rowsAtNaming}:
   * PostgreSQL), `put` only hashes it and writes nothing: the row and its content come with the commit that names
   * them, one statement and one commit fewer per blob. Elsewhere, and for content kept as a file, no change.
   */
  namedInTransaction?: boolean;
}

/**
 * Blobs up to this size are kept in their `blobs` row (its `content`), larger ones as files: a small part's row is
 * made durable by the commits that follow it (SQLite's WAL in order, PostgreSQL's synchronous commit) at the cost
 * of one statement, where a file costs a temporary file, a write, an fsync, a rename, a folder fsync and, to read
 * it, an open, a read and a close (DESIGN-NOTES.md "Small blobs in the database row, files only for large ones").
 */
export const ROW_BLOB_BYTES = 64 * 1024;

const HASH = /^sha256:([0-9a-f]{64})$/;

/** What a write to the node's data folder is for. */
export type StorageArea = 'blobs' | 'temp' | 'probe';

/**
 * A test seam for storage faults: called before each write to the node's data folder (blob files, the access point's
 * temporary files, the health probe); throwing fails that write with the error thrown, as a full or broken disk
 * would. Set on the store's `blobs.faults`; tests and the fault suite use it where mounting a small disk is
 * impossible.
 *
 * @example
 * store.blobs.faults = { beforeWrite: () => { throw diskFull(); } };
 */
export interface StorageFaults {
  beforeWrite(area: StorageArea, path: string, octets: number): void;
}

/** The error a full disk gives a write (ENOSPC), for {@link StorageFaults}. */
export function diskFull(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), {
    code: 'ENOSPC',
    errno: -28,
    syscall: 'write',
  });
}

/** A failure of the data folder: EHMI_STORE_UNAVAILABLE (503, retryable); an EhmiError passes through. */
function storageError(err: unknown, doing: string): EhmiError {
  if (err instanceof EhmiError) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return new EhmiError(
    'EHMI_STORE_UNAVAILABLE',
    `${doing} failed${code ? ` (${code})` : ''}: ${(err as Error | null)?.message ?? String(err)}`,
    { cause: err, details: code ? { code } : {} },
  );
}

/** How long the outcome of the data folder's write probe is reused (`/health` may be asked every second). */
const PROBE_CACHE_MS = 5_000;

/**
 * Content-addressed blobs: small ones (up to {@link ROW_BLOB_BYTES}) in their `blobs` row once the store has a
 * database ({@link BlobStore.useDatabase}), the others as files on disk. A row is written in its own commit before
 * `put` resolves; a file streams through a SHA-256 hash into a temporary file, which is fsynced and renamed into
 * place (and the folder fsynced) before `put` resolves: a row that points to a blob is committed only after the
 * blob is durable. Reads check the hash and size (as they stream, for a file).
 */
export class BlobStore {
  readonly dir: string;
  /** The database whose `blobs` rows keep small blobs; none: every blob is a file. */
  #db: AnyDb | undefined;
  #turn: (<R>(fn: () => Promise<R>) => Promise<R>) | undefined;
  #rowsAtNaming = false;
  /** Storage faults to inject (tests, the fault suite); none in production. */
  faults: StorageFaults | undefined;
  #probe: { at: number; result: Promise<void> } | undefined;
  /** Fan-out folders known to exist (created, or found, by this process): not made or looked up again. */
  readonly #folders = new Set<string>();
  /**
   * Blobs this process recently made durable (the file fsynced, its folder fsynced after the name was added),
   * oldest first: writing the same content again needs no folder fsync. Bounded; a deletion forgets the blob.
   */
  readonly #durable = new Set<string>();

  constructor(dir: string) {
    this.dir = dir;
  }

  /**
   * Keep blobs up to {@link ROW_BLOB_BYTES} in the `blobs` rows of `db` (the store's own handle, not a transaction).
   * `turn`: runs a write of a row outside a transaction in its turn with the store's transactions (SQLite, when
   * the process has the file open more than once: `SqliteWriters` in `db.ts`). `rowsAtNaming`: see
   * {@link BlobStore.rowsAtNaming}.
   */
  useDatabase(
    db: AnyDb,
    turn?: <R>(fn: () => Promise<R>) => Promise<R>,
    options: { rowsAtNaming?: boolean } = {},
  ): void {
    this.#db = db;
    this.#turn = turn;
    this.#rowsAtNaming = options.rowsAtNaming ?? false;
  }

  /**
   * Whether a small blob put with `namedInTransaction` is written by the transaction that names it rather than in
   * a commit of its own before it. PostgreSQL: yes, each commit of its own is a synchronous WAL flush the message
   * waits for, and the naming transaction writes the row anyway. SQLite: no, its own commit costs no fsync
   * (`synchronous=NORMAL`, the WAL barrier) and keeps the naming transaction, which holds the one write lock, short.
   */
  get rowsAtNaming(): boolean {
    return this.#db !== undefined && this.#rowsAtNaming;
  }

  /** Notes that a small blob's row and content were committed by this process (see `madeDurable`). */
  committed(hash: string): void {
    this.#placed(hash);
  }

  /** Whether a blob of `size` octets is kept in its row (written so by `put`; one stored earlier may be a file). */
  inRow(size: number): boolean {
    return this.#db !== undefined && size <= ROW_BLOB_BYTES;
  }

  /**
   * Write a small blob's row with its content, in `db` (the store's handle: its own commit; or the transaction that
   * names it): created, or its `created_at` refreshed and its content kept (same hash, same content). Durable with
   * the commits after it: SQLite replays its WAL in order up to the last whole commit, and its barrier syncs the WAL
   * before anything leaves the process; PostgreSQL commits it synchronously.
   */
  async writeRow(db: AnyDb, content: Uint8Array, ref: BlobRef, now = Date.now()): Promise<void> {
    try {
      this.faults?.beforeWrite('blobs', `row:${ref.hash}`, ref.size);
      const buf = Buffer.isBuffer(content)
        ? content
        : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
      const write = () => WRITE_ROW.run(db, { hash: ref.hash, size: ref.size, now, content: buf });
      await (this.#turn && db === this.#db ? this.#turn(write) : write());
    } catch (err) {
      throw storageError(err, 'storing a blob');
    }
  }

  /** A small blob's content from its row, hash- and size-checked; undefined when no row holds it. */
  async #fromRow(hashText: string, expectedSize: number | undefined): Promise<Buffer | undefined> {
    if (!this.#db) return undefined;
    const row = await CONTENT_OF.first(this.#db, { hash: hashText });
    if (!row?.content) return undefined;
    const content = Buffer.isBuffer(row.content)
      ? row.content
      : Buffer.from(row.content.buffer, row.content.byteOffset, row.content.byteLength);
    checkContent(content, hashText, expectedSize);
    return content;
  }

  /**
   * Creates the store's folders: `tmp`, and `sha256` with its 256 top fan-out folders, made once with one fsync of
   * their parent (not one per first blob under each). The second level is made as blobs arrive (`#name`).
   */
  async init(): Promise<void> {
    const root = join(this.dir, 'sha256');
    const madeTmp = await mkdir(join(this.dir, 'tmp'), { recursive: true });
    const madeRoot = await mkdir(root, { recursive: true });
    if (madeTmp !== undefined || madeRoot !== undefined) {
      await fsyncDir(dirname(this.dir));
      await fsyncDir(this.dir);
    }
    const present = new Set(await readdir(root));
    let added = false;
    for (let i = 0; i < 256; i++) {
      const top = i.toString(16).padStart(2, '0');
      if (!present.has(top)) {
        await mkdir(join(root, top), { recursive: true });
        added = true;
      }
      this.#folders.add(join(root, top));
    }
    if (added) await fsyncDir(root);
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
    if (typeof source === 'string' || source instanceof Uint8Array) {
      const buf = typeof source === 'string' ? Buffer.from(source, 'utf8') : source;
      if (
        this.#db &&
        this.inRow(buf.byteLength) &&
        !(options.maxBytes !== undefined && buf.byteLength > options.maxBytes)
      ) {
        const ref: BlobRef = {
          hash: `sha256:${createHash('sha256').update(buf).digest('hex')}`,
          size: buf.byteLength,
        };
        // Written by the transaction that names it (`noteBlob`, with this content): nothing to do now.
        if (options.namedInTransaction && this.#rowsAtNaming) return ref;
        await this.writeRow(this.#db, buf, ref, options.now);
        this.#placed(ref.hash);
        return ref;
      }
      // Content in memory is hashed first: when the store holds it already (the envelope the access point received
      // is the one its MSH keeps; the receipt the MSH built is the one its AP sends), nothing is written again.
      const known = await this.#stored(buf, options);
      if (known) return known;
      source = buf;
    } else if (this.#db) {
      // A stream: its first octets gathered in memory; one that ends within ROW_BLOB_BYTES goes to a row.
      const it = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
      const head: Buffer[] = [];
      let gathered = 0;
      let ended = false;
      for (;;) {
        const next = await it.next();
        if (next.done) {
          ended = true;
          break;
        }
        const chunk = Buffer.from(next.value as Uint8Array);
        head.push(chunk);
        gathered += chunk.byteLength;
        if (gathered > ROW_BLOB_BYTES) break;
      }
      if (ended) return this.put(Buffer.concat(head, gathered), options);
      source = (async function* () {
        try {
          yield* head;
          for (;;) {
            const next = await it.next();
            if (next.done) return;
            yield next.value as Uint8Array;
          }
        } finally {
          await it.return?.();
        }
      })();
    }
    const tmp = join(this.dir, 'tmp', randomUUID());
    const hash = createHash('sha256');
    let size = 0;
    // Failures of the disk are the node's (EHMI_STORE_UNAVAILABLE, retryable); failures of the source are passed on.
    const disk = async <R>(doing: string, op: () => Promise<R>): Promise<R> => {
      try {
        return await op();
      } catch (err) {
        throw storageError(err, doing);
      }
    };
    const file = await disk('creating a blob file', () => open(tmp, 'wx', 0o600));
    // Chunks are gathered into writes of WRITE_BATCH_BYTES (copied: a source may reuse its buffers), and one write is
    // in flight while the next chunks are read and hashed: a large upload of 16–64 KB chunks is neither one system
    // call per chunk nor a read that waits for the write before it.
    let batch: Uint8Array[] = [];
    let batched = 0;
    let writing: Promise<void> | undefined;
    const flush = async () => {
      if (batched === 0) return;
      const buf = Buffer.concat(batch, batched);
      batch = [];
      batched = 0;
      if (writing) await writing;
      writing = disk('writing a blob', async () => {
        this.faults?.beforeWrite('blobs', tmp, buf.byteLength);
        await file.write(buf);
      });
      // Awaited by the next flush or at the end; a failure meanwhile is not unhandled.
      writing.catch(() => {});
    };
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
        batch.push(buf);
        batched += buf.byteLength;
        if (batched >= WRITE_BATCH_BYTES) await flush();
      }
      await flush();
      await writing;
      await disk('writing a blob', () => file.sync());
    } catch (err) {
      await writing?.catch(() => {});
      await file.close().catch(() => {});
      await removeFile(tmp);
      throw err;
    }
    await disk('writing a blob', () => file.close());
    const ref: BlobRef = { hash: `sha256:${hash.digest('hex')}`, size };
    const target = this.path(ref.hash);
    await disk('storing a blob', () =>
      // Same content, same name: if it is already there, the earlier copy serves (rename replaces it atomically).
      this.#name(target, () => rename(tmp, target)),
    );
    this.#placed(ref.hash);
    return ref;
  }

  /**
   * Gives a durable file its name in the blob's fan-out folder (`add`: a rename or a link), then fsyncs that folder,
   * so the name survives a crash. The folder is created on first use, its parents fsynced (a new folder's name is an
   * entry of its parent), and remembered; one removed meanwhile (by hand) is made again.
   */
  async #name(target: string, add: () => Promise<void>): Promise<void> {
    const folder = dirname(target);
    if (!this.#folders.has(folder)) await this.#makeFolder(folder);
    try {
      await add();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || existsSync(folder)) throw err;
      this.#folders.delete(folder);
      await this.#makeFolder(folder);
      await add();
    }
    await fsyncDir(folder);
  }

  async #makeFolder(folder: string): Promise<void> {
    const first = await mkdir(folder, { recursive: true });
    if (first !== undefined) {
      // Each folder made (from `first` down to `folder`) is a new entry of its parent: fsync the parents, top down.
      const made: string[] = [];
      for (let d = folder; d.length >= first.length; d = dirname(d)) made.unshift(d);
      for (const d of made) await fsyncDir(dirname(d));
    }
    this.#folders.add(folder);
  }

  /** Notes that the blob's file and name are durable (see `#durable`). */
  #placed(hash: string): void {
    this.#durable.delete(hash);
    this.#durable.add(hash);
    if (this.#durable.size > DURABLE_REMEMBERED) {
      for (const oldest of this.#durable) {
        this.#durable.delete(oldest);
        break;
      }
    }
  }

  /** The blob of this content when its file is in place (made durable again), else undefined. */
  async #stored(content: string | Uint8Array, options: PutOptions): Promise<BlobRef | undefined> {
    const buf = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    if (options.maxBytes !== undefined && buf.byteLength > options.maxBytes) return undefined;
    const ref: BlobRef = {
      hash: `sha256:${createHash('sha256').update(buf).digest('hex')}`,
      size: buf.byteLength,
    };
    const path = this.path(ref.hash);
    try {
      // Bytes damaged on disk are replaced by a write, as ever: compared, not trusted (a read, no fsync). One read
      // of one octet more than expected tells a longer file.
      const onDisk = await readUpTo(path, buf.byteLength + 1);
      if (!Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).equals(onDisk)) return undefined;
      // The file may be another put's (another process's), renamed into place but its folder not yet fsynced: fsync
      // it (no cost when that put has done so). Not when this process made it durable.
      if (!this.#durable.has(ref.hash)) {
        await fsyncDir(dirname(path));
        this.#placed(ref.hash);
      }
      return ref;
    } catch {
      return undefined;
    }
  }

  /**
   * A blob written as a stream into the store's temporary folder, hashed as it is written and fsynced when the
   * stream ends, then placed under its hash by {@link BlobWriter.place} without being copied: for content that is
   * stored only if a later step agrees (a received payload, before its commit). Write failures are the node's
   * (EHMI_STORE_UNAVAILABLE). The temporary file stays until {@link BlobWriter.discard}, also after placing. `dir`
   * puts it in a folder of the caller's (the access point's instance folder, swept after a crash); on another file
   * system than the store, placing copies it.
   *
   * `memory`: content up to `bytes` is gathered in memory (each octet taken from `lease`; one it refuses sends the
   * content to the file at once) and written in one write when the stream ends; `open()` reads that copy, placing
   * renames the file (no second name to remove) and placing again after a collection took it writes the copy.
   *
   * @example
   * const w = store.blobs.writer({ dir: instanceTempDir });
   * await pipeline(source, w.writable);
   * const ref = await w.place();
   * await w.discard();
   */
  writer(
    options: { dir?: string; memory?: { lease: { take(octets: number): void }; bytes: number } } = {},
  ): BlobWriter {
    const tmp = join(options.dir ?? join(this.dir, 'tmp'), `blob-${randomUUID()}`);
    const hash = createHash('sha256');
    let size = 0;
    let ref: BlobRef | undefined;
    let opening: Promise<FileHandle> | undefined;
    let closed = false;
    /** The content while it is gathered in memory; undefined once it went to the file (or with no `memory`). */
    let kept: Buffer[] | undefined = options.memory ? [] : undefined;
    /** The temporary file was renamed into place: there is no temporary file left. */
    let renamed = false;
    /** Octets written since the last step's fdatasync began; the step in flight (one at a time); its failure. */
    let unsynced = 0;
    let syncing: Promise<void> | undefined;
    let syncFailure: unknown;
    /**
     * A large file is made durable in steps while it is written: an fdatasync in the background every
     * {@link SYNC_STEP_BYTES}, one at a time, beside the next writes. The kernel then writes it back as it grows instead
     * of holding it all dirty until the end, where the one fsync before the receipt would wait for all of it. The last
     * fsync (in `final`) still comes after the last write: durability is judged there, as before.
     */
    const step = (f: FileHandle, octets: number) => {
      if (syncFailure !== undefined) throw syncFailure;
      unsynced += octets;
      if (unsynced < SYNC_STEP_BYTES || syncing) return;
      unsynced = 0;
      syncing = f.datasync().then(
        () => {
          syncing = undefined;
        },
        (err: unknown) => {
          syncing = undefined;
          syncFailure = err;
        },
      );
    };
    const file = () => {
      opening ??= open(tmp, 'wx', 0o600);
      return opening;
    };
    const writeAll = async (f: FileHandle, chunk: Buffer) => {
      this.faults?.beforeWrite('blobs', tmp, chunk.byteLength);
      // A write may take only part of the buffer (a disk that fills up): write the rest, or fail.
      for (let offset = 0; offset < chunk.length; ) {
        const { bytesWritten } = await f.write(chunk, offset, chunk.length - offset);
        if (bytesWritten === 0) throw Object.assign(new Error('no octet was written'), { code: 'EIO' });
        offset += bytesWritten;
      }
    };
    const keep = (octets: number): boolean => {
      if (!options.memory || size + octets > options.memory.bytes) return false;
      try {
        options.memory.lease.take(octets);
        return true;
      } catch {
        return false;
      }
    };
    /**
     * Chunks gathered in memory while the content is small; past that, to the file, the chunks that queued meanwhile
     * in one write (one system call per queue, not per chunk).
     */
    const take = async (chunks: Buffer[]) => {
      const toFile: Buffer[] = [];
      for (const chunk of chunks) {
        if (kept && keep(chunk.byteLength)) kept.push(Buffer.from(chunk));
        else {
          if (kept) {
            // Outgrew memory: what was gathered goes first.
            toFile.push(...kept);
            kept = undefined;
          }
          toFile.push(chunk);
        }
        hash.update(chunk);
        size += chunk.length;
      }
      if (toFile.length > 0) {
        const f = await file();
        const buf = toFile.length === 1 ? toFile[0]! : Buffer.concat(toFile);
        await writeAll(f, buf);
        step(f, buf.length);
      }
    };
    const writable = new Writable({
      highWaterMark: QUEUED_BYTES,
      write: (chunk: Buffer, _enc, cb) => {
        take([chunk]).then(
          () => cb(),
          (err) => cb(storageError(err, 'writing a blob')),
        );
      },
      writev: (chunks, cb) => {
        take(chunks.map((c) => c.chunk as Buffer)).then(
          () => cb(),
          (err) => cb(storageError(err, 'writing a blob')),
        );
      },
      final: (cb) => {
        (async () => {
          if (kept && this.inRow(size)) {
            // Small and in memory: placed in a row, no temporary file written.
            kept = [Buffer.concat(kept)];
            closed = true;
            ref = { hash: `sha256:${hash.digest('hex')}`, size };
            return;
          }
          const f = await file();
          if (kept) {
            kept = [Buffer.concat(kept)];
            if (kept[0]!.length > 0) await writeAll(f, kept[0]!);
          }
          // Durable before it can be placed: the fsync after the last write (a step's failure is the write's).
          await syncing;
          if (syncFailure !== undefined) throw syncFailure;
          await f.sync();
          closed = true;
          await f.close();
          ref = { hash: `sha256:${hash.digest('hex')}`, size };
        })().then(
          () => cb(),
          (err) => cb(storageError(err, 'writing a blob')),
        );
      },
      destroy: (err, cb) => {
        if (opening && !closed) {
          closed = true;
          opening.then(
            (f) => f.close().catch(() => {}),
            () => {},
          );
        }
        cb(err);
      },
    });
    return {
      writable,
      open: () => {
        if (!ref) throw new Error('the blob was read before it was written');
        return kept ? Readable.from(kept) : createReadStream(tmp, { highWaterMark: READ_CHUNK_BYTES });
      },
      place: async () => {
        if (!ref) throw new EhmiError('EHMI_INTERNAL', 'a blob was placed before it was written');
        const placed = ref;
        // Placed before and collected since: the copy in memory is stored again. Small: in its row.
        if (renamed || (kept && opening === undefined)) return await this.put(kept![0]!);
        const target = this.path(placed.hash);
        try {
          let across = false;
          await this.#name(target, () =>
            kept
              ? // The content is in memory: the file itself takes the name (same content, same name: a file already
                // there is replaced by an equal one).
                rename(tmp, target).then(
                  () => {
                    renamed = true;
                  },
                  (err: NodeJS.ErrnoException) => {
                    if (err.code === 'EXDEV') across = true;
                    else throw err;
                  },
                )
              : // A second name for the durable file; same content, same name: if it is there already, that copy serves.
                link(tmp, target).catch((err: NodeJS.ErrnoException) => {
                  if (err.code === 'EEXIST') return;
                  // Another file system: no link across it; copied instead (put hashes and fsyncs it again).
                  if (err.code === 'EXDEV') across = true;
                  else throw err;
                }),
          );
          if (across)
            return await this.put(
              kept ? kept[0]! : createReadStream(tmp, { highWaterMark: READ_CHUNK_BYTES }),
            );
        } catch (err) {
          throw storageError(err, 'storing a blob');
        }
        this.#placed(placed.hash);
        return placed;
      },
      discard: async () => {
        writable.destroy();
        if (!renamed) await removeFile(tmp);
      },
    };
  }

  /**
   * Resolves when the data folder takes a small write (created, written, fsynced, removed); rejects with
   * EHMI_STORE_UNAVAILABLE when it does not (a full disk, a read-only or missing folder). The outcome is reused for
   * a few seconds, so `/health` asked often costs one probe per interval.
   */
  checkWritable(now = Date.now()): Promise<void> {
    if (this.#probe && now - this.#probe.at < PROBE_CACHE_MS) return this.#probe.result;
    const result = (async () => {
      const probe = join(this.dir, 'tmp', `probe-${randomUUID()}`);
      try {
        const file = await open(probe, 'wx', 0o600);
        try {
          const content = Buffer.alloc(512, 0x2e);
          this.faults?.beforeWrite('probe', probe, content.length);
          await file.write(content);
          await file.sync();
        } finally {
          await file.close().catch(() => {});
          await removeFile(probe).catch(() => {});
        }
      } catch (err) {
        throw storageError(err, `writing to the data folder (${this.dir})`);
      }
    })();
    result.catch(() => {});
    this.#probe = { at: now, result };
    return result;
  }

  /**
   * Whether this store made the blob durable recently (written or placed by this process, not deleted by it since):
   * no file-system call. False says nothing; a collection by another process is not seen, so a row that names the
   * blob still checks its file in its transaction (`noteBlob`).
   */
  madeDurable(hash: string): boolean {
    return this.#durable.has(hash);
  }

  /**
   * Whether the blob's file is there, without leaving the thread: for use inside a transaction, where waiting on
   * the thread pool would keep SQLite's write lock while another connection of this process spins on it.
   */
  hasNow(hash: string): boolean {
    return existsSync(this.path(hash));
  }

  async has(hash: string): Promise<boolean> {
    if (this.#db) {
      const row = await coreDb(this.#db)
        .selectFrom('blobs')
        .select(sql<number>`case when content is null then 0 else 1 end`.as('stored'))
        .where('hash', '=', hash)
        .executeTakeFirst();
      if (row && Number(row.stored) === 1) return true;
    }
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
    if (this.#db && (expectedSize === undefined || expectedSize <= ROW_BLOB_BYTES)) {
      // Its row first (a small blob), else its file (a large one, or one stored as a file).
      this.path(hashText);
      const store = this;
      return Readable.from(
        (async function* () {
          const content = await store.#fromRow(hashText, expectedSize);
          if (content) yield content;
          else yield* store.#openFile(hashText, expectedSize);
        })(),
        { objectMode: false },
      );
    }
    return this.#openFile(hashText, expectedSize);
  }

  #openFile(hashText: string, expectedSize: number | undefined): Readable {
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
    const file = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
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
    const hashText = typeof ref === 'string' ? ref : ref.hash;
    const path = this.path(hashText);
    if (this.#db && (typeof ref === 'string' || ref.size <= ROW_BLOB_BYTES)) {
      const inRow = await this.#fromRow(hashText, typeof ref === 'string' ? undefined : ref.size);
      if (inRow) {
        if (inRow.byteLength > maxBytes)
          throw new EhmiError('EHMI_TOO_LARGE', `blob is larger than ${maxBytes} bytes`);
        return inRow;
      }
    }
    let content: Buffer;
    try {
      // One octet more than expected tells a longer file (corrupt, or over the limit).
      content = await readUpTo(path, (typeof ref === 'string' ? maxBytes : Math.min(ref.size, maxBytes)) + 1);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw new EhmiError('EHMI_BLOB_NOT_FOUND', `blob ${hashText} is missing`, { cause: err });
      throw err;
    }
    if (content.byteLength > maxBytes)
      throw new EhmiError('EHMI_TOO_LARGE', `blob is larger than ${maxBytes} bytes`);
    checkContent(content, hashText, typeof ref === 'string' ? undefined : ref.size);
    return content;
  }

  async delete(hash: string): Promise<void> {
    this.#durable.delete(hash);
    await removeFile(this.path(hash));
  }
}

/** Octets a writer's Writable queues while its file takes a write (written together by the next write). */
const QUEUED_BYTES = 1024 * 1024;

/**
 * Octets per read of a blob file. fs streams read 64 KB by default: a large payload then costs a read, a Buffer and a
 * pass through every stream after it (hash, gzip, cipher, TLS) per 64 KB; 256 KB reads take about half the CPU per MB
 * (DESIGN-NOTES.md "The large payload: bigger chunks, …"), and a stream holds one such chunk at a time.
 */
const READ_CHUNK_BYTES = 256 * 1024;

/**
 * Octets a writer's file takes between two fdatasync steps (a large received payload): the kernel writes it back as
 * it grows rather than all at the end, before the receipt (DESIGN-NOTES.md "The receiver at 1 GB: …").
 */
const SYNC_STEP_BYTES = 64 * 1024 * 1024;

/** Octets `put` gathers into one file write. */
const WRITE_BATCH_BYTES = 256 * 1024;

/** Blobs remembered as made durable by this process (a set of hashes: about 100 bytes each). */
const DURABLE_REMEMBERED = 4096;

/** Fails with EHMI_BLOB_CORRUPT when `content` is not the blob `hashText` (of `size` octets, when known). */
function checkContent(content: Buffer, hashText: string, size: number | undefined): void {
  const actual = `sha256:${createHash('sha256').update(content).digest('hex')}`;
  if (actual !== hashText || (size !== undefined && content.byteLength !== size)) {
    throw new EhmiError(
      'EHMI_BLOB_CORRUPT',
      `blob ${hashText} is corrupt in the store (read ${actual}, ${content.byteLength} bytes)`,
    );
  }
}

/** The whole content of a source of at most `limit` octets, in memory. */
async function gather(
  source: Readable | AsyncIterable<Uint8Array> | Uint8Array | string,
  limit: number,
): Promise<Buffer> {
  if (typeof source === 'string') return Buffer.from(source, 'utf8');
  if (source instanceof Uint8Array) return Buffer.from(source.buffer, source.byteOffset, source.byteLength);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of source as AsyncIterable<Uint8Array>) {
    const buf = Buffer.from(chunk as Uint8Array);
    total += buf.byteLength;
    if (total > limit) throw new EhmiError('EHMI_TOO_LARGE', `content is larger than ${limit} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
}

/** Removes a file; one already gone is fine. */
async function removeFile(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * The file's first `limit` octets (all of it when shorter), in one open, a read per `limit` (usually one) and a
 * close: for small files whose size is known or bounded, without a stat or a stream.
 */
async function readUpTo(path: string, limit: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const want = limit - total;
      if (want <= 0) break;
      const buf = Buffer.allocUnsafe(Math.min(want, total === 0 ? 64 * 1024 : 1024 * 1024));
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      chunks.push(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
      total += bytesRead;
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}

/** Makes a folder's entries durable: open, fsync, close (callbacks: no file handle object per call). */
function fsyncDir(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fsOpen(dir, 'r', (openErr, fd) => {
      if (openErr) return reject(openErr);
      fsync(fd, (syncErr) =>
        close(fd, (closeErr) => {
          const err = syncErr ?? closeErr;
          if (err) reject(err);
          else resolve();
        }),
      );
    });
  });
}

// The blob rows' statements on the message path, built once (store/fixed.ts).
const WRITE_ROW = fixedStatement(['hash', 'size', 'now', 'content'], (db, p) =>
  coreDb(db)
    .insertInto('blobs')
    .values({ hash: p.hash, size: p.size, created_at: p.now, content: p.content })
    .onConflict((oc) =>
      oc
        .column('hash')
        .doUpdateSet({ created_at: p.now, content: sql`coalesce(blobs.content, excluded.content)` }),
    ),
);
const CONTENT_OF = fixedStatement<'hash', { content: Uint8Array | null }>(['hash'], (db, p) =>
  coreDb(db).selectFrom('blobs').select('content').where('hash', '=', p.hash),
);
const RECORD_BLOB = fixedStatement(['hash', 'size', 'now'], (db, p) =>
  coreDb(db)
    .insertInto('blobs')
    .values({ hash: p.hash, size: p.size, created_at: p.now })
    .onConflict((oc) => oc.column('hash').doUpdateSet({ created_at: p.now })),
);
const NOTE_BLOB = fixedStatement<'hash' | 'size' | 'now', { stored: number }>(
  ['hash', 'size', 'now'],
  (db, p) =>
    coreDb(db)
      .insertInto('blobs')
      .values({ hash: p.hash, size: p.size, created_at: p.now })
      .onConflict((oc) => oc.column('hash').doUpdateSet({ created_at: p.now }))
      .returning(sql<number>`case when content is null then 0 else 1 end`.as('stored')),
);

/**
 * Note a blob write in the `blobs` table: creates its row, or refreshes `created_at` (the time of the latest write
 * of this content) when the content was stored before. Idempotent. Use {@link storeBlob}, which calls it at the
 * right moment; calling it again inside the transaction that names the blob is harmless.
 */
export async function recordBlob(db: AnyDb, ref: BlobRef, now = Date.now()): Promise<void> {
  await RECORD_BLOB.run(db, { hash: ref.hash, size: ref.size, now });
}

/**
 * Note a blob in `trx`, the transaction that names it (one commit instead of two): its `blobs` row is created or
 * refreshed, then its file is checked. The collector deletes a file only in the transaction that deletes the blob's
 * row, under that row's lock (SQLite: one writer at a time); so either it did so before this row was written, and the
 * file is found gone and stored again from `source`, or it finds the row fresh and keeps the blob. Put the file first
 * (`store.blobs.put`, durable when it resolves). If `trx` rolls back, the blob is noted on its own afterwards, so
 * the collector removes it once no row names it and its grace period has passed (as for {@link storeBlob}).
 */
export async function noteBlob(
  trx: AnyDb,
  store: { db: AnyDb; blobs: BlobStore },
  ref: BlobRef,
  source: BlobSource,
  now = Date.now(),
): Promise<void> {
  if (store.blobs.inRow(ref.size) && store.blobs.rowsAtNaming && typeof source !== 'function') {
    // The content is at hand: the row is written with it here, in the commit that names it (a `put` with
    // `namedInTransaction` wrote nothing), or, when the row holds it already, its time refreshed and its content
    // kept. One statement; the content is checked against the ref first, so no row holds what its hash does not say.
    const content = typeof source === 'string' ? Buffer.from(source, 'utf8') : source;
    checkContent(
      Buffer.isBuffer(content)
        ? content
        : Buffer.from(content.buffer, content.byteOffset, content.byteLength),
      ref.hash,
      ref.size,
    );
    await store.blobs.writeRow(trx, content, ref, now);
    afterRollback(trx, () => recordBlob(store.db, ref, now));
    afterCommit(trx, () => store.blobs.committed(ref.hash));
    return;
  }
  if (store.blobs.inRow(ref.size)) {
    // Its row refreshed; it says whether it holds the content. A collection that took the row after the put (and
    // its grace period) is answered by writing the content again in this transaction: the commit that names the
    // blob carries it. A blob of this size stored as a file (before rows, or a writer's file) has a row without
    // content and its file.
    const row = await NOTE_BLOB.first(trx, { hash: ref.hash, size: ref.size, now });
    afterRollback(trx, () => recordBlob(store.db, ref, now));
    if (Number(row?.stored) === 1 || store.blobs.hasNow(ref.hash)) return;
    const content = await gather(typeof source === 'function' ? source() : source, ROW_BLOB_BYTES);
    const again: BlobRef = {
      hash: `sha256:${createHash('sha256').update(content).digest('hex')}`,
      size: content.byteLength,
    };
    if (again.hash !== ref.hash || again.size !== ref.size) {
      throw new EhmiError(
        'EHMI_BLOB_CORRUPT',
        `blob ${ref.hash} was collected, and its source now reads ${again.hash}`,
      );
    }
    await store.blobs.writeRow(trx, content, ref, now);
    return;
  }
  await recordBlob(trx, ref, now);
  afterRollback(trx, () => recordBlob(store.db, ref, now));
  if (store.blobs.hasNow(ref.hash)) return;
  const again = await store.blobs.put(typeof source === 'function' ? source() : source);
  if (again.hash !== ref.hash || again.size !== ref.size) {
    throw new EhmiError(
      'EHMI_BLOB_CORRUPT',
      `blob ${ref.hash} was collected, and its source now reads ${again.hash}`,
    );
  }
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
    // A small blob's put wrote its row, content and time: noted, and nothing a collection could have taken since.
    if (store.blobs.inRow(ref.size)) return ref;
    await recordBlob(store.db, ref, options.now ?? Date.now());
    if ((await store.blobs.has(ref.hash)) || attempt >= 2) return ref;
  }
}
