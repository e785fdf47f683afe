import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createEerRole, type EerDeps, type EerRole } from '../../src/eer/index.ts';
import { eerRole } from '../../src/eer/role.ts';
import { roleContext } from '../../src/node.ts';
import { type ConfigInput, loadConfig, type NodeTables, openNodeStore } from '../../src/role-list.ts';
import type { Store } from '../../src/store/index.ts';
import { JobQueue } from '../../src/store/index.ts';
import type { TestStore } from '../helpers/engines.ts';
import { FIXTURES } from '../helpers/fixtures.ts';

export { FIXTURES };
export const EER_JSON = `${FIXTURES}eer/json/`;

export type Json = Record<string, unknown>;

export function fixture(name: string, dir = EER_JSON): Json {
  return JSON.parse(readFileSync(`${dir}${name}`, 'utf8')) as Json;
}

export interface RunningEer {
  role: EerRole;
  url: string;
  store: Store<NodeTables>;
  queue: JobQueue;
  close(): Promise<void>;
}

/** Starts an EER role on a store (port 0, quick queue timers). `eer` is merged into the role's config. */
export async function startEer(
  ts: TestStore,
  eer: NonNullable<ConfigInput['eer']> = {},
  deps: EerDeps = {},
  store?: Store<NodeTables>,
  tls?: { key: string; cert: string; ca: string[] },
  /**
   * The node's settings besides `eer` (`authorization`). Without `authorization` the node is `insecure` (EER refuses
   * to start otherwise): tests not about tokens.
   */
  node: Omit<ConfigInput, 'eer'> = {},
): Promise<RunningEer> {
  const s = store ?? ts.store;
  const config = loadConfig({
    env: {},
    overrides: {
      ...(node.authorization ? {} : { insecure: true }),
      ...node,
      dataDir: ts.dataDir,
      eer: { enabled: true, port: 0, ...eer },
      queue: { pollIntervalMs: 20, backoffBaseMs: 20, backoffMaxMs: 200, maxAttempts: 5 },
    },
  });
  const queue = new JobQueue(s, {
    leaseMs: config.queue.leaseMs,
    maxAttempts: config.queue.maxAttempts,
    backoffBaseMs: config.queue.backoffBaseMs,
    backoffMaxMs: config.queue.backoffMaxMs,
  });
  const role = await createEerRole(
    roleContext(eerRole, {
      config,
      store: s,
      queue,
      logger: pino({ level: 'silent' }),
      ...(tls ? { tls } : {}),
    }),
    deps,
  );
  await role.start();
  return { role, url: role.url, store: s, queue, close: () => role.close() };
}

/** Opens the same store again (a restart). */
export function reopen(ts: TestStore): Promise<Store<NodeTables>> {
  return openNodeStore({ ...ts.connection, busyTimeoutMs: 5000, poolSize: 4 });
}

export interface FhirResponse {
  status: number;
  headers: Headers;
  body: Json;
}

export async function fhir(
  url: string,
  method = 'GET',
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<FhirResponse> {
  const res = await fetch(url, {
    method,
    headers: {
      accept: 'application/fhir+json',
      ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Json) : {} };
}

/** Waits until the EER's propagation queue holds no job to run, now or later (every propagation ran). */
export async function drained(eer: Pick<EerRole, 'worker'>): Promise<void> {
  await eer.worker.idle({ drained: true });
}

export interface Recorded {
  method: string;
  path: string;
  authorization: string | undefined;
  body: string;
}

/** A real HTTP server standing in for the other side (SMP or EAS admin API) that records each request. */
export class Recorder {
  readonly requests: Recorded[] = [];
  /** Status to answer; a function may fail the first calls (retry tests). */
  status: (r: Recorded) => number = (r) => (r.method === 'PUT' ? 200 : 200);
  #server: Server | undefined;
  url = '';

  /** Listens with HTTPS when given a key and certificate. */
  async start(tls?: { key: string; cert: string }): Promise<this> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r: Recorded = {
          method: req.method ?? '',
          path: req.url ?? '',
          authorization: req.headers.authorization,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        this.requests.push(r);
        res.statusCode = this.status(r);
        res.end();
      });
    };
    this.#server = tls ? createHttpsServer(tls, handler) : createServer(handler);
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `${tls ? 'https' : 'http'}://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}
