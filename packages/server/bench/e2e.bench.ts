// End to end on this machine: two nodes of the local network (municipality → gp), each MSH + access point with its
// own durable store; the receiver in its own process. 10 KB MedCom messages (signed, encrypted AS4 over HTTPS).
//   0. idle: after a few warm-up messages, the CPU each node uses per second while nothing happens;
//   1. throughput: N messages submitted at the sending MSH's EUA API (HTTPS, mTLS) by C concurrent clients, until
//      every one is `receipted` (the receiver committed it to its inbox and its EnvelopeReceipt came back);
//   2. a large incompressible payload through the AP gateway (sending AP → receiving AP, stored there): time and
//      peak RSS of both processes;
//   3. latency at a fixed offered load (RATE messages/s for SECONDS, open loop): submit → EnvelopeReceipt (10.1).
// SQLite always; PostgreSQL as well when DATABASE_URL is set (EHMI_BENCH_ENGINES=sqlite runs SQLite only). Knobs:
// EHMI_BENCH_N (200), EHMI_BENCH_CONCURRENCY (16), EHMI_BENCH_RATE (2.5), EHMI_BENCH_SECONDS (20),
// EHMI_BENCH_LARGE_MB (100, 0 skips), EHMI_BENCH_IDLE_SECONDS (10, 0 skips). With EHMI_BENCH_RESULT the figures are also written there as JSON
// (scripts/bench.mjs reads them; a phase that failed is null with its reason).
import { type ChildProcess, spawn } from 'node:child_process';
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
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import {
  LOCAL_ORGANISATIONS,
  type ManifestOrganisation,
  NetworkClient,
  planNetwork,
  sampleHomeCareObservation,
  startCrlService,
  writeNetworkManifest,
} from '@ehmi/network';
import pg from 'pg';
import pino from 'pino';

const N = Number(process.env.EHMI_BENCH_N ?? 200);
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

// The node processes this bench started: stopped with it, also when it is stopped (SIGTERM, SIGINT).
const children = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    for (const c of children) c.kill('SIGKILL');
    save();
    process.exit(1);
  });
}
// Both nodes run as `npm start` runs them: tsx registered in-process (no `--import tsx` for worker threads to inherit).
const NODE_SCRIPT = fileURLToPath(new URL('../test/e2e/node-launch.mjs', import.meta.url));
const LARGE_SENDER = fileURLToPath(new URL('./large-sender.mjs', import.meta.url));

/** A prøvesvar padded to 10 KB (DiagnosticReport.conclusion), fresh ids. */
function message(from: ManifestOrganisation, to: ManifestOrganisation): Buffer {
  const bundle = sampleHomeCareObservation(from, to);
  const base = Buffer.byteLength(JSON.stringify(bundle));
  const report = bundle.entry!.find((e) => e.resource?.resourceType === 'DiagnosticReport')!.resource as {
    conclusion?: string;
  };
  report.conclusion = 'Prøvesvar. '.repeat(Math.max(0, Math.ceil((10 * 1024 - base) / 12)));
  return Buffer.from(JSON.stringify(bundle));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** EHMI_BENCH_PROFILE_DIR: a CPU profile of each node process there (written when it exits cleanly). */
function profileFlags(): string[] {
  const profile = process.env.EHMI_BENCH_PROFILE_DIR;
  return profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
}

function spawnNode(config: unknown): Promise<ChildProcess> {
  const flags = profileFlags();
  const child = track(
    spawn(process.execPath, [...flags, NODE_SCRIPT], {
      env: { ...process.env, EHMI_TEST_NODE_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => {
      out += c;
      if (out.startsWith('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`node exited ${code}`)));
  });
}

/** CPU time (user + system) a process used so far, in ms (Linux /proc/<pid>/stat, clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Peak resident set of a process so far (Linux VmHWM), in MiB. */
function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** The figures of one engine's run; a phase that failed is null, with its reason. */
export interface EndToEndResult {
  engine: string;
  idle: {
    seconds: number;
    cpuMsPerSecondPerNode: number | null;
    cpuMsPerSecondPerNodeReason?: string;
    byNode: Record<string, number> | null;
  };
  small: {
    n: number;
    concurrency: number;
    messagesPerSecond: number | null;
    messagesPerSecondReason?: string;
    acceptedPerSecond: number | null;
    cpuMsPerMessage: number | null;
    cpuMsPerMessageReason?: string;
    offeredPerSecond: number;
    offeredSeconds: number;
    p50Ms: number | null;
    p99Ms: number | null;
    p99MsReason?: string;
    maxMs: number | null;
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
  };
}

const reason = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/** Every engine's figures so far, written to EHMI_BENCH_RESULT after each phase (so a run cut short still reports). */
const results: EndToEndResult[] = [];
function save(): void {
  if (process.env.EHMI_BENCH_RESULT) writeFileSync(process.env.EHMI_BENCH_RESULT, JSON.stringify(results));
}

async function run(label: string, databaseUrl: string | undefined): Promise<EndToEndResult> {
  const result: EndToEndResult = {
    engine: label,
    idle: { seconds: IDLE_SECONDS, cpuMsPerSecondPerNode: null, byNode: null },
    small: {
      n: N,
      concurrency: CONCURRENCY,
      messagesPerSecond: null,
      acceptedPerSecond: null,
      cpuMsPerMessage: null,
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
  const dataDir = await mkdtemp(join(tmpdir(), 'ehmi-bench-e2e-'));
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const logger = pino({ level: 'silent' });
  const plan = await planNetwork({
    dataDir,
    portBase: 20000 + Math.floor(Math.random() * 800) * 50,
    logger,
    organisations: LOCAL_ORGANISATIONS.slice(0, 2),
    ...(databaseUrl ? { databaseUrl } : {}),
    base: {
      log: { level: 'silent' },
      database: { schema, poolSize: 10 },
      ap: { send: { timeoutMs: 600_000 } },
    },
  });
  writeNetworkManifest(dataDir, plan.manifest);
  // Every certificate names the network's CRL and every node checks it, as under `ehmi up`.
  const crl = await startCrlService({ dataDir, host: plan.crl.host, port: plan.crl.port, logger });
  const [senderPlan, receiverPlan] = plan.organisations;
  let receiverProcess = await spawnNode(receiverPlan!.config);
  let senderProcess: ChildProcess | undefined = await spawnNode(senderPlan!.config);
  const client = NetworkClient.open(dataDir);
  const from = client.organisation('municipality');
  const to = client.organisation('gp');
  const submit = async (): Promise<string> => {
    const res = await client.call('municipality', 'POST', '/messages', {
      bytes: message(from, to),
      contentType: 'application/fhir+json',
    });
    if (res.status !== 202) throw new Error(`submit: ${res.status} ${res.text}`);
    return (res.json as { id: string }).id;
  };
  // Done = receipted (or acknowledged) at the sending MSH: GET /messages?status=… (msh-api §4).
  const done = async (ids: string[]): Promise<number> => {
    const want = new Set(ids);
    let n = 0;
    for (const status of ['receipted', 'acknowledged', 'failed']) {
      const res = await client.call('municipality', 'GET', `/messages?status=${status}`);
      const rows = res.json as { id: string; failure?: { reason: string } | null }[];
      for (const r of rows) {
        if (!want.has(r.id)) continue;
        if (status === 'failed') throw new Error(`message ${r.id} failed: ${r.failure?.reason}`);
        n++;
      }
    }
    return n;
  };
  try {
    // Warm up (profile validator, TLS sessions, JIT): a few messages through the whole path.
    const warm = await Promise.all(Array.from({ length: 4 }, submit));
    while ((await done(warm)) < warm.length) await new Promise((r) => setTimeout(r, 100));

    // 0. idle: the warm-up's jobs are done (its receipts are back); a second for stragglers, then measure.
    if (IDLE_SECONDS > 0) {
      await new Promise((r) => setTimeout(r, 1000));
      const pids = { sender: senderProcess.pid!, receiver: receiverProcess.pid! };
      const c0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid)]));
      const ti = performance.now();
      await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
      const secs = (performance.now() - ti) / 1000;
      const byNode = Object.fromEntries(
        Object.entries(pids).map(([k, pid]) => [k, (cpuMs(pid) - c0[k]!) / secs]),
      );
      result.idle.byNode = byNode;
      result.idle.cpuMsPerSecondPerNode = Math.max(...Object.values(byNode));
      console.log(
        `${label.padEnd(9)} idle for ${secs.toFixed(0)} s: CPU ${Object.entries(byNode)
          .map(([k, v]) => `${k} ${v.toFixed(1)}`)
          .join(', ')} ms per second (clock ticks of 10 ms; load average ${loadavg()[0]!.toFixed(1)})`,
      );
    } else result.idle.cpuMsPerSecondPerNodeReason = 'skipped (EHMI_BENCH_IDLE_SECONDS=0)';
    save();

    // 1. throughput
    try {
      const ids: string[] = [];
      const cpu0 = cpuMs(senderProcess.pid!) + cpuMs(receiverProcess.pid!);
      const t0 = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next++ < N) ids.push(await submit());
        }),
      );
      const tSubmitted = performance.now();
      while ((await done(ids)) < N) await new Promise((r) => setTimeout(r, 100));
      const seconds = (performance.now() - t0) / 1000;
      // CPU per message (both nodes) says what two idle cores could carry, whatever else the machine was doing.
      const cpuPerMessage = (cpuMs(senderProcess.pid!) + cpuMs(receiverProcess.pid!) - cpu0) / N;
      console.log(
        `${label.padEnd(9)} throughput: ${N} × 10 KB, ${CONCURRENCY} clients: accepted at ${(N / ((tSubmitted - t0) / 1000)).toFixed(1)}/s, end to end (receipted) ${(N / seconds).toFixed(1)} messages/s (${seconds.toFixed(1)} s); CPU ${cpuPerMessage.toFixed(0)} ms per message (both nodes) = ${((2 * 1000) / cpuPerMessage).toFixed(0)} messages/s on 2 idle cores`,
      );
      result.small.messagesPerSecond = N / seconds;
      result.small.acceptedPerSecond = N / ((tSubmitted - t0) / 1000);
      result.small.cpuMsPerMessage = cpuPerMessage;
    } catch (err) {
      result.small.messagesPerSecondReason = `throughput failed: ${reason(err)}`;
      result.small.cpuMsPerMessageReason = result.small.messagesPerSecondReason;
      console.error(`${label} throughput failed`, err);
    }
    save();

    // 2. a large payload through the AP gateway, both nodes in fresh processes of their own (so each one's peak RSS
    // is the large payload's): the sender is large-sender.ts, which hands the file to its AP gateway.
    senderProcess.kill('SIGTERM');
    await new Promise((r) => senderProcess!.once('exit', r));
    senderProcess = undefined;
    if (LARGE_MB <= 0) result.large.peakRssMBReason = 'skipped (EHMI_BENCH_LARGE_MB=0)';
    else if (Date.now() + 15_000 > LARGE_DEADLINE)
      result.large.peakRssMBReason = `skipped: the time budget ran out before it (load average ${loadavg()[0]!.toFixed(1)})`;
    else
      try {
        receiverProcess.kill('SIGTERM');
        await new Promise((r) => receiverProcess.once('exit', r));
        receiverProcess = await spawnNode(receiverPlan!.config);
        const file = join(dataDir, 'large.bin');
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
        const receiverBefore = peakRssMiB(receiverProcess.pid!);
        const receiverCpuBefore = cpuMs(receiverProcess.pid!);
        const child = track(
          spawn(process.execPath, [...profileFlags(), LARGE_SENDER], {
            env: {
              ...process.env,
              EHMI_TEST_NODE_CONFIG: JSON.stringify(senderPlan!.config),
              EHMI_BENCH_LARGE_FILE: file,
              EHMI_BENCH_LARGE_SENDER: `0088:${from.gln}`,
              EHMI_BENCH_LARGE_RECEIVER: `0088:${to.gln}`,
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
        const receiverPeak = peakRssMiB(receiverProcess.pid!);
        const cpu = {
          sender: sent.cpuMs / LARGE_MB,
          receiver: (cpuMs(receiverProcess.pid!) - receiverCpuBefore) / LARGE_MB,
        };
        const ls = sent.seconds;
        console.log(
          `${label.padEnd(9)} ${LARGE_MB} MB payload (gzip, sign, encrypt, HTTPS, decrypt, store; ${sha.slice(0, 19)}…): ${ls.toFixed(1)} s = ${(LARGE_MB / ls).toFixed(1)} MB/s; peak RSS sender ${sent.startRssMiB.toFixed(0)} → ${sent.peakRssMiB.toFixed(0)} MiB, receiver ${receiverBefore.toFixed(0)} → ${receiverPeak.toFixed(0)} MiB; CPU ${cpu.sender.toFixed(1)} ms/MB sender, ${cpu.receiver.toFixed(1)} ms/MB receiver (load average ${loadavg()[0]!.toFixed(1)})`,
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

    // The nodes as the throughput phase had them, for the latency phase.
    if (receiverProcess.exitCode === null && receiverProcess.signalCode === null) {
      receiverProcess.kill('SIGTERM');
      await new Promise((r) => receiverProcess.once('exit', r));
    }
    receiverProcess = await spawnNode(receiverPlan!.config);
    senderProcess = await spawnNode(senderPlan!.config);

    // 3. latency at a fixed offered load (open loop: one submission every 1/RATE s, whatever the answers), last: under
    // a deadline it is the phase cut short
    try {
      const sent: { id: Promise<string | Error>; at: number }[] = [];
      const count = Math.round(RATE * SECONDS);
      const start = Date.now();
      for (let i = 0; i < count; i++) {
        const due = start + (i * 1000) / RATE;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        // A submission the node did not take (refused, or not answered in time) is counted, not dropped.
        sent.push({ at: Date.now(), id: submit().catch((err: unknown) => asError(err)) });
      }
      const answers = await Promise.all(sent.map((s) => s.id));
      const refused = answers.filter((a): a is Error => a instanceof Error);
      const lat: string[] = answers.map((a) => (a instanceof Error ? '' : a));
      const taken = lat.filter((id) => id !== '');
      for (;;) {
        const n = await done(taken);
        if (n >= taken.length) break;
        if (Date.now() > DEADLINE)
          throw new Error(
            `${n} of ${taken.length} messages receipted when the time budget ran out (load average ${loadavg()[0]!.toFixed(1)})`,
          );
        await new Promise((r) => setTimeout(r, 100));
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
    await client.close();
    if (senderProcess) {
      senderProcess.kill('SIGTERM');
      await new Promise((r) => senderProcess!.once('exit', r));
    }
    receiverProcess.kill('SIGTERM');
    await new Promise((r) => receiverProcess.once('exit', r));
    await crl.close();
    if (databaseUrl) {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      for (const o of plan.organisations)
        await c.query(`DROP SCHEMA IF EXISTS "${o.config.database.schema}" CASCADE`);
      await c.end();
    }
    await rm(dataDir, { recursive: true, force: true });
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
await run('sqlite', undefined);
if (process.env.DATABASE_URL && process.env.EHMI_BENCH_ENGINES !== 'sqlite')
  await run('postgres', process.env.DATABASE_URL);
else console.log('postgres: skipped (DATABASE_URL is not set, or EHMI_BENCH_ENGINES=sqlite)');
