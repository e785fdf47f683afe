// End to end on this machine: two nodes of the local network (municipality → gp), each MSH + access point with its
// own durable store; the receiver in its own process. 10 KB MedCom messages (signed, encrypted AS4 over HTTPS).
//   1. throughput: N messages submitted at the sending MSH's EUA API (HTTPS, mTLS) by C concurrent clients, until
//      every one is `receipted` (the receiver committed it to its inbox and its EnvelopeReceipt came back);
//   2. latency at a fixed offered load (RATE messages/s for SECONDS, open loop): submit → EnvelopeReceipt (10.1);
//   3. a 100 MB payload through the AP gateway: time and peak RSS of both processes.
// SQLite always; PostgreSQL as well when DATABASE_URL is set. Knobs: EHMI_BENCH_N (200), EHMI_BENCH_CONCURRENCY (16),
// EHMI_BENCH_RATE (2.5), EHMI_BENCH_SECONDS (20), EHMI_BENCH_LARGE_MB (100, 0 skips).
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  createWriteStream,
  fsyncSync,
  openSync,
  readFileSync,
  unlinkSync,
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
import { startNode } from '../src/node.ts';

const N = Number(process.env.EHMI_BENCH_N ?? 200);
const CONCURRENCY = Number(process.env.EHMI_BENCH_CONCURRENCY ?? 16);
// Denmark's MedCom traffic averages about 2.5 messages a second (docs/architecture.md "Scale").
const RATE = Number(process.env.EHMI_BENCH_RATE ?? 2.5);
const SECONDS = Number(process.env.EHMI_BENCH_SECONDS ?? 20);
const LARGE_MB = Number(process.env.EHMI_BENCH_LARGE_MB ?? 100);
// Both nodes run as `npm start` runs them: tsx registered in-process (no `--import tsx` for worker threads to inherit).
const NODE_SCRIPT = fileURLToPath(new URL('../test/e2e/node-launch.mjs', import.meta.url));

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

function spawnNode(config: unknown): Promise<ChildProcess> {
  // EHMI_BENCH_PROFILE_DIR: a CPU profile of the receiver process there (run the bench with --cpu-prof for the sender).
  const profile = process.env.EHMI_BENCH_PROFILE_DIR;
  const flags = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
  const child = spawn(process.execPath, [...flags, NODE_SCRIPT], {
    env: { ...process.env, EHMI_TEST_NODE_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
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

async function run(label: string, databaseUrl: string | undefined): Promise<void> {
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
  const receiverProcess = await spawnNode(receiverPlan!.config);
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
  let sender: Awaited<ReturnType<typeof startNode>> | undefined;
  try {
    // Warm up (profile validator, TLS sessions, JIT): a few messages through the whole path.
    const warm = await Promise.all(Array.from({ length: 4 }, submit));
    while ((await done(warm)) < warm.length) await new Promise((r) => setTimeout(r, 100));

    // 1. throughput
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

    // 2. latency at a fixed offered load (open loop: one submission every 1/RATE s, whatever the answers)
    const sent: { id: Promise<string>; at: number }[] = [];
    const count = Math.round(RATE * SECONDS);
    const start = Date.now();
    for (let i = 0; i < count; i++) {
      const due = start + (i * 1000) / RATE;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      sent.push({ at: Date.now(), id: submit() });
    }
    const lat: string[] = await Promise.all(sent.map((s) => s.id));
    while ((await done(lat)) < lat.length) await new Promise((r) => setTimeout(r, 100));
    const latencies: number[] = [];
    for (let i = 0; i < lat.length; i++) {
      const res = await client.call('municipality', 'GET', `/messages/${lat[i]}`);
      const events = (res.json as { events: { code: string; time: string }[] }).events;
      const receipt = events.find((e) => e.code === '10.1');
      if (receipt) latencies.push(Date.parse(receipt.time) - sent[i]!.at);
    }
    latencies.sort((a, b) => a - b);
    console.log(
      `${label.padEnd(9)} latency at ${RATE} messages/s for ${SECONDS} s (submit → EnvelopeReceipt back): p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, max ${latencies[latencies.length - 1]} ms (n=${latencies.length})`,
    );

    // 3. a large payload through the AP gateway: the sender in this process, to reach its gateway.
    senderProcess.kill('SIGTERM');
    await new Promise((r) => senderProcess!.once('exit', r));
    senderProcess = undefined;
    if (LARGE_MB > 0) {
      sender = await startNode(senderPlan!.config, logger);
      const db = sender.store.db;
      const size = LARGE_MB * 1024 * 1024;
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
      const rssBefore = process.memoryUsage().rss / 2 ** 20;
      let rssPeak = rssBefore;
      const sampler = setInterval(() => {
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss / 2 ** 20);
      }, 50);
      const receiverBefore = peakRssMiB(receiverProcess.pid!);
      const tl = performance.now();
      const submissionId = randomUUID();
      await sender.accessPoint!.gateway.submit({
        submissionId,
        sender: `0088:${from.gln}`,
        receiver: `0088:${to.gln}`,
        documentType: 'urn:ehmi:bench:large-payload',
        process: 'urn:ehmi:bench',
        envelope: { size, open: () => createReadStream(file) },
      });
      for (;;) {
        const r = await db
          .selectFrom('ap_outbound')
          .select(['status', 'reason'])
          .where('submission_id', '=', submissionId)
          .executeTakeFirst();
        if (r?.status === 'failed') throw new Error(`large payload failed: ${r.reason}`);
        if (r?.status === 'sent') break;
        await new Promise((r2) => setTimeout(r2, 100));
      }
      const ls = (performance.now() - tl) / 1000;
      clearInterval(sampler);
      console.log(
        `${label.padEnd(9)} ${LARGE_MB} MB payload (gzip, sign, encrypt, HTTPS, decrypt, store; ${sha.slice(0, 19)}…): ${ls.toFixed(1)} s = ${(LARGE_MB / ls).toFixed(1)} MB/s; sender RSS ${rssBefore.toFixed(0)} → peak ${rssPeak.toFixed(0)} MiB, receiver peak RSS ${receiverBefore.toFixed(0)} → ${peakRssMiB(receiverProcess.pid!).toFixed(0)} MiB`,
      );
    }
  } finally {
    await client.close();
    await sender?.close();
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
if (process.env.DATABASE_URL) await run('postgres', process.env.DATABASE_URL);
else console.log('postgres: skipped (DATABASE_URL is not set)');
