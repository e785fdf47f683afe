import { randomUUID } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { type ExpressionBuilder, type Selectable, sql } from 'kysely';
import {
  type AnyStore,
  afterCommit,
  afterRollback,
  hasCommitHooks,
  insertAtCommit,
  type Store,
  storeView,
} from './db.ts';
import { fixedStatement } from './fixed.ts';
import { type AnyDb, type CoreTables, coreDb, type JobsTable } from './types.ts';

export interface QueueOptions {
  /** How long a claim reserves a job for its worker. A worker that dies loses the job to another after this. */
  leaseMs: number;
  /** Tries before a job is dead-lettered (a default; each job may set its own). */
  maxAttempts: number;
  /** Delay before the first retry; doubles per try. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Random spread of each delay, as a fraction (0.1 = ±10%), so failed jobs do not retry in lock-step. */
  jitter?: number;
  /** Clock in epoch milliseconds (tests freeze it). */
  now?: () => number;
}

export interface EnqueueOptions {
  queue: string;
  /** Arguments of the job, stored as JSON. */
  payload: unknown;
  /** Earliest time to run (epoch ms); now when absent. */
  runAt?: number;
  maxAttempts?: number;
  /** Caller-chosen id, e.g. to make enqueueing idempotent; a UUID when absent. */
  id?: string;
  /**
   * What the enqueuing transaction knows that the job would read back (the row it just wrote): never stored, handed
   * to a worker of this process with the job only when the job is written claimed by it ({@link Job.local}).
   */
  local?: unknown;
}

/** A job held by a worker under a lease. */
export interface Job<P = unknown> {
  id: string;
  queue: string;
  payload: P;
  /** This try's number, from 1. */
  attempt: number;
  maxAttempts: number;
  leaseToken: string;
  leaseUntil: number;
  createdAt: number;
  lastError: string | null;
  /**
   * {@link EnqueueOptions.local}, on the job's first try when it was handed to this worker by the transaction that
   * enqueued it, under the lease it was written with (no other worker can have run it since that commit). Absent for a
   * claimed job (a retry, a restart, another instance): the handler reads what it needs.
   */
  local?: unknown;
}

export type JobStatus = JobsTable['status'];

/** A sum or min as the drivers return it (PostgreSQL: bigint as a string; null over no rows). */
type Aggregate = string | number | null;

function toJob<P>(row: Selectable<JobsTable>): Job<P> {
  return {
    id: row.id,
    queue: row.queue,
    payload: JSON.parse(row.payload) as P,
    attempt: row.attempts,
    maxAttempts: row.max_attempts,
    leaseToken: row.lease_token!,
    leaseUntil: row.lease_until!,
    createdAt: row.created_at,
    lastError: row.last_error,
  };
}

/**
 * Told that a job of `queue` is due at `runAt` (epoch ms by the queue's clock): enqueued, or waiting for a retry.
 * `queue` is {@link ANY_QUEUE} when any queue may have jobs (another instance's notices may have been missed).
 */
export type JobSignal = (queue: string, runAt: number) => void;

export const ANY_QUEUE = '*';

/**
 * A worker of this process: it takes jobs straight from the transaction that enqueues them, and claims at once the
 * jobs it is told of.
 */
export interface LocalTaker {
  /**
   * A slot for one job, held until the job is taken or released; undefined when the worker has none free (or takes
   * no job handed over: a batch handler).
   */
  reserve(): LocalSlot | undefined;
  /**
   * This worker's id when it claims a job of its queue it is told of without waiting: a job due now, when a slot is
   * free; a job due later, whenever it runs (it wakes at the job's time). Undefined otherwise.
   */
  claimsAtOnce(dueNow: boolean): string | undefined;
}

/** One reserved slot of a {@link LocalTaker}. */
export interface LocalSlot {
  /** Names the worker in `jobs.locked_by`. */
  workerId: string;
  /** The worker's lease length and clock: the job's lease is the one its heartbeat renews. */
  leaseMs: number;
  now(): number;
  /** The job's row has committed, running under this slot's lease: run it. */
  take(job: Job): void;
  /** The enqueue did not commit (or failed): free the slot. Safe to call more than once. */
  release(): void;
}

// The local takers of each store (by its database handle) and queue.
const takers = new WeakMap<object, Map<string, Set<LocalTaker>>>();

// The listeners of each store (by its database handle), so that every JobQueue on one store in this process tells
// the workers of all of them.
const listeners = new WeakMap<object, Set<JobSignal>>();

/** A job done under its lease (built once, store/fixed.ts). */
const COMPLETE = fixedStatement(['now', 'id', 'token'], (db, p) =>
  coreDb(db)
    .updateTable('jobs')
    .set({ status: 'done', lease_token: null, lease_until: null, finished_at: p.now, updated_at: p.now })
    .where('id', '=', p.id)
    .where('lease_token', '=', p.token)
    .where('status', '=', 'running'),
);

/** The condition of the partial index `jobs_due`, word for word (a bound parameter would not match it). */
const live = sql<boolean>`status in ('ready', 'running')`;

/**
 * A durable job queue on the node's store: the outbox for sending, retries and status reporting.
 *
 * Jobs are enqueued in the caller's transaction (they exist only if it commits), claimed under a lease (on
 * PostgreSQL with `FOR UPDATE SKIP LOCKED`, on SQLite by one `UPDATE … RETURNING` under the single write lock),
 * completed or failed with exponential back-off, dead-lettered after their last try, and claimed again when a
 * worker's lease expires (the worker crashed or hung). A job due now whose queue has a worker in this process with
 * a free slot is written already claimed by it, under its lease, and handed to it when the transaction commits
 * (see {@link JobQueue.enqueue}): the same lease, so the same guarantees, without a claim. Claims seek the partial
 * index of live jobs (`jobs_due`), so the finished jobs the table keeps until they are purged cost them nothing.
 *
 * @example
 * await store.transaction(async (trx) => {
 *   await trx.insertInto('messages').values(row).execute();
 *   await queue.enqueue(trx, { queue: 'as4-send', payload: { messageId: row.id } });
 * });
 */
export class JobQueue {
  readonly store: Store<CoreTables>;
  readonly options: Required<QueueOptions>;

  constructor(store: AnyStore, options: QueueOptions) {
    this.store = storeView<CoreTables>(store);
    this.options = { jitter: 0.1, now: Date.now, ...options };
  }

  /**
   * Add a job in the caller's transaction (or on its own when given the plain database handle).
   *
   * A job due now whose queue has a worker in this process with a free slot ({@link JobQueue.offer}) is written
   * already claimed by that worker (running, its first try, under the worker's lease) and handed to it once the
   * transaction commits: no claim statement and no commit of its own. The lease is what makes this safe: no claim
   * anywhere takes the job while it holds, the worker renews it as for a claimed job, and if this process dies
   * the job is claimed again when the lease expires. Jobs due later, jobs of a full or absent worker, and jobs
   * enqueued in a transaction this store did not open (no commit hook) are written ready, as before.
   *
   * In a transaction opened by {@link Store.transaction} the row is written just before the commit, with the other
   * jobs the transaction enqueues, in one INSERT ({@link insertAtCommit}): a job is not visible to the transaction's
   * own reads before then, and a failed insert (a caller's id taken already) rolls the transaction back at its
   * commit instead of failing this call.
   */
  async enqueue(trx: AnyDb, job: EnqueueOptions): Promise<string> {
    const now = this.options.now();
    const id = job.id ?? randomUUID();
    const runAt = job.runAt ?? now;
    const payload = JSON.stringify(job.payload ?? null);
    const maxAttempts = job.maxAttempts ?? this.options.maxAttempts;
    const slot = runAt <= now ? this.#reserve(trx, job.queue) : undefined;
    const lease = slot && { token: randomUUID(), until: slot.now() + slot.leaseMs };
    // A job written ready that a worker of this process will claim as soon as the commit tells it: named by that
    // worker in `locked_by` and no notice to the other instances (their claims would find nothing, or race this
    // one). A claim anywhere still takes it (a poll of another instance, after this process died).
    const claimer = slot ? undefined : this.#localClaimer(trx, job.queue, runAt <= now);
    const row = {
      id,
      queue: job.queue,
      payload,
      status: lease ? ('running' as const) : ('ready' as const),
      attempts: lease ? 1 : 0,
      max_attempts: maxAttempts,
      run_at: runAt,
      lease_until: lease ? lease.until : null,
      lease_token: lease ? lease.token : null,
      locked_by: slot ? slot.workerId : (claimer ?? null),
      last_error: null,
      created_at: now,
      updated_at: now,
      finished_at: null,
    };
    // Other instances on a shared PostgreSQL database hear of a job written ready when the transaction commits, by
    // a notice the insert itself sends (no round trip of its own); a job written claimed, or ready for a local
    // worker that claims it at once, is this process's.
    const notices = this.store.jobNotices;
    const returning = notices && { key: 'notice', expression: notices.noticeOfReadyRow() };
    try {
      // In a transaction of the store: with the transaction's other jobs, in one INSERT before its commit.
      if (!insertAtCommit(trx, 'jobs', row, returning)) {
        const insert = coreDb(trx).insertInto('jobs').values(row);
        await (returning ? insert.returning(returning.expression.as('notified')) : insert).execute();
      }
    } catch (err) {
      slot?.release();
      throw err;
    }
    if (slot && lease) {
      const taken: Job = {
        id,
        queue: job.queue,
        payload: JSON.parse(payload),
        attempt: 1,
        maxAttempts,
        leaseToken: lease.token,
        leaseUntil: lease.until,
        createdAt: now,
        lastError: null,
        ...(job.local === undefined ? {} : { local: job.local }),
      };
      if (!afterCommit(trx, () => slot.take(taken))) slot.take(taken);
      return id;
    }
    this.#signal(trx, job.queue, runAt);
    return id;
  }

  /**
   * Offer a worker of `queue` in this process as the taker of jobs enqueued due now on this store (by any JobQueue
   * of the store in this process). Returns the function that withdraws the offer.
   */
  offer(queue: string, taker: LocalTaker): () => void {
    let byQueue = takers.get(this.store.db);
    if (!byQueue) {
      byQueue = new Map();
      takers.set(this.store.db, byQueue);
    }
    let set = byQueue.get(queue);
    if (!set) {
      set = new Set();
      byQueue.set(queue, set);
    }
    set.add(taker);
    return () => {
      set.delete(taker);
    };
  }

  /**
   * A free slot of a local worker of `queue`, when the job's commit can be told to it: a transaction opened by
   * {@link Store.transaction} (its commit and rollback hooks) or the plain handle (the insert commits on its own).
   */
  #reserve(trx: AnyDb, queue: string): LocalSlot | undefined {
    const set = takers.get(this.store.db)?.get(queue);
    if (!set || set.size === 0) return undefined;
    for (const taker of set) {
      const slot = taker.reserve();
      if (!slot) continue;
      // In a transaction: the slot is freed if it rolls back. A transaction without hooks is not ours to watch.
      if (trx.isTransaction && !afterRollback(trx, async () => slot.release())) {
        slot.release();
        return undefined;
      }
      return slot;
    }
    return undefined;
  }

  /**
   * A local worker of `queue` that claims the job at once when the commit signals it (see
   * {@link LocalTaker.claimsAtOnce}); only where that signal follows the commit: a transaction opened by
   * {@link Store.transaction} or the plain handle.
   */
  #localClaimer(trx: AnyDb, queue: string, dueNow: boolean): string | undefined {
    if (trx.isTransaction && !hasCommitHooks(trx)) return undefined;
    for (const taker of takers.get(this.store.db)?.get(queue) ?? []) {
      const id = taker.claimsAtOnce(dueNow);
      if (id !== undefined) return id;
    }
    return undefined;
  }

  /**
   * Listen for jobs enqueued (once their transaction has committed) or set to retry in this process, on any queue
   * of this store. Returns the function that stops listening. Workers use it to wake at once instead of polling.
   */
  subscribe(fn: JobSignal): () => void {
    let set = listeners.get(this.store.db);
    if (!set) {
      set = new Set();
      listeners.set(this.store.db, set);
    }
    set.add(fn);
    const unlisten = this.store.jobNotices?.listen((queue) => fn(queue ?? ANY_QUEUE, this.options.now()));
    return () => {
      set.delete(fn);
      unlisten?.();
    };
  }

  #signal(trx: AnyDb, queue: string, runAt: number): void {
    const emit = (): void => {
      for (const fn of [...(listeners.get(this.store.db) ?? [])]) fn(queue, runAt);
    };
    if (!afterCommit(trx, emit)) emit();
  }

  /**
   * When the earliest job of `queue` that is not claimable now becomes claimable: a ready job's `run_at`, or a running
   * job's lease end (its worker may have died). Undefined when the queue holds no ready or running job.
   */
  async nextDue(queue: string): Promise<number | undefined> {
    const row = await this.store.db
      .selectFrom('jobs')
      .select(sql<Aggregate>`min(case when status = 'ready' then run_at else lease_until end)`.as('next'))
      .where('queue', '=', queue)
      .where(live)
      .executeTakeFirst();
    return row?.next === null || row?.next === undefined ? undefined : Number(row.next);
  }

  /**
   * Claim up to `limit` due jobs of `queue` for `workerId`. A job is due when it is ready and its time has come, or
   * when it is running under a lease that has expired. No other claim can take a job while its lease holds.
   */
  async claim<P = unknown>(queue: string, workerId: string, limit = 1): Promise<Job<P>[]> {
    const now = this.options.now();
    const db = this.store.db;
    const token = randomUUID();
    // `status in ('ready', 'running')` is the condition of the partial index `jobs_due` (live jobs by queue and due
    // time): with it both engines seek the queue's live jobs in order and never visit its finished ones. A job whose
    // lease expired on its last try is not claimed; {@link JobQueue.deadLetterExpired} dead-letters it.
    let candidates = db
      .selectFrom('jobs')
      .select('id')
      .where('queue', '=', queue)
      .where(live)
      .where((eb) =>
        eb.or([
          eb.and([eb('status', '=', 'ready'), eb('run_at', '<=', now)]),
          eb.and([
            eb('status', '=', 'running'),
            eb('lease_until', '<=', now),
            eb('attempts', '<', eb.ref('max_attempts')),
          ]),
        ]),
      )
      .orderBy('run_at')
      .orderBy('id')
      .limit(limit);
    // PostgreSQL: lock the chosen rows and skip rows another claim has locked, so concurrent claims never pick the
    // same job and never wait on each other. SQLite has one writer at a time, which gives the same guarantee.
    const postgres = this.store.engine === 'postgres';
    if (postgres) candidates = candidates.forUpdate().skipLocked();
    const lease = (eb: ExpressionBuilder<CoreTables, 'jobs'>) => ({
      status: 'running' as const,
      attempts: eb('attempts', '+', 1),
      lease_until: now + this.options.leaseMs,
      lease_token: token,
      locked_by: workerId,
      updated_at: now,
    });
    let rows: Selectable<JobsTable>[];
    if (postgres) {
      // The chosen ids are a materialized CTE, read once. As `id in (subquery)` the planner may put the subquery on
      // the inner side of a nested loop and run it again for each row, each run locking other jobs: more than
      // `limit` claimed. Each row is checked again as it is updated (a job claimed meanwhile no longer qualifies).
      rows = await db
        .with(
          (cte) => cte('chosen').materialized(),
          () => candidates,
        )
        .updateTable('jobs')
        .set(lease)
        .where('id', 'in', (eb) => eb.selectFrom('chosen').select('chosen.id'))
        .where((eb) =>
          eb.or([
            eb('status', '=', 'ready'),
            eb.and([
              eb('status', '=', 'running'),
              eb('lease_until', '<=', now),
              eb('attempts', '<', eb.ref('max_attempts')),
            ]),
          ]),
        )
        .returningAll()
        .execute();
    } else {
      // SQLite runs the statement alone under its write lock, so the rows chosen are the rows updated; a check there
      // would only make the planner visit every ready job of every queue instead of the chosen ids.
      rows = await db.updateTable('jobs').set(lease).where('id', 'in', candidates).returningAll().execute();
    }
    return rows.sort((a, b) => a.run_at - b.run_at || a.id.localeCompare(b.id)).map((r) => toJob<P>(r));
  }

  /**
   * Dead-letter the jobs of `queue` whose worker stopped or hung on their last try (running, lease expired, no try
   * left): they will not run again. Claims skip them; workers call this on their poll and when {@link nextDue}
   * says a lease has expired, not before every claim. Returns how many.
   */
  async deadLetterExpired(queue: string): Promise<number> {
    const now = this.options.now();
    const result = await this.store.db
      .updateTable('jobs')
      .set({
        status: 'dead',
        lease_token: null,
        lease_until: null,
        finished_at: now,
        updated_at: now,
        last_error: 'lease expired on the last attempt (the worker stopped or hung)',
      })
      .where('queue', '=', queue)
      .where('status', '=', 'running')
      .where('lease_until', '<=', now)
      .whereRef('attempts', '>=', 'max_attempts')
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /**
   * Give back a job handed to a worker that stopped before it could start it: ready again, its try not counted,
   * so any worker claims it at once. False when the lease was already lost.
   */
  async release(job: Job): Promise<boolean> {
    const now = this.options.now();
    const result = await this.store.db
      .updateTable('jobs')
      .set((eb) => ({
        status: 'ready',
        attempts: eb('attempts', '-', 1),
        lease_token: null,
        lease_until: null,
        locked_by: null,
        updated_at: now,
      }))
      .where('id', '=', job.id)
      .where('lease_token', '=', job.leaseToken)
      .where('status', '=', 'running')
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return false;
    await this.store.jobNotices?.notify(this.store.db as never, job.queue);
    this.#signal(this.store.db, job.queue, now);
    return true;
  }

  /**
   * Mark a job done, in the caller's transaction when given one (so the job's effects and its completion commit
   * together). Throws EHMI_QUEUE_LEASE_LOST if the lease expired and another worker may have taken the job.
   */
  async complete(job: Job, trx: AnyDb = this.store.db): Promise<void> {
    const now = this.options.now();
    if ((await COMPLETE.affected(trx, { now, id: job.id, token: job.leaseToken })) !== 1)
      throw leaseLost(job);
  }

  /**
   * Mark jobs done together (one statement per claim they came from), in the caller's transaction when given one.
   * Throws EHMI_QUEUE_LEASE_LOST, naming none, if any of them had lost its lease; the others are done.
   */
  async completeMany(jobs: readonly Job[], trx: AnyDb = this.store.db): Promise<void> {
    const now = this.options.now();
    const byToken = new Map<string, string[]>();
    for (const job of jobs) byToken.set(job.leaseToken, [...(byToken.get(job.leaseToken) ?? []), job.id]);
    let updated = 0;
    for (const [token, ids] of byToken) {
      for (let i = 0; i < ids.length; i += 500) {
        const result = await coreDb(trx)
          .updateTable('jobs')
          .set({ status: 'done', lease_token: null, lease_until: null, finished_at: now, updated_at: now })
          .where('id', 'in', ids.slice(i, i + 500))
          .where('lease_token', '=', token)
          .where('status', '=', 'running')
          .executeTakeFirst();
        updated += Number(result.numUpdatedRows);
      }
    }
    if (updated !== jobs.length) {
      throw new EhmiError(
        'EHMI_QUEUE_LEASE_LOST',
        `${jobs.length - updated} of ${jobs.length} jobs had lost their lease; another worker may hold them`,
        { details: { jobIds: jobs.map((j) => j.id) } },
      );
    }
  }

  /**
   * Record a failed try. The job is retried after an exponential back-off (or after `delayMs`, the caller's own:
   * a server's Retry-After) unless it has used its tries or the failure is permanent, in which case it is
   * dead-lettered.
   */
  async fail(
    job: Job,
    error: unknown,
    options: { permanent?: boolean; delayMs?: number } = {},
  ): Promise<'retry' | 'dead'> {
    const now = this.options.now();
    const message = (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(
      0,
      4000,
    );
    const dead = options.permanent === true || job.attempt >= job.maxAttempts;
    const retryAt = now + Math.max(0, Math.round(options.delayMs ?? this.backoff(job.attempt)));
    const result = await this.store.db
      .updateTable('jobs')
      .set(
        dead
          ? {
              status: 'dead',
              lease_token: null,
              lease_until: null,
              last_error: message,
              finished_at: now,
              updated_at: now,
            }
          : {
              status: 'ready',
              lease_token: null,
              lease_until: null,
              last_error: message,
              run_at: retryAt,
              updated_at: now,
            },
      )
      .where('id', '=', job.id)
      .where('lease_token', '=', job.leaseToken)
      .where('status', '=', 'running')
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) throw leaseLost(job);
    if (!dead) this.#signal(this.store.db, job.queue, retryAt);
    return dead ? 'dead' : 'retry';
  }

  /** Extend a held lease (a heartbeat for long jobs). False when the lease was already lost. */
  async extendLease(job: Job): Promise<boolean> {
    const now = this.options.now();
    const until = now + this.options.leaseMs;
    const result = await this.store.db
      .updateTable('jobs')
      .set({ lease_until: until, updated_at: now })
      .where('id', '=', job.id)
      .where('lease_token', '=', job.leaseToken)
      .where('status', '=', 'running')
      .where('lease_until', '>', now)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return false;
    job.leaseUntil = until;
    return true;
  }

  /** The delay before try `attempt + 1`: base · 2^(attempt−1), capped, with jitter ({@link backoffDelay}). */
  backoff(attempt: number): number {
    const { backoffBaseMs, backoffMaxMs, jitter } = this.options;
    return backoffDelay(attempt, { baseMs: backoffBaseMs, maxMs: backoffMaxMs, jitter });
  }

  /**
   * What `queue` still holds to run, by this queue's clock: jobs running under a lease that holds (any worker's),
   * jobs due now (ready and their time has come, or running under an expired lease), and when the earliest job that
   * is not due yet (a retry waiting out its back-off) falls due — undefined when none waits.
   */
  async backlog(queue: string): Promise<{ running: number; due: number; next: number | undefined }> {
    const now = this.options.now();
    const held = sql`status = 'running' and lease_until > ${now}`;
    const row = await this.store.db
      .selectFrom('jobs')
      .select([
        sql<Aggregate>`sum(case when ${held} then 1 else 0 end)`.as('running'),
        sql<Aggregate>`sum(case when ${held} then 0 when status = 'running' or run_at <= ${now} then 1 else 0 end)`.as(
          'due',
        ),
        sql<Aggregate>`min(case when status = 'ready' and run_at > ${now} then run_at end)`.as('next'),
      ])
      .where('queue', '=', queue)
      .where(live)
      .executeTakeFirst();
    return {
      running: Number(row?.running ?? 0),
      due: Number(row?.due ?? 0),
      next: row?.next === null || row?.next === undefined ? undefined : Number(row.next),
    };
  }

  /** Number of jobs per status, for metrics and tests. */
  async counts(queue?: string): Promise<Record<JobStatus, number>> {
    let q = this.store.db.selectFrom('jobs').select(['status', (eb) => eb.fn.countAll<number>().as('n')]);
    if (queue) q = q.where('queue', '=', queue);
    const rows = await q.groupBy('status').execute();
    const out: Record<JobStatus, number> = { ready: 0, running: 0, done: 0, dead: 0 };
    for (const r of rows) out[r.status] = Number(r.n);
    return out;
  }

  /**
   * Delete finished jobs (done and dead) that finished before `before` (epoch ms), so the outbox does not grow
   * without end. Dead jobs are kept as long as done ones: they are what an operator investigates.
   */
  async purgeFinished(before: number, options: { queue?: string } = {}): Promise<number> {
    let query = this.store.db
      .deleteFrom('jobs')
      .where('status', 'in', ['done', 'dead'])
      .where('finished_at', '<', before);
    if (options.queue !== undefined) query = query.where('queue', '=', options.queue);
    const result = await query.executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Which of these job ids are still waiting or running (not done, not dead-lettered, not purged). */
  async live(ids: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    // In slices, far below either engine's limit on bound parameters.
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.store.db
        .selectFrom('jobs')
        .select('id')
        .where('id', 'in', ids.slice(i, i + 500))
        .where('status', 'in', ['ready', 'running'])
        .execute();
      for (const r of rows) found.add(r.id);
    }
    return found;
  }

  /** Number of jobs per queue and status, for the `/metrics` gauge. */
  async countsByQueue(): Promise<{ queue: string; status: JobStatus; n: number }[]> {
    const rows = await this.store.db
      .selectFrom('jobs')
      .select(['queue', 'status', (eb) => eb.fn.countAll<number>().as('n')])
      .where('status', 'in', ['ready', 'running', 'dead'])
      .groupBy(['queue', 'status'])
      .execute();
    return rows.map((r) => ({ queue: r.queue, status: r.status, n: Number(r.n) }));
  }

  /**
   * The dead-lettered jobs whose payload names any of `refs` (the ids of what they worked on: an envelope's
   * submission id, a message's MessageHeader.id), newest first, at most `limit`: what an operator may retry about one
   * message. Dead jobs are found by the partial index `jobs_dead`, so the done jobs the table keeps cost nothing.
   */
  async deadNaming(refs: readonly string[], limit = 50): Promise<Selectable<JobsTable>[]> {
    const wanted = refs.filter((r) => r.length > 0);
    if (wanted.length === 0) return [];
    return this.store.db
      .selectFrom('jobs')
      .selectAll()
      .where(sql<boolean>`status = 'dead'`)
      .where((eb) =>
        eb.or(
          wanted.map((r) =>
            eb('payload', 'like', sql<string>`${`%${r.replace(/[\\%_]/g, (c) => `\\${c}`)}%`} escape '\\'`),
          ),
        ),
      )
      .orderBy('finished_at', 'desc')
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  /**
   * Put a dead-lettered job back in its queue to run now, its tries counted afresh (an operator's retry once the
   * cause is mended). Its last error stays until the next try. False when the job is not dead (any more): a retry
   * repeated, or raced by another instance, changes nothing.
   */
  async retryDead(id: string, trx: AnyDb = this.store.db): Promise<boolean> {
    const now = this.options.now();
    const row = await coreDb(trx)
      .updateTable('jobs')
      .set({
        status: 'ready',
        attempts: 0,
        run_at: now,
        lease_token: null,
        lease_until: null,
        locked_by: null,
        finished_at: null,
        updated_at: now,
      })
      .where('id', '=', id)
      .where('status', '=', 'dead')
      .returning('queue')
      .executeTakeFirst();
    if (!row) return false;
    await this.store.jobNotices?.notify(trx as never, row.queue);
    this.#signal(trx, row.queue, now);
    return true;
  }

  /** One job's row, for tests and operators. */
  async get(id: string): Promise<Selectable<JobsTable> | undefined> {
    return this.store.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
  }
}

/**
 * The delay before try `attempt + 1` of a job: `baseMs · 2^(attempt−1)`, capped at `maxMs`, spread by ±`jitter`
 * (a fraction) so that jobs that failed together do not retry in lock-step. The queue's own back-off, and that of
 * a worker with its own schedule (`WorkerOptions.retryDelay`).
 */
export function backoffDelay(
  attempt: number,
  options: { baseMs: number; maxMs: number; jitter: number },
): number {
  const { baseMs, maxMs, jitter } = options;
  const raw = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const spread = raw * jitter * (Math.random() * 2 - 1);
  return Math.max(0, Math.round(Math.min(maxMs, raw + spread)));
}

function leaseLost(job: Job): EhmiError {
  return new EhmiError(
    'EHMI_QUEUE_LEASE_LOST',
    `the lease on job ${job.id} expired; another worker may hold it`,
    {
      details: { jobId: job.id },
    },
  );
}
