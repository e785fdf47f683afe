import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config/index.ts';
import type { JobQueue, Store } from './store/index.ts';

/** What every role of a node is given: the node's config, its store and job queue, and a logger. */
export interface RoleContext {
  config: Config;
  store: Store;
  queue: JobQueue;
  logger: Logger;
  /** The node's TLS material (config `tls`), read once; role servers serve HTTPS with it. */
  tls?: { key: string; cert: string; ca: string[] };
}

/**
 * A role (docs/architecture.md "Roles": its own fastify server plus its workers): created first, then started
 * (its server listens, its workers run), then closed (server first, then workers, so nothing is half done).
 */
export interface Role {
  /** Service name, as in `network.json` `services` and `RunningNode.urls` (`msh`, `ap`, `smp`, …). */
  readonly name: string;
  readonly app: FastifyInstance;
  /** Base URL of the role's server (no trailing slash); valid after `start()`. */
  readonly url: string;
  start(): Promise<void>;
  close(): Promise<void>;
}
