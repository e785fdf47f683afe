import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { Config } from './config/index.ts';
import { createHttpServer } from './http/index.ts';
import { JobQueue, openStore, type Store } from './store/index.ts';

export interface RunningNode {
  /** Base URL of each HTTP server the node started, by service name. */
  urls: Record<string, string>;
  store: Store;
  queue: JobQueue;
  http: FastifyInstance;
  logger: Logger;
  /** Stop accepting requests, let running work finish, close the database. */
  close(): Promise<void>;
}

export function createLogger(config: Config, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino({ level: config.log.level, base: { pid: process.pid } }, destination as pino.DestinationStream);
}

/**
 * Start one EHMI node: its store (SQLite in `dataDir`, or PostgreSQL), its job queue and its HTTP server.
 * Roles (MSH, AP, registers) join as plugins in their issues.
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
  let closing = false;
  const http = await createHttpServer({
    service: 'node',
    logger,
    bodyLimitBytes: config.http.bodyLimitBytes,
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
  try {
    await http.listen({ host: config.http.host, port: config.http.port });
  } catch (err) {
    await store.close();
    throw err;
  }
  const address = http.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
  logger.info({ store: store.engine, port }, 'node started');
  return {
    urls: { node: `http://${host}:${port}` },
    store,
    queue,
    http,
    logger,
    async close() {
      closing = true;
      await http.close();
      await store.close();
      logger.info('node stopped');
    },
  };
}
