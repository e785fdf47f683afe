import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { EhmiError } from '@ehmi/errors';
import type { ByteBudget, ByteLease } from '../budget.ts';

/** What the MIME parser knows about an attachment part when it starts receiving its body. */
export interface PartDescriptor {
  contentId: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** 1-based position among the attachments (the SOAP root part is not counted). */
  index: number;
}

/** Where an attachment body goes while it streams in, and how it is read back. */
export interface SinkTarget {
  writable: Writable;
  /**
   * A fresh stream over everything written, callable any time: before `writable` has finished, a sink may follow the
   * part as it arrives (the default sink does; its stream then fails if the part is never finished).
   */
  open(): Readable;
}

/**
 * A caller-supplied destination for attachment bodies, so that nothing big is held in memory
 * (docs/architecture.md "Stack": payload blobs streamed, never whole in memory). `create` is synchronous
 * because the MIME parser calls it from inside its write loop; open files or streams lazily.
 *
 * @example
 * const sink = tempFileSink();
 * try { const msg = await parseAs4Message(req, { contentType, sink }); … } finally { await sink.dispose(); }
 */
export interface AttachmentSink {
  create(part: PartDescriptor): SinkTarget;
  /** Frees whatever the sink holds (temporary files). Safe to call more than once. */
  dispose(): Promise<void>;
}

/** A part of {@link tempFileSink}. */
export interface TempFileSinkTarget extends SinkTarget {
  /**
   * The follow window of the part now (for tests): its entries and the octets they are charged (at most
   * FOLLOW_WINDOW_BYTES, 2 MiB); both 0 while no reader follows the part.
   */
  readonly followWindow: { entries: number; bytes: number };
  /** The part held in memory now (for tests): its buffers and octets; undefined once it went to a file. */
  readonly inMemory: { entries: number; bytes: number } | undefined;
}

/** Options of {@link tempFileSink}. */
export interface TempFileSinkOptions {
  /** The folder the sink's files go in (each a name of its own, no folder per message); default `os.tmpdir()`. */
  dir?: string;
  /**
   * Called before each write with the file and the number of octets. Throwing fails the write as the file system
   * would: the seam through which tests (and a fault suite) make a disk full or broken.
   */
  beforeWrite?: (path: string, octets: number) => void;
  /**
   * Parts kept in memory while they are small: a part goes to a file only once it grows past `partBytes`, and what
   * a part holds in memory is taken from `budget` (shared by the messages in progress); a pool that cannot give it
   * sends the part to a file instead, never refuses it. Without this, every part is a file.
   */
  memory?: { budget: ByteBudget; partBytes: number };
}

/** Octets a part's Writable queues while its file takes a write (written together by the next write). */
const QUEUED_BYTES = 1024 * 1024;
/**
 * Octets of a part's last writes kept in memory for a reader following it while it arrives (taken from the pool of
 * parts in memory; without room there, the reader reads the file).
 */
const FOLLOW_WINDOW_BYTES = 2 * 1024 * 1024;
/**
 * Octets of the window's own buffers, into which writes smaller than this are copied together (a part trickled in
 * one-octet writes makes one entry per 64 KiB, not one per write); a larger write is an entry of its own. Each entry is
 * charged at least this against the window, so it holds at most FOLLOW_WINDOW_BYTES / FOLLOW_SLAB_BYTES entries.
 */
const FOLLOW_SLAB_BYTES = 64 * 1024;
/**
 * Octets per read of a part's file (fs streams read 64 KB by default): fewer reads, Buffers and passes through the
 * decryption, digest and gunzip streams per MB of a large part.
 */
const READ_CHUNK_BYTES = 256 * 1024;
/**
 * A part held in memory copies writes smaller than this into buffers of its own of this size, filled in turn (a part
 * trickled in one-octet writes makes one buffer per 4 KiB, not one object per write); a larger write is a buffer of its
 * own. A buffer left partly filled by a larger write after it is cut to what it holds, so a part keeps at most one
 * buffer's spare room beyond the octets it is charged.
 */
const HELD_SLAB_BYTES = 4 * 1024;

/**
 * A storage error of the receiver (a full disk, an I/O error, a folder that is gone): EHMI_STORE_UNAVAILABLE (HTTP
 * 503, EBMS:0004, retryable), never an error about the message. An EhmiError passes through unchanged.
 *
 * @example
 * catch (err) { throw storageFailure(err, 'writing a temporary file'); }
 */
export function storageFailure(err: unknown, doing: string): EhmiError {
  if (err instanceof EhmiError) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return new EhmiError(
    'EHMI_STORE_UNAVAILABLE',
    `${doing} failed${code ? ` (${code})` : ''}: ${(err as Error | null)?.message ?? String(err)}`,
    { cause: err, details: code ? { code } : {} },
  );
}

/**
 * The default sink: each attachment body in memory while it is small (`memory`), else in a temporary file of its
 * own, named at random in `dir` (default `os.tmpdir()`; no folder per message), removed by `dispose()`. A small
 * part (the common 10 KB message) costs no file-system call at all. Every failure to create, write or read a file is
 * a storage error of the receiver ({@link storageFailure}: EHMI_STORE_UNAVAILABLE), reported on the part's Writable
 * or Readable: a write that did not reach the disk never looks like a shorter part.
 *
 * @example
 * const sink = tempFileSink({ dir: '/var/lib/ehmi/tmp', memory: { budget, partBytes: 256 * 1024 } });
 */
export function tempFileSink(options: TempFileSinkOptions = {}): AttachmentSink {
  const base = options.dir ?? tmpdir();
  const lease = options.memory?.budget.lease();
  const partBytes = options.memory?.partBytes ?? 0;
  let disposed = false;
  /** Files made (or being made), removed by `dispose`. */
  const files = new Set<string>();
  /** The windows of readers following a part (each a lease of the pool), given back by `dispose` at the latest. */
  const windows = new Set<ByteLease>();
  const prefix = `ehmi-as4-${randomUUID()}`;
  let counter = 0;
  return {
    create() {
      // A sink disposed is done: a part begun after (a run still going when the message was refused) would leave a
      // file nobody removes.
      if (disposed) throw new Error('the attachment sink was disposed');
      // A counter, not part.index: several steps (MIME, decryption, decompression) may share one sink.
      const path = join(base, `${prefix}-${++counter}`);
      /** The part while in memory; undefined once it went to a file. */
      let held: Buffer[] | undefined = [];
      let heldBytes = 0;
      /** The buffer small writes are copied into: `held`'s last entry is its first `slabFill` octets. */
      let slab: Buffer | undefined;
      let slabFill = 0;
      // The file is opened when the part outgrows memory (open is asynchronous; `create` is not).
      let opening: Promise<FileHandle> | undefined;
      let closed = false;
      // What a reader of the part while it is still arriving follows (`follow`): the octets in the file so far, whether
      // the part is whole, why it never will be, and a wake-up for each change.
      let written = 0;
      // The last writes, kept while a reader follows the part and the pool gives them room: that reader takes them from
      // memory instead of reading back from the file what was just written (the early run keeps up with the body).
      // Oldest first, by position; `length` octets of `buf` hold the part from `start` (a slab of the window's own is
      // filled by later small writes). `recentBytes`: what the entries are charged (a slab its whole size).
      let recent: { start: number; buf: Buffer; length: number; slab: boolean }[] = [];
      let recentBytes = 0;
      let window: ByteLease | undefined;
      let ended = false;
      let broken: Error | undefined;
      let change: { promise: Promise<void>; wake: () => void } | undefined;
      const changed = (): Promise<void> => {
        if (!change) {
          let wake!: () => void;
          const promise = new Promise<void>((resolve) => {
            wake = resolve;
          });
          change = { promise, wake };
        }
        return change.promise;
      };
      const notify = () => {
        const c = change;
        change = undefined;
        c?.wake();
      };
      const file = (): Promise<FileHandle> => {
        if (!opening) {
          if (disposed) return Promise.reject(new Error('the attachment sink was disposed'));
          files.add(path);
          opening = open(path, 'wx', 0o600);
        }
        return opening;
      };
      const writeAll = async (f: FileHandle, chunk: Buffer) => {
        options.beforeWrite?.(path, chunk.length);
        // A write may take only part of the buffer (a disk that fills up): write the rest, or fail.
        let offset = 0;
        while (offset < chunk.length) {
          const { bytesWritten } = await f.write(chunk, offset, chunk.length - offset);
          if (bytesWritten === 0) throw Object.assign(new Error('no octet was written'), { code: 'EIO' });
          offset += bytesWritten;
        }
      };
      /** Whether the part may grow to `heldBytes + octets` in memory (taken from the pool when it may). */
      const keep = (octets: number): boolean => {
        if (!lease || heldBytes + octets > partBytes) return false;
        try {
          lease.take(octets);
          return true;
        } catch {
          return false;
        }
      };
      /**
       * Chunks in memory while the part is small; past that, to the file, the chunks that queued meanwhile in one
       * write (a large part arrives faster than single writes go: one system call per queue, not per chunk).
       */
      const take = async (chunks: Buffer[]) => {
        const toFile: Buffer[] = [];
        for (const chunk of chunks) {
          if (held && keep(chunk.length)) {
            heldBytes += chunk.length;
            if (chunk.length < HELD_SLAB_BYTES) {
              if (!slab || slabFill + chunk.length > slab.length) {
                slab = Buffer.allocUnsafe(HELD_SLAB_BYTES);
                slabFill = 0;
                held.push(slab.subarray(0, 0));
              }
              chunk.copy(slab, slabFill);
              slabFill += chunk.length;
              held[held.length - 1] = slab.subarray(0, slabFill);
              continue;
            }
            // A slab left partly filled is cut to what it holds: nothing is appended to it after this write.
            if (slab && slabFill < slab.length)
              held[held.length - 1] = Buffer.from(slab.subarray(0, slabFill));
            slab = undefined;
            // A copy: the parser's chunk may be a view of a buffer it reuses.
            held.push(Buffer.from(chunk));
            continue;
          }
          if (held) {
            // The part outgrew memory: what it held goes first (its share of the pool is kept until `dispose`).
            toFile.push(...held);
            held = undefined;
            slab = undefined;
          }
          toFile.push(chunk);
        }
        if (toFile.length === 0) return;
        const f = await file();
        const buf = toFile.length === 1 ? toFile[0]! : Buffer.concat(toFile);
        await writeAll(f, buf);
        if (window && buf.length <= FOLLOW_WINDOW_BYTES) remember(buf, toFile.length === 1);
        written += buf.length;
        notify();
      };
      /** Makes room for `octets` more in the window: the oldest entries go first. */
      const makeRoom = (octets: number) => {
        let drop = 0;
        while (recentBytes + octets > FOLLOW_WINDOW_BYTES && drop < recent.length) {
          const r = recent[drop++]!;
          recentBytes -= r.slab ? r.buf.length : r.length;
        }
        if (drop > 0) recent.splice(0, drop);
      };
      /**
       * Keeps `buf` (the octets written at `written`) in the window: a small write copied into the window's last slab
       * (a new one when that is full), a large one an entry of its own, copied when `lone` (the parser's chunk may be a
       * view of a buffer it reuses; a concatenation is the sink's own). What a reader was given is never written over:
       * a slab is only appended to, and dropped, not reused, once old.
       */
      const remember = (buf: Buffer, lone: boolean) => {
        if (buf.length >= FOLLOW_SLAB_BYTES) {
          makeRoom(buf.length);
          recent.push({
            start: written,
            buf: lone ? Buffer.from(buf) : buf,
            length: buf.length,
            slab: false,
          });
          recentBytes += buf.length;
          return;
        }
        let copied = 0;
        while (copied < buf.length) {
          let last = recent[recent.length - 1];
          if (!last?.slab || last.length === last.buf.length) {
            makeRoom(FOLLOW_SLAB_BYTES);
            last = {
              start: written + copied,
              buf: Buffer.allocUnsafe(FOLLOW_SLAB_BYTES),
              length: 0,
              slab: true,
            };
            recent.push(last);
            recentBytes += FOLLOW_SLAB_BYTES;
          }
          const n = buf.copy(last.buf, last.length, copied);
          last.length += n;
          copied += n;
        }
      };
      /** The octets from `position` on that the window still holds, or undefined (then the file has them). */
      const fromWindow = (position: number): Buffer | undefined => {
        // A binary search by position (the entries are in its order): O(log n) per read, n at most 32.
        let lo = 0;
        let hi = recent.length - 1;
        while (lo <= hi) {
          const mid = (lo + hi) >>> 1;
          const r = recent[mid]!;
          if (position < r.start) hi = mid - 1;
          else if (position >= r.start + r.length) lo = mid + 1;
          else return r.buf.subarray(position - r.start, r.length);
        }
        return undefined;
      };
      /**
       * The part as it arrives, for a reader that starts before it is whole (the receive pipeline decrypting while the
       * body streams): the file's octets up to what was written, then a wait for the next write, until the part ends
       * (or stays in memory: then all of it at its end). A part that will never be whole (the write failed, the
       * message was refused) ends the reader with a storage error, never as a shorter part.
       */
      async function* follow(): AsyncGenerator<Buffer> {
        let position = 0;
        let reader: FileHandle | undefined;
        // One reader at a time keeps a window, if the pool of parts in memory has room for it (else the file serves).
        let mine: ByteLease | undefined;
        if (!window && options.memory) {
          mine = options.memory.budget.lease();
          try {
            mine.take(FOLLOW_WINDOW_BYTES);
            window = mine;
            windows.add(mine);
          } catch {
            mine.release();
            mine = undefined;
          }
        }
        try {
          for (;;) {
            if (broken) throw broken;
            if (held === undefined && position < written) {
              const kept = fromWindow(position);
              if (kept) {
                position += kept.length;
                yield kept;
                continue;
              }
              reader ??= await open(path, 'r');
              const n = Math.min(READ_CHUNK_BYTES, written - position);
              const buf = Buffer.allocUnsafe(n);
              const { bytesRead } = await reader.read(buf, 0, n, position);
              if (bytesRead === 0)
                throw Object.assign(new Error('the file is shorter than written'), { code: 'EIO' });
              position += bytesRead;
              yield bytesRead === n ? buf : buf.subarray(0, bytesRead);
              continue;
            }
            if (ended) {
              if (held) yield* held;
              return;
            }
            await changed();
          }
        } catch (err) {
          throw storageFailure(err, 'reading a temporary file');
        } finally {
          if (mine) {
            window = undefined;
            recent = [];
            recentBytes = 0;
            windows.delete(mine);
            mine.release();
          }
          await reader?.close().catch(() => {});
        }
      }
      const writable: Writable = new Writable({
        highWaterMark: QUEUED_BYTES,
        write(chunk: Buffer, _enc, cb) {
          take([chunk]).then(
            () => cb(),
            (err) => cb(storageFailure(err, 'writing a temporary file')),
          );
        },
        writev(chunks, cb) {
          take(chunks.map((c) => c.chunk as Buffer)).then(
            () => cb(),
            (err) => cb(storageFailure(err, 'writing a temporary file')),
          );
        },
        async final(cb) {
          if (held && held.length > 1) held = [Buffer.concat(held)];
          slab = undefined;
          // Every write has completed: a reader following the part has all of it.
          ended = true;
          notify();
          if (!opening) return cb();
          try {
            const f = await opening;
            closed = true;
            await f.close();
            cb();
          } catch (err) {
            cb(storageFailure(err, 'writing a temporary file'));
          }
        },
        destroy(err, cb) {
          if (!ended || err) {
            broken ??= err ?? new Error('the part was not received whole');
            notify();
          }
          if (!opening || closed) return cb(err);
          closed = true;
          // Also when the open is still in flight: the handle is closed once it is there.
          opening.then(
            (f) => f.close().catch(() => {}),
            () => {},
          );
          cb(err);
        },
      });
      const target: TempFileSinkTarget = {
        writable,
        get followWindow() {
          return { entries: recent.length, bytes: recentBytes };
        },
        get inMemory() {
          return held ? { entries: held.length, bytes: heldBytes } : undefined;
        },
        open: () => {
          if (disposed) throw new Error('the attachment sink was disposed');
          if (!writable.writableFinished) return Readable.from(follow(), { objectMode: false });
          if (held) return Readable.from(held);
          const out = new PassThrough();
          const input = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
          input.on('error', (err) => out.destroy(storageFailure(err, 'reading a temporary file')));
          return input.pipe(out);
        },
      };
      return target;
    },
    async dispose() {
      disposed = true;
      // The names are kept: a second dispose (once a run still going has settled) removes a file whose open was in
      // flight during the first.
      const made = [...files];
      // The memory goes back once nothing can read it; the files are removed (one never made is no error).
      lease?.release();
      // A reader abandoned without being ended or destroyed gives its window back here.
      for (const w of windows) w.release();
      windows.clear();
      await Promise.all(made.map((f) => unlink(f).catch(() => {})));
    },
  };
}

/**
 * A sink that keeps bodies in memory: for tests and for callers that bound the total size themselves.
 *
 * @example
 * const msg = await parseAs4Message(Readable.from([bytes]), { contentType, sink: memorySink() });
 */
export function memorySink(): AttachmentSink {
  return {
    create() {
      const chunks: Buffer[] = [];
      const writable = new Writable({
        write(chunk: Buffer, _enc, cb) {
          chunks.push(Buffer.from(chunk));
          cb();
        },
      });
      const whole = () => (chunks.length === 0 ? [] : [Buffer.concat(chunks)]);
      return {
        writable,
        // A part still arriving is given whole once it has ended (or fails if it never does).
        open: () =>
          writable.writableFinished
            ? Readable.from(whole())
            : Readable.from(
                (async function* () {
                  await finished(writable);
                  yield* whole();
                })(),
              ),
      };
    },
    async dispose() {},
  };
}
