// The local network of the end-to-end bench, as `ehmi up` runs it, each node in a process of its own: the central
// node (authorization server, EER, EAS, SMP with its DNS zone, EDS), the sending organisation (municipality) and the
// receiving one (gp), which may run as several instances on one PostgreSQL schema and one data folder behind a load
// balancer on loopback (haproxy when it is installed, else the small TCP balancer of the tests). The configs are
// `planNetwork`'s with `discovery: 'smp'`, what `startNetwork` plans: SMP discovery, access tokens, EDS reporting and
// the audit log on (EDS reporting can be planned off, to measure what it costs). Used by `e2e.bench.ts` and
// `up.bench.ts`; CPU time per process and per thread from Linux's /proc.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  LOCAL_ORGANISATIONS,
  type ManifestOrganisation,
  NetworkClient,
  type NetworkPlan,
  organisationPorts,
  planNetwork,
  sampleHomeCareObservation,
  seedNetworkRegisters,
  startCrlService,
  writeNetworkManifest,
} from '@ehmi/network';
import pg from 'pg';
import pino from 'pino';
import type { Config } from '../src/role-list.ts';
import { CENTRAL_NODE_V8_FLAGS, NODE_V8_FLAGS, nodeEnvironment } from '../src/runtime.ts';
import { instanceConfig } from '../test/e2e/instances.ts';
import { startTcpBalancer } from '../test/e2e/tcp-balancer.ts';
import { freePortBase } from '../test/helpers/ports.ts';

// The node processes the bench started: stopped with it, also when it is stopped (SIGTERM, SIGINT).
const children = new Set<ChildProcess>();
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
export function killAll(): void {
  for (const c of children) c.kill('SIGKILL');
}

// Every node runs as `npm start` runs it: tsx registered in-process (no `--import tsx` for worker threads to inherit),
// with the node's V8 flags.
const NODE_SCRIPT = fileURLToPath(new URL('../test/e2e/node-launch.mjs', import.meta.url));

/**
 * Start a node with `config` in a process of its own; resolves once it serves. EHMI_BENCH_PROFILE_DIR: a CPU profile
 * of every thread of the process there (Node's names: process id, thread id; which process is which node is printed
 * to stderr), or in its folder `name` there with `profileFolder`.
 */
export function spawnNode(
  config: unknown,
  name: string,
  options: { profileFolder?: boolean; central?: boolean } = {},
): Promise<ChildProcess> {
  const profile = process.env.EHMI_BENCH_PROFILE_DIR;
  const dir = profile && options.profileFolder ? join(profile, name) : profile;
  const flags = dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
  const child = track(
    spawn(
      process.execPath,
      [...(options.central ? CENTRAL_NODE_V8_FLAGS : NODE_V8_FLAGS), ...flags, NODE_SCRIPT],
      {
        env: { ...nodeEnvironment(process.env), EHMI_TEST_NODE_CONFIG: JSON.stringify(config) },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    ),
  );
  if (profile) console.error(`profile: ${name} is process ${child.pid}`);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => {
      out += c;
      if (out.startsWith('ready')) resolve(child);
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`${name} exited ${code ?? signal} before it served`)),
    );
  });
}

export async function stopProcess(
  child: ChildProcess | undefined,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

/** CPU time (user + system) in ms of a Linux `stat` file (/proc/<pid>/stat, /proc/<pid>/task/<tid>/stat). */
function statCpuMs(file: string): number {
  try {
    const fields = readFileSync(file, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
  } catch {
    return Number.NaN;
  }
}

/** CPU time (user + system) a process used so far, in ms. */
export function cpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`);
}

/** CPU time a process's threads used so far, in ms, by thread name (the main thread: `main`; unnamed: `thread <tid>`). */
export function threadCpuMs(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    let comm: string;
    try {
      comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    } catch {
      continue; // the thread ended
    }
    const ms = statCpuMs(`/proc/${pid}/task/${tid}/stat`);
    if (Number.isNaN(ms)) continue;
    const name = tid === String(pid) ? 'main' : comm === 'node' ? `thread ${tid}` : comm;
    out[name] = (out[name] ?? 0) + ms;
  }
  return out;
}

/** A load balancer on loopback in front of the receiving organisation's instances. */
export interface Balancer {
  kind: 'haproxy' | 'tcp';
  /** Connections handed to each instance so far, by instance index (haproxy: its `stot` per server). */
  connections(): Promise<number[]>;
  close(): Promise<void>;
}

/** Whether haproxy can be run here (Debian's package: `apt-get install haproxy`). */
function haproxyInstalled(): boolean {
  if (process.env.EHMI_BENCH_BALANCER === 'tcp') return false;
  const r = spawnSync('haproxy', ['-v'], { stdio: 'ignore' });
  return r.status === 0;
}

async function startHaproxy(
  dir: string,
  listeners: { name: string; port: number; backends: number[] }[],
): Promise<Balancer> {
  const socket = join(dir, 'haproxy.sock');
  const cfg = [
    'global',
    '  maxconn 4096',
    `  stats socket ${socket} mode 600 level user`,
    'defaults',
    // Layer 4: the instances terminate TLS themselves (the MSH asks for client certificates).
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 10m',
    '  timeout server 10m',
    // A connection refused by a dead instance is tried again on the other one.
    '  retries 2',
    '  option redispatch',
    ...listeners.flatMap((l) => [
      `listen ${l.name}`,
      `  bind 127.0.0.1:${l.port}`,
      // Each new connection to the instance holding the fewest: the sending AP keeps its connections alive and
      // sends on the first free one (undici's pool), so the connections opened first carry most exchanges, and
      // they should alternate between instances. Round robin counts connections handed out, not live ones: once
      // some closed (idle) and others reopened, the live ones may sit mostly on one instance.
      '  balance leastconn',
      ...l.backends.map((p, i) => `  server i${i} 127.0.0.1:${p} check inter 500 fall 2 rise 2`),
    ]),
    '',
  ].join('\n');
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, cfg);
  const child = track(spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => {
    err += c;
  });
  // Ready when every listener accepts a connection.
  const until = Date.now() + 10_000;
  for (const l of listeners) {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`haproxy exited ${child.exitCode}: ${err.trim()}`);
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect({ host: '127.0.0.1', port: l.port }, () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
      if (ok) break;
      if (Date.now() > until) throw new Error(`haproxy did not listen on ${l.port}: ${err.trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const stat = () =>
    new Promise<string>((resolve, reject) => {
      let out = '';
      const s = connect(socket, () => s.end('show stat\n'));
      s.setEncoding('utf8');
      s.on('data', (c: string) => {
        out += c;
      });
      s.once('end', () => resolve(out));
      s.once('error', reject);
    });
  return {
    kind: 'haproxy',
    async connections() {
      // CSV: pxname,svname,qcur,qmax,scur,smax,slim,stot,…
      const counts: number[] = [];
      for (const line of (await stat()).split('\n')) {
        const f = line.split(',');
        const m = /^i(\d+)$/.exec(f[1] ?? '');
        if (m) counts[Number(m[1])] = (counts[Number(m[1])] ?? 0) + Number(f[7]);
      }
      return counts;
    },
    async close() {
      await stopProcess(child);
    },
  };
}

async function startBalancer(
  dir: string,
  listeners: { name: string; port: number; backends: number[] }[],
): Promise<Balancer> {
  if (haproxyInstalled()) return startHaproxy(dir, listeners);
  const started = await Promise.all(
    listeners.map((l) =>
      startTcpBalancer({
        host: '127.0.0.1',
        port: l.port,
        backends: l.backends.map((port) => ({ host: '127.0.0.1', port })),
      }),
    ),
  );
  return {
    kind: 'tcp',
    async connections() {
      const counts: number[] = [];
      for (const b of started)
        for (const [i, n] of Object.values(b.connections).entries()) counts[i] = (counts[i] ?? 0) + n;
      return counts;
    },
    async close() {
      await Promise.all(started.map((b) => b.close()));
    },
  };
}

export interface BenchNetwork {
  label: string;
  dataDir: string;
  plan: NetworkPlan;
  client: NetworkClient;
  central: ChildProcess;
  sender: ChildProcess | undefined;
  /** The receiving organisation's instances (one, or several behind `balancer`). */
  receivers: ChildProcess[];
  receiverConfigs: Config[];
  balancer: Balancer | undefined;
  /** The running node processes by name: `central` and each organisation's (several receiving instances: name0 …). */
  processes(): Record<string, ChildProcess>;
  startSender(): Promise<ChildProcess>;
  /** (Re)start every receiving instance that is not running. */
  startReceivers(): Promise<void>;
  stopSender(): Promise<void>;
  stopReceivers(): Promise<void>;
  /** Jobs each receiving instance finished, by instance index (PostgreSQL: `jobs.locked_by` names the process). */
  jobsDoneByInstance(): Promise<number[] | null>;
  close(): Promise<void>;
}

const alive = (c: ChildProcess | undefined): c is ChildProcess =>
  !!c && c.exitCode === null && c.signalCode === null;

/**
 * Plan the network on a fresh data folder and port base (`planNetwork` with `discovery: 'smp'`, as `startNetwork`),
 * start the CRL service here and every node in its own process, seed EER and wait until the SMP serves both
 * organisations. `receiverInstances` > 1 needs PostgreSQL (`databaseUrl`).
 */
export async function openBenchNetwork(options: {
  label: string;
  databaseUrl: string | undefined;
  receiverInstances: number;
  base?: Record<string, unknown>;
  /** false: the organisations report nothing to EDS (their `deliveryStatus.url` left out). Default true. */
  reporting?: boolean;
  /**
   * Name the node processes as `ehmi up` does (`central` and the organisations' names, not `<label>-central`,
   * `<label>-sender` …) and write each one's CPU profiles in a folder of its name under EHMI_BENCH_PROFILE_DIR.
   */
  upNames?: boolean;
}): Promise<BenchNetwork> {
  const dataDir = await mkdtemp(join(tmpdir(), `ehmi-bench-${options.upNames ? 'up' : 'e2e'}-`));
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const logger = pino({ level: 'silent' });
  // Below the ephemeral range and free now: a port base in that range fails when an outgoing connection holds a port.
  const portBase = await freePortBase();
  const plan = await planNetwork({
    dataDir,
    portBase,
    logger,
    organisations: LOCAL_ORGANISATIONS.slice(0, 2),
    discovery: 'smp',
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
    base: {
      log: { level: 'silent' },
      database: { schema },
      ap: { send: { timeoutMs: 600_000 } },
      ...options.base,
    },
  });
  if (options.reporting === false) for (const o of plan.organisations) delete o.config.deliveryStatus.url;
  writeNetworkManifest(dataDir, plan.manifest);
  // Every certificate names the network's CRL and every node checks it, as under `ehmi up`.
  const crl = await startCrlService({ dataDir, host: plan.crl.host, port: plan.crl.port, logger });
  const [senderPlan, receiverPlan] = plan.organisations;
  // Instance i of the receiver listens on the ports the plan would give a third, fourth … organisation (free: the
  // bench plans two); the balancer listens on the receiver's planned MSH and AP ports.
  const n = options.receiverInstances;
  const receiverConfigs =
    n === 1
      ? [receiverPlan!.config]
      : Array.from({ length: n }, (_, i) =>
          instanceConfig(receiverPlan!.config, organisationPorts(portBase, 2 + i)),
        );
  const balancer =
    n === 1
      ? undefined
      : await startBalancer(dataDir, [
          { name: 'ap', port: receiverPlan!.ports.ap, backends: receiverConfigs.map((c) => c.ap.port) },
          { name: 'msh', port: receiverPlan!.ports.msh, backends: receiverConfigs.map((c) => c.msh.port) },
        ]);
  const name = (role: string, organisation: string) =>
    options.upNames ? organisation : `${options.label}-${role}`;
  const receiverName = (i: number) => `${name('receiver', receiverPlan!.spec.name)}${n > 1 ? i : ''}`;
  const start = (config: unknown, processName: string, central = false) =>
    spawnNode(config, processName, { profileFolder: options.upNames === true, central });
  let central: ChildProcess;
  try {
    central = await start(plan.central.config, name('central', 'central'), true);
  } catch (err) {
    await balancer?.close();
    await crl.close();
    throw err;
  }
  const receivers: ChildProcess[] = [];
  const net: BenchNetwork = {
    label: options.label,
    dataDir,
    plan,
    client: NetworkClient.open(dataDir),
    central,
    sender: undefined,
    receivers,
    receiverConfigs,
    balancer,
    processes() {
      const out: Record<string, ChildProcess> = { central: net.central };
      if (alive(net.sender)) out[senderPlan!.spec.name] = net.sender;
      receivers.forEach((r, i) => {
        if (alive(r)) out[`${receiverPlan!.spec.name}${n > 1 ? i : ''}`] = r;
      });
      return out;
    },
    async startSender() {
      if (!alive(net.sender))
        net.sender = await start(senderPlan!.config, name('sender', senderPlan!.spec.name));
      return net.sender;
    },
    async startReceivers() {
      // All at once, as an orchestrator starts them: each runs the migrations at start, under Kysely's lock.
      await Promise.all(
        receiverConfigs.map(async (config, i) => {
          if (!alive(receivers[i])) receivers[i] = await start(config, receiverName(i));
        }),
      );
    },
    async stopSender() {
      await stopProcess(net.sender);
      net.sender = undefined;
    },
    async stopReceivers() {
      await Promise.all(receivers.map((r) => stopProcess(r)));
    },
    async jobsDoneByInstance() {
      if (!options.databaseUrl) return null;
      const c = new pg.Client({ connectionString: options.databaseUrl });
      await c.connect();
      try {
        const rows = await c.query<{ locked_by: string; n: string }>(
          `select locked_by, count(*) as n from "${receiverPlan!.config.database.schema}".jobs where status = 'done' group by locked_by`,
        );
        const counts = receivers.map(() => 0);
        for (const r of rows.rows) {
          const pid = Number(r.locked_by?.split(':')[1]);
          const i = receivers.findIndex((p) => p.pid === pid);
          if (i >= 0) counts[i]! += Number(r.n);
        }
        return counts;
      } finally {
        await c.end();
      }
    },
    async close() {
      await net.client.close();
      await net.stopSender();
      await net.stopReceivers();
      await stopProcess(net.central);
      await balancer?.close();
      await crl.close();
      if (options.databaseUrl) {
        const c = new pg.Client({ connectionString: options.databaseUrl });
        await c.connect();
        for (const o of [...plan.organisations.map((x) => x.config), plan.central.config])
          await c.query(`DROP SCHEMA IF EXISTS "${o.database.schema}" CASCADE`);
        await c.end();
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  try {
    // Seed EER and wait until the SMP serves both organisations, while their nodes start (as `startNetwork`).
    await Promise.all([
      seedNetworkRegisters(plan, { eerUrl: plan.central.urls.eer, logger }),
      net.startReceivers(),
      net.startSender(),
    ]);
  } catch (err) {
    await net.close().catch(() => {});
    throw err;
  }
  return net;
}

/** A prøvesvar padded to 10 KB (DiagnosticReport.conclusion), fresh ids. */
export function benchMessage(from: ManifestOrganisation, to: ManifestOrganisation): Buffer {
  const bundle = sampleHomeCareObservation(from, to);
  const base = Buffer.byteLength(JSON.stringify(bundle));
  const report = bundle.entry!.find((e) => e.resource?.resourceType === 'DiagnosticReport')!.resource as {
    conclusion?: string;
  };
  report.conclusion = 'Prøvesvar. '.repeat(Math.max(0, Math.ceil((10 * 1024 - base) / 12)));
  return Buffer.from(JSON.stringify(bundle));
}

/** Submitting at the sender's MSH and watching the messages there, as an EUA does. */
export function benchEua(net: BenchNetwork, concurrency: number) {
  const client = net.client;
  const [sender, receiver] = net.plan.organisations.map((o) => o.spec.name);
  const from = client.organisation(sender!);
  const to = client.organisation(receiver!);
  // When each message was submitted (this host's clock, which the MSH's `created_at` also reads): a lower bound of
  // its creation time, so that `done` lists only the messages from the oldest one not yet done on.
  const submittedAt = new Map<string, number>();
  const seenDone = new Set<string>();
  const submit = async (): Promise<{ id: string; bundleId: string }> => {
    const at = Date.now();
    const res = await client.call(sender!, 'POST', '/messages', {
      bytes: benchMessage(from, to),
      contentType: 'application/fhir+json',
    });
    if (res.status !== 202) throw new Error(`submit: ${res.status} ${res.text}`);
    const accepted = res.json as { id: string; bundleId: string };
    submittedAt.set(accepted.id, at);
    return accepted;
  };
  // Done = receipted (or acknowledged) at the sending MSH: GET /messages?status=… (msh-api §4), listed from the
  // submission of the oldest message not yet seen done: a poll reads the messages still in flight and the few done
  // after them, not every message done since the start (whose reading grew with the run and counted in the sending
  // node's CPU per message). Each poll asks for `receipted`; every tenth also for `acknowledged` and `failed`, which
  // the bench's messages reach rarely or never (nobody acknowledges them; a failure ends the run): three lists a poll
  // were 1.1–1.3 requests per message on the sending node, work of the bench's and not of the node's. An EUA hears of
  // acknowledgements and failures by webhook (docs/architecture.md "Push delivery to the EUA").
  let polls = 0;
  const done = async (ids: string[]): Promise<number> => {
    const open = ids.filter((id) => !seenDone.has(id));
    if (open.length === 0) return ids.length;
    const times = open.map((id) => submittedAt.get(id));
    const from = times.includes(undefined) ? undefined : Math.min(...(times as number[]));
    const since = from === undefined ? '' : `&from=${encodeURIComponent(new Date(from).toISOString())}`;
    const want = new Set(open);
    const statuses = polls++ % 10 === 0 ? ['receipted', 'acknowledged', 'failed'] : ['receipted'];
    for (const status of statuses) {
      const res = await client.call(sender!, 'GET', `/messages?status=${status}${since}`);
      const rows = res.json as { id: string; failure?: { reason: string } | null }[];
      for (const r of rows) {
        if (!want.has(r.id)) continue;
        if (status === 'failed') throw new Error(`message ${r.id} failed: ${r.failure?.reason}`);
        seenDone.add(r.id);
      }
    }
    return ids.filter((id) => seenDone.has(id)).length;
  };
  const warmUp = async () => {
    // Profile validator, TLS sessions, tokens, SMP lookups, JIT: a few messages through the whole path.
    const warm = await Promise.all(Array.from({ length: 4 }, submit));
    const ids = warm.map((w) => w.id);
    while ((await done(ids)) < ids.length) await new Promise((r) => setTimeout(r, 100));
  };
  /** N messages by `concurrency` clients; `onAccepted` is told each accepted count. */
  const burst = async (n: number, onAccepted?: (accepted: number) => void) => {
    const sent: { id: string; bundleId: string }[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next++ < n) {
          sent.push(await submit());
          onAccepted?.(sent.length);
        }
      }),
    );
    return sent;
  };
  return { from, to, submit, done, warmUp, burst };
}
