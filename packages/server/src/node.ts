import { randomBytes } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import type { RevocationChecker } from '@ehmi/pki';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { z } from 'zod';
import type { AccessPoint } from './ap/index.ts';
import { AUDIT_SCOPE, AuditLog, type ServerAudit, serveAuditSearch } from './audit/index.ts';
import { createDeliveryStatus, type DeliveryStatusService } from './delivery-status/index.ts';
import { commitsFirstGlobally, createHttpServer, timeoutsOf } from './http/index.ts';
import { metricsAccess, operatorAccess } from './metrics-access.ts';
import type { MessageServiceHandler } from './msh/index.ts';
import { BLOB_REFERENCES, type Config, type NodeTables, openNodeStore, ROLES } from './role-list.ts';
import {
  type NodeServices,
  type Role,
  type RoleContext,
  type RoleModule,
  readPem,
  type ServiceRegistry,
} from './roles.ts';
import {
  type AnyStore,
  collectBlobGarbage,
  JobQueue,
  type Store,
  storeView,
  sweepUnnamedBlobs,
} from './store/index.ts';
import { askForClientCertificate, revocationChecker, trustedProxiesOf } from './trust.ts';

// biome-ignore lint/suspicious/noExplicitAny: a role of the list, whatever its config section and tables
type AnyRoleModule = RoleModule<string, any, any>;

export interface RunningNode {
  /** Base URL of each HTTP server the node started, by service name. */
  urls: Record<string, string>;
  /** The node's store, with every role's tables (tests and tools read them; roles see only their own). */
  store: Store<NodeTables>;
  queue: JobQueue;
  http: FastifyInstance;
  logger: Logger;
  /** The roles this node runs, by service name (`ap`, `msh`, …). */
  roles: Record<string, Role>;
  /** The node's audit log (every call to its servers; `GET /audit/AuditEvent` on its own server). */
  audit: AuditLog;
  /**
   * Remove blobs no role's row names, and blob files no row notes (a crash's), also run every `blobs.gcIntervalMs`;
   * resolves to the number removed.
   */
  collectBlobGarbage(now?: number): Promise<number>;
  accessPoint?: AccessPoint;
  msh?: MessageServiceHandler;
  /** EDS reporting: `idle()` waits for the `eds.report` queue (tests wait for the reports to drain). */
  deliveryStatus: Pick<DeliveryStatusService, 'idle' | 'reporter'>;
  /** Stop accepting requests, let running work finish, close the database. */
  close(): Promise<void>;
}

export function createLogger(config: Config, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino({ level: config.log.level, base: { pid: process.pid } }, destination as pino.DestinationStream);
}

/** The in-process services the node's roles offer each other (see `NodeServices`). */
function serviceRegistry(): ServiceRegistry {
  const services: Partial<NodeServices> = {};
  const lookup = <K extends keyof NodeServices>(name: K): NodeServices[K] => {
    const service = services[name];
    if (!service) throw new EhmiError('EHMI_UNAVAILABLE', `this node runs no role that provides ${name}`);
    return service;
  };
  return {
    provide(name, service) {
      // One provider per service: two roles that both take what the access point receives (msh and archive) cannot
      // share a node.
      if (services[name]) {
        throw new EhmiError(
          'EHMI_CONFIG_INVALID',
          `two roles of this node provide ${name}: enable one of them`,
        );
      }
      services[name] = service;
    },
    need(name, why) {
      const service = services[name];
      if (!service) {
        throw new EhmiError('EHMI_CONFIG_INVALID', why ?? `this node runs no role that provides ${name}`);
      }
      return service;
    },
    late(name) {
      // Every member of a service is a method: look the service up when one is called. Nothing else is a member
      // (a `then` would make the stand-in look like a promise to `await`).
      return new Proxy({} as NodeServices[typeof name], {
        get: (_, member) => {
          if (typeof member !== 'string' || member === 'then' || member === 'toJSON') return undefined;
          return (...args: unknown[]) => {
            const method = (lookup(name) as unknown as Record<string, unknown>)[member];
            if (typeof method !== 'function') {
              throw new EhmiError('EHMI_INTERNAL', `${name} has no method ${member}`);
            }
            return (method as (...a: unknown[]) => unknown).apply(lookup(name), args);
          };
        },
      });
    },
  };
}

/** The context a role is created with: the node's settings, its own section, and a store typed with its tables. */
export function roleContext<Name extends string, Schema extends z.ZodType, T>(
  module: RoleModule<Name, Schema, T>,
  node: {
    config: Config;
    store: AnyStore;
    queue: JobQueue;
    logger: Logger;
    /** Without `client`, calls present the server credential. */
    tls?: Omit<NonNullable<RoleContext['tls']>, 'client'> & { client?: { key: string; cert: string } };
    services?: ServiceRegistry;
    revocation?: RevocationChecker;
    audit?: ServerAudit;
    deliveryStatus?: RoleContext['deliveryStatus'];
    deliveryStatusSearch?: RoleContext['deliveryStatusSearch'];
  },
): RoleContext<z.output<Schema>, T> {
  return {
    node: node.config,
    config: (node.config as Record<string, unknown>)[module.name] as z.output<Schema>,
    store: storeView<T>(node.store),
    queue: node.queue,
    logger: node.logger,
    services: node.services ?? serviceRegistry(),
    revocation: node.revocation ?? revocationChecker(node.config.revocation),
    ...(node.audit ? { audit: node.audit } : {}),
    ...(node.deliveryStatus ? { deliveryStatus: node.deliveryStatus } : {}),
    ...(node.deliveryStatusSearch ? { deliveryStatusSearch: node.deliveryStatusSearch } : {}),
    ...(node.tls
      ? {
          tls: {
            ...node.tls,
            client: node.tls.client ?? { key: node.tls.key, cert: node.tls.cert },
            proxies: node.tls.proxies ?? trustedProxiesOf(node.config.http),
          },
        }
      : {}),
  };
}

/** Create the roles the config enables, in the list's order. */
async function createRoles(ctx: Omit<Parameters<typeof roleContext>[1], 'services'>): Promise<Role[]> {
  const services = serviceRegistry();
  const revocation = ctx.revocation ?? revocationChecker(ctx.config.revocation);
  const roles: Role[] = [];
  for (const module of ROLES as readonly AnyRoleModule[]) {
    if (!module.enabled((ctx.config as Record<string, unknown>)[module.name])) continue;
    roles.push(await module.create(roleContext(module, { ...ctx, services, revocation })));
  }
  return roles;
}

/**
 * Start one EHMI node: its store (SQLite in `dataDir`, or PostgreSQL), its job queue, its HTTP server (health,
 * metrics) and the roles its config enables, each on its own server.
 */
export async function startNode(config: Config, logger: Logger = createLogger(config)): Promise<RunningNode> {
  // Requests through the process's default dispatcher (revocation checks, SMP lookups, plain fetch) wait for the
  // node's commits as those of its own agents do (docs/architecture.md "Durability").
  commitsFirstGlobally();
  const store = await openNodeStore({
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
  // One audit log for the node: every server of every role records its calls in it (src/audit/).
  const audit = new AuditLog(storeView(store), {
    logger,
    flushIntervalMs: config.audit.flushIntervalMs,
    batchSize: config.audit.batchSize,
    bufferLimit: config.audit.bufferLimit,
    retentionDays: config.audit.retentionDays,
    sweepIntervalMs: config.audit.sweepIntervalMs,
  });
  const o = config.organisation;
  const serverAudit: ServerAudit = { log: audit, node: o ? `${o.name} (GLN ${o.gln})` : 'ehmi-node' };
  let created: Role[];
  let tls: NonNullable<RoleContext['tls']> | undefined;
  let reporting: DeliveryStatusService | undefined;
  // One revocation checker for the node: its roles and its own server share the CRLs fetched.
  const revocation = revocationChecker(config.revocation);
  try {
    tls = config.tls && {
      key: readPem(config.tls.key, 'tls.key'),
      cert: readPem(config.tls.cert, 'tls.cert'),
      ca: config.tls.ca.map((f) => readPem(f, 'tls.ca')),
      client: {
        key: readPem(
          config.tls.clientKey ?? config.tls.key,
          config.tls.clientKey ? 'tls.clientKey' : 'tls.key',
        ),
        cert: readPem(
          config.tls.clientCert ?? config.tls.cert,
          config.tls.clientCert ? 'tls.clientCert' : 'tls.cert',
        ),
      },
      proxies: trustedProxiesOf(config.http),
    };
    if (!config.tls && config.http.trustedProxies.length > 0) {
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        'http.trustedProxies: a proxy forwards client certificates over TLS to the node, which authenticates it by its own client certificate, so the node needs tls (cert, key and ca)',
      );
    }
    reporting = createDeliveryStatus(config, { store, logger, tls });
    created = await createRoles({
      config,
      store,
      queue,
      logger,
      revocation,
      audit: serverAudit,
      deliveryStatus: reporting.reporter,
      ...(reporting.search ? { deliveryStatusSearch: reporting.search } : {}),
      ...(tls ? { tls } : {}),
    });
  } catch (err) {
    await reporting?.close().catch(() => {});
    await store.close();
    throw err;
  }
  const eds = reporting;
  let closing = false;
  // With the node's tls, its own server (health, the queue metrics) speaks HTTPS and asks for a client certificate
  // under tls.ca, so that the operator's certificate-bound token can read /metrics (metrics-access.ts).
  let nodeUrl = '';
  const metrics = metricsAccess(
    { node: config, revocation, logger, ...(tls ? { tls } : {}) },
    { service: 'node', audience: () => [nodeUrl], anchorsKey: 'tls.ca' },
  );
  const http = await createHttpServer({
    service: 'node',
    logger,
    bodyLimitBytes: config.http.bodyLimitBytes,
    timeouts: timeoutsOf(config.http),
    readiness: async () => {
      if (closing) throw new Error('shutting down');
      await store.ping();
    },
    metricsAccess: metrics.hook,
    audit: serverAudit,
    ...(tls ? { tls: askForClientCertificate(tls, tls.ca) } : {}),
  });
  // The audit log's search, on the node's own server, for the operator (as /metrics).
  const auditAccess = operatorAccess(
    { node: config, revocation, logger, ...(tls ? { tls } : {}) },
    { service: 'node', audience: () => [nodeUrl], anchorsKey: 'tls.ca', scope: AUDIT_SCOPE, what: '/audit' },
  );
  serveAuditSearch(http, { log: audit, access: auditAccess.hook });
  audit.registerMetrics(http.metrics);
  audit.start();
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
  eds.registerMetrics(http.metrics);
  const started: Role[] = [];
  try {
    await http.listen({ host: config.http.host, port: config.http.port });
    const address = http.server.address();
    const port = typeof address === 'object' && address ? address.port : config.http.port;
    const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
    nodeUrl = `${tls ? 'https' : 'http'}://${host}:${port}`;
    for (const role of created) {
      await role.start();
      started.push(role);
    }
    eds.start();
  } catch (err) {
    for (const role of started.reverse()) await role.close().catch(() => {});
    await eds.close().catch(() => {});
    await http.close().catch(() => {});
    await audit.close().catch(() => {});
    await store.close();
    throw err;
  }
  logger.info({ store: store.engine, url: nodeUrl }, 'node started');
  // One collector for the node's blob store: each role declares the columns that name blobs (its role.ts).
  // The sweep of files no row notes goes on where its last run stopped; a start begins at a random fan-out folder,
  // so frequent restarts still cover the whole store.
  let sweepFrom = randomBytes(1).toString('hex');
  const collect = async (now?: number) => {
    const options = {
      graceMs: config.blobs.graceMs,
      references: BLOB_REFERENCES,
      ...(now === undefined ? {} : { now }),
    };
    const removed = await collectBlobGarbage(store, options);
    const swept = await sweepUnnamedBlobs(store, { ...options, from: sweepFrom });
    sweepFrom = swept.next;
    return removed + swept.removed;
  };
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
  const urls: Record<string, string> = { node: nodeUrl };
  const roles: Record<string, Role> = {};
  for (const role of created) {
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
    audit,
    collectBlobGarbage: collect,
    ...(roles.ap ? { accessPoint: roles.ap as AccessPoint } : {}),
    ...(roles.msh ? { msh: roles.msh as MessageServiceHandler } : {}),
    deliveryStatus: { idle: (options) => eds.idle(options), reporter: eds.reporter },
    async close() {
      closing = true;
      clearInterval(gcTimer);
      await collecting;
      // Servers stop taking requests and workers finish their jobs before the database closes.
      for (const role of [...created].reverse()) await role.close();
      // After the roles: their last steps are queued, and reported after the restart.
      await eds.close();
      await http.close();
      await metrics.close();
      await auditAccess.close();
      // The servers are closed: the last records are in the buffer, written before the database closes.
      await audit.close();
      await store.close();
      logger.info('node stopped');
    },
  };
}
