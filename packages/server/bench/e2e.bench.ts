// End to end on this machine: the local network as `ehmi up` runs it (packages/server/bench/network.ts): the central
// node (authorization server, EER, EAS, SMP with its DNS zone, EDS) and two organisations (municipality → gp), each
// MSH + access point with its own durable store, every node in its own process; SMP discovery, access tokens, EDS
// reporting and the audit log on. 10 KB MedCom messages (signed, encrypted AS4 over HTTPS).
//   0. idle: after a few warm-up messages, the CPU each node uses per second while nothing happens;
//   1. throughput: a first burst of EHMI_BENCH_WARM_N messages (reported apart), then N messages submitted at the sending MSH's EUA API (HTTPS, mTLS, access token) by C concurrent
//      clients, until every one is `receipted` (the receiver committed it to its inbox and its EnvelopeReceipt came
//      back); CPU per message of the two organisation nodes, and of the central node apart;
//   2. a large incompressible payload through the AP gateway (sending AP → receiving AP, stored there): time and
//      peak RSS of both processes;
//   3. latency at a fixed offered load (RATE messages/s for SECONDS, open loop): submit → EnvelopeReceipt (10.1), on
//      nodes restarted and warmed up; the first message after their start is measured apart.
// SQLite always; PostgreSQL as well when DATABASE_URL is set, and then the receiving organisation also as two
// instances on one PostgreSQL schema and one data folder behind a load balancer on loopback (haproxy when installed,
// else the bench's TCP balancer; EHMI_BENCH_BALANCER=tcp chooses it): throughput with the work each instance took,
// then one instance killed (SIGKILL) in the middle of a run, and every message must end receipted, once in the inbox.
// EHMI_BENCH_ENGINES (a comma list of sqlite, postgres, two-instances; default all that DATABASE_URL allows). Knobs:
// EHMI_BENCH_N (200), EHMI_BENCH_WARM_N (N, a first burst before the measured one), EHMI_BENCH_CONCURRENCY (16), EHMI_BENCH_RATE (2.5), EHMI_BENCH_SECONDS (20),
// EHMI_BENCH_LARGE_MB (100, 0 skips), EHMI_BENCH_IDLE_SECONDS (10, 0 skips). With EHMI_BENCH_RESULT the figures are
// also written there as JSON (scripts/bench.mjs reads them; a phase that failed is null with its reason).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  createWriteStream,
  fsyncSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { publishedDocumentTypes } from '@ehmi/network';
import pg from 'pg';
import { NODE_V8_FLAGS, nodeEnvironment } from '../src/runtime.ts';
import {
  type BenchNetwork,
  benchEua,
  cpuMs,
  killAll,
  openBenchNetwork,
  stopProcess,
  threadCpuMs,
  track,
} from './network.ts';

const N = Number(process.env.EHMI_BENCH_N ?? 200);
// Before the throughput phase, a first burst of this many messages at the same concurrency (0 skips): a node runs
// for months, and its CPU per message is the one after V8 has compiled the message path, its caches are filled and
// the plans of its FHIR profiles made. The first burst's own figures are reported as `small.firstBurst`.
const WARM_N = Number(process.env.EHMI_BENCH_WARM_N ?? N);
const CONCURRENCY = Number(process.env.EHMI_BENCH_CONCURRENCY ?? 16);
// Denmark's MedCom traffic averages about 2.5 messages a second (docs/architecture.md "Scale").
const RATE = Number(process.env.EHMI_BENCH_RATE ?? 2.5);
const SECONDS = Number(process.env.EHMI_BENCH_SECONDS ?? 20);
const LARGE_MB = Number(process.env.EHMI_BENCH_LARGE_MB ?? 100);
// 0. idle: CPU of each node while nothing happens, after the warm-up (0 skips).
const IDLE_SECONDS = Number(process.env.EHMI_BENCH_IDLE_SECONDS ?? 10);
// EHMI_BENCH_DEADLINE (epoch ms, from scripts/bench.mjs): the large payload is stopped (or skipped) when it would
// leave the latency phase less than its offered seconds and 30 s, and the latency phase stops waiting at the deadline;
// each reported with its reason.
const DEADLINE = Number(process.env.EHMI_BENCH_DEADLINE ?? Number.POSITIVE_INFINITY);
const LARGE_DEADLINE = DEADLINE - (SECONDS * 1000 + 30_000);
const ENGINES = new Set(
  (process.env.EHMI_BENCH_ENGINES ?? 'sqlite,postgres,two-instances').split(',').map((e) => e.trim()),
);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    killAll();
    save();
    process.exit(1);
  });
}
const LARGE_SENDER = fileURLToPath(new URL('./large-sender.mjs', import.meta.url));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** EHMI_BENCH_PROFILE_DIR: a CPU profile of the large-payload sender there too (written when it exits). */
function profileFlags(): string[] {
  const profile = process.env.EHMI_BENCH_PROFILE_DIR;
  return profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
}

/** Peak resident set of a process so far (Linux VmHWM), in MiB. */
function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** The figures of one engine's run; a phase that failed is null, with its reason. */
export interface EndToEndResult {
  kind: 'one-instance';
  engine: string;
  idle: {
    seconds: number;
    /** The busier of the two organisation nodes. */
    cpuMsPerSecondPerNode: number | null;
    cpuMsPerSecondPerNodeReason?: string;
    /** sender, receiver, and the central node. */
    byNode: Record<string, number> | null;
  };
  small: {
    n: number;
    concurrency: number;
    messagesPerSecond: number | null;
    messagesPerSecondReason?: string;
    acceptedPerSecond: number | null;
    /** Both organisation nodes together. */
    cpuMsPerMessage: number | null;
    cpuMsPerMessageReason?: string;
    /** The central node (tokens, EDS reports, SMP lookups), apart. */
    centralCpuMsPerMessage: number | null;
    /** CPU per message of each process (sender, receiver, central). */
    cpuMsPerMessageByProcess?: Record<string, number>;
    /** The first burst after the nodes' start and warm-up messages, before the measured one (null: skipped). */
    firstBurst?: FirstBurst | null;
    /** PostgreSQL: commits and statements per message on the database, every node together. */
    database?: DatabaseWork;
    offeredPerSecond: number;
    offeredSeconds: number;
    p50Ms: number | null;
    p99Ms: number | null;
    p99MsReason?: string;
    maxMs: number | null;
    /** Submit → EnvelopeReceipt of the first message after both nodes started (before the latency phase's warm-up). */
    firstAfterStartMs?: number | null;
    /** At the offered load: submissions the sending MSH did not take, and the p99 of those it took. */
    notTaken?: number;
    p99MsOfTaken?: number | null;
  };
  large: {
    bytes: number;
    seconds: number | null;
    megabytesPerSecond: number | null;
    peakRssMB: number | null;
    peakRssMBReason?: string;
    peakRssMBByProcess: Record<string, number> | null;
    /** CPU time (user + system, all threads) per MB of payload, by process: load barely changes it. */
    cpuMsPerMBByProcess?: Record<string, number>;
    /**
     * The receiver's CPU per MB on its main thread and on its other threads (V8's GC workers, libuv's pool: file
     * writes, fsync, inflate), and the CPU it used after its start before it settled (not counted in the above).
     */
    receiverThreads?: { mainMsPerMB: number; otherMsPerMB: number; settleMs: number; settleCpuMs: number };
  };
}

/** The receiving organisation as two instances on one PostgreSQL behind a load balancer. */
export interface TwoInstancesResult {
  kind: 'two-instances';
  engine: 'postgres';
  instances: number;
  /** Which load balancer ran: haproxy, or the bench's TCP balancer. */
  balancer: 'haproxy' | 'tcp' | null;
  n: number;
  concurrency: number;
  messagesPerSecond: number | null;
  messagesPerSecondReason?: string;
  /** Against one instance on PostgreSQL in the same run (≥ 1: not lower). */
  ratioToOneInstance: number | null;
  ratioToOneInstanceReason?: string;
  /** The sender and both receiving instances together. */
  cpuMsPerMessage: number | null;
  centralCpuMsPerMessage: number | null;
  /** CPU per message of each process (sender, receiver 1, receiver 2, central). */
  cpuMsPerMessageByProcess?: Record<string, number>;
  /** Commits and statements per message on the database, every node together. */
  database?: DatabaseWork;
  /** Jobs each instance finished in the throughput phase, and connections the balancer gave each since the start. */
  jobsByInstance: number[] | null;
  connectionsByInstance: number[] | null;
  bothTookWork: boolean | null;
  kill: {
    n: number;
    /** Messages the sending MSH had accepted when the second instance was killed. */
    killedAfterAccepted: number | null;
    receipted: number | null;
    lost: number | null;
    duplicated: number | null;
    seconds: number | null;
    lostReason?: string;
  };
}

/** What the database did per message (pg_stat_database; pg_stat_statements when the server loads it). */
export interface DatabaseWork {
  commitsPerMessage: number | null;
  rollbacksPerMessage: number | null;
  statementsPerMessage: number | null;
  statementsPerMessageReason?: string;
}

interface DatabaseCounts {
  commits: number;
  rollbacks: number;
  statements: number | undefined;
  /** EHMI_BENCH_PG_TOP: calls by statement text (pg_stat_statements), to rank what a phase ran per message. */
  byStatement?: Map<string, number>;
}

/** EHMI_BENCH_PG_TOP=n: each PostgreSQL phase also prints its n statements with most calls per message. */
const PG_TOP = Number(process.env.EHMI_BENCH_PG_TOP ?? 0);

/**
 * The database's commit and statement counters. A backend reports its counters at most once a second while busy
 * and 10 s after it goes idle: the bench reads them only after every node has been idle that long.
 */
async function databaseCounts(url: string): Promise<DatabaseCounts> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const db = await client.query(
      'select xact_commit::float8 as commits, xact_rollback::float8 as rollbacks from pg_stat_database where datname = current_database()',
    );
    let statements: number | undefined;
    try {
      const st = await client.query(
        'select sum(calls)::float8 as n from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())',
      );
      statements = Number(st.rows[0].n);
    } catch {
      statements = undefined;
    }
    let byStatement: Map<string, number> | undefined;
    if (PG_TOP > 0 && statements !== undefined) {
      const rows = await client.query(
        'select query, sum(calls)::float8 as n from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database()) group by query',
      );
      byStatement = new Map(rows.rows.map((r: { query: string; n: number }) => [r.query, Number(r.n)]));
    }
    return {
      commits: Number(db.rows[0].commits),
      rollbacks: Number(db.rows[0].rollbacks),
      statements,
      ...(byStatement ? { byStatement } : {}),
    };
  } finally {
    await client.end();
  }
}

const STATS_IDLE_MS = 11_000;

/** The first burst's figures: messages, receipted per second, CPU per message of the organisation nodes. */
export interface FirstBurst {
  n: number;
  messagesPerSecond: number;
  cpuMsPerMessage: number;
}

/**
 * The first burst before the measured one (EHMI_BENCH_WARM_N messages, at the bench's concurrency): what the nodes
 * cost while V8 still compiles the message path, reported beside the measured burst; null when skipped.
 */
async function firstBurst(eua: ReturnType<typeof euaOf>, pids: number[]): Promise<FirstBurst | null> {
  if (WARM_N <= 0) return null;
  const cpu0 = sumCpu(pids);
  const t0 = performance.now();
  await allReceipted(
    eua,
    (await eua.burst(WARM_N)).map((s) => s.id),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { n: WARM_N, messagesPerSecond: WARM_N / seconds, cpuMsPerMessage: (sumCpu(pids) - cpu0) / WARM_N };
}

function databaseWork(before: DatabaseCounts, after: DatabaseCounts, n: number): DatabaseWork {
  if (before.byStatement && after.byStatement) {
    const ranked = [...after.byStatement]
      .map(([query, calls]) => [query, (calls - (before.byStatement!.get(query) ?? 0)) / n] as const)
      .filter(([, perMessage]) => perMessage > 0)
      .sort((a, b) => b[1] - a[1])
      .slice(0, PG_TOP);
    for (const [query, perMessage] of ranked) {
      console.log(
        `  ${perMessage.toFixed(2).padStart(6)} per message  ${query.replace(/\s+/g, ' ').slice(0, 160)}`,
      );
    }
  }
  return {
    commitsPerMessage: (after.commits - before.commits) / n,
    rollbacksPerMessage: (after.rollbacks - before.rollbacks) / n,
    statementsPerMessage:
      before.statements === undefined || after.statements === undefined
        ? null
        : (after.statements - before.statements) / n,
    ...(before.statements === undefined || after.statements === undefined
      ? { statementsPerMessageReason: 'pg_stat_statements is not loaded (shared_preload_libraries)' }
      : {}),
  };
}

const perProcess = (pids: Record<string, number>, before: Record<string, number>, n: number) =>
  Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, (cpuMs(pid) - before[k]!) / n]));
const cpuOf = (pids: Record<string, number>) =>
  Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid)]));

const reason = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every run's figures so far, written to EHMI_BENCH_RESULT after each phase (so a run cut short still reports). */
const results: (EndToEndResult | TwoInstancesResult)[] = [];
function save(): void {
  if (process.env.EHMI_BENCH_RESULT) writeFileSync(process.env.EHMI_BENCH_RESULT, JSON.stringify(results));
}

/** Submitting at the sender's MSH and watching the messages there, as an EUA does. */
const euaOf = (net: BenchNetwork) => benchEua(net, CONCURRENCY);

/** Wait until every message of `ids` is receipted; past the deadline, say how many were. */
async function allReceipted(eua: ReturnType<typeof euaOf>, ids: string[]): Promise<void> {
  for (;;) {
    const n = await eua.done(ids);
    if (n >= ids.length) return;
    if (Date.now() > DEADLINE)
      throw new Error(
        `${n} of ${ids.length} messages receipted when the time budget ran out (load average ${loadavg()[0]!.toFixed(1)})`,
      );
    await sleep(100);
  }
}

const orgPids = (net: BenchNetwork) => [net.sender!.pid!, ...net.receivers.map((r) => r.pid!)];
const sumCpu = (pids: number[]) => pids.reduce((t, pid) => t + cpuMs(pid), 0);

async function run(label: string, databaseUrl: string | undefined): Promise<EndToEndResult> {
  const result: EndToEndResult = {
    kind: 'one-instance',
    engine: label,
    idle: { seconds: IDLE_SECONDS, cpuMsPerSecondPerNode: null, byNode: null },
    small: {
      n: N,
      concurrency: CONCURRENCY,
      messagesPerSecond: null,
      acceptedPerSecond: null,
      cpuMsPerMessage: null,
      centralCpuMsPerMessage: null,
      offeredPerSecond: RATE,
      offeredSeconds: SECONDS,
      p50Ms: null,
      p99Ms: null,
      maxMs: null,
    },
    large: {
      bytes: LARGE_MB * 1024 * 1024,
      seconds: null,
      megabytesPerSecond: null,
      peakRssMB: null,
      peakRssMBByProcess: null,
    },
  };
  results.push(result);
  save();
  const net = await openBenchNetwork({ label, databaseUrl, receiverInstances: 1 });
  const eua = euaOf(net);
  const { client } = net;
  try {
    await eua.warmUp();

    // 0. idle: the warm-up's jobs are done (its receipts are back); a second for stragglers, then measure.
    if (IDLE_SECONDS > 0) {
      await sleep(1000);
      const pids = { sender: net.sender!.pid!, receiver: net.receivers[0]!.pid!, central: net.central.pid! };
      const c0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid)]));
      const ti = performance.now();
      await sleep(IDLE_SECONDS * 1000);
      const secs = (performance.now() - ti) / 1000;
      const byNode = Object.fromEntries(
        Object.entries(pids).map(([k, pid]) => [k, (cpuMs(pid) - c0[k]!) / secs]),
      );
      result.idle.byNode = byNode;
      result.idle.cpuMsPerSecondPerNode = Math.max(byNode.sender!, byNode.receiver!);
      console.log(
        `${label.padEnd(9)} idle for ${secs.toFixed(0)} s: CPU ${Object.entries(byNode)
          .map(([k, v]) => `${k} ${v.toFixed(1)}`)
          .join(', ')} ms per second (clock ticks of 10 ms; load average ${loadavg()[0]!.toFixed(1)})`,
      );
    } else result.idle.cpuMsPerSecondPerNodeReason = 'skipped (EHMI_BENCH_IDLE_SECONDS=0)';
    save();

    // 1. throughput
    try {
      const pids = orgPids(net);
      const named = { sender: net.sender!.pid!, receiver: net.receivers[0]!.pid!, central: net.central.pid! };
      const first = await firstBurst(eua, pids);
      result.small.firstBurst = first;
      if (first)
        console.log(
          `${label.padEnd(9)} first burst: ${first.n} × 10 KB, ${CONCURRENCY} clients: end to end (receipted) ${first.messagesPerSecond.toFixed(1)} messages/s; CPU ${first.cpuMsPerMessage.toFixed(0)} ms per message (both nodes); the measured burst follows`,
        );
      let db0: DatabaseCounts | undefined;
      if (databaseUrl) {
        await sleep(STATS_IDLE_MS);
        db0 = await databaseCounts(databaseUrl).catch(() => undefined);
      }
      const each0 = cpuOf(named);
      const cpu0 = sumCpu(pids);
      const central0 = cpuMs(net.central.pid!);
      const t0 = performance.now();
      const mono0 = process.hrtime.bigint();
      const sent = await eua.burst(N);
      const ids = sent.map((s) => s.id);
      const tSubmitted = performance.now();
      await allReceipted(eua, ids);
      const seconds = (performance.now() - t0) / 1000;
      // The throughput window on the monotonic clock V8's CPU profiles use (µs), to cut a profile to it.
      if (process.env.EHMI_BENCH_PROFILE_DIR)
        console.error(
          `profile: ${label} throughput window ${mono0 / 1000n} ${process.hrtime.bigint() / 1000n} µs (${N} messages)`,
        );
      // CPU per message (both nodes) says what two idle cores could carry, whatever else the machine was doing.
      const cpuPerMessage = (sumCpu(pids) - cpu0) / N;
      const centralPerMessage = (cpuMs(net.central.pid!) - central0) / N;
      console.log(
        `${label.padEnd(9)} throughput: ${N} × 10 KB, ${CONCURRENCY} clients: accepted at ${(N / ((tSubmitted - t0) / 1000)).toFixed(1)}/s, end to end (receipted) ${(N / seconds).toFixed(1)} messages/s (${seconds.toFixed(1)} s); CPU ${cpuPerMessage.toFixed(0)} ms per message (both nodes) = ${((2 * 1000) / cpuPerMessage).toFixed(0)} messages/s on 2 idle cores; central node ${centralPerMessage.toFixed(0)} ms per message`,
      );
      result.small.messagesPerSecond = N / seconds;
      result.small.acceptedPerSecond = N / ((tSubmitted - t0) / 1000);
      result.small.cpuMsPerMessage = cpuPerMessage;
      result.small.centralCpuMsPerMessage = centralPerMessage;
      result.small.cpuMsPerMessageByProcess = perProcess(named, each0, N);
      if (databaseUrl && db0) {
        await sleep(STATS_IDLE_MS);
        result.small.database = databaseWork(db0, await databaseCounts(databaseUrl), N);
        console.log(
          `${label.padEnd(9)} database per message: ${result.small.database.commitsPerMessage!.toFixed(1)} commits, ${result.small.database.statementsPerMessage?.toFixed(1) ?? 'n/a'} statements (all nodes); CPU per message by process: ${Object.entries(
            result.small.cpuMsPerMessageByProcess,
          )
            .map(([k, v]) => `${k} ${v.toFixed(0)} ms`)
            .join(', ')}`,
        );
      }
    } catch (err) {
      result.small.messagesPerSecondReason = `throughput failed: ${reason(err)}`;
      result.small.cpuMsPerMessageReason = result.small.messagesPerSecondReason;
      console.error(`${label} throughput failed`, err);
    }
    save();

    // 2. a large payload through the AP gateway, both nodes in fresh processes of their own (so each one's peak RSS
    // is the large payload's): the sender is large-sender.ts, which hands the file to its AP gateway.
    await net.stopSender();
    if (LARGE_MB <= 0) result.large.peakRssMBReason = 'skipped (EHMI_BENCH_LARGE_MB=0)';
    else if (Date.now() + 15_000 > LARGE_DEADLINE)
      result.large.peakRssMBReason = `skipped: the time budget ran out before it (load average ${loadavg()[0]!.toFixed(1)})`;
    else
      try {
        await net.stopReceivers();
        await net.startReceivers();
        const receiver = net.receivers[0]!;
        const file = join(net.dataDir, 'large.bin');
        const out = createWriteStream(file);
        const hash = createHash('sha256');
        for (let i = 0; i < LARGE_MB; i++) {
          const b = randomBytes(1024 * 1024);
          hash.update(b);
          if (!out.write(b)) await new Promise<void>((r) => out.once('drain', () => r()));
        }
        out.end();
        await finished(out);
        const sha = `sha256:${hash.digest('hex')}`;
        // A fresh node finishes its start (the first connections, lazy loads) after it answers: the receiver's CPU
        // is counted from when it has been quiet for 250 ms (at most 5 s), so that it is the payload's alone.
        const settle0 = Date.now();
        const settleCpu0 = cpuMs(receiver.pid!);
        for (let last = settleCpu0; Date.now() - settle0 < 5000; ) {
          await new Promise((r) => setTimeout(r, 250));
          const now = cpuMs(receiver.pid!);
          if (now - last < 5) break;
          last = now;
        }
        const receiverBefore = peakRssMiB(receiver.pid!);
        const receiverCpuBefore = cpuMs(receiver.pid!);
        const settle = { ms: Date.now() - settle0, cpuMs: receiverCpuBefore - settleCpu0 };
        const receiverMainBefore = threadCpuMs(receiver.pid!).main ?? 0;
        const child = track(
          spawn(process.execPath, [...NODE_V8_FLAGS, ...profileFlags(), LARGE_SENDER], {
            env: {
              ...nodeEnvironment(process.env),
              EHMI_TEST_NODE_CONFIG: JSON.stringify(net.plan.organisations[0]!.config),
              EHMI_BENCH_LARGE_FILE: file,
              EHMI_BENCH_LARGE_SENDER: `0088:${eua.from.gln}`,
              EHMI_BENCH_LARGE_RECEIVER: `0088:${eua.to.gln}`,
              // A document type the SMP publishes for the receiver: the sender discovers its AP as for any message.
              EHMI_BENCH_LARGE_DOCUMENT_TYPE: publishedDocumentTypes()[0]!,
            },
            stdio: ['ignore', 'pipe', 'inherit'],
          }),
        );
        // Past the deadline the sender is stopped and the payload reported as not measured.
        if (Number.isFinite(LARGE_DEADLINE)) {
          const late = setTimeout(
            () => child.kill('SIGKILL'),
            Math.max(0, LARGE_DEADLINE - Date.now()),
          ).unref();
          child.once('exit', () => clearTimeout(late));
        }
        let output = '';
        child.stdout!.setEncoding('utf8');
        child.stdout!.on('data', (c: string) => {
          output += c;
        });
        const code = await new Promise((r) => child.once('exit', r));
        const done = /^done (.*)$/m.exec(output);
        if (!done)
          throw new Error(
            Date.now() >= LARGE_DEADLINE
              ? `not sent when the time budget ran out (load average ${loadavg()[0]!.toFixed(1)})`
              : `the large-payload sender exited ${code} without a result`,
          );
        const sent = JSON.parse(done[1]!) as {
          seconds: number;
          peakRssMiB: number;
          cpuMs: number;
          startRssMiB: number;
          failure?: string;
        };
        if (sent.failure) throw new Error(`large payload failed: ${sent.failure}`);
        const receiverPeak = peakRssMiB(receiver.pid!);
        const cpu = {
          sender: sent.cpuMs / LARGE_MB,
          receiver: (cpuMs(receiver.pid!) - receiverCpuBefore) / LARGE_MB,
        };
        const mainMsPerMB = ((threadCpuMs(receiver.pid!).main ?? 0) - receiverMainBefore) / LARGE_MB;
        result.large.receiverThreads = {
          mainMsPerMB,
          otherMsPerMB: cpu.receiver - mainMsPerMB,
          settleMs: settle.ms,
          settleCpuMs: settle.cpuMs,
        };
        const ls = sent.seconds;
        console.log(
          `${label.padEnd(9)} ${LARGE_MB} MB payload (gzip, sign, encrypt, HTTPS, decrypt, store; ${sha.slice(0, 19)}…): ${ls.toFixed(1)} s = ${(LARGE_MB / ls).toFixed(1)} MB/s; peak RSS sender ${sent.startRssMiB.toFixed(0)} → ${sent.peakRssMiB.toFixed(0)} MiB, receiver ${receiverBefore.toFixed(0)} → ${receiverPeak.toFixed(0)} MiB; CPU ${cpu.sender.toFixed(1)} ms/MB sender, ${cpu.receiver.toFixed(1)} ms/MB receiver (main thread ${mainMsPerMB.toFixed(1)}, other threads ${(cpu.receiver - mainMsPerMB).toFixed(1)}; settled ${settle.ms} ms after its start, ${settle.cpuMs.toFixed(0)} ms CPU not counted) (load average ${loadavg()[0]!.toFixed(1)})`,
        );
        result.large.cpuMsPerMBByProcess = cpu;
        result.large.seconds = ls;
        result.large.megabytesPerSecond = LARGE_MB / ls;
        result.large.peakRssMBByProcess = { sender: sent.peakRssMiB, receiver: receiverPeak };
        result.large.peakRssMB = Math.max(sent.peakRssMiB, receiverPeak);
      } catch (err) {
        result.large.peakRssMBReason = `large payload failed: ${reason(err)}`;
        console.error(`${label} large payload failed`, err);
      }
    save();

    if (Date.now() > DEADLINE) {
      result.small.p99MsReason = `skipped: the time budget ran out before it (load average ${loadavg()[0]!.toFixed(1)})`;
      save();
      return result;
    }
    // The nodes as the throughput phase had them, for the latency phase: restarted, then warmed up as before the
    // throughput phase (TLS sessions, tokens, SMP look-ups, JIT), so that its percentiles are of running nodes. What
    // the first message after a start takes (every cache empty) is its own figure, not a latency sample.
    await net.stopReceivers();
    await net.startReceivers();
    await net.startSender();
    try {
      const at = Date.now();
      const { id } = await eua.submit();
      await allReceipted(eua, [id]);
      const res = await client.call('municipality', 'GET', `/messages/${id}`);
      const events = (res.json as { events: { code: string; time: string }[] }).events;
      const receipt = events.find((e) => e.code === '10.1');
      result.small.firstAfterStartMs = receipt ? Date.parse(receipt.time) - at : null;
      console.log(
        `${label.padEnd(9)} first message after a start of both nodes (submit → EnvelopeReceipt back): ${result.small.firstAfterStartMs} ms`,
      );
      await eua.warmUp();
    } catch (err) {
      result.small.firstAfterStartMs = null;
      console.error(`${label} first message after a start failed`, err);
    }

    // 3. latency at a fixed offered load (open loop: one submission every 1/RATE s, whatever the answers), last: under
    // a deadline it is the phase cut short
    try {
      const sent: { id: Promise<string | Error>; at: number }[] = [];
      const count = Math.round(RATE * SECONDS);
      const start = Date.now();
      for (let i = 0; i < count; i++) {
        const due = start + (i * 1000) / RATE;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        // A submission the node did not take (refused, or not answered in time) is counted, not dropped.
        sent.push({
          at: Date.now(),
          id: eua.submit().then(
            (s) => s.id,
            (err: unknown) => asError(err),
          ),
        });
      }
      const answers = await Promise.all(sent.map((s) => s.id));
      const refused = answers.filter((a): a is Error => a instanceof Error);
      const lat: string[] = answers.map((a) => (a instanceof Error ? '' : a));
      const taken = lat.filter((id) => id !== '');
      for (;;) {
        const n = await eua.done(taken);
        if (n >= taken.length) break;
        if (Date.now() > DEADLINE)
          throw new Error(
            `${n} of ${taken.length} messages receipted when the time budget ran out (load average ${loadavg()[0]!.toFixed(1)})`,
          );
        await sleep(100);
      }
      const latencies: number[] = [];
      for (let i = 0; i < lat.length; i++) {
        if (lat[i] === '') continue;
        const res = await client.call('municipality', 'GET', `/messages/${lat[i]}`);
        const events = (res.json as { events: { code: string; time: string }[] }).events;
        const receipt = events.find((e) => e.code === '10.1');
        if (receipt) latencies.push(Date.parse(receipt.time) - sent[i]!.at);
      }
      latencies.sort((a, b) => a - b);
      console.log(
        `${label.padEnd(9)} latency at ${RATE} messages/s for ${SECONDS} s (submit → EnvelopeReceipt back): p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, max ${latencies[latencies.length - 1]} ms (n=${latencies.length}; ${refused.length} of ${answers.length} submissions not taken)`,
      );
      result.small.p99MsOfTaken = latencies.length > 0 ? percentile(latencies, 99) : null;
      result.small.notTaken = refused.length;
      if (refused.length > 0)
        throw new Error(
          `${refused.length} of ${answers.length} submissions at ${RATE}/s were not taken by the sending MSH (first: ${refused[0]!.message.slice(0, 200)}); p99 of those taken ${result.small.p99MsOfTaken} ms`,
        );
      if (latencies.length < taken.length)
        throw new Error(`${taken.length - latencies.length} messages have no EnvelopeReceipt event`);
      result.small.p50Ms = percentile(latencies, 50);
      result.small.p99Ms = percentile(latencies, 99);
      result.small.maxMs = latencies[latencies.length - 1]!;
    } catch (err) {
      result.small.p99MsReason = `latency failed: ${reason(err)}`;
      console.error(`${label} latency failed`, err);
    }
    save();
  } finally {
    await net.close();
  }
  return result;
}

/**
 * The receiving organisation as two instances on one PostgreSQL schema and one data folder behind a load balancer:
 * throughput (with the work each instance took), then N more messages during which one instance is killed
 * (SIGKILL) once half of them were accepted; every message must still end receipted, once in the inbox.
 */
async function runTwoInstances(
  databaseUrl: string,
  oneInstance: EndToEndResult | undefined,
): Promise<TwoInstancesResult> {
  const result: TwoInstancesResult = {
    kind: 'two-instances',
    engine: 'postgres',
    instances: 2,
    balancer: null,
    n: N,
    concurrency: CONCURRENCY,
    messagesPerSecond: null,
    ratioToOneInstance: null,
    cpuMsPerMessage: null,
    centralCpuMsPerMessage: null,
    jobsByInstance: null,
    connectionsByInstance: null,
    bothTookWork: null,
    kill: { n: N, killedAfterAccepted: null, receipted: null, lost: null, duplicated: null, seconds: null },
  };
  results.push(result);
  save();
  const label = 'postgres×2';
  const net = await openBenchNetwork({ label: 'two-instances', databaseUrl, receiverInstances: 2 });
  result.balancer = net.balancer!.kind;
  const eua = euaOf(net);
  try {
    await eua.warmUp();
    await sleep(1000);
    // 1. throughput, with the work each instance took.
    try {
      const pids = orgPids(net);
      await firstBurst(eua, pids);
      const named = {
        sender: net.sender!.pid!,
        ...Object.fromEntries(net.receivers.map((r, i) => [`receiver${i + 1}`, r.pid!])),
        central: net.central.pid!,
      };
      await sleep(STATS_IDLE_MS);
      const db0 = await databaseCounts(databaseUrl).catch(() => undefined);
      const each0 = cpuOf(named);
      const cpu0 = sumCpu(pids);
      const central0 = cpuMs(net.central.pid!);
      const jobs0 = (await net.jobsDoneByInstance())!;
      const t0 = performance.now();
      const ids = (await eua.burst(N)).map((s) => s.id);
      await allReceipted(eua, ids);
      const seconds = (performance.now() - t0) / 1000;
      result.messagesPerSecond = N / seconds;
      result.cpuMsPerMessage = (sumCpu(pids) - cpu0) / N;
      result.centralCpuMsPerMessage = (cpuMs(net.central.pid!) - central0) / N;
      result.cpuMsPerMessageByProcess = perProcess(named, each0, N);
      const jobs1 = (await net.jobsDoneByInstance())!;
      const conn1 = await net.balancer!.connections();
      result.jobsByInstance = jobs1.map((n, i) => n - (jobs0[i] ?? 0));
      // Connections are kept alive from the warm-up on: counted since the start.
      result.connectionsByInstance = conn1;
      result.bothTookWork = result.jobsByInstance.every((n) => n > 0);
      if (db0) {
        await sleep(STATS_IDLE_MS);
        result.database = databaseWork(db0, await databaseCounts(databaseUrl), N);
      }
      const one = oneInstance?.small.messagesPerSecond;
      if (typeof one === 'number' && one > 0) result.ratioToOneInstance = result.messagesPerSecond / one;
      else result.ratioToOneInstanceReason = 'no one-instance PostgreSQL figure in this run';
      console.log(
        `${label.padEnd(9)} throughput (${result.balancer} in front of 2 instances): ${N} × 10 KB, ${CONCURRENCY} clients: end to end (receipted) ${result.messagesPerSecond.toFixed(1)} messages/s (${seconds.toFixed(1)} s)${result.ratioToOneInstance === null ? '' : `, ${result.ratioToOneInstance.toFixed(2)} × one instance`}; CPU ${result.cpuMsPerMessage.toFixed(0)} ms per message (sender + both instances), central node ${result.centralCpuMsPerMessage.toFixed(0)} ms; jobs done by instance ${result.jobsByInstance.join(' / ')}, connections ${result.connectionsByInstance.join(' / ')}; CPU per message by process: ${Object.entries(
          result.cpuMsPerMessageByProcess,
        )
          .map(([k, v]) => `${k} ${v.toFixed(0)} ms`)
          .join(
            ', ',
          )}; database per message: ${result.database?.commitsPerMessage?.toFixed(1) ?? 'n/a'} commits, ${result.database?.statementsPerMessage?.toFixed(1) ?? 'n/a'} statements (all nodes)`,
      );
    } catch (err) {
      result.messagesPerSecondReason = `throughput failed: ${reason(err)}`;
      result.ratioToOneInstanceReason = result.messagesPerSecondReason;
      console.error(`${label} throughput failed`, err);
    }
    save();

    // 2. one instance killed in the middle of a run: nothing lost, nothing twice.
    try {
      const victim = net.receivers[1]!;
      const t0 = performance.now();
      let killed: Promise<void> | undefined;
      const sent = await eua.burst(N, (accepted) => {
        if (accepted >= N / 2 && !killed) {
          result.kill.killedAfterAccepted = accepted;
          killed = stopProcess(victim, 'SIGKILL');
        }
      });
      await killed;
      const ids = sent.map((s) => s.id);
      // The killed instance's leased jobs are taken over when their lease ends (queue.leaseMs, 30 s).
      const until = Math.min(DEADLINE, Date.now() + 180_000);
      let receipted = 0;
      for (;;) {
        receipted = await eua.done(ids);
        if (receipted >= N || Date.now() > until) break;
        await sleep(250);
      }
      result.kill.receipted = receipted;
      result.kill.seconds = (performance.now() - t0) / 1000;
      // The inbox of the receiving organisation (through the balancer: the surviving instance answers).
      const res = await net.client.call('gp', 'GET', '/inbox');
      if (res.status !== 200) throw new Error(`GET /inbox at gp: ${res.status} ${res.text}`);
      const count = new Map<string, number>();
      for (const item of res.json as { bundleId: string }[])
        count.set(item.bundleId, (count.get(item.bundleId) ?? 0) + 1);
      result.kill.lost = sent.filter((s) => !count.has(s.bundleId)).length;
      result.kill.duplicated = sent.reduce((t, s) => t + Math.max(0, (count.get(s.bundleId) ?? 0) - 1), 0);
      console.log(
        `${label.padEnd(9)} one instance killed (SIGKILL) after ${result.kill.killedAfterAccepted} of ${N} accepted: ${receipted} of ${N} receipted in ${result.kill.seconds.toFixed(1)} s, ${result.kill.lost} missing from the inbox, ${result.kill.duplicated} twice`,
      );
    } catch (err) {
      result.kill.lostReason = `the kill run failed: ${reason(err)}`;
      console.error(`${label} kill run failed`, err);
    }
    save();
  } finally {
    await net.close();
  }
  return result;
}

/** What the numbers depend on: how loaded the machine is, and what one fsync costs on the data folder's disk. */
function machine(): string {
  const file = join(tmpdir(), `ehmi-fsync-${process.pid}`);
  const fd = openSync(file, 'w');
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    writeSync(fd, randomBytes(4096));
    const t = performance.now();
    fsyncSync(fd);
    times.push(performance.now() - t);
  }
  closeSync(fd);
  unlinkSync(file);
  times.sort((a, b) => a - b);
  return `load average ${loadavg()[0]!.toFixed(1)}, fsync p50 ${percentile(times, 50).toFixed(2)} ms`;
}

console.log(`machine: ${machine()}`);
const url = process.env.DATABASE_URL;
if (ENGINES.has('sqlite')) await run('sqlite', undefined);
let postgres: EndToEndResult | undefined;
if (url && ENGINES.has('postgres')) postgres = await run('postgres', url);
else console.log('postgres: skipped (DATABASE_URL is not set, or not in EHMI_BENCH_ENGINES)');
if (url && ENGINES.has('two-instances')) await runTwoInstances(url, postgres);
else console.log('two instances: skipped (DATABASE_URL is not set, or not in EHMI_BENCH_ENGINES)');
