// The nodes as `ehmi up` runs them (the bench network of `network.ts`, its processes named as `ehmi up` names them):
// the central node (authorization server, SMP + DNS, EER, EAS, EDS) and two organisations (municipality → gp), each
// in a process of its own, access tokens on, every station reporting its steps to EDS, the audit log on. Measures,
// per process (Linux /proc/<pid>/stat, 10 ms clock ticks):
//   1. idle: CPU per second while nothing happens, after a warm-up whose reports have reached EDS, in windows;
//   2. CPU per receipted 10 KB message (N messages, C clients), until every message is receipted and every
//      report of them has reached EDS (no `eds.report` job of either organisation left).
// EHMI_BENCH_REPORTING=off plans the same network with the organisations reporting nothing (their
// `deliveryStatus.url` left out), so the two runs back to back give the cost of reporting. Knobs: EHMI_BENCH_N (100),
// EHMI_BENCH_CONCURRENCY (8), EHMI_BENCH_IDLE_SECONDS (30), EHMI_BENCH_IDLE_WINDOW (5), EHMI_BENCH_PROFILE_DIR (CPU
// profiles of every node process, a folder per node). SQLite.
import { loadavg } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { benchEua, cpuMs, killAll, openBenchNetwork, threadCpuMs } from './network.ts';

const N = Number(process.env.EHMI_BENCH_N ?? 100);
const CONCURRENCY = Number(process.env.EHMI_BENCH_CONCURRENCY ?? 8);
const IDLE_SECONDS = Number(process.env.EHMI_BENCH_IDLE_SECONDS ?? 30);
const IDLE_WINDOW = Number(process.env.EHMI_BENCH_IDLE_WINDOW ?? 5);
const REPORTING = process.env.EHMI_BENCH_REPORTING !== 'off';

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(1);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const net = await openBenchNetwork({
  label: 'up',
  databaseUrl: undefined,
  receiverInstances: 1,
  base: { log: { level: (process.env.EHMI_BENCH_LOG ?? 'silent') as 'silent' } },
  reporting: REPORTING,
  upNames: true,
});
const { plan, dataDir } = net;
try {
  const eua = benchEua(net, CONCURRENCY);
  const dbs = plan.organisations.map(
    (o) => new Database(join(dataDir, o.spec.name, 'ehmi.sqlite'), { readonly: true, fileMustExist: true }),
  );
  // Reports not yet at EDS (ready or running `eds.report` jobs) over both organisations.
  const reportsLeft = () =>
    dbs.reduce(
      (n, db) =>
        n +
        (
          db
            .prepare(
              "select count(*) as n from jobs where queue = 'eds.report' and status in ('ready', 'running')",
            )
            .get() as { n: number }
        ).n,
      0,
    );
  const settle = async (ids: string[]) => {
    while ((await eua.done(ids)) < ids.length) await sleep(100);
    while (reportsLeft() > 0) await sleep(100);
  };
  const pids = Object.fromEntries(Object.entries(net.processes()).map(([k, p]) => [k, p.pid!]));
  const snapshot = () => Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid)]));
  const fmt = (o: Record<string, number>, digits = 1) =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v.toFixed(digits)}`)
      .join(', ');

  console.log(
    `reporting ${REPORTING ? 'on' : 'off'}; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const warm = await Promise.all(Array.from({ length: 4 }, eua.submit));
  await settle(warm.map((m) => m.id));

  // 1. idle
  if (IDLE_SECONDS > 0) {
    await sleep(1000);
    const total: Record<string, number> = {};
    const t0 = snapshot();
    const th0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, threadCpuMs(pid)]));
    const start = performance.now();
    for (let w = 0; w < IDLE_SECONDS / IDLE_WINDOW; w++) {
      const c0 = snapshot();
      const ts = performance.now();
      await sleep(IDLE_WINDOW * 1000);
      const secs = (performance.now() - ts) / 1000;
      const c1 = snapshot();
      const per = Object.fromEntries(Object.keys(pids).map((k) => [k, (c1[k]! - c0[k]!) / secs]));
      console.log(`idle window ${w + 1}: ${fmt(per)} ms/s`);
    }
    const secs = (performance.now() - start) / 1000;
    const t1 = snapshot();
    for (const k of Object.keys(pids)) total[k] = (t1[k]! - t0[k]!) / secs;
    console.log(`idle ${secs.toFixed(0)} s: ${fmt(total)} ms of CPU per second`);
    for (const [k, pid] of Object.entries(pids)) {
      const th1 = threadCpuMs(pid);
      const busy = Object.entries(th1)
        .map(([name, ms]) => [name, (ms - (th0[k]![name] ?? 0)) / secs] as const)
        .filter(([, v]) => v > 0);
      console.log(`  ${k} by thread: ${busy.map(([n, v]) => `${n} ${v.toFixed(1)}`).join(', ')}`);
    }
  }

  // 2. CPU per message
  const c0 = snapshot();
  const t0 = performance.now();
  const ids = (await eua.burst(N)).map((m) => m.id);
  await settle(ids);
  const secs = (performance.now() - t0) / 1000;
  const c1 = snapshot();
  const per = Object.fromEntries(Object.keys(pids).map((k) => [k, (c1[k]! - c0[k]!) / N]));
  const orgs = plan.organisations.reduce((s, o) => s + per[o.spec.name]!, 0);
  console.log(
    `${N} × 10 KB receipted, reports at EDS, in ${secs.toFixed(1)} s: CPU per message ${fmt(per)} ms; both organisations ${orgs.toFixed(1)} ms; load average ${loadavg()[0]!.toFixed(1)}`,
  );
  for (const db of dbs) db.close();
} finally {
  await net.close();
}
