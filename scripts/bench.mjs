#!/usr/bin/env node
// The benchmarks.
//   npm run bench                    the summary: the machine, the crypto floor first (same run), then the end-to-end
//                                    figures, the validator and EDS (packages/server/bench/eds.bench.ts),
//                                    each beside its target, and the ratio of end-to-end throughput to the floor;
//   npm run bench -- --quick         the same in under three minutes (fewer messages, a 200 MB large payload);
//   npm run bench -- --json          only one JSON object on stdout (every log line goes to stderr);
//   npm run bench -- <filter>...     every packages/*/bench/*.bench.ts whose path contains a filter, one after another
//                                    (`npm run bench -- .bench.ts` runs them all), each in its own process.
// Each figure is a number, or null with a `<field>Reason` beside it. The process exits non-zero only when the harness
// itself fails (a bad argument, or a part that crashed or produced no result): never for a missed target.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const json = args.includes('--json');
const unknown = args.filter((a) => a.startsWith('--') && a !== '--quick' && a !== '--json');
if (unknown.length > 0) {
  console.error(`bench: unknown option ${unknown.join(' ')} (options: --quick, --json)`);
  process.exit(2);
}
const filters = args.filter((a) => !a.startsWith('--'));
/** Human-readable lines: stdout, or stderr under --json (stdout then carries the JSON object only). */
const say = (line) => (json ? process.stderr : process.stdout).write(`${line}\n`);
// The `ehmi-source` condition: the @ehmi/* packages resolve to their TypeScript sources, not to their dist/; through
// NODE_OPTIONS, so the processes a benchmark starts get it too.
const env = {
  ...process.env,
  NODE_OPTIONS: [process.env.NODE_OPTIONS, '--conditions=ehmi-source'].filter(Boolean).join(' '),
};

/** Run one bench file; its stdout goes to our stderr under --json. Resolves with its exit code (null: killed). */
function runFile(file, extraEnv = {}, timeoutMs = 0, args = []) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
      cwd: root,
      stdio: ['ignore', json ? process.stderr : 'inherit', 'inherit'],
      env: { ...env, ...extraEnv },
    });
    // Stopped for its time: a bench that catches SIGTERM (to save its figures) exits with a code, not the signal.
    let stopped = false;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            stopped = true;
            say(`bench: ${file} ran over ${timeoutMs / 1000} s: stopped`);
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 5000).unref();
          }, timeoutMs)
        : undefined;
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut: stopped });
    });
  });
}

if (filters.length > 0) {
  const files = [];
  for (const pkg of readdirSync(join(root, 'packages'))) {
    const dir = join(root, 'packages', pkg, 'bench');
    if (!existsSync(dir) || !statSync(dir).isDirectory()) continue;
    for (const name of readdirSync(dir))
      if (name.endsWith('.bench.ts')) files.push(relative(root, join(dir, name)));
  }
  let failed = 0;
  for (const file of files.sort()) {
    if (!filters.some((f) => file.includes(f))) continue;
    say(`\n== ${file}`);
    // --quick and --json go to each benchmark run by name.
    const r = await runFile(file, {}, 0, [...(quick ? ['--quick'] : []), ...(json ? ['--json'] : [])]);
    if (r.code !== 0) failed++;
  }
  process.exit(failed > 0 ? 1 : 0);
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** fsync latency of a 4 KiB write in the folder the benchmarks keep their data in (the system's temp folder). */
function fsyncLatency() {
  const file = join(tmpdir(), `ehmi-fsync-${process.pid}`);
  const fd = openSync(file, 'w');
  const times = [];
  for (let i = 0; i < 50; i++) {
    writeSync(fd, randomBytes(4096));
    const t = performance.now();
    fsyncSync(fd);
    times.push(performance.now() - t);
  }
  closeSync(fd);
  unlinkSync(file);
  times.sort((a, b) => a - b);
  return { p50Ms: round(percentile(times, 50), 2), p90Ms: round(percentile(times, 90), 2) };
}

const round = (x, digits = 1) =>
  typeof x === 'number' && Number.isFinite(x) ? Number(x.toFixed(digits)) : x;
const load = () => loadavg().map((x) => round(x, 2));

const report = {
  machine: {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    loadAverage: load(),
    fsync: fsyncLatency(),
    node: process.version,
    quick,
  },
};
const harnessErrors = [];
const work = mkdtempSync(join(tmpdir(), 'ehmi-bench-'));

/**
 * Run a part (a bench file that writes its figures as JSON to EHMI_BENCH_RESULT) and return what it wrote, with the
 * load average before and after. A part that crashed, ran over its time or wrote nothing yields `{ error }`.
 */
async function part(name, file, extraEnv, timeoutMs) {
  const out = join(work, `${name}.json`);
  const before = load()[0];
  say(`\n== ${name} (${file}; load average ${before})`);
  const t0 = performance.now();
  const r = await runFile(file, { ...extraEnv, EHMI_BENCH_RESULT: out }, timeoutMs);
  const seconds = round((performance.now() - t0) / 1000);
  const loadAverage = [before, load()[0]];
  let result;
  if (existsSync(out)) {
    try {
      result = JSON.parse(readFileSync(out, 'utf8'));
    } catch (err) {
      return { error: `its result is not JSON: ${err.message}`, loadAverage, seconds };
    }
  }
  const failure = r.timedOut
    ? `ran over ${timeoutMs / 1000} s and was stopped`
    : r.code !== 0
      ? `exited with ${r.code ?? r.signal}`
      : undefined;
  if (result === undefined) return { error: failure ?? 'wrote no result', loadAverage, seconds };
  return { result, failure, loadAverage, seconds };
}

// 1. The crypto floor, first, in the same run.
const floorPart = await part(
  'cryptoFloor',
  'packages/server/bench/crypto-floor.bench.ts',
  { EHMI_BENCH_FLOOR_SECONDS: quick ? '5' : '10' },
  120_000,
);
if (floorPart.result) {
  report.cryptoFloor = { ...floorPart.result, loadAverage: floorPart.loadAverage };
  report.cryptoFloor.exchangesPerSecond = round(report.cryptoFloor.exchangesPerSecond);
  report.cryptoFloor.perCore = report.cryptoFloor.perCore.map((x) => round(x));
} else {
  harnessErrors.push(`cryptoFloor: ${floorPart.error}`);
  report.cryptoFloor = {
    exchangesPerSecond: null,
    exchangesPerSecondReason: floorPart.error,
    loadAverage: floorPart.loadAverage,
  };
}
const floor = report.cryptoFloor.exchangesPerSecond;

// 2. End to end (packages/server/bench/e2e.bench.ts), the network as `ehmi up` runs it (central node, tokens, EDS
// reporting, audit log): SQLite; without --quick and with DATABASE_URL also PostgreSQL, and the receiving
// organisation as two instances on PostgreSQL behind a load balancer.
const largeMB = quick ? 200 : 1024;
const e2eTimeoutMs = quick ? 140_000 : 2_400_000;
const e2ePart = await part(
  'endToEnd',
  'packages/server/bench/e2e.bench.ts',
  {
    EHMI_BENCH_N: quick ? '100' : '200',
    EHMI_BENCH_CONCURRENCY: '16',
    EHMI_BENCH_RATE: '50',
    EHMI_BENCH_SECONDS: quick ? '4' : '10',
    EHMI_BENCH_LARGE_MB: String(largeMB),
    EHMI_BENCH_IDLE_SECONDS: quick ? '5' : '10',
    ...(quick ? { EHMI_BENCH_ENGINES: 'sqlite' } : {}),
    // The bench cuts its waits and skips what would not fit, reporting why, rather than being stopped.
    EHMI_BENCH_DEADLINE: String(Date.now() + e2eTimeoutMs - 10_000),
  },
  e2eTimeoutMs,
);
const runs = Array.isArray(e2ePart.result) ? e2ePart.result : [];
const engines = runs.filter((r) => r.kind !== 'two-instances');
const twoInstancesRun = runs.find((r) => r.kind === 'two-instances');
if (e2ePart.error || e2ePart.failure) harnessErrors.push(`endToEnd: ${e2ePart.error ?? e2ePart.failure}`);
const why = (r, field) => r?.[`${field}Reason`] ?? e2ePart.error ?? e2ePart.failure ?? 'not measured';
function endToEnd(r) {
  const s = r?.small;
  const l = r?.large;
  const small = {
    engine: r?.engine ?? 'sqlite',
    messagesPerSecond: round(s?.messagesPerSecond ?? null, 2),
    ratioToFloor: null,
    p99Ms: s?.p99Ms ?? null,
    p50Ms: s?.p50Ms ?? null,
    ...(s?.firstAfterStartMs !== undefined ? { firstAfterStartMs: s.firstAfterStartMs } : {}),
    offeredPerSecond: s?.offeredPerSecond ?? 50,
    cpuMsPerMessage: round(s?.cpuMsPerMessage ?? null),
    centralCpuMsPerMessage: round(s?.centralCpuMsPerMessage ?? null),
    acceptedPerSecond: round(s?.acceptedPerSecond ?? null, 2),
    ...(s?.notTaken !== undefined ? { notTakenAtOfferedLoad: s.notTaken, p99MsOfTaken: s.p99MsOfTaken } : {}),
    n: s?.n ?? null,
    // The burst before the measured one, on nodes just started (V8 still compiling the message path).
    firstBurst: s?.firstBurst
      ? {
          n: s.firstBurst.n,
          messagesPerSecond: round(s.firstBurst.messagesPerSecond, 2),
          cpuMsPerMessage: round(s.firstBurst.cpuMsPerMessage),
        }
      : null,
    cpuMsPerMessageByProcess: roundEach(s?.cpuMsPerMessageByProcess),
    database: databaseWork(s?.database),
  };
  if (small.cpuMsPerMessageByProcess === null)
    small.cpuMsPerMessageByProcessReason = why(s, 'cpuMsPerMessage');
  if (small.database === null)
    small.databaseReason =
      r?.engine === 'postgres' ? why(s, 'messagesPerSecond') : 'PostgreSQL only (pg_stat_database)';
  if (small.messagesPerSecond === null) small.messagesPerSecondReason = why(s, 'messagesPerSecond');
  if (small.messagesPerSecond !== null && typeof floor === 'number' && floor > 0)
    small.ratioToFloor = round((small.messagesPerSecond * 2) / floor, 3);
  else
    small.ratioToFloorReason =
      small.messagesPerSecond === null ? small.messagesPerSecondReason : 'no crypto floor';
  if (small.p99Ms === null) small.p99MsReason = why(s, 'p99Ms');
  if (small.cpuMsPerMessage === null) small.cpuMsPerMessageReason = why(s, 'cpuMsPerMessage');
  if (small.centralCpuMsPerMessage === null) small.centralCpuMsPerMessageReason = why(s, 'cpuMsPerMessage');
  const large = {
    bytes: l?.bytes ?? largeMB * 1024 * 1024,
    peakRssMB: round(l?.peakRssMB ?? null),
    peakRssMBByProcess: l?.peakRssMBByProcess
      ? Object.fromEntries(Object.entries(l.peakRssMBByProcess).map(([k, v]) => [k, round(v)]))
      : null,
    megabytesPerSecond: round(l?.megabytesPerSecond ?? null),
    seconds: round(l?.seconds ?? null),
    // CPU per MB by process, and the receiver's split into its main thread and its other threads (GC, file I/O).
    cpuMsPerMBByProcess: l?.cpuMsPerMBByProcess
      ? Object.fromEntries(Object.entries(l.cpuMsPerMBByProcess).map(([k, v]) => [k, round(v)]))
      : null,
    receiverThreads: l?.receiverThreads
      ? Object.fromEntries(Object.entries(l.receiverThreads).map(([k, v]) => [k, round(v)]))
      : null,
    path: 'sending AP → HTTPS → receiving AP, stored in its blob store; each node in a fresh process of its own',
  };
  if (large.peakRssMB === null) large.peakRssMBReason = why(l, 'peakRssMB');
  if (large.megabytesPerSecond === null)
    large.megabytesPerSecondReason = large.peakRssMBReason ?? why(l, 'peakRssMB');
  const idle = {
    cpuMsPerSecondPerNode: round(r?.idle?.cpuMsPerSecondPerNode ?? null),
    byNode: r?.idle?.byNode
      ? Object.fromEntries(Object.entries(r.idle.byNode).map(([k, v]) => [k, round(v)]))
      : null,
    seconds: r?.idle?.seconds ?? null,
  };
  if (idle.cpuMsPerSecondPerNode === null)
    idle.cpuMsPerSecondPerNodeReason = why(r?.idle, 'cpuMsPerSecondPerNode');
  return { small, large, idle };
}
report.endToEnd = {
  ...endToEnd(engines.find((r) => r.engine === 'sqlite')),
  loadAverage: e2ePart.loadAverage,
};
const notRun = quick
  ? 'not in --quick (the full run measures it when DATABASE_URL is set)'
  : 'DATABASE_URL is not set';
const pgRun = engines.find((r) => r.engine === 'postgres');
if (pgRun) report.endToEnd.postgres = endToEnd(pgRun);
else if (process.env.DATABASE_URL && !quick) report.endToEnd.postgres = endToEnd(undefined);
else {
  report.endToEnd.postgres = null;
  report.endToEnd.postgresReason = notRun;
}
/** Each figure of a record rounded; null when there is none. */
function roundEach(o) {
  return o ? Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v)])) : null;
}
/** Commits and statements per message on PostgreSQL (every node together), as the bench measured them. */
function databaseWork(d) {
  if (!d) return null;
  return {
    commitsPerMessage: round(d.commitsPerMessage, 1),
    rollbacksPerMessage: round(d.rollbacksPerMessage, 2),
    statementsPerMessage: round(d.statementsPerMessage, 1),
    ...(d.statementsPerMessage === null ? { statementsPerMessageReason: d.statementsPerMessageReason } : {}),
  };
}
/** The receiving organisation as two instances on one PostgreSQL behind a load balancer on loopback. */
function twoInstances(r) {
  const k = r?.kill;
  const out = {
    engine: 'postgres',
    instances: r?.instances ?? 2,
    balancer: r?.balancer ?? null,
    n: r?.n ?? null,
    messagesPerSecond: round(r?.messagesPerSecond ?? null, 2),
    ratioToOneInstance: round(r?.ratioToOneInstance ?? null, 2),
    cpuMsPerMessage: round(r?.cpuMsPerMessage ?? null),
    centralCpuMsPerMessage: round(r?.centralCpuMsPerMessage ?? null),
    jobsByInstance: r?.jobsByInstance ?? null,
    connectionsByInstance: r?.connectionsByInstance ?? null,
    bothTookWork: r?.bothTookWork ?? null,
    cpuMsPerMessageByProcess: roundEach(r?.cpuMsPerMessageByProcess),
    database: databaseWork(r?.database),
    kill: {
      n: k?.n ?? null,
      killedAfterAccepted: k?.killedAfterAccepted ?? null,
      receipted: k?.receipted ?? null,
      lost: k?.lost ?? null,
      duplicated: k?.duplicated ?? null,
      seconds: round(k?.seconds ?? null),
    },
  };
  const whyNot = (o, field) => o?.[`${field}Reason`] ?? e2ePart.error ?? e2ePart.failure ?? 'not measured';
  if (out.balancer === null) out.balancerReason = whyNot(r, 'messagesPerSecond');
  for (const f of ['messagesPerSecond', 'ratioToOneInstance', 'cpuMsPerMessage', 'centralCpuMsPerMessage'])
    if (out[f] === null) out[`${f}Reason`] = whyNot(r, f === 'ratioToOneInstance' ? f : 'messagesPerSecond');
  for (const f of [
    'jobsByInstance',
    'connectionsByInstance',
    'bothTookWork',
    'cpuMsPerMessageByProcess',
    'database',
  ])
    if (out[f] === null) out[`${f}Reason`] = whyNot(r, 'messagesPerSecond');
  for (const f of ['killedAfterAccepted', 'receipted', 'lost', 'duplicated', 'seconds'])
    if (out.kill[f] === null) out.kill[`${f}Reason`] = whyNot(k, 'lost');
  return out;
}
if (twoInstancesRun) report.endToEnd.twoInstances = twoInstances(twoInstancesRun);
else if (process.env.DATABASE_URL && !quick) report.endToEnd.twoInstances = twoInstances(undefined);
else {
  report.endToEnd.twoInstances = null;
  report.endToEnd.twoInstancesReason = notRun;
}

// 3. The validator: FHIR profile validation of a MedCom message (packages/fhir/bench/validate.bench.ts).
const validatorPart = await part(
  'validator',
  'packages/fhir/bench/validate.bench.ts',
  { EHMI_BENCH_ITERATIONS: quick ? '100' : '300' },
  120_000,
);
if (validatorPart.error || validatorPart.failure)
  harnessErrors.push(`validator: ${validatorPart.error ?? validatorPart.failure}`);
report.validator = {
  messagesPerSecond: round(validatorPart.result?.messagesPerSecond ?? null),
  ...(validatorPart.result ? { message: validatorPart.result.message } : {}),
  loadAverage: validatorPart.loadAverage,
};
if (report.validator.messagesPerSecond === null)
  report.validator.messagesPerSecondReason = validatorPart.error ?? validatorPart.failure ?? 'not measured';

// 4. EDS: packages/server/bench/eds.bench.ts writes an object of figures (each a number, or null with
// `<field>Reason`) to EHMI_BENCH_RESULT; it is reported as `eds` unchanged.
const edsPart = await part(
  'eds',
  'packages/server/bench/eds.bench.ts',
  { EHMI_BENCH_QUICK: quick ? '1' : '' },
  quick ? 60_000 : 600_000,
);
if (edsPart.error || edsPart.failure) harnessErrors.push(`eds: ${edsPart.error ?? edsPart.failure}`);
report.eds = edsPart.result
  ? { ...edsPart.result, loadAverage: edsPart.loadAverage }
  : { reason: edsPart.error, loadAverage: edsPart.loadAverage };

// Targets (never a test: a missed target is reported, the exit code stays 0).
const large = report.endToEnd.large;
const targets = [
  ['endToEnd.small.ratioToFloor', report.endToEnd.small.ratioToFloor, '≥ 0.5', (v) => v >= 0.5],
  ['endToEnd.small.p99Ms', report.endToEnd.small.p99Ms, '< 100 ms at 50/s offered', (v) => v < 100],
  [
    'endToEnd.small.cpuMsPerMessage',
    report.endToEnd.small.cpuMsPerMessage,
    '≤ 25 ms (both nodes)',
    (v) => v <= 25,
  ],
  [
    'endToEnd.large.peakRssMB',
    large.peakRssMB,
    '< 256 MB at ≥ 50 MB/s',
    (v) => v < 256 && (large.megabytesPerSecond ?? 0) >= 50,
  ],
  ['validator.messagesPerSecond', report.validator.messagesPerSecond, '≥ 400/s', (v) => v >= 400],
  [
    'endToEnd.idle.cpuMsPerSecondPerNode',
    report.endToEnd.idle.cpuMsPerSecondPerNode,
    '< 5 ms of CPU per second',
    (v) => v < 5,
  ],
];
const two = report.endToEnd.twoInstances;
targets.push(
  [
    'endToEnd.twoInstances.ratioToOneInstance',
    two?.ratioToOneInstance ?? null,
    '≥ 1 (not lower than one instance)',
    (v) => v >= 1,
  ],
  [
    'endToEnd.twoInstances.bothTookWork',
    two?.bothTookWork ?? null,
    'both instances take work',
    (v) => v === true,
  ],
  [
    'endToEnd.twoInstances.kill.lost',
    two?.kill.lost ?? null,
    '0 lost and 0 twice when one instance is killed',
    (v) => v === 0 && two?.kill.duplicated === 0 && two?.kill.receipted === two?.kill.n,
  ],
);
report.targets = Object.fromEntries(
  targets.map(([field, value, target, ok]) => [field, { target, met: value === null ? null : ok(value) }]),
);
report.machine.loadAverageAtEnd = load();
if (harnessErrors.length > 0) report.harnessErrors = harnessErrors;
rmSync(work, { recursive: true, force: true });

const m = report.machine;
say('\n== summary');
say(
  `machine: ${m.cpuModel}, ${m.cores} cores, load average ${m.loadAverage.join(' ')} → ${m.loadAverageAtEnd.join(' ')}, fsync p50 ${m.fsync.p50Ms} ms / p90 ${m.fsync.p90Ms} ms${quick ? ' (--quick)' : ''}`,
);
say(
  `cryptoFloor.exchangesPerSecond        ${String(floor ?? `null (${report.cryptoFloor.exchangesPerSecondReason})`).padEnd(14)} (${report.cryptoFloor.keyType ?? 'RSA-3072'}, every core; ${typeof floor === 'number' ? (floor / 2).toFixed(0) : '?'} receipted messages/s)`,
);
const line = (field, value, unit = '') => {
  const t = report.targets[field];
  const v = value === null ? 'null' : `${value}${unit}`;
  say(
    `${field.padEnd(38)} ${v.padEnd(14)} target ${t.target}: ${t.met === null ? 'not measured' : t.met ? 'met' : 'missed'}`,
  );
};
say(`endToEnd.small.messagesPerSecond      ${report.endToEnd.small.messagesPerSecond ?? 'null'}`);
const fb = report.endToEnd.small.firstBurst;
if (fb)
  say(
    `endToEnd.small.firstBurst             ${fb.messagesPerSecond} messages/s, ${fb.cpuMsPerMessage} ms CPU per message (${fb.n} messages on nodes just started, before the measured burst)`,
  );
line('endToEnd.small.ratioToFloor', report.endToEnd.small.ratioToFloor);
line('endToEnd.small.p99Ms', report.endToEnd.small.p99Ms, ' ms');
line('endToEnd.small.cpuMsPerMessage', report.endToEnd.small.cpuMsPerMessage, ' ms');
line(
  'endToEnd.large.peakRssMB',
  large.peakRssMB,
  ` MB (${large.bytes / 2 ** 20} MB at ${large.megabytesPerSecond ?? '?'} MB/s)`,
);
line('validator.messagesPerSecond', report.validator.messagesPerSecond, '/s');
line('endToEnd.idle.cpuMsPerSecondPerNode', report.endToEnd.idle.cpuMsPerSecondPerNode, ' ms/s');
say(
  `endToEnd.small.centralCpuMsPerMessage ${report.endToEnd.small.centralCpuMsPerMessage ?? 'null'} ms (the central node: tokens, EDS, SMP; not in cpuMsPerMessage)`,
);
const pgE2e = report.endToEnd.postgres;
say(
  pgE2e
    ? `endToEnd.postgres                     ${pgE2e.small.messagesPerSecond ?? 'null'} messages/s, ${pgE2e.small.cpuMsPerMessage ?? 'null'} ms CPU per message, p99 ${pgE2e.small.p99Ms ?? 'null'} ms`
    : `endToEnd.postgres                     null (${report.endToEnd.postgresReason})`,
);
if (two) {
  line(
    'endToEnd.twoInstances.ratioToOneInstance',
    two.ratioToOneInstance,
    ` (${two.messagesPerSecond} messages/s, ${two.balancer})`,
  );
  line('endToEnd.twoInstances.bothTookWork', two.bothTookWork, ` (jobs ${two.jobsByInstance?.join(' / ')})`);
  line(
    'endToEnd.twoInstances.kill.lost',
    two.kill.lost,
    ` (${two.kill.receipted} of ${two.kill.n} receipted, ${two.kill.duplicated} twice)`,
  );
} else say(`endToEnd.twoInstances                 null (${report.endToEnd.twoInstancesReason})`);
say(`eds: ${report.eds === null ? report.edsReason : JSON.stringify(report.eds)}`);
for (const e of harnessErrors) say(`FAILED PART: ${e}`);
if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
process.exit(harnessErrors.length > 0 ? 1 : 0);
