// A queue worker in its own process, for the tests that need real concurrency or a SIGKILL.
// Settings come as JSON in EHMI_TEST_WORKER; it prints one line per event on stdout:
//   ready              store opened, waiting for "go" on stdin
//   ran <jobId>        (mode drain) a job's handler ran; with holdFirst, the first one waits for "on" on stdin
//   claimed <jobId>    (mode hold) a job is claimed and the process now hangs holding it
//   idle               (mode drain) no due job for a while: exiting
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { openNodeStore } from '../../src/role-list.ts';
import { JobQueue } from '../../src/store/index.ts';

interface Settings {
  dataDir: string;
  databaseUrl?: string;
  schema: string;
  mode: 'drain' | 'hold';
  queue: string;
  leaseMs: number;
  jobMs?: number;
  /** (mode drain) Hold the first job claimed, its lease kept, until "on" arrives on stdin. */
  holdFirst?: boolean;
  workerId: string;
}

const s = JSON.parse(process.env.EHMI_TEST_WORKER ?? '{}') as Settings;
const store = await openNodeStore({
  dataDir: s.dataDir,
  databaseUrl: s.databaseUrl,
  schema: s.schema,
  poolSize: 2,
});
const queue = new JobQueue(store, {
  leaseMs: s.leaseMs,
  maxAttempts: 5,
  backoffBaseMs: 10,
  backoffMaxMs: 100,
  jitter: 0,
});
const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
// The words heard on stdin, and a wait for one of them.
const heard = new Set<string>();
let wake = (): void => {};
createInterface({ input: process.stdin }).on('line', (line) => {
  heard.add(line.trim());
  wake();
});
const hear = async (word: string): Promise<void> => {
  while (!heard.has(word)) await new Promise<void>((resolve) => (wake = resolve));
};
say('ready');
await hear('go');

if (s.mode === 'hold') {
  for (;;) {
    const [job] = await queue.claim(s.queue, s.workerId, 1);
    if (job) {
      say(`claimed ${job.id}`);
      await new Promise(() => {}); // hold the lease until killed
    }
    await sleep(20);
  }
}

let idle = 0;
let held = !s.holdFirst;
while (idle < 25) {
  const jobs = await queue.claim(s.queue, s.workerId, 1);
  if (jobs.length === 0) {
    idle++;
    await sleep(10);
    continue;
  }
  idle = 0;
  for (const job of jobs) {
    say(`ran ${job.id}`);
    if (!held) {
      held = true;
      await hear('on');
    }
    if (s.jobMs) await sleep(s.jobMs);
    await queue.complete(job);
  }
}
say('idle');
await store.close();
// stdin stays open (the parent holds it): leave explicitly.
process.exit(0);
