import { type FileHandle, open } from 'node:fs/promises';
import { EhmiError } from '@ehmi/errors';

/**
 * A test seam for the WAL's fsync: `beforeSync` runs before each one (and is awaited), so a test can hold the sync
 * back, slow it down or count it. Set on {@link WalBarrier.faults}; none in production.
 *
 * @example
 * let release!: () => void;
 * store.wal!.faults = { beforeSync: () => new Promise<void>((r) => { release = r; }) };
 */
export interface WalFaults {
  beforeSync(): Promise<void> | void;
}

/**
 * The durability barrier of one SQLite database in WAL mode with `synchronous=NORMAL` (docs/architecture.md
 * "Durability"). A commit writes its frames to the WAL without an fsync, so it costs the event loop no wait; the
 * database stays consistent after a crash or a power loss, and only the latest commits can be lost, and only by a
 * power loss or an OS crash (a killed process loses nothing: its writes are in the OS's cache). {@link durable}
 * makes every commit noted so far durable by one `fdatasync` of the WAL file on libuv's thread pool, shared by all
 * callers: those that arrive while a sync runs wait for the next one, which covers them all (group commit).
 *
 * Frames that a checkpoint copies into the database are synced by SQLite itself first (in NORMAL mode a checkpoint
 * syncs the WAL before it copies and the database after; https://www.sqlite.org/pragma.html#pragma_synchronous),
 * and a WAL that restarts from its beginning has its new header synced by SQLite, so syncing the WAL file covers
 * every commit of this process. The file is one inode for as long as this connection is open (SQLite removes the
 * WAL only when the last connection closes), so the descriptor is opened once and kept.
 */
export class WalBarrier {
  readonly #path: string;
  /** Writes noted (each a possible commit point) so far. */
  #written = 0;
  /** Writes covered by the last completed sync. */
  #durable = 0;
  #running: { covers: number; done: Promise<void> } | undefined;
  #queued: Promise<void> | undefined;
  #file: FileHandle | undefined;
  #failed: EhmiError | undefined;
  #syncs = 0;
  /** Faults to inject (tests); none in production. */
  faults: WalFaults | undefined;

  /** The barrier of the WAL file at `walPath` (`<database>-wal`). */
  constructor(walPath: string) {
    this.#path = walPath;
  }

  /** Note a statement that may commit (a write, or a COMMIT): the next {@link durable} syncs. */
  noteWrite(): void {
    this.#written++;
  }

  /** True when a commit noted so far is not yet known durable. */
  get pending(): boolean {
    return this.#written > this.#durable;
  }

  /** Syncs of the WAL run so far (the bench and the tests count them). */
  get syncs(): number {
    return this.#syncs;
  }

  /**
   * Resolves once every commit noted before the call is durable; at once when none is pending. Rejects with
   * EHMI_STORE_UNAVAILABLE when a sync failed, then and for good: after a failed fsync the kernel may have dropped
   * the dirty pages it could not write, so no later sync can vouch for them (the node must be restarted).
   */
  durable(): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    const target = this.#written;
    if (target <= this.#durable) return Promise.resolve();
    const running = this.#running;
    if (!running) return this.#start();
    if (running.covers >= target) return running.done;
    // The sync that runs began before this caller's commit: the next one, started when it ends, covers everyone
    // who waits for it.
    this.#queued ??= running.done.then(
      () => this.#next(),
      () => this.#next(),
    );
    return this.#queued;
  }

  #next(): Promise<void> {
    this.#queued = undefined;
    if (this.#failed) return Promise.reject(this.#failed);
    return this.#start();
  }

  #start(): Promise<void> {
    const covers = this.#written;
    const done = this.#sync().then(
      () => {
        this.#running = undefined;
        if (covers > this.#durable) this.#durable = covers;
      },
      (err: unknown) => {
        this.#running = undefined;
        this.#failed ??= new EhmiError(
          'EHMI_STORE_UNAVAILABLE',
          `cannot make the database's commits durable (fsync of ${this.#path}): ${(err as Error).message}`,
          { cause: err },
        );
        throw this.#failed;
      },
    );
    this.#running = { covers, done };
    return done;
  }

  async #sync(): Promise<void> {
    await this.faults?.beforeSync();
    this.#file ??= await open(this.#path, 'r+');
    this.#syncs++;
    // fdatasync: the frames and the file's size, which is what reading them back needs (POSIX fdatasync).
    await this.#file.datasync();
  }

  /** Make what is pending durable, then let go of the WAL file (before the connection closes). */
  async close(): Promise<void> {
    try {
      if (!this.#failed) await this.durable();
    } finally {
      const file = this.#file;
      this.#file = undefined;
      await file?.close();
      openBarriers.delete(this);
    }
  }
}

const openBarriers = new Set<WalBarrier>();

/** Count `barrier` in {@link durableCommits} until it closes. */
export function registerBarrier(barrier: WalBarrier): void {
  openBarriers.add(barrier);
}

/**
 * Resolves once every commit this process made so far, on every store it has open, is durable: what must hold
 * before anything leaves the process (an HTTP response, an outgoing request, a server-sent event). Resolves at once
 * when nothing is pending (PostgreSQL's commits are durable when they return, so a PostgreSQL store has no barrier).
 */
export function durableCommits(): Promise<void> {
  const waits: Promise<void>[] = [];
  for (const barrier of openBarriers) if (barrier.pending) waits.push(barrier.durable());
  if (waits.length === 0) return Promise.resolve();
  return waits.length === 1 ? (waits[0] as Promise<void>) : Promise.all(waits).then(() => undefined);
}

/** True when {@link durableCommits} has nothing to wait for (lets a caller skip a turn of the event loop). */
export function commitsDurable(): boolean {
  for (const barrier of openBarriers) if (barrier.pending) return false;
  return true;
}
