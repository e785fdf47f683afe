// The outbox cycle of one message, durably: store a 10 KB payload blob, record it and enqueue a job in one
// transaction, then claim and complete the job. Reports cycles per second on SQLite, and on PostgreSQL when
// DATABASE_URL is set (1 and 4 concurrent workers).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type NodeTables, openNodeStore } from '../src/role-list.ts';
import type { Store } from '../src/store/index.ts';
import { JobQueue, recordBlob } from '../src/store/index.ts';

const N = Number(process.env.EHMI_BENCH_N ?? 1000);
const payload = randomBytes(10 * 1024);

async function cycle(store: Store<NodeTables>, queue: JobQueue, name: string, i: number): Promise<void> {
  const body = Buffer.concat([payload, Buffer.from(String(i))]);
  const ref = await store.blobs.put(body);
  await store.transaction(async (trx) => {
    await recordBlob(trx, ref);
    await queue.enqueue(trx, { queue: name, payload: { blob: ref.hash } });
  });
  const [job] = await queue.claim(name, 'bench');
  if (job) await queue.complete(job);
}

async function run(label: string, databaseUrl: string | undefined, workers: number): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ehmi-bench-'));
  const schema = databaseUrl ? `bench_${randomBytes(4).toString('hex')}` : 'public';
  const store = await openNodeStore({ dataDir, databaseUrl, schema, poolSize: workers + 2 });
  const queue = new JobQueue(store, {
    leaseMs: 30_000,
    maxAttempts: 5,
    backoffBaseMs: 100,
    backoffMaxMs: 1000,
  });
  const start = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (next < N) await cycle(store, queue, `bench-${w}`, next++);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(
    `${label.padEnd(28)} ${N} cycles in ${seconds.toFixed(2)} s = ${(N / seconds).toFixed(0)} cycles/s`,
  );
  await store.close();
  if (databaseUrl) {
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    await c.query(`DROP SCHEMA "${schema}" CASCADE`);
    await c.end();
  }
  await rm(dataDir, { recursive: true, force: true });
}

await run('sqlite, 1 worker', undefined, 1);
if (process.env.DATABASE_URL) {
  await run('postgres, 1 worker', process.env.DATABASE_URL, 1);
  await run('postgres, 4 workers', process.env.DATABASE_URL, 4);
} else {
  console.log('postgres: skipped (DATABASE_URL is not set)');
}
