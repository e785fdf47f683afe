import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  LOCAL_ORGANISATIONS,
  NetworkClient,
  type NetworkPlan,
  planNetwork,
  startCrlService,
  writeNetworkManifest,
} from '@ehmi/network';
import pg from 'pg';
import pino, { type Logger } from 'pino';
import { type RunningNode, startNode } from '../../src/node.ts';
import type { ConfigInput } from '../../src/role-list.ts';

/** Short timers so retries and hand-overs happen within a test's patience (never asserted on). */
export const FAST: ConfigInput = {
  log: { level: (process.env.EHMI_TEST_LOG_LEVEL as 'warn') ?? 'silent' },
  queue: { pollIntervalMs: 25, backoffBaseMs: 100, backoffMaxMs: 1000, leaseMs: 10_000 },
  ap: {
    send: { maxAttempts: 60, backoffBaseMs: 100, backoffMaxMs: 500, timeoutMs: 15_000 },
    handover: { backoffBaseMs: 100, backoffMaxMs: 500 },
  },
  msh: { sweepIntervalMs: 500 },
};

import { freePortBase } from '../helpers/ports.ts';

export { freePortBase };

export interface Engine {
  name: 'sqlite' | 'postgres';
  skip: string | undefined;
  databaseUrl: string | undefined;
}

/** SQLite always; PostgreSQL when DATABASE_URL is set (CI=true without it is an error, as in helpers/engines.ts). */
export function engines(): Engine[] {
  const url = process.env.DATABASE_URL;
  if (!url && process.env.CI === 'true') {
    throw new Error(
      'CI=true but DATABASE_URL is not set: the PostgreSQL pass of the end-to-end tests cannot run',
    );
  }
  return [
    { name: 'sqlite', skip: undefined, databaseUrl: undefined },
    {
      name: 'postgres',
      skip: url ? undefined : 'DATABASE_URL is not set: the PostgreSQL pass is skipped',
      databaseUrl: url,
    },
  ];
}

/** Two organisations of the local network (municipality → gp), planned on a temp folder and free ports. */
export interface Pair {
  dataDir: string;
  plan: NetworkPlan;
  logger: Logger;
  /** The EUA side: the CLI's client (mTLS with each organisation's certificate, the network's root CA). */
  client: NetworkClient;
  nodes: Record<string, RunningNode | undefined>;
  start(org: string): Promise<RunningNode>;
  stop(org: string): Promise<void>;
  cleanup(): Promise<void>;
}

/**
 * Two organisations' nodes of a planned network (none started yet). `organisations` plans more of the local network's
 * organisations (their certificates issued, in every node's static map), for tests that act as a third party;
 * `logger` is the nodes' (tests that read what was logged).
 */
export async function makePair(
  engine: Engine,
  base: ConfigInput = FAST,
  organisations = 2,
  logger: Logger = pino({ level: (process.env.EHMI_TEST_LOG_LEVEL as 'warn') ?? 'silent' }),
): Promise<Pair> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ehmi-e2e-'));
  const schema = `e2e_${randomBytes(4).toString('hex')}`;
  const plan = await planNetwork({
    dataDir,
    portBase: await freePortBase(),
    logger,
    organisations: LOCAL_ORGANISATIONS.slice(0, organisations),
    ...(engine.databaseUrl ? { databaseUrl: engine.databaseUrl } : {}),
    base: { ...base, database: { schema } },
  });
  writeNetworkManifest(dataDir, plan.manifest);
  // Every certificate names the network's CRL, and every node checks it: serve it as `ehmi up` does.
  const crl = await startCrlService({ dataDir, host: plan.crl.host, port: plan.crl.port, logger });
  const client = NetworkClient.open(dataDir);
  const nodes: Record<string, RunningNode | undefined> = {};
  const pair: Pair = {
    dataDir,
    plan,
    logger,
    client,
    nodes,
    async start(org) {
      const o = plan.organisations.find((x) => x.spec.name === org)!;
      const node = await startNode(o.config, logger.child({ org }));
      nodes[org] = node;
      return node;
    },
    async stop(org) {
      const n = nodes[org];
      nodes[org] = undefined;
      await n?.close();
    },
    async cleanup() {
      await client.close();
      for (const org of Object.keys(nodes)) await pair.stop(org);
      await crl.close();
      if (engine.databaseUrl) {
        const c = new pg.Client({ connectionString: engine.databaseUrl });
        await c.connect();
        for (const o of plan.organisations)
          await c.query(`DROP SCHEMA IF EXISTS "${o.config.database.schema}" CASCADE`);
        await c.end();
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return pair;
}

const NODE_SCRIPT = fileURLToPath(new URL('./node-process.ts', import.meta.url));

/** One node in a process of its own (`node-process.ts`), for the tests that kill it. */
export interface NodeProcess {
  child: ChildProcess;
  /** Resolves when the node serves; rejects when the process ends before. */
  ready: Promise<void>;
  /** The signal that ended the process, or its exit code. */
  exited: Promise<NodeJS.Signals | number | null>;
}

/**
 * Start a node with `config` in its own process. Its log (stderr) goes to this process's stderr, or to the file
 * descriptor `stderr` (a log file per node).
 */
export function spawnNode(config: unknown, options: { stderr?: number } = {}): NodeProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', NODE_SCRIPT], {
    env: { ...process.env, EHMI_TEST_NODE_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', options.stderr ?? 'inherit'],
  });
  let out = '';
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => {
      out += c;
      if (out.startsWith('ready')) resolve();
    });
    void exited.then((why) => reject(new Error(`node process exited (${String(why)}) before ready: ${out}`)));
  });
  // Nobody need wait for `ready`: a process killed before it served is no unhandled rejection of its own.
  ready.catch(() => {});
  return { child, ready, exited };
}

/** Thrown by a check to stop polling at once. */
export class Stop extends Error {}

/** Poll until `check` returns a value (not undefined) or time runs out; the last error or value is reported. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof Stop) throw err;
      last = err;
    }
    if (Date.now() > until)
      throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface SentMessage {
  id: string;
  status: string;
  messageHeaderId: string;
  bundleId: string;
  /** The current envelope: the access point's submission id. */
  envelopeId: string;
  events: { code: string; station: string; time: string; outcome: string; detail?: string }[];
  acknowledgement: { code: string } | null;
  failure: { reason: string; ebmsCode?: string } | null;
}

export interface InboxItem {
  id: string;
  bundleId: string;
  messageHeaderId: string;
  type: string;
  sender: string;
  receivedAt: string;
}

export async function status(pair: Pair, org: string, id: string): Promise<SentMessage> {
  const res = await pair.client.call(org, 'GET', `/messages/${id}`);
  if (res.status !== 200) throw new Error(`GET /messages/${id}: ${res.status} ${res.text}`);
  return res.json as SentMessage;
}

export async function inbox(pair: Pair, org: string): Promise<InboxItem[]> {
  const res = await pair.client.call(org, 'GET', '/inbox');
  if (res.status !== 200) throw new Error(`GET /inbox: ${res.status} ${res.text}`);
  return res.json as InboxItem[];
}

/** Wait for a sent message to reach `wanted` (failing fast if it fails instead). */
export function reaches(
  pair: Pair,
  org: string,
  id: string,
  wanted: string,
  timeoutMs = 30_000,
): Promise<SentMessage> {
  return eventually(
    `message ${id} ${wanted}`,
    async () => {
      const s = await status(pair, org, id);
      if (s.status === 'failed' && wanted !== 'failed')
        throw new Stop(`message ${id} failed: ${JSON.stringify(s.failure)}`);
      return s.status === wanted ? s : undefined;
    },
    timeoutMs,
  );
}

/** Submit a freshly built prøvesvar (or `bytes`) at `from`'s MSH. */
export async function submit(
  pair: Pair,
  from = 'municipality',
  to = 'gp',
  bytes?: Buffer,
): Promise<{
  status: number;
  body: { id: string; messageHeaderId: string; bundleId: string };
  bytes: Buffer;
}> {
  let b = bytes;
  if (!b) {
    const { sampleHomeCareObservation } = await import('@ehmi/network/sample');
    b = Buffer.from(
      JSON.stringify(sampleHomeCareObservation(pair.client.organisation(from), pair.client.organisation(to))),
    );
  }
  const res = await pair.client.call(from, 'POST', '/messages', {
    bytes: b,
    contentType: 'application/fhir+json',
  });
  if (res.status !== 202 && res.status !== 200) throw new Error(`POST /messages: ${res.status} ${res.text}`);
  return {
    status: res.status,
    body: res.json as { id: string; messageHeaderId: string; bundleId: string },
    bytes: b,
  };
}

/** A request the proxy saw, and the receiving AP's answer once it came. */
export interface Proxied {
  contentType: string;
  body: Buffer;
  answer?: { status: number; body: string };
}

/**
 * An HTTPS stand-in between two access points (with the receiver's TLS certificate). `forward` passes requests
 * on; `refuse` records them and answers 503 (the sender retries); `hold` forwards, then never answers (the sender
 * does not learn of the receipt).
 */
export interface ApProxy {
  url: string;
  mode: 'forward' | 'refuse' | 'hold';
  seen: Proxied[];
  /**
   * The first request (seen already or still to come) that `match` accepts, once the receiving AP answered it (it is
   * in `seen` at `index`); rejects after `timeoutMs` naming `what`.
   */
  answered(
    what: string,
    match: (p: Proxied, index: number) => boolean,
    timeoutMs?: number,
  ): Promise<Proxied & { answer: { status: number; body: string } }>;
  close(): Promise<void>;
}

export async function startApProxy(pair: Pair, target: string): Promise<ApProxy> {
  const { readFileSync } = await import('node:fs');
  const { createServer: createHttps } = await import('node:https');
  const { Agent, request } = await import('undici');
  const tls = pair.plan.pki.organisations[target]!.tls;
  const targetUrl = `${pair.plan.organisations.find((o) => o.spec.name === target)!.urls.ap}/as4`;
  const agent = new Agent({ connect: { ca: readFileSync(pair.plan.pki.trustAnchor, 'utf8') } });
  const hanging: import('node:http').ServerResponse[] = [];
  const onAnswer = new Set<() => void>();
  const proxy: ApProxy = {
    url: '',
    mode: 'forward',
    seen: [],
    answered(what, match, timeoutMs = 60_000) {
      type Answered = Proxied & { answer: { status: number; body: string } };
      const find = () => proxy.seen.find((p, i): p is Answered => p.answer !== undefined && match(p, i));
      const found = find();
      if (found) return Promise.resolve(found);
      return new Promise<Answered>((resolve, reject) => {
        const check = () => {
          const p = find();
          if (!p) return;
          onAnswer.delete(check);
          clearTimeout(timer);
          resolve(p);
        };
        const timer = setTimeout(() => {
          onAnswer.delete(check);
          reject(
            new Error(`${what}: not answered within ${timeoutMs} ms (${proxy.seen.length} requests seen)`),
          );
        }, timeoutMs);
        onAnswer.add(check);
      });
    },
    async close() {
      for (const r of hanging) r.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await agent.close();
    },
  };
  const answer = (p: Proxied, status: number, body: string) => {
    p.answer = { status, body };
    for (const check of [...onAnswer]) check();
  };
  const server = createHttps({ key: readFileSync(tls.key), cert: readFileSync(tls.cert) }, (req, res) => {
    // A sender killed mid-request aborts the upload: that request is simply not recorded.
    void handle(req, res).catch(() => res.destroy());
  });
  async function handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const contentType = String(req.headers['content-type'] ?? '');
    const seen: Proxied = { contentType, body };
    proxy.seen.push(seen);
    const mode = proxy.mode;
    if (mode === 'refuse') {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('held back by the test');
      return;
    }
    try {
      const r = await request(targetUrl, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': contentType },
        body,
      });
      const reply = Buffer.from(await r.body.arrayBuffer());
      if (mode === 'hold') hanging.push(res);
      else
        res.writeHead(r.statusCode, { 'content-type': String(r.headers['content-type'] ?? '') }).end(reply);
      answer(seen, r.statusCode, reply.toString('utf8'));
    } catch (err) {
      res.writeHead(502).end(String(err));
    }
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  proxy.url = `https://127.0.0.1:${(server.address() as { port: number }).port}/as4`;
  return proxy;
}

/** Send `to`'s AS4 traffic from `from` through `proxy` (before `from` starts). */
export function routeThrough(pair: Pair, from: string, to: string, proxy: ApProxy): void {
  const sender = pair.plan.organisations.find((o) => o.spec.name === from)!;
  const receiver = pair.plan.organisations.find((o) => o.spec.name === to)!;
  sender.config.ap.discovery.static[`0088:${receiver.spec.gln}`]!.url = proxy.url;
}

/** The eb:MessageId of a captured AS4 request. */
export function as4MessageId(p: Proxied): string | undefined {
  return /<(?:\w+:)?MessageId>([^<]+)</.exec(p.body.toString('latin1'))?.[1];
}
