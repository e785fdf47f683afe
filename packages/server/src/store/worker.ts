import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { EhmiError } from '@ehmi/errors';
import type { Logger } from 'pino';
import { afterCommit } from './db.ts';
import { ANY_QUEUE, type Job, type JobQueue, type LocalSlot } from './queue.ts';
import type { AnyDb } from './types.ts';

/** What a {@link JobHandler} gets beside its job. */
export interface JobContext {
  /** Aborted when the job's lease is lost (another worker may hold it now). */
  signal: AbortSignal;
  /**
   * Mark the job done in `trx`, the transaction that commits the job's effects, so the effects and the completion
   * are one commit (one fsync) and a crash leaves either both or neither. The worker then records nothing more for
   * this job once `trx` commits; if `trx` rolls back, or the handler never calls this, the worker completes the job
   * on its own after the handler resolves, as before. Call it in the handler's last transaction: a handler that
   * throws after it committed cannot fail the job any more. When the lease was lost meanwhile, nothing is marked and
   * the effects commit as they would have: the worker that holds the job now finds them done (handlers are
   * idempotent) and completes it.
   */
  complete(trx: AnyDb): Promise<void>;
}

export type JobHandler<P = unknown> = (job: Job<P>, context: JobContext) => Promise<void>;

/**
 * A handler of several jobs at once (up to `size`, as many as are due: one when only one is, so nothing waits for a
 * batch to fill). `run` answers each job's outcome in order: undefined is done, an error a failed try of that job
 * (final when `isPermanent` says so). A throw fails every job of the batch.
 */
export interface BatchJobHandler<P = unknown> {
  size: number;
  run(jobs: Job<P>[], context: { signal: AbortSignal }): Promise<(unknown | undefined)[]>;
}

export interface WorkerOptions {
  /** Jobs run at once by this worker. */
  concurrency?: number;
  /**
   * Jobs enqueued due now in this process while every slot runs one, that the worker takes anyway: written claimed
   * under its lease like a job handed over, held in memory and started as slots free up, so none needs a claim of
   * its own. Beyond this many (default 4 × `concurrency`) a job is written ready and claimed as before. Under a backlog
   * a claim also takes up to this many beyond the free slots, held the same way. 0 holds none.
   */
  hold?: number;
  /**
   * The longest an idle worker waits before it looks for due jobs again: a safety net. Jobs enqueued (once their
   * transaction commits) or set to retry in this process wake the worker at once or at their time, and an idle
   * worker sleeps only until the earliest waiting job or held lease falls due; so polling only finds what other
   * processes did to the store.
   */
  pollIntervalMs?: number;
  /** Names the worker in `jobs.locked_by`; host, pid and a random part by default. */
  workerId?: string;
  logger?: Logger;
  /**
   * Whether a failure is final. Default: an EhmiError whose code is not transient is permanent (bad input will not
   * get better), anything else (network, database, a bug) is retried.
   */
  isPermanent?: (error: unknown) => boolean;
  /**
   * The delay before the next try of a job that failed (a handler's own schedule, a server's Retry-After), or
   * undefined for the queue's back-off.
   */
  retryDelay?: (job: Job, error: unknown) => number | undefined;
}

/** What {@link Worker.idle} resolves with. */
export interface IdleState {
  /**
   * When the earliest job of the queue that is not due yet (a retry waiting out its back-off) falls due, by the
   * queue's clock (epoch ms); undefined when no job waits: everything enqueued so far has run.
   */
  next: number | undefined;
}

/** The earliest of some {@link IdleState.next} values (undefined when none is set). */
export function earliestNext(states: readonly IdleState[]): IdleState {
  const times = states.map((s) => s.next).filter((t): t is number => t !== undefined);
  return { next: times.length > 0 ? Math.min(...times) : undefined };
}

/**
 * The worker's default: an EhmiError whose code is not transient is a permanent failure (bad input will not get
 * better); anything else (network, database, a bug) is retried.
 */
export function isPermanentFailure(error: unknown): boolean {
  return error instanceof EhmiError && !error.transient && error.code !== 'EHMI_INTERNAL';
}

/**
 * Runs one queue's jobs with a handler: claims due jobs, keeps their leases alive while the handler runs, completes
 * or fails them. `stop()` waits for running jobs to finish.
 */
export class Worker<P = unknown> {
  readonly id: string;
  readonly #queue: JobQueue;
  readonly #name: string;
  readonly #handler: JobHandler<P> | BatchJobHandler<P>;
  readonly #concurrency: number;
  readonly #hold: number;
  readonly #pollMs: number;
  readonly #logger: Logger | undefined;
  readonly #isPermanent: (error: unknown) => boolean;
  readonly #retryDelay: ((job: Job, error: unknown) => number | undefined) | undefined;
  readonly #running = new Set<Promise<void>>();
  #stopped = true;
  #timer: NodeJS.Timeout | undefined;
  #wakeUp: (() => void) | undefined;
  /** A wake-up that came while the loop was not asleep: the next sleep returns at once. */
  #woken = false;
  #unsubscribe: (() => void) | undefined;
  #withdraw: (() => void) | undefined;
  /** Slots promised to jobs enqueued in this process whose transaction has not ended yet. */
  #reserved = 0;
  /**
   * Jobs handed over while every slot was busy, oldest first: written claimed by this worker (see `hold`), started as
   * slots free up; given back (ready, the try not counted) if the worker stops first.
   */
  readonly #held: Job<P>[] = [];
  readonly #givingBack = new Set<Promise<void>>();
  /**
   * Whether a job of the queue may be due that this worker has not claimed: set by a signal, a timer, a poll, a
   * claim that took all it asked for; cleared by a claim. A worker that finished a job claims again only when set.
   */
  #mayBeDue = true;
  /** Whether the dead-job sweep runs before the next claim (at start, on each poll, when a lease was seen expired). */
  #sweepDue = true;
  /** When the worker last looked at the store on its own (a claim): the poll runs `pollMs` after it. */
  #lookedAt = 0;
  #dueTimer: NodeJS.Timeout | undefined;
  /** While an idle waiter waits for another worker's jobs: the next look. */
  #idleTimer: NodeJS.Timeout | undefined;
  /** When the due timer fires, on `performance.now()`'s clock. */
  #dueAt: number | undefined;
  #loop: Promise<void> | undefined;
  readonly #idleWaiters: { drained: boolean; resolve: (state: IdleState) => void }[] = [];

  constructor(
    queue: JobQueue,
    name: string,
    handler: JobHandler<P> | BatchJobHandler<P>,
    options: WorkerOptions = {},
  ) {
    this.#queue = queue;
    this.#name = name;
    this.#handler = handler;
    this.#concurrency = options.concurrency ?? 1;
    this.#hold = options.hold ?? 4 * this.#concurrency;
    this.#pollMs = options.pollIntervalMs ?? 5000;
    this.#logger = options.logger;
    this.#isPermanent = options.isPermanent ?? isPermanentFailure;
    this.#retryDelay = options.retryDelay;
    this.id = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#unsubscribe = this.#queue.subscribe((queue, runAt) => {
      if (queue === this.#name || queue === ANY_QUEUE) this.#wakeAt(runAt);
    });
    // A job handler takes jobs enqueued in this process straight from their transaction; a batch handler claims,
    // so that one claim takes what is due together. Either claims at once the jobs it is told of while a slot is
    // free: those need no notice to other instances.
    const takesJobs = typeof this.#handler === 'function';
    this.#withdraw = this.#queue.offer(this.#name, {
      reserve: () => (takesJobs ? this.#reserve() : undefined),
      claimsAtOnce: (dueNow) => this.#claimsAtOnce(dueNow),
    });
    this.#mayBeDue = true;
    this.#sweepDue = true;
    this.#loop = this.#run();
  }

  /**
   * Look for jobs now instead of at the next poll. Jobs enqueued through a JobQueue of this store in this process
   * need no call: they are handed over or signalled once their transaction commits.
   */
  wake(): void {
    this.#mayBeDue = true;
    this.#nudge();
  }

  /** Run the loop once more (a job ended, a slot was freed) without claiming unless something may be due. */
  #nudge(): void {
    this.#woken = true;
    this.#wakeUp?.();
  }

  #claimsAtOnce(dueNow: boolean): string | undefined {
    if (this.#stopped) return undefined;
    // Told of a job due later, the worker wakes at its time; of one due now, it claims when a slot is free.
    if (!dueNow || this.#running.size + this.#reserved < this.#concurrency) return this.id;
    return undefined;
  }

  #reserve(): LocalSlot | undefined {
    if (this.#stopped) return undefined;
    // A free slot, or room among the held jobs: the job runs when a slot frees up, without a claim.
    if (this.#running.size + this.#reserved + this.#held.length >= this.#concurrency + this.#hold)
      return undefined;
    this.#reserved++;
    let open = true;
    const close = (): boolean => {
      if (!open) return false;
      open = false;
      this.#reserved--;
      return true;
    };
    return {
      workerId: this.id,
      leaseMs: this.#queue.options.leaseMs,
      now: this.#queue.options.now,
      take: (job) => {
        // After the committing transaction's hooks and the enqueuer's code after its commit, as when the job was
        // claimed; the slot stays reserved until then.
        setImmediate(() => {
          if (!close()) return;
          if (this.#stopped) {
            // Stopped between the enqueue and its commit: give the job back for any worker to claim.
            this.#giveBack(job);
            return;
          }
          if (this.#running.size < this.#concurrency) this.#start(job as Job<P>);
          else this.#held.push(job as Job<P>);
          this.#nudge();
        });
      },
      release: () => {
        if (close()) this.#nudge();
      },
    };
  }

  #track(run: Promise<void>): void {
    const p = run.finally(() => {
      this.#running.delete(p);
      this.#startHeld();
      this.#nudge();
    });
    this.#running.add(p);
  }

  /** Start held jobs in the slots that are free, oldest first. */
  #startHeld(): void {
    while (!this.#stopped && this.#held.length > 0 && this.#running.size < this.#concurrency) {
      this.#start(this.#held.shift()!);
    }
  }

  /**
   * Run a job handed over (at once or after it was held). Its lease was counted from the enqueue: after a long
   * transaction or a wait, it is renewed before the job starts (the heartbeat's first beat comes a third of a lease
   * later). Lost already: the claim path takes the job, as its next try.
   */
  #start(job: Job<P>): void {
    const left = job.leaseUntil - this.#queue.options.now();
    if (left >= (this.#queue.options.leaseMs * 2) / 3) {
      this.#track(this.#execute(job));
      return;
    }
    this.#track(
      this.#queue.extendLease(job).then(
        (held) => {
          if (held) return this.#execute(job);
          this.wake();
        },
        (err) => {
          this.#logger?.warn({ err, jobId: job.id }, 'lease renewal of a job handed over failed');
          this.wake();
        },
      ),
    );
  }

  /**
   * Give back a job handed over that this worker will not run: ready again, its try not counted. `stop()` waits for
   * the give-backs under way.
   */
  #giveBack(job: Job): Promise<void> {
    const p: Promise<void> = this.#queue
      .release(job)
      .then(
        () => {},
        (err) => this.#logger?.warn({ err, jobId: job.id }, 'could not give back a job handed over'),
      )
      .finally(() => this.#givingBack.delete(p));
    this.#givingBack.add(p);
    return p;
  }

  /**
   * A job of this queue falls due at `runAt` (queue clock): wake now, or then. The timer kept is the one that fires
   * first in real time: the queue's clock may be set forward (a test's, or a corrected one), so a time that is
   * later on the queue's clock can be sooner on the timer's.
   */
  #wakeAt(runAt: number): void {
    const delay = runAt - this.#queue.options.now();
    if (delay <= 0) {
      this.wake();
      return;
    }
    const firesAt = performance.now() + delay;
    if (this.#dueAt !== undefined && this.#dueAt <= firesAt) return;
    clearTimeout(this.#dueTimer);
    this.#dueAt = firesAt;
    this.#dueTimer = setTimeout(() => {
      this.#dueAt = undefined;
      this.wake();
    }, delay);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#withdraw?.();
    this.#withdraw = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    clearTimeout(this.#dueTimer);
    clearTimeout(this.#idleTimer);
    this.#dueAt = undefined;
    this.wake();
    await this.#loop;
    // Held jobs never started: ready again for any worker (here after a restart, or another instance).
    await Promise.all(this.#held.splice(0).map((job) => this.#giveBack(job)));
    await Promise.allSettled([...this.#running, ...this.#givingBack]);
    if (this.#idleWaiters.length > 0) {
      const state = await this.#stoppedState();
      for (const w of this.#idleWaiters.splice(0)) w.resolve(state);
    }
  }

  /**
   * Resolves once this worker is idle: it runs no job, and its queue has no job due (by the queue's clock) or
   * running under another worker's lease — so nothing happens until a waiting job falls due (`next`) or more is
   * enqueued. With `drained`, also waits until no job waits: everything enqueued so far has run. Checked on the
   * worker's own loop (after a job ends, on `wake()`, at each poll), so a test waits for this instead of for time.
   * A stopped worker resolves once its running jobs have finished.
   */
  idle(options: { drained?: boolean } = {}): Promise<IdleState> {
    if (this.#stopped) {
      return Promise.allSettled([...this.#running]).then(() => this.#stoppedState());
    }
    return new Promise((resolve) => {
      this.#idleWaiters.push({ drained: options.drained === true, resolve });
      // The loop checks the queue's backlog; it claims only if that finds something due.
      this.#nudge();
    });
  }

  async #stoppedState(): Promise<IdleState> {
    try {
      const backlog = await this.#queue.backlog(this.#name);
      return { next: backlog.next };
    } catch {
      return { next: undefined };
    }
  }

  /** Called by the loop when it claimed nothing and runs nothing: settle the idle waiters the queue allows. */
  async #settleIdle(): Promise<void> {
    let backlog: Awaited<ReturnType<JobQueue['backlog']>>;
    try {
      backlog = await this.#queue.backlog(this.#name);
    } catch (err) {
      this.#logger?.warn({ err, queue: this.#name }, 'checking for idle failed');
      return;
    }
    if (backlog.due > 0) {
      // Due but not claimed (a lease expired on its last try, or another instance's claim holds the row): sweep
      // and look again shortly.
      this.#sweepDue = true;
      this.#wakeAt(this.#queue.options.now() + 10);
    }
    if (
      backlog.running > 0 &&
      this.#running.size === 0 &&
      this.#reserved === 0 &&
      this.#held.length === 0 &&
      !this.#stopped
    ) {
      // Running under another worker's lease (another instance's): nothing here tells when it ends, so look again
      // shortly, only while someone waits for idle (reads only, no claim).
      clearTimeout(this.#idleTimer);
      this.#idleTimer = setTimeout(() => this.#nudge(), 25);
    }
    if (
      backlog.running > 0 ||
      backlog.due > 0 ||
      this.#running.size > 0 ||
      this.#reserved > 0 ||
      this.#held.length > 0
    ) {
      return;
    }
    const state: IdleState = { next: backlog.next };
    for (const w of [...this.#idleWaiters]) {
      if (w.drained && state.next !== undefined) continue;
      this.#idleWaiters.splice(this.#idleWaiters.indexOf(w), 1);
      w.resolve(state);
    }
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      this.#woken = false;
      const now = this.#queue.options.now();
      // The poll: the safety net for what other processes did to the store (and leases that expired there).
      if (now - this.#lookedAt >= this.#pollMs) {
        this.#mayBeDue = true;
        this.#sweepDue = true;
      }
      const free = this.#concurrency - this.#running.size - this.#reserved;
      const batch = typeof this.#handler === 'function' ? undefined : this.#handler;
      let claimed: Job<P>[] = [];
      let looked = false;
      if (free > 0 && this.#mayBeDue) {
        this.#mayBeDue = false;
        this.#lookedAt = now;
        looked = true;
        if (this.#sweepDue) {
          this.#sweepDue = false;
          try {
            const dead = await this.#queue.deadLetterExpired(this.#name);
            if (dead > 0) {
              this.#logger?.warn(
                { queue: this.#name, dead },
                'jobs dead-lettered: their lease expired on the last try',
              );
            }
          } catch (err) {
            this.#logger?.warn({ err, queue: this.#name }, 'dead-lettering expired jobs failed');
          }
        }
        // Under a backlog a claim takes, beside a job for each free slot, as many as the worker may hold: they wait
        // here under their lease and start as slots free up, so one claim (one commit) serves many jobs.
        const room = this.#concurrency + this.#hold - this.#running.size - this.#reserved - this.#held.length;
        const want = batch ? batch.size : Math.max(free, room);
        try {
          claimed = await this.#queue.claim<P>(this.#name, this.id, want);
          // All it asked for: more may be due.
          if (claimed.length >= want) this.#mayBeDue = true;
        } catch (err) {
          this.#logger?.error({ err, queue: this.#name }, 'claiming jobs failed');
        }
      }
      // A batch handler gets what one claim took as one run; concurrency counts runs.
      if (batch) {
        if (claimed.length > 0) this.#track(this.#executeBatch(batch, claimed));
      } else {
        for (const job of claimed) {
          if (this.#running.size < this.#concurrency) this.#track(this.#execute(job));
          else this.#held.push(job);
        }
      }
      if (claimed.length === 0 && this.#running.size === 0 && this.#idleWaiters.length > 0) {
        await this.#settleIdle();
      }
      if (this.#stopped) break;
      // Took fewer than it could: learn when the next job falls due (a retry, another instance's job or lease).
      if (looked && !this.#mayBeDue) await this.#scheduleNext();
      const busy = this.#running.size + this.#reserved >= this.#concurrency;
      if (this.#mayBeDue && !busy) continue;
      // A job's end, a hand-over, a signal or a due time wakes the loop; the poll bounds an idle sleep.
      const untilPoll = this.#lookedAt + this.#pollMs - this.#queue.options.now();
      await this.#sleep(busy ? this.#pollMs : Math.max(10, untilPoll));
    }
  }

  /**
   * After a claim that left slots free: wake when the earliest waiting job or held lease falls due. One that is due
   * already was not claimable (its lease expired on its last try, or another instance's claim holds it): sweep,
   * and look again shortly.
   */
  async #scheduleNext(): Promise<void> {
    let next: number | undefined;
    try {
      next = await this.#queue.nextDue(this.#name);
    } catch (err) {
      this.#logger?.warn({ err, queue: this.#name }, 'checking for the next due job failed');
      return;
    }
    if (next === undefined) return;
    const now = this.#queue.options.now();
    if (next <= now) {
      this.#sweepDue = true;
      next = now + 10;
    }
    this.#wakeAt(next);
  }

  #sleep(ms: number): Promise<void> {
    if (this.#woken || this.#stopped) return Promise.resolve();
    // The poll is a deadline (#lookedAt), checked by the loop whenever it wakes.
    return new Promise((resolve) => {
      this.#wakeUp = () => {
        clearTimeout(this.#timer);
        this.#wakeUp = undefined;
        resolve();
      };
      this.#timer = setTimeout(() => this.#wakeUp?.(), ms);
    });
  }

  async #executeBatch(batch: BatchJobHandler<P>, jobs: Job<P>[]): Promise<void> {
    const abort = new AbortController();
    const leaseMs = this.#queue.options.leaseMs;
    const heartbeat = setInterval(
      () => {
        for (const job of jobs) {
          this.#queue.extendLease(job).then(
            (held) => {
              if (!held) abort.abort(new EhmiError('EHMI_QUEUE_LEASE_LOST', `lease on job ${job.id} lost`));
            },
            (err) => this.#logger?.warn({ err, jobId: job.id }, 'lease renewal failed'),
          );
        }
      },
      Math.max(10, Math.floor(leaseMs / 3)),
    );
    let outcomes: (unknown | undefined)[];
    try {
      outcomes = await batch.run(jobs, { signal: abort.signal });
    } catch (err) {
      outcomes = jobs.map(() => err);
    } finally {
      clearInterval(heartbeat);
    }
    const done = jobs.filter((_, i) => outcomes[i] === undefined && i < outcomes.length);
    if (done.length > 0) {
      try {
        await this.#queue.completeMany(done);
      } catch (err) {
        this.#logger?.warn({ err, queue: this.#name }, 'could not record every completion (lease lost)');
      }
    }
    for (const [i, job] of jobs.entries()) {
      if (outcomes[i] === undefined && i < outcomes.length) continue;
      const err =
        i < outcomes.length
          ? outcomes[i]
          : new EhmiError('EHMI_INTERNAL', 'the batch handler gave no outcome for this job');
      await this.#recordFailure(job, err);
    }
  }

  /** Record a job's failure (retried later or dead-lettered, as the queue decides) and log it. */
  async #recordFailure(job: Job<P>, err: unknown): Promise<void> {
    try {
      const delayMs = this.#retryDelay?.(job, err);
      const outcome = await this.#queue.fail(job, err, {
        permanent: this.#isPermanent(err),
        ...(delayMs !== undefined ? { delayMs } : {}),
      });
      this.#logger?.warn(
        { err, jobId: job.id, queue: this.#name, attempt: job.attempt, outcome },
        'job failed',
      );
    } catch (failErr) {
      this.#logger?.warn({ err: failErr, jobId: job.id }, 'could not record the failure (lease lost)');
    }
  }

  async #execute(job: Job<P>): Promise<void> {
    const abort = new AbortController();
    const leaseMs = this.#queue.options.leaseMs;
    // Renew the lease at a third of its length, so one missed beat does not lose the job.
    const heartbeat = setInterval(
      () => {
        this.#queue.extendLease(job).then(
          (held) => {
            if (!held) abort.abort(new EhmiError('EHMI_QUEUE_LEASE_LOST', `lease on job ${job.id} lost`));
          },
          (err) => this.#logger?.warn({ err, jobId: job.id }, 'lease renewal failed'),
        );
      },
      Math.max(10, Math.floor(leaseMs / 3)),
    );
    let completed = false;
    let lost = false;
    const complete = async (trx: AnyDb): Promise<void> => {
      try {
        await this.#queue.complete(job, trx);
      } catch (err) {
        if (!(err instanceof EhmiError && err.code === 'EHMI_QUEUE_LEASE_LOST')) throw err;
        lost = true;
        return;
      }
      // In a transaction of Store.transaction: done once it commits. On a plain handle: done now.
      if (!afterCommit(trx, () => (completed = true))) completed = true;
    };
    try {
      await (this.#handler as JobHandler<P>)(job, { signal: abort.signal, complete });
      clearInterval(heartbeat);
      if (lost) {
        this.#logger?.warn(
          { jobId: job.id, queue: this.#name },
          'job ran, but its lease was lost: not completed',
        );
        return;
      }
      if (!completed) await this.#queue.complete(job);
    } catch (err) {
      clearInterval(heartbeat);
      await this.#recordFailure(job, err);
    }
  }
}
