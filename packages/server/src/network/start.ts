import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EhmiError } from '@ehmi/errors';
import type { Logger } from 'pino';
import { type Config, type ConfigInput, configSchema } from '../config/index.ts';
import { type RunningNode, startNode } from '../node.ts';
import { type NetworkManifest, writeNetworkManifest } from './manifest.ts';
import { LOCAL_ORGANISATIONS, type OrganisationSpec, participantOf } from './organisations.ts';
import { ensureNetworkPki, type NetworkPki } from './pki.ts';
import { checkPortBase, DEFAULT_PORT_BASE, type OrganisationPorts, organisationPorts } from './ports.ts';

export interface StartNetworkOptions {
  /** The data folder: `<data>/pki/`, `<data>/<org>/` (SQLite, blobs), `<data>/network.json`. */
  dataDir: string;
  /** First of the (at most 50) consecutive ports the network uses; default 8700. */
  portBase?: number;
  /** PostgreSQL for every organisation, each in its own schema; SQLite in `<data>/<org>/` when absent. */
  databaseUrl?: string;
  logger: Logger;
  /** Address the servers listen on; default 127.0.0.1. */
  host?: string;
  /**
   * Settings every node shares (log level, queue and retry timings, timeouts); the network's own keys (data
   * folder, database, ports, organisation, TLS, discovery) win over them. `database.schema`, when not `public`,
   * is the prefix of the organisations' schemas.
   */
  base?: ConfigInput;
  /** The organisations; default the three of `LOCAL_ORGANISATIONS`. */
  organisations?: readonly OrganisationSpec[];
}

/** One organisation as planned: its ports, URLs and the complete config of its node. */
export interface PlannedOrganisation {
  spec: OrganisationSpec;
  ports: OrganisationPorts;
  urls: { msh: string; ap: string; node: string };
  /** The OAuth client id of its EUA (the authorization server of a later issue registers it). */
  clientId: string;
  config: Config;
}

export interface NetworkPlan {
  dataDir: string;
  portBase: number;
  pki: NetworkPki;
  organisations: PlannedOrganisation[];
  manifest: NetworkManifest;
}

export interface RunningNetwork {
  dataDir: string;
  plan: NetworkPlan;
  manifest: NetworkManifest;
  /** Path of the written `network.json`. */
  manifestFile: string;
  /** The running node of each organisation, by name. */
  nodes: Record<string, RunningNode>;
  /** Close every node (servers, workers, database). */
  close(): Promise<void>;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)) {
      out[k] = deepMerge(b as Record<string, unknown>, v as Record<string, unknown>);
    } else if (v !== undefined) out[k] = v;
  }
  return out;
}

function urlHost(host: string): string {
  // A wildcard listen address is reached on loopback from this machine.
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function schemaName(prefix: string | undefined, org: string): string {
  const p = !prefix || prefix === 'public' ? 'ehmi' : prefix;
  return `${p}_${org.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

/**
 * Work out the whole network without starting it: generate (or reuse) the PKI, assign ports, and build each
 * organisation's node config, with the static discovery map of every organisation's access point (the SMP-client
 * interface's stand-in until the registers issue). Tests use it to start single nodes with `startNode`.
 *
 * @example
 * const plan = await planNetwork({ dataDir: '/tmp/net', portBase: 20000, logger });
 * const gp = await startNode(plan.organisations[1].config, logger);
 */
export async function planNetwork(options: StartNetworkOptions): Promise<NetworkPlan> {
  const dataDir = resolve(options.dataDir);
  const portBase = checkPortBase(options.portBase ?? DEFAULT_PORT_BASE);
  const host = options.host ?? '127.0.0.1';
  const specs = options.organisations ?? LOCAL_ORGANISATIONS;
  const names = new Set<string>();
  for (const s of specs) {
    if (names.has(s.name))
      throw new EhmiError('EHMI_CONFIG_INVALID', `organisation ${s.name} is listed twice`);
    names.add(s.name);
  }
  mkdirSync(dataDir, { recursive: true });
  const pki = await ensureNetworkPki(
    dataDir,
    specs.map((s) => s.name),
    { hosts: [host] },
  );
  const h = urlHost(host);
  const laid = specs.map((spec, index) => {
    const ports = organisationPorts(portBase, index);
    return {
      spec,
      ports,
      urls: {
        msh: `https://${h}:${ports.msh}`,
        ap: `https://${h}:${ports.ap}`,
        node: `http://${h}:${ports.node}`,
      },
    };
  });
  // ap.discovery.static: every participant → its AP's AS4 endpoint and certificate (encryption, receipt checks).
  const discovery = Object.fromEntries(
    laid.map((o) => [
      participantOf(o.spec),
      { url: `${o.urls.ap}/as4`, certificate: pki.organisations[o.spec.name]!.ap.cert },
    ]),
  );
  const base = (options.base ?? {}) as Record<string, unknown>;
  const databaseUrl = options.databaseUrl ?? options.base?.database?.url;
  const organisations = laid.map((o): PlannedOrganisation => {
    const creds = pki.organisations[o.spec.name]!;
    const own: ConfigInput = {
      dataDir: join(dataDir, o.spec.name),
      database: {
        ...(databaseUrl ? { url: databaseUrl } : {}),
        schema: databaseUrl ? schemaName(options.base?.database?.schema, o.spec.name) : 'public',
      },
      http: { host, port: o.ports.node },
      organisation: { name: o.spec.name, gln: o.spec.gln, sor: o.spec.sor },
      tls: { cert: creds.tls.cert, key: creds.tls.key, ca: [pki.trustAnchor] },
      msh: { enabled: true, host, port: o.ports.msh, clientTrustAnchors: [pki.trustAnchor] },
      ap: {
        enabled: true,
        host,
        port: o.ports.ap,
        signing: creds.ap,
        trustAnchors: [pki.trustAnchor],
        discovery: { static: discovery },
      },
    };
    const merged = deepMerge(base, own as Record<string, unknown>);
    if (!databaseUrl) delete (merged.database as Record<string, unknown>).url;
    // The static map is the network's own: replace, never merge, whatever the base had.
    (merged.ap as Record<string, unknown>).discovery = { static: discovery };
    const parsed = configSchema.safeParse(merged);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        `organisation ${o.spec.name}: configuration key "${issue.path.join('.')}": ${issue.message}`,
      );
    }
    return { ...o, clientId: `${o.spec.name}-eua`, config: parsed.data };
  });
  const manifest: NetworkManifest = {
    services: {},
    trustAnchor: pki.trustAnchor,
    organisations: organisations.map((o) => ({
      name: o.spec.name,
      role: o.spec.role,
      gln: o.spec.gln,
      sor: o.spec.sor,
      msh: o.urls.msh,
      ap: o.urls.ap,
      clientId: o.clientId,
      tls: { cert: pki.organisations[o.spec.name]!.tls.cert, key: pki.organisations[o.spec.name]!.tls.key },
    })),
  };
  return { dataDir, portBase, pki, organisations, manifest };
}

function explainListenError(err: unknown, portBase: number): unknown {
  const e = err as NodeJS.ErrnoException & { port?: number };
  if (e?.code === 'EADDRINUSE') {
    const which = e.port ? `port ${e.port}` : 'a port';
    return new EhmiError(
      'EHMI_CONFIG_INVALID',
      `${which} is in use (is the network already running? --port-base other than ${portBase} avoids it)`,
      { cause: err },
    );
  }
  return err;
}

/**
 * Start the local EHMI network in this process: one node per organisation (MSH + access point over HTTPS, its
 * own store), then write `<data>/network.json`. Rejects, with everything already started closed again, if any
 * node cannot start.
 *
 * @example
 * const net = await startNetwork({ dataDir: '.ehmi', portBase: 8700, logger });
 * // … net.manifest.organisations …
 * await net.close();
 */
export async function startNetwork(options: StartNetworkOptions): Promise<RunningNetwork> {
  const plan = await planNetwork(options);
  const settled = await Promise.allSettled(
    plan.organisations.map((o) => startNode(o.config, options.logger.child({ org: o.spec.name }))),
  );
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(
      settled.map((s) => (s.status === 'fulfilled' ? s.value.close().catch(() => {}) : undefined)),
    );
    throw explainListenError(failed.reason, plan.portBase);
  }
  const nodes: Record<string, RunningNode> = {};
  settled.forEach((s, i) => {
    nodes[plan.organisations[i]!.spec.name] = (s as PromiseFulfilledResult<RunningNode>).value;
  });
  const manifestFile = writeNetworkManifest(plan.dataDir, plan.manifest);
  let closed: Promise<void> | undefined;
  return {
    dataDir: plan.dataDir,
    plan,
    manifest: plan.manifest,
    manifestFile,
    nodes,
    close() {
      closed ??= Promise.all(Object.values(nodes).map((n) => n.close())).then(() => undefined);
      return closed;
    },
  };
}
