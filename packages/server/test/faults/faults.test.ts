// The fault suite: sender and receiver nodes in processes of their own, prøvesvar between them, and one fault at a
// time; a recorder writes what each EUA was told (one file per fault), and the checker compares what the sending MSH
// accepted with what the receiving inbox got. Short by default (`npm test`: one fault of each kind, few messages);
// `npm run test:faults` runs the full suite (EHMI_FAULTS=full). Every random choice comes from the seed printed
// first: EHMI_FAULTS_SEED=<seed> replays the choices of a run.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Engine, engines } from '../e2e/helpers.ts';
import { check, summary } from './checker.ts';
import { FaultCluster } from './cluster.ts';
import { lockSqlite, type PrivateCluster, privatePostgres } from './database.ts';
import { type DataDisk, dataDisk } from './disk.ts';
import { HostileCorpus } from './hostile.ts';
import { killNodes } from './kills.ts';
import { Load } from './load.ts';
import { Rng, runSeed } from './rng.ts';

const FULL = process.env.EHMI_FAULTS === 'full';
const seed = runSeed();
const rng = new Rng(seed);
const runRoot = process.env.EHMI_FAULTS_DIR ?? join(tmpdir(), `ehmi-faults-${Date.now()}-${seed}`);
mkdirSync(runRoot, { recursive: true });
console.log(`fault suite (${FULL ? 'full' : 'short'}): seed ${seed}, records in ${runRoot}`);
let failures = 0;

/** How long the messages of a fault may take to arrive once the fault is over, before the missing ones count as lost. */
const SETTLE_MS = FULL ? 300_000 : 90_000;
const TIMEOUT = FULL ? 1_800_000 : 180_000;

/**
 * One fault: a fresh recorder, the receiving EUA polling its inbox, `inject` submitting messages and injecting the
 * fault; then the wait for every accepted message, and the verdict: fails unless lost = 0, duplicated = 0 and no
 * node process ended with an unhandled error.
 */
async function fault(
  cluster: FaultCluster,
  name: string,
  inject: (load: Load) => Promise<string | undefined>,
): Promise<void> {
  const recorder = cluster.phase(name.replace(/[^a-z0-9]+/gi, '-'));
  const started = Date.now();
  // Counted as failed until the verdict passes, so that the records of a fault that threw are kept too.
  failures++;
  const load = new Load(cluster);
  load.startPolling();
  let note: string | undefined;
  let thrown: unknown;
  try {
    // A fault that throws still waits for its messages, so that none of them turns up in the next fault's records.
    note = await inject(load).catch((err) => {
      thrown = err;
      return undefined;
    });
    const settled = await load.settle(SETTLE_MS);
    await cluster.proxy?.quiet();
    for (const f of settled.failed)
      recorder.write({ kind: 'fault', fault: 'failed at the sender', detail: `${f.id}: ${f.reason}` });
  } finally {
    await load.stopPolling();
  }
  // Anything a late duplicate brought in is recorded by one more read.
  await load.poll().catch(() => {});
  const v = check(recorder.records);
  const took = `${Math.round((Date.now() - started) / 1000)} s`;
  const text = `${name}: ${summary(v)}\n  ${note ? `${note}; ` : ''}${took}`;
  console.log(text);
  if (thrown) throw thrown;
  assert.ok(v.accepted > 0, `${name}: no message was accepted`);
  assert.ok(v.ok, `${text}\n(seed ${seed}, records ${recorder.file})`);
  failures--;
}

after(() => {
  // A short run keeps its records only when something failed; a full run keeps them to be read.
  if (!FULL && failures === 0 && !process.env.EHMI_FAULTS_DIR)
    rmSync(runRoot, { recursive: true, force: true });
});

interface Suite {
  engine: Engine;
  /** The faults this engine runs: all of them on the first engine, and in a full run on every engine. */
  all: boolean;
}

const available = engines().filter((e) => !e.skip);
const suites: Suite[] = available.map((engine, i) => ({ engine, all: i === 0 || FULL }));

for (const { engine, all } of suites) {
  describe(`fault suite on ${engine.name}`, () => {
    let cluster: FaultCluster;
    let disk: DataDisk | undefined;
    let postgres: PrivateCluster | undefined;
    const dir = join(runRoot, engine.name);

    before(async () => {
      const t0 = Date.now();
      // PostgreSQL: a cluster of the suite's own, which the database fault may stop (never the shared one).
      if (engine.name === 'postgres') postgres = await privatePostgres();
      disk = all ? dataDisk(join(dir, 'receiver-disk')) : undefined;
      cluster = await FaultCluster.create(postgres ? { ...engine, databaseUrl: postgres.url } : engine, dir, {
        proxy: rng.fork(`${engine.name} proxy`),
        ...(disk ? { receiverDataDir: disk.dir } : {}),
      });
      await cluster.start();
      console.log(`${engine.name}: two nodes up in ${Math.round((Date.now() - t0) / 1000)} s`);
    });
    after(async () => {
      await cluster?.close();
      disk?.release();
      await postgres?.destroy();
    });

    it('a proxy between the access points delays, stalls, cuts and duplicates exchanges', {
      skip: !all,
      timeout: TIMEOUT,
    }, async () => {
      await fault(cluster, 'proxy', async (load) => {
        const proxy = cluster.proxy!;
        proxy.faulty = true;
        try {
          // Faults until every message is through (each exchange, retries too, draws one), then plain forwarding.
          await load.submit(FULL ? 100 : 10, 4);
          await load.delivered(SETTLE_MS);
        } finally {
          proxy.faulty = false;
        }
        const faults = Object.entries(proxy.counts).map(([f, n]) => `${f} ${n}`);
        return `exchanges: ${faults.join(', ')}`;
      });
    });

    it('the database unavailable for a while', { timeout: TIMEOUT }, async () => {
      const r = rng.fork(`${engine.name} database`);
      await fault(cluster, 'database', async (load) => {
        const sending = load.submit(FULL ? 60 : 8, 2, FULL ? 40_000 : 8000);
        const outages: string[] = [];
        for (const node of FULL ? [cluster.receiver, cluster.sender, cluster.receiver] : [cluster.receiver]) {
          await sleep(r.int(1000, 3000));
          const ms = r.int(6000, 9000);
          cluster.recorder.write({
            kind: 'fault',
            fault: 'database unavailable',
            detail: `${node.org} ${ms} ms`,
          });
          if (postgres) {
            await postgres.stop();
            await sleep(ms);
            await postgres.start();
            outages.push(`cluster stopped ${ms} ms`);
          } else {
            await lockSqlite(node.config.dataDir, ms);
            outages.push(`${node.org} locked ${ms} ms`);
          }
        }
        await sending;
        return outages.join(', ');
      });
    });

    it('the receiver’s disk full, then freed', {
      skip: !all,
      timeout: TIMEOUT,
    }, async () => {
      await fault(cluster, 'disk full', async (load) => {
        // A receiver that has stored messages on this disk before it fills.
        await load.submit(2, 2);
        await load.delivered(SETTLE_MS);
        disk!.fill();
        cluster.recorder.write({ kind: 'fault', fault: 'disk full', detail: disk!.how });
        try {
          await load.submit(FULL ? 20 : 5, 2);
          await sleep(FULL ? 15_000 : 6000);
        } finally {
          disk!.free();
        }
        return `the receiver's disk: ${disk!.how}`;
      });
    });

    it('the hostile-input corpus against the receiver while messages flow', {
      skip: !all,
      timeout: TIMEOUT,
    }, async () => {
      const corpus = new HostileCorpus(cluster);
      try {
        await fault(cluster, 'hostile', async (load) => {
          const held = corpus.hold(FULL ? 100 : 20, FULL ? 100 : 20);
          const sending = load.submit(FULL ? 40 : 6, 2);
          await corpus.run(rng.fork(`${engine.name} hostile`), FULL ? 3 : 1);
          await sending;
          const { cut, open } = held.release();
          assert.equal(await corpus.health(), 200, 'the receiving AP is healthy after the corpus');
          return `stalled and slow connections: ${cut} cut by the receiver, ${open} still open at the end`;
        });
      } finally {
        await corpus.close();
      }
    });

    it('kill -9 of either node at random moments', { skip: !all, timeout: TIMEOUT }, async () => {
      await fault(cluster, 'kill -9', async (load) => {
        const kills = await killNodes(cluster, load, rng.fork(`${engine.name} kill`), {
          messages: FULL ? 200 : 12,
          kills: FULL ? 10 : 2,
          maxKills: FULL ? Number.POSITIVE_INFINITY : 2,
          concurrency: 4,
          gapMs: FULL ? [2000, 8000] : [1500, 4000],
        });
        return `killed: ${kills.join(' ')}`;
      });
    });
  });
}
