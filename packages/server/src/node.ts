import { readFileSync } from 'node:fs';
import { EhmiError } from '@ehmi/errors';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { MshBackend } from './ap/contract.ts';
import { type AccessPoint, createAccessPoint } from './ap/index.ts';
import type { Config } from './config/index.ts';
import { createEasRole } from './eas/index.ts';
import { createEerRole } from './eer/index.ts';
import { createHttpServer, timeoutsOf } from './http/index.ts';
import { createMsh, type MessageServiceHandler } from './msh/index.ts';
import type { Role, RoleContext } from './roles.ts';
import { createSmpRole } from './smp/index.ts';
import { collectBlobGarbage, JobQueue, openStore, type Store } from './store/index.ts';

export interface RunningNode {
  /** Base URL of each HTTP server the node started, by service name. */
  urls: Record<string, string>;
  store: Store;
  queue: JobQueue;
  http: FastifyInstance;
  logger: Logger;
  /** The roles this node runs, by service name (`ap`, `msh`, …). */
  roles: Record<string, Role>;
  /** Remove blobs no role's row names (also run every `blobs.gcIntervalMs`); resolves to the number removed. */
  collectBlobGarbage(now?: number): Promise<number>;
  accessPoint?: AccessPoint;
  msh?: MessageServiceHandler;
  /** Stop accepting requests, let running work finish, close the database. */
  close(): Promise<void>;
}

export function createLogger(config: Config, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino({ level: config.log.level, base: { pid: process.pid } }, destination as pino.DestinationStream);
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new EhmiError('EHMI_CONFIG_INVALID', `cannot read ${what} ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** An MSH reached through a late-bound reference: the AP is created before the MSH it delivers to. */
function lateBackend(get: () => MshBackend | undefined): MshBackend {
  const need = (): MshBackend => {
    const b = get();
    if (!b)
      throw new EhmiError('EHMI_UNAVAILABLE', 'this node runs no message service handler to deliver to');
    return b;
  };
  return {
    deliver: (inbound) => need().deliver(inbound),
    outcome: (outcome) => need().outcome(outcome),
  };
}

/**
 * Create the roles the config enables. The MSH hands envelopes to this node's AP (ehmi-core §1.1) and the AP
 * delivers to this node's MSH, both through the contract in `ap/contract.ts`.
 */
async function createRoles(
  ctx: RoleContext,
): Promise<{ roles: Role[]; ap?: AccessPoint; msh?: MessageServiceHandler }> {
  const { config } = ctx;
  if ((config.ap.enabled || config.msh.enabled) && !config.organisation) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      'organisation: the msh and ap roles need organisation.name, .gln and .sor',
    );
  }
  if (config.msh.enabled && !config.ap.enabled) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      'msh.enabled: the message service handler needs ap.enabled on the same node',
    );
  }
  const roles: Role[] = [];
  let msh: MessageServiceHandler | undefined;
  let ap: AccessPoint | undefined;
  if (config.ap.enabled) {
    ap = await createAccessPoint(ctx, { backend: lateBackend(() => msh?.backend) });
    roles.push(ap);
  }
  if (config.msh.enabled && ap) {
    msh = await createMsh(ctx, { accessPoint: ap.gateway });
    roles.push(msh);
  }
  // The central roles, each on its own server like the others.
  if (config.smp.enabled) roles.push(await createSmpRole(ctx));
  if (config.eer.enabled) roles.push(await createEerRole(ctx));
  if (config.eas.enabled) roles.push(await createEasRole(ctx));
  return { roles, ...(ap ? { ap } : {}), ...(msh ? { msh } : {}) };
}

/**
 * Start one EHMI node: its store (SQLite in `dataDir`, or PostgreSQL), its job queue, its HTTP server (health,
 * metrics) and the roles its config enables, each on its own server.
 */
export async function startNode(config: Config, logger: Logger = createLogger(config)): Promise<RunningNode> {
  const store = await openStore({
    dataDir: config.dataDir,
    databaseUrl: config.database.url,
    schema: config.database.schema,
    busyTimeoutMs: config.database.busyTimeoutMs,
    poolSize: config.database.poolSize,
  });
  const queue = new JobQueue(store, {
    leaseMs: config.queue.leaseMs,
    maxAttempts: config.queue.maxAttempts,
    backoffBaseMs: config.queue.backoffBaseMs,
    backoffMaxMs: config.queue.backoffMaxMs,
  });
  const ctx: RoleContext = { config, store, queue, logger };
  if (config.tls) {
    ctx.tls = {
      key: readPem(config.tls.key, 'tls.key'),
      cert: readPem(config.tls.cert, 'tls.cert'),
      ca: config.tls.ca.map((f) => readPem(f, 'tls.ca')),
    };
  }
  let created: Awaited<ReturnType<typeof createRoles>>;
  try {
    created = await createRoles(ctx);
  } catch (err) {
    await store.close();
    throw err;
  }
  let closing = false;
  const http = await createHttpServer({
    service: 'node',
    logger,
    bodyLimitBytes: config.http.bodyLimitBytes,
    timeouts: timeoutsOf(config.http),
    readiness: async () => {
      if (closing) throw new Error('shutting down');
      await store.ping();
    },
  });
  new Gauge({
    name: 'ehmi_queue_jobs',
    help: 'Jobs waiting (ready), running, or dead-lettered, by queue',
    labelNames: ['queue', 'status'] as const,
    registers: [http.metrics],
    async collect() {
      this.reset();
      for (const c of await queue.countsByQueue()) this.set({ queue: c.queue, status: c.status }, c.n);
    },
  });
  const started: Role[] = [];
  try {
    await http.listen({ host: config.http.host, port: config.http.port });
    for (const role of created.roles) {
      await role.start();
      started.push(role);
    }
  } catch (err) {
    for (const role of started.reverse()) await role.close().catch(() => {});
    await http.close().catch(() => {});
    await store.close();
    throw err;
  }
  const address = http.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
  logger.info({ store: store.engine, port }, 'node started');
  // One collector for the node's blob store: each role declares the columns that name blobs (store/blob-gc.ts).
  const collect = (now?: number) =>
    collectBlobGarbage(store, { graceMs: config.blobs.graceMs, ...(now === undefined ? {} : { now }) });
  let collecting: Promise<unknown> | undefined;
  const gcTimer = setInterval(() => {
    if (collecting) return;
    collecting = collect()
      .then((removed) => removed > 0 && logger.info({ removed }, 'unreferenced blobs removed'))
      .catch((err) => logger.warn({ err }, 'blob garbage collection failed'))
      .finally(() => {
        collecting = undefined;
      });
  }, config.blobs.gcIntervalMs);
  gcTimer.unref();
  const urls: Record<string, string> = { node: `http://${host}:${port}` };
  const roles: Record<string, Role> = {};
  for (const role of created.roles) {
    urls[role.name] = role.url;
    roles[role.name] = role;
  }
  return {
    urls,
    store,
    queue,
    http,
    logger,
    roles,
    collectBlobGarbage: collect,
    ...(created.ap ? { accessPoint: created.ap } : {}),
    ...(created.msh ? { msh: created.msh } : {}),
    async close() {
      closing = true;
      clearInterval(gcTimer);
      await collecting;
      // Servers stop taking requests and workers finish their jobs before the database closes.
      for (const role of [...created.roles].reverse()) await role.close();
      await http.close();
      await store.close();
      logger.info('node stopped');
    },
  };
}
