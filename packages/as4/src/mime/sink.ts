import { createReadStream } from 'node:fs';
import { type FileHandle, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { EhmiError } from '@ehmi/errors';

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
  /** A fresh stream over everything written, callable once `writable` has finished, and again any time after. */
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

/** Options of {@link tempFileSink}. */
export interface TempFileSinkOptions {
  /** The folder the sink makes its own subfolder in; default `os.tmpdir()`. */
  dir?: string;
  /**
   * Called before each write with the file and the number of octets. Throwing fails the write as the file system
   * would: the seam through which tests (and a fault suite) make a disk full or broken.
   */
  beforeWrite?: (path: string, octets: number) => void;
}

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
 * The default sink: one temporary file per attachment in a fresh directory under `os.tmpdir()` (or `dir`),
 * removed by `dispose()`. Every failure to create, write or read a file is a storage error of the receiver
 * ({@link storageFailure}: EHMI_STORE_UNAVAILABLE), reported on the part's Writable or Readable: a write that did
 * not reach the disk never looks like a shorter part.
 *
 * @example
 * const sink = tempFileSink({ dir: '/var/lib/ehmi/tmp' });
 */
export function tempFileSink(options: TempFileSinkOptions = {}): AttachmentSink {
  let created: Promise<string> | undefined;
  const base = options.dir ?? tmpdir();
  let disposed = false;
  let counter = 0;
  const ensureDir = (): Promise<string> => {
    created ??= mkdtemp(join(base, 'ehmi-as4-'));
    return created;
  };
  return {
    create() {
      // A counter, not part.index: several steps (MIME, decryption, decompression) may share one sink.
      const name = `part-${++counter}`;
      let path: string | undefined;
      // The file is opened on the first write (mkdtemp and open are asynchronous; `create` is not).
      let opening: Promise<FileHandle> | undefined;
      let closed = false;
      const file = (): Promise<FileHandle> => {
        opening ??= ensureDir().then(async (d) => {
          path = join(d, name);
          return open(path, 'wx', 0o600);
        });
        return opening;
      };
      const writable: Writable = new Writable({
        async write(chunk: Buffer, _enc, cb) {
          try {
            const f = await file();
            options.beforeWrite?.(path!, chunk.length);
            // A write may take only part of the buffer (a disk that fills up): write the rest, or fail.
            let offset = 0;
            while (offset < chunk.length) {
              const { bytesWritten } = await f.write(chunk, offset, chunk.length - offset);
              if (bytesWritten === 0) throw Object.assign(new Error('no octet was written'), { code: 'EIO' });
              offset += bytesWritten;
            }
            cb();
          } catch (err) {
            cb(storageFailure(err, 'writing a temporary file'));
          }
        },
        async final(cb) {
          try {
            const f = await file();
            closed = true;
            await f.close();
            cb();
          } catch (err) {
            cb(storageFailure(err, 'writing a temporary file'));
          }
        },
        destroy(err, cb) {
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
      return {
        writable,
        open: () => {
          if (disposed) throw new Error('the attachment sink was disposed');
          const out = new PassThrough();
          const input = createReadStream(ensuredPath(path));
          input.on('error', (err) => out.destroy(storageFailure(err, 'reading a temporary file')));
          return input.pipe(out);
        },
      };
    },
    async dispose() {
      disposed = true;
      if (created) await rm(await created, { recursive: true, force: true });
    },
  };
}

function ensuredPath(path: string | undefined): string {
  if (path === undefined) throw new Error('the attachment was read before it was written');
  return path;
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
      return { writable, open: () => Readable.from(chunks.length === 0 ? [] : [Buffer.concat(chunks)]) };
    },
    async dispose() {},
  };
}
