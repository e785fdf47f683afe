import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EhmiError } from '@ehmi/errors';
import { sql } from 'kysely';
import { openNodeStore } from '../../src/role-list.ts';
import {
  type Job,
  JobQueue,
  type QueueOptions,
  Worker,
  type WorkerOptions,
  writePending,
} from '../../src/store/index.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { spawnWorker } from '../helpers/spawn.ts';

const base: QueueOptions = {
  leaseMs: 1000,
  maxAttempts: 3,
  backoffBaseMs: 100,
  backoffMaxMs: 1000,
  jitter: 0,
};

for (const engine of engines()) {
  describe(`job queue on ${engine.name}`, { skip: engine.skip }, () => {
    let t: TestStore;
    let clock = 1_700_000_000_000;
    const now = (): number => clock;
    let n = 0;
    const q = (): string => `q${++n}`;

    before(async () => {
      t = await engine.open();
    });
    after(async () => {
      await t?.cleanup();
    });

    it('runs nothing enqueued in a transaction that rolled back', async () => {
      const queue = new JobQueue(t.store, { ...base, now });
      const name = q();
      await assert.rejects(
        t.store.transaction(async (trx) => {
          await queue.enqueue(trx, { queue: name, payload: { a: 1 } });
          throw new Error('caller fails after enqueueing');
        }),
        /caller fails/,
      );
      assert.deepEqual(await queue.claim(name, 'w1', 10), []);
      assert.deepEqual(await queue.counts(name), { ready: 0, running: 0, done: 0, dead: 0 });
    });

    it('runs a job enqueued in a committed transaction, with its payload', async () => {
      const queue = new JobQueue(t.store, { ...base, now });
      const name = q();
      const id = await t.store.transaction((trx) =>
        queue.enqueue(trx, { queue: name, payload: { msg: 'x', n: 2 } }),
      );
      const [job] = await queue.claim<{ msg: string; n: number }>(name, 'w1');
      assert.equal(job?.id, id);
      assert.deepEqual(job?.payload, { msg: 'x', n: 2 });
      assert.equal(job?.attempt, 1);
      await queue.complete(job!);
      assert.equal((await queue.get(id))?.status, 'done');
    });

    it('writes the jobs of a transaction at its commit in one INSERT; a taken id rolls the transaction back', async () => {
      const queue = new JobQueue(t.store, { ...base, now });
      const name = q();
      const ids = await t.store.transaction(async (trx) => {
        const a = await queue.enqueue(trx, { queue: name, payload: 1 });
        const b = await queue.enqueue(trx, { queue: name, payload: 2, runAt: clock + 60_000 });
        assert.equal(
          await trx.selectFrom('jobs').select('id').where('id', 'in', [a, b]).executeTakeFirst(),
          undefined,
          'kept for the commit',
        );
        return [a, b];
      });
      assert.equal((await queue.get(ids[0]!))?.status, 'ready');
      assert.equal((await queue.get(ids[1]!))?.run_at, clock + 60_000);
      if (engine.name === 'postgres') {
        const { rows } = await sql<{
          cmin: string;
        }>`select cmin::text as cmin from jobs where id in (${ids[0]}, ${ids[1]})`.execute(t.store.db);
        assert.equal(new Set(rows.map((r) => r.cmin)).size, 1, 'one INSERT');
      }
      await assert.rejects(
        t.store.transaction(async (trx) => {
          await queue.enqueue(trx, { queue: name, payload: 3, id: 'fresh-one' });
          await queue.enqueue(trx, { queue: name, payload: 4, id: ids[0] });
        }),
      );
      assert.equal(await queue.get('fresh-one'), undefined, 'nothing of the transaction committed');
    });

    it('gives a claimed job to no other worker while its lease holds, and to another once it expires', async () => {
      const queue = new JobQueue(t.store, { ...base, now });
      const name = q();
      await queue.enqueue(t.store.db, { queue: name, payload: 1 });
      const [a] = await queue.claim(name, 'worker-a');
      assert.ok(a);
      clock += base.leaseMs - 1;
      assert.deepEqual(await queue.claim(name, 'worker-b'), [], 'lease still holds');
      clock += 1;
      const [b] = await queue.claim(name, 'worker-b');
      assert.equal(b?.id, a.id, 're-claimed after the lease expired');
      assert.equal(b?.attempt, 2);
      await assert.rejects(queue.complete(a), (err: unknown) => {
        return err instanceof EhmiError && err.code === 'EHMI_QUEUE_LEASE_LOST';
      });
      await queue.complete(b!);
    });

    it('does not run a job before its time', async () => {
      const queue = new JobQueue(t.store, { ...base, now });
      const name = q();
      await queue.enqueue(t.store.db, { queue: name, payload: 1, runAt: clock + 500 });
      assert.deepEqual(await queue.claim(name, 'w'), []);
      clock += 500;
      assert.equal((await queue.claim(name, 'w')).length, 1);
    });

    it('retries a failed job after an exponential back-off, then dead-letters it after the last try', async () => {
      const queue = new JobQueue(t.store, { ...base, now });
      const name = q();
      const id = await queue.enqueue(t.store.db, { queue: name, payload: null });
      const delays: number[] = [];
      for (let attempt = 1; attempt <= 3; attempt++) {
        const [job] = await queue.claim(name, 'w');
        assert.equal(job?.attempt, attempt);
        const outcome = await queue.fail(job!, new Error(`boom ${attempt}`));
        if (attempt < 3) {
          assert.equal(outcome, 'retry');
          const row = await queue.get(id);
          delays.push(row!.run_at - clock);
          assert.deepEqual(await queue.claim(name, 'w'), [], 'not before its back-off');
          clock = row!.run_at;
        } else {
          assert.equal(outcome, 'dead');
        }
      }
      assert.deepEqual(delays, [100, 200]);
      const row = await queue.get(id);
      assert.equal(row?.status, 'dead');
      assert.equal(row?.last_error, 'Error: boom 3');
      clock += 10_000;
      assert.deepEqual(await queue.claim(name, 'w'), []);
    });

    it('dead-letters a permanent failure at once', async () => {
      const queue = new JobQueue(t.store, { ...base, now });
      const name = q();
      await queue.enqueue(t.store.db, { queue: name, payload: null });
      const [job] = await queue.claim(name, 'w');
      assert.equal(await queue.fail(job!, new Error('bad input'), { permanent: true }), 'dead');
    });

    it('dead-letters a job whose worker died on its last try', async () => {
      const queue = new JobQueue(t.store, { ...base, now, maxAttempts: 1 });
      const name = q();
      const id = await queue.enqueue(t.store.db, { queue: name, payload: null });
      assert.equal((await queue.claim(name, 'w')).length, 1);
      clock += base.leaseMs;
      assert.deepEqual(await queue.claim(name, 'w'), [], 'no try left: not claimed again');
      assert.equal(await queue.deadLetterExpired(name), 1);
      assert.equal((await queue.get(id))?.status, 'dead');
    });

    it('finds the dead jobs naming an id, and puts one back to run now with its tries afresh, once', async () => {
      const queue = new JobQueue(t.store, { ...base, now });
      const name = q();
      const mine = await queue.enqueue(t.store.db, { queue: name, payload: { submissionId: 'sub-1_%' } });
      const other = await queue.enqueue(t.store.db, { queue: name, payload: { submissionId: 'sub-2' } });
      const live = await queue.enqueue(t.store.db, {
        queue: name,
        payload: { submissionId: 'sub-1_%' },
        runAt: clock + 1e9,
      });
      for (const job of await queue.claim(name, 'w', 10)) {
        await queue.fail(job, new Error(`refused ${job.id}`), { permanent: true });
      }
      assert.deepEqual(
        (await queue.deadNaming(['sub-1_%'])).map((j) => j.id),
        [mine],
        'only the dead one naming it (the other names another id; the live one is not dead)',
      );
      // LIKE's wildcards in an id match themselves only.
      assert.deepEqual(await queue.deadNaming(['sub-_']), []);
      assert.deepEqual(
        (await queue.deadNaming(['sub-1_%', 'sub-2'])).map((j) => j.id).sort(),
        [mine, other].sort(),
      );
      assert.equal(await queue.retryDead(mine), true);
      assert.equal(await queue.retryDead(mine), false, 'a repeated retry changes nothing');
      assert.equal(await queue.retryDead(live), false, 'a live job is not retried');
      const row = await queue.get(mine);
      assert.equal(row?.status, 'ready');
      assert.equal(row?.attempts, 0);
      assert.equal(row?.run_at, clock);
      assert.equal(row?.finished_at, null);
      const [again] = await queue.claim(name, 'w', 10);
      assert.equal(again?.id, mine);
      assert.equal(again?.attempt, 1);
      await queue.complete(again!);
      assert.deepEqual(await queue.deadNaming(['sub-1_%']), []);
    });

    it('extends a held lease, and reports a lost one', async () => {
      const queue = new JobQueue(t.store, { ...base, now });
      const name = q();
      await queue.enqueue(t.store.db, { queue: name, payload: null });
      const [job] = await queue.claim(name, 'w');
      clock += 900;
      assert.equal(await queue.extendLease(job!), true);
      clock += 900;
      assert.deepEqual(await queue.claim(name, 'other'), [], 'the extended lease still holds');
      clock += 200;
      assert.equal(await queue.extendLease(job!), false);
    });

    it('claims due jobs oldest first, at most the limit', async () => {
      const queue = new JobQueue(t.store, { ...base, now });
      const name = q();
      for (let i = 0; i < 5; i++)
        await queue.enqueue(t.store.db, { queue: name, payload: i, runAt: clock - 10 + i });
      const jobs = await queue.claim<number>(name, 'w', 3);
      assert.deepEqual(
        jobs.map((j) => j.payload),
        [0, 1, 2],
      );
    });

    it('keeps queues apart', async () => {
      const queue = new JobQueue(t.store, { ...base, now });
      const a = q();
      const b = q();
      await queue.enqueue(t.store.db, { queue: a, payload: 'a' });
      assert.deepEqual(await queue.claim(b, 'w'), []);
      assert.equal((await queue.claim(a, 'w')).length, 1);
    });

    it('purges finished jobs older than the cut-off and keeps the rest', async () => {
      const queue = new JobQueue(t.store, { ...base, now });
      const name = q();
      clock += 1_000_000; // after every job earlier tests finished
      const done = await queue.enqueue(t.store.db, { queue: name, payload: 'done' });
      const [job] = await queue.claim(name, 'w');
      await queue.complete(job!);
      const waiting = await queue.enqueue(t.store.db, {
        queue: name,
        payload: 'waiting',
        runAt: clock + 1e6,
      });
      await queue.purgeFinished(clock);
      assert.ok(await queue.get(done), 'a job that finished at the cut-off is kept');
      assert.ok((await queue.purgeFinished(clock + 1)) >= 1);
      assert.equal(await queue.get(done), undefined);
      assert.ok(await queue.get(waiting), 'unfinished jobs are never purged');
      const counts = await queue.countsByQueue();
      assert.deepEqual(
        counts.filter((c) => c.queue === name),
        [{ queue: name, status: 'ready', n: 1 }],
      );
    });

    it('a Worker runs jobs to completion and retries a failure', async () => {
      const queue = new JobQueue(t.store, { ...base, backoffBaseMs: 20 });
      const name = q();
      const seen: string[] = [];
      const worker = new Worker<string>(
        queue,
        name,
        async (job: Job<string>) => {
          seen.push(`${job.payload}#${job.attempt}`);
          if (job.payload === 'flaky' && job.attempt === 1) throw new Error('transient');
        },
        { pollIntervalMs: 10, concurrency: 2 },
      );
      await queue.enqueue(t.store.db, { queue: name, payload: 'ok' });
      await queue.enqueue(t.store.db, { queue: name, payload: 'flaky' });
      worker.start();
      assert.deepEqual(await worker.idle({ drained: true }), { next: undefined });
      await worker.stop();
      assert.deepEqual(await queue.counts(name), { ready: 0, running: 0, done: 2, dead: 0 });
      assert.deepEqual([...seen].sort(), ['flaky#1', 'flaky#2', 'ok#1']);
    });

    it('completes a job in the transaction of its effects, and on its own when that transaction rolled back', async () => {
      const queue = new JobQueue(t.store, { ...base, now });
      const name = q();
      const statuses: Record<string, string | undefined> = {};
      const worker = new Worker<string>(
        queue,
        name,
        async (job, { complete }) => {
          if (job.payload === 'together') {
            await t.store.transaction(async (trx) => {
              await complete(trx);
              // Inside the transaction the job is done; no other statement of the worker follows the commit.
              statuses.inside = (
                await trx.selectFrom('jobs').select('status').where('id', '=', job.id).executeTakeFirst()
              )?.status;
            });
            return;
          }
          await t.store
            .transaction(async (trx) => {
              await complete(trx);
              throw new Error('the effects failed');
            })
            .catch(() => {});
          statuses.rolledBack = (await queue.get(job.id))?.status;
        },
        { pollIntervalMs: 10 },
      );
      await queue.enqueue(t.store.db, { queue: name, payload: 'together' });
      await queue.enqueue(t.store.db, { queue: name, payload: 'rolled back' });
      worker.start();
      await worker.idle({ drained: true });
      await worker.stop();
      assert.deepEqual(statuses, { inside: 'done', rolledBack: 'running' });
      assert.deepEqual(await queue.counts(name), { ready: 0, running: 0, done: 2, dead: 0 });
    });

    it('rolls back the effects of a job whose lease was lost before its completion', async () => {
      const queue = new JobQueue(t.store, { ...base, now });
      const name = q();
      await queue.enqueue(t.store.db, { queue: name, payload: 'x' });
      const [job] = await queue.claim(name, 'w1');
      clock += base.leaseMs + 1;
      const [again] = await queue.claim(name, 'w2');
      assert.equal(again?.id, job!.id);
      await assert.rejects(
        t.store.transaction(async (trx) => {
          await trx
            .insertInto('blobs')
            .values({ hash: `effect-${name}`, size: 1, created_at: 0 })
            .execute();
          await queue.complete(job!, trx);
        }),
        (err: unknown) => err instanceof EhmiError && err.code === 'EHMI_QUEUE_LEASE_LOST',
      );
      const effect = await t.store.db
        .selectFrom('blobs')
        .select('hash')
        .where('hash', '=', `effect-${name}`)
        .executeTakeFirst();
      assert.equal(effect, undefined);
      assert.equal((await queue.get(job!.id))?.status, 'running');
    });

    it('completeMany completes the jobs of a claim together, and reports a lost lease without touching its job', async () => {
      const queue = new JobQueue(t.store, { ...base, now });
      const name = q();
      for (const p of ['a', 'b', 'c']) await queue.enqueue(t.store.db, { queue: name, payload: p });
      const jobs = await queue.claim(name, 'w1', 10);
      assert.equal(jobs.length, 3);
      await queue.completeMany(jobs.slice(0, 2));
      assert.deepEqual(await queue.counts(name), { ready: 0, running: 1, done: 2, dead: 0 });
      clock += base.leaseMs;
      const [taken] = await queue.claim(name, 'w2', 10);
      assert.equal(taken?.id, jobs[2]!.id);
      await assert.rejects(queue.completeMany([jobs[2]!]), { code: 'EHMI_QUEUE_LEASE_LOST' });
      assert.equal((await queue.get(taken!.id))?.status, 'running', 'the other worker still holds it');
      await queue.completeMany([taken!]);
      assert.deepEqual(await queue.counts(name), { ready: 0, running: 0, done: 3, dead: 0 });
    });

    it('a Worker with a batch handler runs the due jobs together and ends each by its own outcome', async () => {
      const queue = new JobQueue(t.store, { ...base, backoffBaseMs: 20 });
      const name = q();
      const runs: string[][] = [];
      const worker = new Worker<string>(
        queue,
        name,
        {
          size: 10,
          run: async (jobs) => {
            runs.push(jobs.map((j) => `${j.payload}#${j.attempt}`));
            return jobs.map((j) =>
              j.payload === 'bad'
                ? new EhmiError('EHMI_VALIDATION_FAILED', 'refused')
                : j.payload === 'flaky' && j.attempt === 1
                  ? new Error('transient')
                  : undefined,
            );
          },
        },
        { pollIntervalMs: 10 },
      );
      for (const p of ['ok', 'bad', 'flaky']) await queue.enqueue(t.store.db, { queue: name, payload: p });
      worker.start();
      assert.deepEqual(await worker.idle({ drained: true }), { next: undefined });
      await worker.stop();
      assert.deepEqual(
        runs.map((r) => [...r].sort()),
        [['bad#1', 'flaky#1', 'ok#1'], ['flaky#2']],
      );
      assert.deepEqual(await queue.counts(name), { ready: 0, running: 0, done: 2, dead: 1 });
    });

    it('Worker.idle: nothing due and nothing running, by the queue’s clock; `next` is when a waiting retry falls due', async () => {
      const queue = new JobQueue(t.store, { ...base, now });
      const name = q();
      const seen: string[] = [];
      const worker = new Worker<string>(
        queue,
        name,
        async (job: Job<string>) => {
          seen.push(`${job.payload}#${job.attempt}`);
          if (job.attempt === 1) throw new Error('transient');
        },
        { pollIntervalMs: 10 },
      );
      worker.start();
      try {
        assert.deepEqual(await worker.idle(), { next: undefined }, 'an empty queue is idle');
        await queue.enqueue(t.store.db, { queue: name, payload: 'x' });
        // The first try failed; the retry waits out its back-off (100 ms of the frozen clock), so nothing is due.
        assert.deepEqual(await worker.idle(), { next: clock + 100 });
        assert.deepEqual(seen, ['x#1']);
        clock += 99;
        assert.deepEqual(await worker.idle(), { next: clock + 1 });
        assert.deepEqual(seen, ['x#1'], 'not before its back-off');
        clock += 1;
        assert.deepEqual(await worker.idle({ drained: true }), { next: undefined });
        assert.deepEqual(seen, ['x#1', 'x#2']);
        assert.deepEqual(await queue.counts(name), { ready: 0, running: 0, done: 1, dead: 0 });
      } finally {
        await worker.stop();
      }
      assert.deepEqual(await worker.idle(), { next: undefined }, 'a stopped worker is idle');
    });

    it('runs a retry as soon as the queue’s clock is set to its time, not when a timer set by the old time fires', {
      timeout: 20_000,
    }, async () => {
      // An hour's back-off on a frozen clock: the worker's timer for it would fire an hour from now in real time.
      const queue = new JobQueue(t.store, {
        ...base,
        leaseMs: 600_000,
        backoffBaseMs: 3_600_000,
        backoffMaxMs: 3_600_000,
        now,
      });
      const name = q();
      const seen: number[] = [];
      const worker = new Worker<string>(queue, name, async (job: Job<string>) => {
        seen.push(job.attempt);
        if (job.attempt === 1) throw new Error('transient');
      });
      worker.start();
      try {
        await queue.enqueue(t.store.db, { queue: name, payload: 'x' });
        const { next } = await worker.idle();
        assert.equal(next, clock + 3_600_000);
        clock = next! - 1;
        assert.deepEqual(await worker.idle(), { next }, 'not before its back-off');
        clock = next!;
        assert.deepEqual(await worker.idle({ drained: true }), { next: undefined });
        assert.deepEqual(seen, [1, 2]);
      } finally {
        await worker.stop();
      }
    });

    it('Worker.idle waits for a job that runs', async () => {
      const queue = new JobQueue(t.store, { ...base, now });
      const name = q();
      let release: () => void = () => {};
      const started = new Promise<void>((resolve) => {
        release = resolve;
      });
      let finish: () => void = () => {};
      const worker = new Worker<string>(
        queue,
        name,
        () =>
          new Promise<void>((resolve) => {
            finish = resolve;
            release();
          }),
        { pollIntervalMs: 10 },
      );
      worker.start();
      try {
        await queue.enqueue(t.store.db, { queue: name, payload: 'slow' });
        worker.wake();
        await started;
        let idle = false;
        const waiting = worker.idle().then((state) => {
          idle = true;
          return state;
        });
        // The job runs until the test lets it finish: the worker cannot be idle before.
        assert.equal((await queue.counts(name)).running, 1);
        assert.equal(idle, false);
        finish();
        assert.deepEqual(await waiting, { next: undefined });
        assert.deepEqual(await queue.counts(name), { ready: 0, running: 0, done: 1, dead: 0 });
      } finally {
        await worker.stop();
      }
    });

    it('two worker processes never run one job twice', { timeout: 120_000 }, async () => {
      const queue = new JobQueue(t.store, base);
      const name = q();
      const total = 80;
      // Each holds its first job until both have one, so both take part however the machine schedules them (one
      // could otherwise drain the queue before the other starts); then they race for the rest.
      const workers = ['p1', 'p2'].map((workerId) =>
        spawnWorker({
          ...t.connection,
          mode: 'drain',
          queue: name,
          leaseMs: 30_000,
          jobMs: 3,
          holdFirst: true,
          workerId,
        }),
      );
      await Promise.all(workers.map((w) => w.waitFor('ready')));
      await t.store.transaction(async (trx) => {
        for (let i = 0; i < total; i++) await queue.enqueue(trx, { queue: name, payload: i });
      });
      for (const w of workers) w.child.stdin!.write('go\n');
      await Promise.all(workers.map((w) => w.waitFor('ran ')));
      for (const w of workers) w.child.stdin!.write('on\n');
      const codes = await Promise.all(workers.map((w) => w.exited));
      assert.deepEqual(codes, [0, 0]);
      const runs = workers.map((w) => w.lines.filter((l) => l.startsWith('ran ')).map((l) => l.slice(4)));
      const all = runs.flat();
      assert.equal(new Set(all).size, total, 'every job ran');
      assert.equal(all.length, total, 'no job ran twice');
      assert.ok(
        runs.every((r) => r.length > 0),
        `both workers took jobs (${runs.map((r) => r.length)})`,
      );
      assert.deepEqual(await queue.counts(name), { ready: 0, running: 0, done: total, dead: 0 });
    });

    it('re-runs the job of a worker killed with SIGKILL once its lease expires', {
      timeout: 60_000,
    }, async () => {
      const leaseMs = 60_000;
      // The survivor's clock: set to either side of the dead worker's lease instead of waiting for it.
      let at = 0;
      const queue = new JobQueue(t.store, { ...base, leaseMs, now: () => at });
      const name = q();
      const id = await queue.enqueue(t.store.db, { queue: name, payload: 'survive' });
      const doomed = spawnWorker({ ...t.connection, mode: 'hold', queue: name, leaseMs, workerId: 'doomed' });
      await doomed.waitFor('ready');
      doomed.child.stdin!.write('go\n');
      assert.equal(await doomed.waitFor('claimed'), `claimed ${id}`);
      doomed.child.kill('SIGKILL');
      await doomed.exited;
      const leaseUntil = (await queue.get(id))!.lease_until!;
      at = leaseUntil - 1;
      assert.deepEqual(await queue.claim(name, 'survivor'), [], 'the dead worker still holds the lease');
      at = leaseUntil;
      const [job] = await queue.claim(name, 'survivor');
      assert.equal(job?.id, id);
      assert.equal(job?.attempt, 2);
      await queue.complete(job!);
      assert.equal((await queue.get(id))?.status, 'done');
    });

    // The wake-ups below run with a poll interval of an hour, so only the wake-up can start the job.
    const HOUR = 3_600_000;
    /** A worker on `name` whose handler resolves `ran` with each job's payload and the real time it started. */
    function recording(queue: JobQueue, name: string, fail = false) {
      const runs: { payload: string; at: number; attempt: number }[] = [];
      let notify: () => void = () => {};
      const ran = (count: number): Promise<void> =>
        new Promise((resolve) => {
          notify = () => {
            if (runs.length >= count) resolve();
          };
          notify();
        });
      const worker = new Worker<string>(
        queue,
        name,
        async (job: Job<string>) => {
          runs.push({ payload: job.payload, at: Date.now(), attempt: job.attempt });
          notify();
          if (fail && job.attempt === 1) throw new Error('transient');
        },
        { pollIntervalMs: HOUR },
      );
      return { worker, runs, ran };
    }

    it('wakes an idle worker when a job is enqueued in this process, once its transaction has committed', {
      timeout: 20_000,
    }, async () => {
      const queue = new JobQueue(t.store, { ...base, jitter: 0 });
      const name = q();
      const { worker, runs, ran } = recording(queue, name);
      worker.start();
      try {
        await worker.idle();
        await t.store.transaction(async (trx) => {
          await queue.enqueue(trx, { queue: name, payload: 'in-trx' });
          // Still uncommitted: the notification waits for the commit.
          await new Promise((resolve) => setImmediate(resolve));
          assert.equal(runs.length, 0);
        });
        await ran(1);
        // Another JobQueue on the same store (as the AP's two queues share one) wakes this queue's worker too.
        await new JobQueue(t.store, base).enqueue(t.store.db, { queue: name, payload: 'plain' });
        await ran(2);
        assert.deepEqual(
          runs.map((r) => r.payload),
          ['in-trx', 'plain'],
        );
      } finally {
        await worker.stop();
      }
    });

    it('runs a job enqueued for later, and a retry after its back-off, at their time without polling', {
      timeout: 20_000,
    }, async () => {
      const queue = new JobQueue(t.store, { ...base, backoffBaseMs: 150, jitter: 0 });
      const name = q();
      const { worker, runs, ran } = recording(queue, name, true);
      worker.start();
      try {
        await worker.idle();
        const runAt = Date.now() + 200;
        await queue.enqueue(t.store.db, { queue: name, payload: 'later', runAt });
        await ran(1);
        assert.ok(runs[0]!.at >= runAt, 'not before its time');
        await ran(2);
        assert.equal(runs[1]!.attempt, 2);
        assert.ok(runs[1]!.at - runs[0]!.at >= 150, 'the retry waited out its back-off');
        assert.deepEqual(await worker.idle({ drained: true }), { next: undefined });
      } finally {
        await worker.stop();
      }
    });

    it('takes over a job whose lease ran out (its worker died) when the lease ends, without polling', {
      timeout: 20_000,
    }, async () => {
      const queue = new JobQueue(t.store, { ...base, leaseMs: 300 });
      const name = q();
      const id = await queue.enqueue(t.store.db, { queue: name, payload: 'orphan' });
      const [held] = await queue.claim(name, 'died');
      assert.equal(held?.id, id);
      const { worker, runs, ran } = recording(queue, name);
      worker.start();
      try {
        await ran(1);
        assert.ok(runs[0]!.at >= held!.leaseUntil, 'not while the lease held');
        assert.equal(runs[0]!.attempt, 2);
      } finally {
        await worker.stop();
      }
    });

    /** A queue that counts its claims: a job handed over in its enqueueing transaction needs none. */
    class CountingQueue extends JobQueue {
      claims = 0;
      override claim<P = unknown>(queue: string, workerId: string, limit?: number): Promise<Job<P>[]> {
        this.claims++;
        return super.claim<P>(queue, workerId, limit);
      }
    }

    async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
      for (let i = 0; i < 500; i++) {
        if (await check()) return;
        await sleep(10);
      }
      assert.fail(`timed out waiting for ${what}`);
    }

    /** A worker that records each job it runs and holds the one whose payload is `gateAt` until `open()`. */
    function gatedWorker(queue: JobQueue, name: string, gateAt: string, options: WorkerOptions) {
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const seen: Job<string>[] = [];
      const worker = new Worker<string>(
        queue,
        name,
        async (job) => {
          seen.push(job);
          if (job.payload === gateAt) await gate;
        },
        { pollIntervalMs: HOUR, ...options },
      );
      return { worker, seen, open };
    }

    it('hands a job due now to a local worker with a free slot, claimed in its enqueueing transaction: no claim', {
      timeout: 20_000,
    }, async () => {
      const queue = new CountingQueue(t.store, base);
      const name = q();
      const { worker, seen, open } = gatedWorker(queue, name, 'handed', { concurrency: 2 });
      worker.start();
      try {
        await worker.idle();
        const claims = queue.claims;
        let id = '';
        await t.store.transaction(async (trx) => {
          id = await queue.enqueue(trx, { queue: name, payload: 'handed' });
          // The row is kept for the commit (one INSERT with the transaction's other jobs): written now to look at it.
          await writePending(trx);
          const row = await trx.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
          assert.equal(row.status, 'running', 'claimed in the enqueueing transaction');
          assert.equal(row.locked_by, worker.id);
          assert.equal(row.attempts, 1);
          await sleep(5);
          assert.equal(seen.length, 0, 'not before the commit');
        });
        await until(() => seen.length === 1, 'the handed job to run');
        assert.deepEqual([seen[0]!.id, seen[0]!.payload, seen[0]!.attempt], [id, 'handed', 1]);
        // No other worker (another instance on PostgreSQL) takes it while the lease holds.
        assert.deepEqual(await new JobQueue(t.store, base).claim(name, 'another instance'), []);
        // The plain handle (the insert commits on its own), through another JobQueue of the same store.
        await new JobQueue(t.store, base).enqueue(t.store.db, { queue: name, payload: 'plain' });
        await until(() => seen.length === 2, 'the second job to run');
        open();
        await until(async () => (await queue.counts(name)).done === 2, 'both jobs done');
        assert.equal(queue.claims, claims, 'no claim for a handed job, none after it ended');
      } finally {
        open();
        await worker.stop();
      }
    });

    it('frees the slot of a job whose transaction rolled back, and queues a job for a full worker as ready (without what its transaction knew)', {
      timeout: 20_000,
    }, async () => {
      const queue = new CountingQueue(t.store, base);
      const name = q();
      // Holds no job beyond its slot (the test below holds some).
      const { worker, seen, open } = gatedWorker(queue, name, 'first', { concurrency: 1, hold: 0 });
      worker.start();
      try {
        await worker.idle();
        const claims = queue.claims;
        await assert.rejects(
          t.store.transaction(async (trx) => {
            await queue.enqueue(trx, { queue: name, payload: 'rolled back' });
            throw new Error('caller fails');
          }),
          /caller fails/,
        );
        // What the enqueuing transaction knows goes along with a job handed over (never stored).
        const first = await t.store.transaction((trx) =>
          queue.enqueue(trx, { queue: name, payload: 'first', local: { row: 'first' } }),
        );
        await until(() => seen.length === 1, 'the first job to run');
        assert.equal(queue.claims, claims, 'handed over: the rolled-back job had freed the slot');
        const second = await queue.enqueue(t.store.db, {
          queue: name,
          payload: 'second',
          local: { row: 'second' },
        });
        assert.equal((await queue.get(second))?.status, 'ready', 'the worker is full: queued for a claim');
        assert.equal((await queue.get(first))?.status, 'running');
        open();
        await worker.idle({ drained: true });
        assert.deepEqual(
          seen.map((j) => j.payload),
          ['first', 'second'],
        );
        // The claimed one carries nothing: its handler reads what it needs.
        assert.deepEqual(
          seen.map((j) => j.local),
          [{ row: 'first' }, undefined],
        );
        assert.deepEqual(await queue.counts(name), { ready: 0, running: 0, done: 2, dead: 0 });
      } finally {
        open();
        await worker.stop();
      }
    });

    it('holds jobs enqueued while every slot is busy, claimed by the worker, and runs them in order with no claim', {
      timeout: 20_000,
    }, async () => {
      const queue = new CountingQueue(t.store, base);
      const name = q();
      const { worker, seen, open } = gatedWorker(queue, name, 'first', { concurrency: 1, hold: 2 });
      worker.start();
      try {
        await worker.idle();
        const claims = queue.claims;
        await t.store.transaction((trx) => queue.enqueue(trx, { queue: name, payload: 'first' }));
        await until(() => seen.length === 1, 'the first job to run');
        // The slot is busy: two are held (written claimed by the worker, under its lease), the third is queued ready.
        const held = await t.store.transaction(async (trx) => [
          await queue.enqueue(trx, { queue: name, payload: 'second' }),
          await queue.enqueue(trx, { queue: name, payload: 'third' }),
        ]);
        const ready = await queue.enqueue(t.store.db, { queue: name, payload: 'fourth' });
        for (const id of held) {
          const row = await queue.get(id);
          assert.deepEqual([row?.status, row?.locked_by, row?.attempts], ['running', worker.id, 1]);
        }
        assert.equal(
          (await queue.get(ready))?.status,
          'ready',
          'beyond what the worker holds: queued for a claim',
        );
        // No other worker (another instance on PostgreSQL) takes a held job while its lease holds.
        const other = await new JobQueue(t.store, base).claim(name, 'another instance', 10);
        assert.deepEqual(
          other.map((j) => j.payload),
          ['fourth'],
        );
        await new JobQueue(t.store, base).release(other[0]!);
        assert.equal(seen.length, 1, 'held, not run, while the slot is busy');
        open();
        await worker.idle({ drained: true });
        assert.deepEqual(
          seen.map((j) => [j.payload, j.attempt]),
          [
            ['first', 1],
            ['second', 1],
            ['third', 1],
            ['fourth', 1],
          ],
        );
        assert.deepEqual(await queue.counts(name), { ready: 0, running: 0, done: 4, dead: 0 });
        assert.ok(
          queue.claims - claims <= 2,
          `the held jobs needed no claim (${queue.claims - claims} claims)`,
        );
      } finally {
        open();
        await worker.stop();
      }
    });

    it('under a backlog, one claim takes a job for each free slot and as many as the worker holds', {
      timeout: 20_000,
    }, async () => {
      const queue = new CountingQueue(t.store, base);
      const name = q();
      // Queued before any worker: written ready, for a claim.
      for (let i = 0; i < 5; i++) await queue.enqueue(t.store.db, { queue: name, payload: `job ${i}` });
      const seen: string[] = [];
      const worker = new Worker<string>(queue, name, async (job) => void seen.push(job.payload), {
        pollIntervalMs: HOUR,
        concurrency: 1,
        hold: 3,
      });
      const claims = queue.claims;
      worker.start();
      try {
        await worker.idle({ drained: true });
        assert.deepEqual([...seen].sort(), ['job 0', 'job 1', 'job 2', 'job 3', 'job 4']);
        // The first claim takes four (one slot, three held), the second the last one, a third finds nothing.
        assert.ok(queue.claims - claims <= 3, `${queue.claims - claims} claims for five jobs`);
        assert.deepEqual(await queue.counts(name), { ready: 0, running: 0, done: 5, dead: 0 });
      } finally {
        await worker.stop();
      }
    });

    it('gives back the jobs it holds when it stops before it could run them', {
      timeout: 20_000,
    }, async () => {
      const queue = new JobQueue(t.store, base);
      const name = q();
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      const worker = new Worker<string>(
        queue,
        name,
        async () => {
          started();
          await gate;
        },
        { pollIntervalMs: HOUR, concurrency: 1, hold: 1 },
      );
      worker.start();
      try {
        await worker.idle();
        const first = await t.store.transaction((trx) =>
          queue.enqueue(trx, { queue: name, payload: 'first' }),
        );
        await running;
        const second = await t.store.transaction((trx) =>
          queue.enqueue(trx, { queue: name, payload: 'second' }),
        );
        await until(
          async () => (await queue.get(second))?.locked_by === worker.id,
          'the second job to be held',
        );
        const stopping = worker.stop();
        open();
        await stopping;
        assert.equal((await queue.get(first))?.status, 'done');
        await until(
          async () => (await queue.get(second))?.status === 'ready',
          'the held job to be given back',
        );
        const row = await queue.get(second);
        assert.deepEqual(
          [row?.status, row?.attempts, row?.lease_token],
          ['ready', 0, null],
          'given back, its try not counted',
        );
        const [job] = await queue.claim(name, 'next');
        assert.deepEqual([job?.id, job?.attempt], [second, 1]);
      } finally {
        open();
        await worker.stop();
      }
    });

    it('renews the lease of a job handed over after a long transaction, and leaves a lost one to a claim', {
      timeout: 20_000,
    }, async () => {
      let fake = Date.now();
      const queue = new JobQueue(t.store, { ...base, now: () => fake });
      const name = q();
      const seen: Job<string>[] = [];
      // Two slots: the second job is handed over even while the first is still completing.
      const worker = new Worker<string>(queue, name, async (job) => void seen.push(job), {
        pollIntervalMs: HOUR,
        concurrency: 2,
      });
      worker.start();
      try {
        await worker.idle();
        // Half a lease inside the transaction: renewed before it starts, run as its first try.
        await t.store.transaction(async (trx) => {
          await queue.enqueue(trx, { queue: name, payload: 'slow' });
          fake += base.leaseMs / 2;
        });
        await until(() => seen.length === 1, 'the renewed job to run');
        assert.equal(seen[0]!.attempt, 1);
        // A whole lease: lost before it starts; claimed again as an expired lease, run once, as its second try.
        await t.store.transaction(async (trx) => {
          await queue.enqueue(trx, { queue: name, payload: 'slower' });
          fake += base.leaseMs;
        });
        await until(() => seen.length === 2, 'the lost job to run');
        assert.deepEqual([seen[1]!.payload, seen[1]!.attempt], ['slower', 2]);
        await worker.idle({ drained: true });
        assert.equal(seen.length, 2);
      } finally {
        await worker.stop();
      }
    });

    it('gives back a job handed to a worker that stopped before the job committed', async () => {
      const queue = new JobQueue(t.store, base);
      const name = q();
      const worker = new Worker(queue, name, async () => {}, { pollIntervalMs: HOUR });
      worker.start();
      await worker.idle();
      let stopping: Promise<void> | undefined;
      const id = await t.store.transaction(async (trx) => {
        const id = await queue.enqueue(trx, { queue: name, payload: null });
        // Stopped from here on (its loop may wait for this transaction's connection, so it is not awaited here).
        stopping = worker.stop();
        return id;
      });
      await stopping;
      await until(async () => (await queue.get(id))?.status === 'ready', 'the job to be given back');
      const row = await queue.get(id);
      assert.equal(row?.attempts, 0, 'its try is not counted');
      assert.equal(row?.lease_token, null);
      const [job] = await queue.claim(name, 'next');
      assert.equal(job?.id, id);
      assert.equal(job?.attempt, 1);
    });

    it('dead-letters a job whose worker died on its last try once its lease ends, and never runs it', {
      timeout: 20_000,
    }, async () => {
      const queue = new JobQueue(t.store, { ...base, leaseMs: 300, maxAttempts: 1 });
      const name = q();
      const id = await queue.enqueue(t.store.db, { queue: name, payload: 'orphan' });
      assert.equal((await queue.claim(name, 'died')).length, 1);
      const { worker, runs } = recording(queue, name);
      worker.start();
      try {
        await until(async () => (await queue.get(id))?.status === 'dead', 'the job to be dead-lettered');
        assert.equal(runs.length, 0);
      } finally {
        await worker.stop();
      }
    });

    it('wakes the workers of another instance on the same database (PostgreSQL: LISTEN/NOTIFY), once the job commits', {
      timeout: 20_000,
      skip: engine.name === 'sqlite' ? 'one SQLite database has one instance' : undefined,
    }, async () => {
      // A second instance: its own store (its own pool and listening connection) on the same schema.
      const other = await openNodeStore({ ...t.connection, busyTimeoutMs: 5000, poolSize: 2 });
      const queue = new JobQueue(t.store, base);
      const name = q();
      const { worker, runs, ran } = recording(queue, name);
      worker.start();
      try {
        await worker.idle();
        const otherQueue = new JobQueue(other, base);
        await other.transaction(async (trx) => {
          await otherQueue.enqueue(trx, { queue: name, payload: 'from the other instance' });
        });
        await ran(1);
        assert.equal(runs[0]!.payload, 'from the other instance');
      } finally {
        await worker.stop();
        await other.close();
      }
    });

    it('sends other instances no notice of a ready job a worker of its own process claims at once; other ready jobs are noticed', {
      timeout: 20_000,
      skip: engine.name === 'sqlite' ? 'one SQLite database has one instance' : undefined,
    }, async () => {
      // The other instance runs a batch worker (it claims, never takes a job handed over) of `name`, idle.
      const other = await openNodeStore({ ...t.connection, busyTimeoutMs: 5000, poolSize: 2 });
      const otherQueue = new JobQueue(other, base);
      const name = q();
      const unworked = q();
      const batches: string[][] = [];
      let batchRan: () => void = () => {};
      const worker = new Worker<string>(
        otherQueue,
        name,
        {
          size: 10,
          run: async (jobs) => {
            batches.push(jobs.map((j) => j.payload));
            batchRan();
            return jobs.map(() => undefined);
          },
        },
        { pollIntervalMs: HOUR },
      );
      const heard: (string | undefined)[] = [];
      let heardUnworked: () => void = () => {};
      const unlisten = t.store.jobNotices!.listen((queue) => {
        heard.push(queue);
        if (queue === unworked) heardUnworked();
      });
      worker.start();
      try {
        await worker.idle();
        // Due now, while the worker has a free slot: written ready, naming that worker, and claimed by it.
        const ran = new Promise<void>((resolve) => (batchRan = resolve));
        const id = await other.transaction((trx) =>
          otherQueue.enqueue(trx, { queue: name, payload: 'mine' }),
        );
        assert.equal((await otherQueue.get(id))?.locked_by, worker.id);
        await ran;
        assert.deepEqual(batches, [['mine']]);
        // Due later: the worker wakes at its time, so no notice either.
        const later = await other.transaction((trx) =>
          otherQueue.enqueue(trx, { queue: name, payload: 'later', runAt: Date.now() + HOUR }),
        );
        assert.equal((await otherQueue.get(later))?.locked_by, worker.id);
        // A queue without a worker there: noticed. Notices arrive in commit order, so once this one is heard, one
        // of the jobs above would have been too.
        const noticed = new Promise<void>((resolve) => (heardUnworked = resolve));
        const loose = await other.transaction((trx) =>
          otherQueue.enqueue(trx, { queue: unworked, payload: 'anyone' }),
        );
        await noticed;
        assert.equal((await otherQueue.get(loose))?.locked_by, null);
        assert.deepEqual(
          heard.filter((queue) => queue !== undefined),
          [unworked],
        );
        // Named for a worker, a ready job is still any worker's to claim (after its process died, say).
        const taken = await new JobQueue(t.store, base).claim(name, 'this instance', 10);
        assert.deepEqual(taken, []);
        const late = await new JobQueue(t.store, { ...base, now: () => Date.now() + 2 * HOUR }).claim(
          name,
          'this instance',
        );
        assert.deepEqual(
          late.map((j) => j.payload),
          ['later'],
        );
      } finally {
        unlisten();
        await worker.stop();
        await other.close();
      }
    });
  });
}
