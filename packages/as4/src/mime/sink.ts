import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';

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

/**
 * The default sink: one temporary file per attachment in a fresh directory under `os.tmpdir()` (or `dir`),
 * removed by `dispose()`.
 *
 * @example
 * const sink = tempFileSink({ dir: '/var/lib/ehmi/tmp' });
 */
export function tempFileSink(options: { dir?: string } = {}): AttachmentSink {
  let dirPath: string | undefined;
  let created: Promise<string> | undefined;
  const base = options.dir ?? tmpdir();
  let disposed = false;
  let counter = 0;
  const ensureDir = (): Promise<string> => {
    created ??= mkdtemp(join(base, 'ehmi-as4-')).then((d) => {
      dirPath = d;
      return d;
    });
    return created;
  };
  return {
    create() {
      // A counter, not part.index: several steps (MIME, decryption, decompression) may share one sink.
      const name = `part-${++counter}`;
      const pathPromise = ensureDir().then((d) => join(d, name));
      pathPromise.catch(() => {}); // reported through the Writable, not as an unhandled rejection
      // A Writable that opens the file on first use, since mkdtemp is asynchronous.
      let file: ReturnType<typeof createWriteStream> | undefined;
      const openFile = async () => {
        if (!file) {
          file = createWriteStream(await pathPromise);
          // A disk error (ENOSPC, EACCES) must fail this part, not crash the process with an unhandled 'error'.
          file.on('error', (err) => writable.destroy(err));
        }
        return file;
      };
      const writable: Writable = new Writable({
        async write(chunk: Buffer, _enc, cb) {
          try {
            const f = await openFile();
            if (!f.write(chunk)) f.once('drain', () => cb());
            else cb();
          } catch (err) {
            cb(err as Error);
          }
        },
        async final(cb) {
          try {
            const f = await openFile();
            f.end(() => cb());
          } catch (err) {
            cb(err as Error);
          }
        },
        destroy(err, cb) {
          file?.destroy();
          cb(err);
        },
      });
      return {
        writable,
        open: () => {
          if (disposed) throw new Error('the attachment sink was disposed');
          return createReadStream(join(dirPath!, name));
        },
      };
    },
    async dispose() {
      disposed = true;
      if (created) await rm(await created, { recursive: true, force: true });
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
      return { writable, open: () => Readable.from(chunks.length === 0 ? [] : [Buffer.concat(chunks)]) };
    },
    async dispose() {},
  };
}
