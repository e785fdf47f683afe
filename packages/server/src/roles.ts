import { readFileSync } from 'node:fs';
import { EhmiError } from '@ehmi/errors';
import type { RevocationChecker } from '@ehmi/pki';
import type { EdsSearch } from '@ehmi/sbdh';
import type { FastifyInstance } from 'fastify';
import type { Migration } from 'kysely';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { ServerAudit } from './audit/http.ts';
import type { NodeConfig } from './config/index.ts';
import type { AccessPointGateway, MshBackend } from './contract.ts';
import type { DeliveryStatusReporter } from './delivery-status/reporter.ts';
import type { TrustedProxies } from './http/index.ts';
import type { BlobReference, JobQueue, Store } from './store/index.ts';

/**
 * What the roles of one node offer each other in-process, by name: the MSH hands envelopes to the AP through the
 * gateway, the AP delivers received envelopes and send outcomes to the MSH through the backend (the contract in
 * `contract.ts`). A role that provides one calls `services.provide`, one that needs one calls `services.need`
 * (which fails at start, with `why`, when no role of the node provides it).
 */
export interface NodeServices {
  'ap.gateway': AccessPointGateway;
  'msh.backend': MshBackend;
}

/** The node's in-process services between its roles (see {@link NodeServices}). */
export interface ServiceRegistry {
  provide<K extends keyof NodeServices>(name: K, service: NodeServices[K]): void;
  /**
   * A service another role provides. Roles are created in the list's order, so a role needs only what an earlier one
   * provided; for a later one (the AP delivers to the MSH created after it) `late` gives a stand-in that looks the
   * service up on each call.
   */
  need<K extends keyof NodeServices>(name: K, why?: string): NodeServices[K];
  late<K extends keyof NodeServices>(name: K): NodeServices[K];
}

/** What a role is given when the node creates it. */
export interface RoleContext<C = unknown, T = unknown> {
  /** The node's own settings (organisation, http, tls, queue, dataDir …), shared by its roles. */
  node: NodeConfig;
  /** This role's section of the config (`config[name]`). */
  config: C;
  /** The node's store, typed with this role's tables only. */
  store: Store<T>;
  queue: JobQueue;
  logger: Logger;
  /**
   * The node's TLS material (config `tls`), read once: role servers serve HTTPS with `cert`/`key`; calls to other
   * services present `client` (`tls.clientCert`/`tls.clientKey`, else the server credential) and trust `ca`.
   */
  tls?: {
    key: string;
    cert: string;
    ca: string[];
    client: { key: string; cert: string };
    /** The proxies whose forwarded client certificates the role servers take (config `http.trustedProxies`). */
    proxies?: TrustedProxies | undefined;
  };
  services: ServiceRegistry;
  /** The node's revocation checker (config `revocation`), shared so each CRL is fetched once per node. */
  revocation: RevocationChecker;
  /**
   * The node's audit log: a role passes it to `createHttpServer` (`audit: ctx.audit`), which records every call to
   * its server. Undefined for a role made outside a node (tests that do not look at the audit log).
   */
  audit?: ServerAudit;
  /**
   * EDS reporting (config `deliveryStatus`): the MSH and the AP queue each step they take, in its transaction.
   * Absent (a role made on its own in a test) or disabled: nothing is reported.
   */
  deliveryStatus?: DeliveryStatusReporter;
  /**
   * Search EDS as this node (config `deliveryStatus.url`), for the journey of a message; absent when the node names
   * no EDS.
   */
  deliveryStatusSearch?: EdsSearch;
}

/**
 * A running role (docs/architecture.md "Roles": its own fastify server plus its workers): created first, then
 * started (its server listens, its workers run), then closed (server first, then workers, so nothing is half done).
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

/**
 * A role as the node knows it before running it: everything the node's plumbing needs (its config section, its
 * tables' migrations, the columns that name blobs, its queues) and how to create it. The node composes its roles
 * from one list (`role-list.ts`); the store, the config and the HTTP plumbing know no role. A declaration is light:
 * `create` loads the role's code only when the role runs.
 */
export interface RoleModule<Name extends string = string, Schema extends z.ZodType = z.ZodType, T = unknown> {
  /** Service name and config key (`config.<name>`, `EHMI_<NAME>_*`). */
  readonly name: Name;
  /** This role's config section; `enabled` (boolean) says whether the node runs it. */
  readonly configSchema: Schema;
  /** This role's tables, each migration named under its own prefix (`0003_msh_…`). */
  readonly migrations: Readonly<Record<string, Migration>>;
  /** Columns of this role's tables that name blobs: the node's blob collector keeps what they name. */
  readonly blobReferences: readonly BlobReference[];
  /** The job queues this role's workers take jobs from (the path of a message names them in order: `path.ts`). */
  readonly queues: readonly string[];
  /** Whether the node runs this role, from its config section. */
  enabled(config: z.output<Schema>): boolean;
  /** Create the role on the node's store (typed with this role's tables), queue and services. */
  create(ctx: RoleContext<z.output<Schema>, T>): Promise<Role>;
}

/**
 * Declare a role. `T` is the role's table types; the node hands the role a store typed with them.
 *
 * @example
 * export const smpRole = defineRole<SmpTables>()({ name: 'smp', configSchema: smpConfigSchema, … });
 */
export function defineRole<T>() {
  return <const Name extends string, Schema extends z.ZodType>(
    module: RoleModule<Name, Schema, T>,
  ): RoleModule<Name, Schema, T> => module;
}

/** Read a PEM file named by the config, or fail at start naming the config key. */
export function readPem(file: string, key: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new EhmiError('EHMI_CONFIG_INVALID', `${key}: cannot read ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Fail closed without trust configuration: when `missing`, the role refuses to start (`refusal` says what it needs),
 * unless the node's `insecure` development switch is set, which is then logged as a warning (`insecureNote` says
 * what runs unprotected).
 */
export function requireTrustConfiguration(
  ctx: Pick<RoleContext, 'node' | 'logger'>,
  role: string,
  check: { missing: boolean; refusal: string; insecureNote: string },
): void {
  if (!check.missing) return;
  if (!ctx.node.insecure) {
    throw new EhmiError('EHMI_CONFIG_INVALID', `${check.refusal}; set insecure: true for development only`);
  }
  ctx.logger.warn({ role, insecure: true }, `INSECURE (development): ${check.insecureNote}`);
}

/** The organisation the node serves, which the MSH and the AP need: fail at start when it is not configured. */
export function organisationOf(node: NodeConfig, role: string): NonNullable<NodeConfig['organisation']> {
  if (!node.organisation) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      `organisation: the ${role} role needs organisation.name, .gln and .sor`,
    );
  }
  return node.organisation;
}
