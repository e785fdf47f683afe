import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { EhmiError } from '@ehmi/errors';
import {
  type Config,
  type ConfigInput,
  configSchema,
  PROPAGATE_QUEUE,
  type RunningNode,
  startNode,
} from '@ehmi/server';
import type { Logger } from 'pino';
import { ARCHIVE_CLIENT_ID, ARCHIVE_SPEC, archiveCopies, type PlannedArchive } from './archive.ts';
import {
  type AuthArchive,
  type AuthOrganisation,
  type AuthPlan,
  CONSOLE_SAMPLER_CLIENT_ID,
  EER_CLIENT_ID,
  EER_WRITE_SCOPES,
  planAuthRegistrations,
} from './auth.ts';
import {
  CENTRAL_NODE_PORT_OFFSET,
  type CentralSecrets,
  type CentralUrls,
  ensureCentralSecrets,
  fetchWithToken,
  LOCAL_SML_ZONE,
  type SeedOrganisation,
  SMP_ADMIN_PORT_OFFSET,
  seedRegisters,
  waitForSmp,
} from './central.ts';
import { type CrlService, startCrlService } from './crl-server.ts';
import { noteDataDir } from './data-dir.ts';
import { CENTRAL_NODE_SERVICES, type CentralNodeService } from './description.ts';
import { MANIFEST_FILE, type NetworkManifest, writeNetworkManifest } from './manifest.ts';
import { LOCAL_ORGANISATIONS, type OrganisationSpec, participantOf } from './organisations.ts';
import { CENTRAL_NAME, ensureNetworkPki, type NetworkPki, networkCrlUrl } from './pki.ts';
import { CRL_DIR_NAME, NETWORK_CLIENTS, type NetworkClientName, writeAtomically } from './pki-files.ts';
import {
  centralServicePort,
  checkPortBase,
  DEFAULT_PORT_BASE,
  type OrganisationPorts,
  organisationPorts,
} from './ports.ts';
import { SAMPLE_PATIENT_CPR } from './sample.ts';
import { ensureOrganisationSecrets } from './secrets.ts';

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
  /**
   * The services the central node runs (a network description's `central.services`, `centralServicesOf`); default
   * all of `CENTRAL_NODE_SERVICES`. Without `eds` the stations report to no one; without `console` there is none.
   */
  centralServices?: readonly CentralNodeService[];
  /**
   * How the access points find each other: `smp` (what `startNetwork` always uses) through the network's DNS
   * server and the SMP of the central node; `static` (the default of `planNetwork`, for tests that start single
   * organisation nodes with `startNode` and no central node) a static map of every organisation's AP.
   */
  discovery?: 'smp' | 'static';
  /**
   * Whether the organisations' MSHs ask for access tokens of the central node's authorization server (`authorization`
   * in their configs, the operator among `authorization.operatorClients`) and network.json names it (`services.auth`), so that
   * clients get tokens. Default: when the central node runs (`discovery: 'smp'`, what `startNetwork` uses); a plan
   * whose organisation nodes are started without it (`static`) serves the MSH API on mTLS alone.
   */
  accessTokens?: boolean;
  /**
   * How long the start waits, after seeding EER, for the SMP to serve one more of the organisations' document types
   * before it gives up (the propagation has stalled); default 20 s. A slow machine may take longer in all.
   */
  registersTimeoutMs?: number;
  /**
   * Whether the network has its document archive (archive.ts: a participant with its own node, registered like an
   * organisation; the municipality's prøvesvar is copied to it). `startNetwork` runs it unless this is false; a plan
   * has it only when asked (its nodes are started by whoever planned it).
   */
  archive?: boolean;
}

/** The central node (SMP with its DNS zone, EER, EAS, the authorization server) as planned. */
export interface PlannedCentral {
  urls: CentralUrls;
  /** The DNS server the access points ask (the SMP role's SML/BDXL zone server). */
  dns: { host: string; port: number; zone: string };
  secrets: CentralSecrets;
  /** One example command per central service (what `ehmi up` prints). */
  examples: Record<'smp' | 'eer' | 'eas' | 'eds' | 'dns' | 'node' | 'crl' | 'auth', string> & {
    archive?: string;
  };
  /** What the authorization server registers (`auth.resources`, `auth.clients`) and each client's scopes. */
  auth: AuthPlan;
  config: Config;
}

/** One organisation as planned: its ports, URLs and the complete config of its node. */
export interface PlannedOrganisation {
  spec: OrganisationSpec;
  ports: OrganisationPorts;
  urls: { msh: string; ap: string; node: string };
  /** The OAuth client id of its EUA, registered at the central node's authorization server. */
  clientId: string;
  /** The scopes its client is registered for, space-separated. */
  scope: string;
  config: Config;
}

/** The CRL service: the root CA's CRL over plain HTTP (`pki.crl.url`). */
export interface PlannedCrl {
  url: string;
  host: string;
  port: number;
}

/** A network-level OAuth client (`operator`, `maintainer`) as planned: network.json's entry. */
export interface PlannedNetworkClient {
  name: NetworkClientName;
  clientId: string;
  scope: string;
  tls: { cert: string; key: string };
}

export interface NetworkPlan {
  dataDir: string;
  portBase: number;
  pki: NetworkPki;
  crl: PlannedCrl;
  organisations: PlannedOrganisation[];
  /** The network-level OAuth clients. */
  clients: Record<NetworkClientName, PlannedNetworkClient>;
  central: PlannedCentral;
  /** The document archive, when the network has one (`archive`). */
  archive?: Omit<PlannedArchive, 'config'> & { config: Config };
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
  /** The central node: SMP (+ DNS zone), EER, EAS, the authorization server. */
  central: RunningNode;
  /** The document archive's node (its access point and the archive role), when the network has one. */
  archive?: RunningNode;
  /** The CRL service (`manifest.services.crl`). */
  crl: CrlService;
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

/** The DNS server address clients use for a listen address (a wildcard is reached on loopback). */
function dnsClientHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

/**
 * Revocation settings of every node of the network: the CRL is fetched again every 10 s, so that a certificate
 * revoked with `ehmi pki revoke` is refused within seconds.
 */
const NETWORK_REVOCATION = { refreshMs: 10_000 };

function parseNodeConfig(merged: Record<string, unknown>, who: string): Config {
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      `${who}: configuration key "${issue.path.join('.')}": ${issue.message}`,
    );
  }
  return parsed.data;
}

/**
 * Work out the whole network without starting it: generate (or reuse) the PKI, issue its CRL (served on base+8)
 * and the central services' admin tokens, assign ports, and build the config of the central node (the authorization
 * server on base+0, SMP with its DNS zone, EER, EAS on ports base+1…base+4, base+9) and of each organisation's
 * node, whose access point discovers receivers through the
 * network's DNS server and the SMP (`discovery: 'smp'`, no static map: what `startNetwork` runs) or, by default,
 * a static map of every organisation's AP (tests that start single nodes with `startNode`).
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
    if (s.name === CENTRAL_NAME || s.name === CRL_DIR_NAME)
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        s.name === CENTRAL_NAME
          ? `"${CENTRAL_NAME}" is the central node's name, not an organisation's`
          : `"${CRL_DIR_NAME}" is the name of the CRL's folder in pki/, not an organisation's`,
      );
    if ((NETWORK_CLIENTS as readonly string[]).includes(s.name))
      throw new EhmiError(
        'EHMI_CONFIG_INVALID',
        `"${s.name}" is the name of a network-level client (its certificate is in pki/${s.name}/), not an organisation's`,
      );
    names.add(s.name);
  }
  const portsOf = specs.map((spec, index) => ({
    spec,
    ports: { ...organisationPorts(portBase, index), ...spec.ports },
  }));
  checkDistinctPorts(
    options.archive === true
      ? [...portsOf, { spec: ARCHIVE_SPEC, ports: organisationPorts(portBase, specs.length) }]
      : portsOf,
    portBase,
  );
  mkdirSync(dataDir, { recursive: true });
  const h = urlHost(host);
  const crl: PlannedCrl = {
    url: networkCrlUrl(h, portBase),
    host,
    port: centralServicePort(portBase, 'crl'),
  };
  const withArchive = options.archive === true;
  const pki = await ensureNetworkPki(dataDir, withArchive ? [...specs, ARCHIVE_SPEC] : specs, {
    hosts: [host],
    crlUrl: crl.url,
  });
  const laid = portsOf.map(({ spec, ports }) => {
    return {
      spec,
      ports,
      urls: {
        msh: `https://${h}:${ports.msh}`,
        ap: `https://${h}:${ports.ap}`,
        // The node's own server speaks HTTPS (it has the node's tls), so the operator's token can be bound there.
        node: `https://${h}:${ports.node}`,
      },
    };
  });
  const centralServices = new Set(options.centralServices ?? CENTRAL_NODE_SERVICES);
  const base = (options.base ?? {}) as Record<string, unknown>;
  const databaseUrl = options.databaseUrl ?? options.base?.database?.url;
  const secrets = ensureCentralSecrets(dataDir);
  const clientIdOf = (spec: OrganisationSpec) => `${spec.name}-eua`;
  const clients = Object.fromEntries(
    NETWORK_CLIENTS.map((name) => [name, { name, clientId: name, tls: { ...pki.clients[name] } }]),
  ) as Record<NetworkClientName, Omit<PlannedNetworkClient, 'scope'>>;
  const operatorClients = operatorClientsOf(clients.operator.clientId, centralServices);
  const central = planCentral({
    dataDir,
    portBase,
    host,
    h,
    pki,
    secrets,
    base,
    databaseUrl,
    schemaPrefix: options.base?.database?.schema,
    gp: specs.find((s) => s.role === 'gp'),
    crlUrl: crl.url,
    services: centralServices,
    organisations: laid.map((o) => ({
      spec: o.spec,
      clientId: clientIdOf(o.spec),
      msh: o.urls.msh,
      ap: o.urls.ap,
      node: o.urls.node,
      tlsClientCert: pki.organisations[o.spec.name]!.tlsClient.cert,
    })),
    clients,
    ...(withArchive ? { archive: archiveAuth(pki, h, portBase, specs) } : {}),
  });
  // ap.discovery.smp: BDXL U-NAPTR through the network's DNS server, then the SMP, whose signing certificate
  // chains to the network's root (eDelivery AS4 1.15 §1.5.4 Dynamic Sender). NAPTR rather than the Peppol CNAME:
  // its regexp carries the SMP's whole URL, port included, where a CNAME names only a host (port 80).
  const registers = {
    static: {},
    smp: {
      zone: central.dns.zone,
      naming: 'naptr' as const,
      dnsServer: { host: central.dns.host, port: central.dns.port },
      trustAnchors: [pki.trustAnchor],
      // A minute: a changed registration is seen soon in a network people edit by hand.
      cacheTtlMs: 60_000,
    },
  };
  // The static map: every participant → its AP's AS4 endpoint and certificate (encryption, receipt checks).
  const staticMap = {
    static: Object.fromEntries(
      laid.map((o) => [
        participantOf(o.spec),
        { url: o.urls.ap, certificate: pki.organisations[o.spec.name]!.as4.cert },
      ]),
    ),
  };
  const discovery = options.discovery === 'smp' ? registers : staticMap;
  const accessTokens = options.accessTokens ?? options.discovery === 'smp';
  const organisations = laid.map((o): PlannedOrganisation => {
    const creds = pki.organisations[o.spec.name]!;
    // The AP's evidence API token, kept in <data>/<org>/secrets.json (`ehmi evidence` reads it there).
    const orgSecrets = ensureOrganisationSecrets(dataDir, o.spec.name);
    const own: ConfigInput = {
      dataDir: join(dataDir, o.spec.name),
      database: {
        ...(databaseUrl ? { url: databaseUrl } : {}),
        schema: databaseUrl ? schemaName(options.base?.database?.schema, o.spec.name) : 'public',
      },
      http: { host, port: o.ports.node },
      organisation: { name: o.spec.name, gln: o.spec.gln, sor: o.spec.sor },
      tls: {
        cert: creds.tlsServer.cert,
        key: creds.tlsServer.key,
        clientCert: creds.tlsClient.cert,
        clientKey: creds.tlsClient.key,
        ca: [pki.trustAnchor],
      },
      revocation: NETWORK_REVOCATION,
      msh: {
        enabled: true,
        host,
        port: o.ports.msh,
        clientTrustAnchors: [pki.trustAnchor],
        // The local network's EUAs receive their webhooks on this machine (loopback); a production MSH refuses
        // private targets (msh.webhooks.allowPrivateTargets off).
        webhooks: { allowPrivateTargets: true },
      },
      // The MSH takes the central node's tokens; its tls.ca (the network's root) is what it trusts the issuer's
      // HTTPS with when it fetches the metadata and the keys. The operator reads every organisation's MSH (its token
      // names no organisation) and every server's /metrics. Without them (a plan whose nodes run without the central
      // node) the MSH serves on mTLS alone: the insecure development switch.
      ...(accessTokens
        ? { authorization: { issuer: central.urls.auth, operatorClients: operatorClients } }
        : { insecure: true }),
      // Every station reports its steps to the central node's EDS, with access tokens of the organisation's client
      // (registered with the node's TLS client certificate); the AP as the Device `ehmi up` seeds in EER
      // (`<name>-ap`, eer/seed.ts). Without the central node (no tokens) the nodes report nothing. The MSH reads a
      // message's journey there with the same client (its scopes include system/AuditEvent.rs).
      deliveryStatus: {
        ...(accessTokens && centralServices.has('eds') ? { url: central.urls.eds } : {}),
        clientId: clientIdOf(o.spec),
        devices: { ap: `${o.spec.name}-ap` },
      },
      ap: {
        enabled: true,
        host,
        port: o.ports.ap,
        signing: creds.as4,
        // The AS4 key a re-issue replaced: senders with an older SMP answer still encrypt to it.
        previousEncryption: creds.as4Previous ? [creds.as4Previous] : [],
        trustAnchors: [pki.trustAnchor],
        discovery,
        adminToken: orgSecrets.apAdminToken,
      },
    };
    const copies = withArchive ? archiveCopies(o.spec) : undefined;
    if (copies && own.msh) own.msh.archive = copies;
    const merged = deepMerge(base, own as Record<string, unknown>);
    if (!databaseUrl) delete (merged.database as Record<string, unknown>).url;
    // Discovery is the network's own: replace, never merge, whatever the base had (no static map is left).
    (merged.ap as Record<string, unknown>).discovery = discovery;
    // The central roles run on the central node only.
    for (const role of ['smp', 'eer', 'eas', 'eds', 'auth', 'console']) merged[role] = { enabled: false };
    const clientId = clientIdOf(o.spec);
    return {
      ...o,
      clientId,
      scope: central.auth.scopes[clientId]!,
      config: parseNodeConfig(merged, `organisation ${o.spec.name}`),
    };
  });
  const planned = Object.fromEntries(
    NETWORK_CLIENTS.map((name) => [
      name,
      {
        name,
        clientId: clients[name].clientId,
        scope: central.auth.scopes[clients[name].clientId]!,
        tls: clients[name].tls,
      },
    ]),
  ) as Record<NetworkClientName, PlannedNetworkClient>;
  const archive = withArchive
    ? planArchive({
        dataDir,
        h,
        host,
        portBase,
        index: specs.length,
        pki,
        base,
        databaseUrl,
        schemaPrefix: options.base?.database?.schema,
        central,
        operatorClients,
        discovery,
      })
    : undefined;
  const manifest: NetworkManifest = {
    services: {
      smp: central.urls.smp,
      eer: central.urls.eer,
      eas: central.urls.eas,
      ...(centralServices.has('eds') ? { eds: central.urls.eds } : {}),
      dns: central.urls.dns,
      node: central.urls.node,
      crl: crl.url,
      ...(archive ? { archive: archive.urls.archive } : {}),
      ...(accessTokens && centralServices.has('console') ? { console: central.urls.console } : {}),
      // Clients get access tokens for the MSHs when network.json names the authorization server.
      ...(accessTokens ? { auth: central.urls.auth } : {}),
    },
    trustAnchor: pki.trustAnchor,
    organisations: organisations.map((o) => ({
      name: o.spec.name,
      role: o.spec.role,
      gln: o.spec.gln,
      sor: o.spec.sor,
      title: o.spec.title,
      ...(o.spec.ydernummer ? { ydernummer: o.spec.ydernummer } : {}),
      msh: o.urls.msh,
      ap: o.urls.ap,
      node: o.urls.node,
      clientId: o.clientId,
      scope: o.scope,
      // The EUA's credential: network.json's `tls` is what a client of the organisation's MSH presents.
      tls: { ...pki.organisations[o.spec.name]!.tlsClient },
      certificates: {
        as4: { ...pki.organisations[o.spec.name]!.as4 },
        tlsServer: { ...pki.organisations[o.spec.name]!.tlsServer },
        tlsClient: { ...pki.organisations[o.spec.name]!.tlsClient },
      },
    })),
    operator: planned.operator,
    maintainer: planned.maintainer,
  };
  return {
    dataDir,
    portBase,
    pki,
    crl,
    organisations,
    clients: planned,
    central,
    ...(archive ? { archive } : {}),
    manifest,
  };
}

/** The archive's ports: the next organisation's slot after the organisations (its MSH port is its FHIR API's). */
function archivePorts(portBase: number, specs: readonly OrganisationSpec[]) {
  const ports = organisationPorts(portBase, specs.length);
  return { archive: ports.msh, ap: ports.ap, node: ports.node };
}

/** The archive as the authorization server registers it (its resources and its node's client). */
function archiveAuth(
  pki: NetworkPki,
  h: string,
  portBase: number,
  specs: readonly OrganisationSpec[],
): AuthArchive {
  if (specs.some((s) => s.name === ARCHIVE_SPEC.name)) {
    throw new EhmiError(
      'EHMI_CONFIG_INVALID',
      `"${ARCHIVE_SPEC.name}" is the document archive's name, not an organisation's`,
    );
  }
  const ports = archivePorts(portBase, specs);
  return {
    spec: ARCHIVE_SPEC,
    clientId: ARCHIVE_CLIENT_ID,
    archive: `https://${h}:${ports.archive}`,
    ap: `https://${h}:${ports.ap}`,
    node: `https://${h}:${ports.node}`,
    tlsClientCert: pki.organisations[ARCHIVE_SPEC.name]!.tlsClient.cert,
  };
}

/**
 * The document archive's node (docs/architecture.md "The document archive"): its access point (its own AS4 keys,
 * found through the SMP like any participant's) and the archive role, which takes what the AP receives; it reports
 * its steps to EDS as its own client, and serves its FHIR API to tokens of the central authorization server.
 */
function planArchive(p: {
  dataDir: string;
  h: string;
  host: string;
  portBase: number;
  index: number;
  pki: NetworkPki;
  base: Record<string, unknown>;
  databaseUrl: string | undefined;
  schemaPrefix: string | undefined;
  central: PlannedCentral;
  operatorClients: string[];
  discovery: ConfigInput['ap'] extends infer A ? (A extends { discovery?: infer D } ? D : never) : never;
}): NonNullable<NetworkPlan['archive']> {
  const spec = ARCHIVE_SPEC;
  const ports = organisationPorts(p.portBase, p.index);
  const urls = {
    archive: `https://${p.h}:${ports.msh}`,
    ap: `https://${p.h}:${ports.ap}`,
    node: `https://${p.h}:${ports.node}`,
  };
  const creds = p.pki.organisations[spec.name]!;
  const secrets = ensureOrganisationSecrets(p.dataDir, spec.name);
  const own: ConfigInput = {
    dataDir: join(p.dataDir, spec.name),
    database: {
      ...(p.databaseUrl ? { url: p.databaseUrl } : {}),
      schema: p.databaseUrl ? schemaName(p.schemaPrefix, spec.name) : 'public',
    },
    http: { host: p.host, port: ports.node },
    organisation: { name: spec.name, gln: spec.gln, sor: spec.sor },
    tls: {
      cert: creds.tlsServer.cert,
      key: creds.tlsServer.key,
      clientCert: creds.tlsClient.cert,
      clientKey: creds.tlsClient.key,
      ca: [p.pki.trustAnchor],
    },
    revocation: NETWORK_REVOCATION,
    authorization: { issuer: p.central.urls.auth, operatorClients: p.operatorClients },
    deliveryStatus: {
      url: p.central.urls.eds,
      clientId: ARCHIVE_CLIENT_ID,
      devices: { ap: `${spec.name}-ap` },
    },
    ap: {
      enabled: true,
      host: p.host,
      port: ports.ap,
      signing: creds.as4,
      previousEncryption: creds.as4Previous ? [creds.as4Previous] : [],
      trustAnchors: [p.pki.trustAnchor],
      discovery: p.discovery,
      adminToken: secrets.apAdminToken,
    },
    archive: { enabled: true, host: p.host, port: ports.msh, publicUrl: urls.archive },
  };
  const merged = deepMerge(p.base, own as Record<string, unknown>);
  if (!p.databaseUrl) delete (merged.database as Record<string, unknown>).url;
  (merged.ap as Record<string, unknown>).discovery = p.discovery;
  for (const role of ['msh', 'smp', 'eer', 'eas', 'eds', 'auth', 'console'])
    merged[role] = { enabled: false };
  p.central.examples.archive = `npx ehmi archive search --patient ${SAMPLE_PATIENT_CPR}`;
  return {
    spec,
    urls,
    clientId: ARCHIVE_CLIENT_ID,
    config: parseNodeConfig(merged, 'the document archive'),
  };
}

/**
 * The central node's config: SMP (plain HTTP as Peppol SMPs are, responses signed with `pki/central/smp-signing`)
 * with its SML/BDXL zone on a DNS server (UDP+TCP), EER and EAS over HTTPS with the central TLS certificate, the
 * authorization server (HTTPS, same certificate, clients' certificates checked against the network's root;
 * issuer = its URL) with every organisation's EUA, the operator and the maintainer registered; its own
 * store (`<data>/central/`, or schema `<prefix>_central`). EER pushes to the SMP's admin API (HTTPS, its own port)
 * and to EAS's with access tokens of its own client (`central-eer`, the central node's TLS client certificate);
 * EAS's patient table holds the prøvesvar's patient → the GP practice.
 */
/** The console's operator account: its user name, and the file of its generated password. */
export const CONSOLE_OPERATOR = 'operator';
/** `<data>/console-operator.password`: the console operator's password (mode 0600), generated on first start. */
export function consoleOperatorPasswordFile(dataDir: string): string {
  return join(dataDir, 'console-operator.password');
}

/** The console operator's password file, with a new random password when there is none yet. */
function ensureConsoleOperator(dataDir: string): { username: string; passwordFile: string } {
  const passwordFile = consoleOperatorPasswordFile(dataDir);
  if (!existsSync(passwordFile)) {
    writeAtomically(passwordFile, `${randomBytes(18).toString('base64url')}\n`, 0o600);
  }
  return { username: CONSOLE_OPERATOR, passwordFile };
}

/**
 * The public APIs the console calls, by the names of its `callApi`: the central services, per organisation its MSH,
 * its access point and its node's own server, and the document archive's node when there is one (`archive` its FHIR
 * API, `ap:archive`, `node:archive`: the console's names for the archive's node, `ARCHIVE_NODE`).
 */
function consoleServices(
  urls: CentralUrls,
  organisations: readonly AuthOrganisation[],
  running: ReadonlySet<CentralNodeService>,
  archive: AuthArchive | undefined,
): Record<string, string> {
  const services: Record<string, string> = {
    ...(running.has('eds') ? { eds: urls.eds } : {}),
    eer: urls.eer,
    eas: urls.eas,
    smp: urls.smp,
    'smp-admin': urls.smpAdmin,
    auth: urls.auth,
    'node:central': urls.node,
  };
  for (const o of organisations) {
    services[`msh:${o.spec.name}`] = o.msh;
    services[`ap:${o.spec.name}`] = o.ap;
    services[`node:${o.spec.name}`] = o.node;
  }
  if (archive) {
    services.archive = archive.archive;
    services['ap:archive'] = archive.ap;
    services['node:archive'] = archive.node;
  }
  return services;
}

/**
 * A node's `authorization.operatorClients`: the network's operator, and the console's sampler when the central node
 * runs the console (it reads every server's `/metrics`, which is the operator's).
 */
function operatorClientsOf(operator: string, running: ReadonlySet<CentralNodeService>): string[] {
  return running.has('console') ? [operator, CONSOLE_SAMPLER_CLIENT_ID] : [operator];
}

/** The key file next to a TLS client certificate (`tls-client.pem` → `tls-client.key`). */
function certificateFiles(cert: string): { cert: string; key: string } {
  return { cert, key: cert.replace(/\.pem$/, '.key') };
}

function planCentral(p: {
  dataDir: string;
  portBase: number;
  host: string;
  h: string;
  pki: NetworkPki;
  secrets: CentralSecrets;
  base: Record<string, unknown>;
  databaseUrl: string | undefined;
  schemaPrefix: string | undefined;
  gp: OrganisationSpec | undefined;
  crlUrl: string;
  services: ReadonlySet<CentralNodeService>;
  organisations: AuthOrganisation[];
  clients: Record<NetworkClientName, Omit<PlannedNetworkClient, 'scope'>>;
  archive?: AuthArchive;
}): PlannedCentral {
  const port = (s: 'smp' | 'eer' | 'eas' | 'eds' | 'dns' | 'auth' | 'console') =>
    centralServicePort(p.portBase, s);
  const dns = { host: dnsClientHost(p.host), port: port('dns'), zone: LOCAL_SML_ZONE };
  const urls: CentralUrls = {
    smp: `http://${p.h}:${port('smp')}`,
    smpAdmin: `https://${p.h}:${p.portBase + SMP_ADMIN_PORT_OFFSET}`,
    eer: `https://${p.h}:${port('eer')}`,
    eas: `https://${p.h}:${port('eas')}`,
    eds: `https://${p.h}:${port('eds')}`,
    auth: `https://${p.h}:${port('auth')}`,
    dns: `dns://${dns.host.includes(':') ? `[${dns.host}]` : dns.host}:${dns.port}`,
    node: `https://${p.h}:${p.portBase + CENTRAL_NODE_PORT_OFFSET}`,
    console: `https://${p.h}:${port('console')}`,
  };
  const creds = p.pki.central;
  const operatorAccount = ensureConsoleOperator(p.dataDir);
  const auth = planAuthRegistrations(
    urls,
    p.organisations,
    NETWORK_CLIENTS.map((name) => ({
      name,
      clientId: p.clients[name].clientId,
      tlsClientCert: p.clients[name].tls.cert,
    })),
    { tlsClientCert: creds.tlsClient.cert },
    p.archive,
  );
  const own: ConfigInput = {
    dataDir: join(p.dataDir, CENTRAL_NAME),
    database: {
      ...(p.databaseUrl ? { url: p.databaseUrl } : {}),
      schema: p.databaseUrl ? schemaName(p.schemaPrefix, CENTRAL_NAME) : 'public',
    },
    http: { host: p.host, port: p.portBase + CENTRAL_NODE_PORT_OFFSET },
    tls: {
      cert: creds.tlsServer.cert,
      key: creds.tlsServer.key,
      clientCert: creds.tlsClient.cert,
      clientKey: creds.tlsClient.key,
      ca: [p.pki.trustAnchor],
    },
    revocation: NETWORK_REVOCATION,
    // EER and EAS take access tokens of the authorization server below (its JWKS fetched over HTTPS, trusted
    // through tls.ca, the network's root) and the TLS client certificates they are bound to.
    authorization: {
      issuer: urls.auth,
      operatorClients: operatorClientsOf(p.clients.operator.clientId, p.services),
    },
    smp: {
      enabled: true,
      host: p.host,
      port: port('smp'),
      publicUrl: urls.smp,
      signing: creds.smpSigning,
      // The admin API: HTTPS on its own port, access tokens with smp/publication.write (EER's).
      admin: { host: p.host, port: p.portBase + SMP_ADMIN_PORT_OFFSET, publicUrl: urls.smpAdmin },
      // Short TTLs: an organisation created in EER is found within seconds.
      dns: { enabled: true, host: p.host, port: dns.port, zone: dns.zone, ttlSeconds: 10 },
    },
    eer: {
      enabled: true,
      host: p.host,
      port: port('eer'),
      // An access point is registered only with a certificate that chains to the network's root.
      apTrustAnchors: [p.pki.trustAnchor],
      // Propagation with access tokens of the central-eer client (the node's TLS client certificate).
      smp: { url: urls.smpAdmin },
      eas: { url: urls.eas },
      propagation: { clientId: EER_CLIENT_ID },
    },
    eas: {
      enabled: true,
      host: p.host,
      port: port('eas'),
      // The CPR → GP adapter of the local network (a seeded local table): the patient of the prøvesvar
      // `ehmi send homecareobservation` builds belongs to the GP practice.
      patients: p.gp ? [{ cpr: SAMPLE_PATIENT_CPR, sor: p.gp.sor }] : [],
    },
    // EDS: every station's delivery status events, read by the organisations that took part and the operator.
    eds: { enabled: p.services.has('eds'), host: p.host, port: port('eds') },
    // The authorization server (docs/specs/security.md 1a–1c). The node's tls is its server certificate and the
    // CAs of its clients' certificates (the network's root). EER, EAS and the organisations' MSHs ask for its
    // tokens.
    auth: {
      enabled: true,
      host: p.host,
      port: port('auth'),
      issuer: urls.auth,
      resources: auth.config.resources,
      clients: auth.config.clients,
      userScopes: auth.config.userScopes,
      // The network's first operator: signs in to the console (ehmi up prints how).
      accounts: [
        {
          username: operatorAccount.username,
          name: 'Network operator',
          roles: ['network-operator', 'patient-data'],
          passwordFile: operatorAccount.passwordFile,
        },
      ],
    },
    // The web console on its own port: people sign in at the authorization server through it, and it calls the
    // network's public APIs as them, with the console's own client certificate.
    console: {
      enabled: p.services.has('console'),
      host: p.host,
      port: port('console'),
      publicUrl: urls.console,
      issuer: urls.auth,
      clientId: 'console',
      // What the console's registration allows of the resources (the OpenID Connect scopes it asks for itself).
      scope: (auth.scopes.console ?? '')
        .split(' ')
        .filter((s) => s && !['openid', 'profile', 'offline_access'].includes(s))
        .join(' '),
      tls: { ...p.clients.console.tls },
      services: consoleServices(urls, p.organisations, p.services, p.archive),
      // The health page's readings: the console's own client (the same certificate) reads every node's /metrics.
      sampling: { clientId: CONSOLE_SAMPLER_CLIENT_ID },
    },
  };
  const merged = deepMerge(p.base, own as Record<string, unknown>);
  if (!p.databaseUrl) delete (merged.database as Record<string, unknown>).url;
  merged.ap = { enabled: false };
  merged.msh = { enabled: false };
  const gpSor = p.gp?.sor ?? 'SOR';
  // EER and EAS take a certificate-bound access token: the gp's EUA gets one over mTLS, then calls with the same
  // certificate.
  const gp = p.organisations.find((o) => o.spec.name === p.gp?.name) ?? p.organisations[0];
  const tlsClient = gp ? certificateFiles(gp.tlsClientCert) : undefined;
  const asClient = (resource: string, scope: string, call: string) => {
    if (!gp || !tlsClient) return call;
    const mtls = `--cacert ${p.pki.trustAnchor} --cert ${tlsClient.cert} --key ${tlsClient.key}`;
    const token = `curl -s ${mtls} -d grant_type=client_credentials -d client_id=${gp.clientId} -d resource=${resource} -d 'scope=${scope}' ${urls.auth}/token | sed -E 's/.*"access_token":"([^"]+)".*/\\1/'`;
    return `TOKEN=$(${token}) && curl ${mtls} -H "authorization: Bearer $TOKEN" ${call}`;
  };
  const examples = {
    smp: `curl ${urls.smp}/iso6523-actorid-upis%3A%3A0088%3A${p.gp?.gln ?? 'GLN'}`,
    eer: asClient(
      urls.eer,
      'system/Organization.rs system/Endpoint.rs',
      `'${urls.eer}/Organization?identifier=urn:oid:1.2.208.176.1.1|${gpSor}&_include=Organization:endpoint'`,
    ),
    eas: asClient(
      urls.eas,
      'system/Organization.rs',
      `'${urls.eas}/Organization/$getReceivingOrganizationBySORId?sorId=${gpSor}'`,
    ),
    eds: asClient(
      urls.eds,
      'system/AuditEvent.rs',
      `'${urls.eds}/AuditEvent?receiver-sor=${gpSor}&_sort=-date&_count=10'`,
    ),
    dns: `dig @${dns.host} -p ${dns.port} ${dns.zone} SOA`,
    node: 'npx ehmi audit central',
    crl: `curl -s ${p.crlUrl} | openssl crl -inform DER -noout -text`,
    auth: `curl --cacert ${p.pki.trustAnchor} ${urls.auth}/.well-known/oauth-authorization-server`,
  };
  return {
    urls,
    dns,
    secrets: p.secrets,
    examples,
    auth,
    config: parseNodeConfig(merged, 'central node'),
  };
}

/** Two servers on one port never start: name both before anything is written. */
function checkDistinctPorts(
  laid: readonly { spec: OrganisationSpec; ports: OrganisationPorts }[],
  portBase: number,
): void {
  const used = new Map<number, string>();
  for (let i = 0; i < 10; i++) used.set(portBase + i, 'the central services (base+0 … base+9)');
  used.set(portBase + SMP_ADMIN_PORT_OFFSET, "the SMP's admin API (base+49)");
  for (const { spec, ports } of laid) {
    for (const [server, port] of Object.entries(ports)) {
      const other = used.get(port);
      if (other)
        throw new EhmiError(
          'EHMI_CONFIG_INVALID',
          `organisation ${spec.name}: its ${server} port ${port} is ${other}'s too`,
        );
      used.set(port, `organisation ${spec.name}'s ${server}`);
    }
  }
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
 * Note what the data folder holds before a network starts there; the function returned removes what the start added
 * (the whole folder when it did not exist before) and returns what it could not remove. What the network writes at
 * the top of its data folder: keys, the registers' node, one folder per organisation, network.json, the console
 * operator's password file.
 */
export function noteNetworkDataDir(
  options: Pick<StartNetworkOptions, 'dataDir' | 'organisations' | 'archive'>,
): () => string[] {
  const owned = new Set([
    'pki',
    CENTRAL_NAME,
    MANIFEST_FILE,
    basename(consoleOperatorPasswordFile(options.dataDir)),
    ...(options.organisations ?? LOCAL_ORGANISATIONS).map((o) => o.name),
    ...(options.archive === false ? [] : [ARCHIVE_SPEC.name]),
  ]);
  return noteDataDir(options.dataDir, { nested: ['pki'], owns: (name) => owned.has(name) });
}

/**
 * Start the local EHMI network in this process: the central node (SMP + DNS zone, EER, EAS, the authorization
 * server) and one node per
 * organisation (MSH + access point over HTTPS, its own store); seed EER with the organisations, wait until the SMP
 * serves them all, then write `<data>/network.json`. Rejects, with everything already started closed again, if any
 * node cannot start; what the attempt added to the data folder is removed again (the whole folder when it did not
 * exist before), so that a failed start leaves no half-built keys or organisation folders behind.
 *
 * @example
 * const net = await startNetwork({ dataDir: '.ehmi', portBase: 8700, logger });
 * // … net.manifest.organisations …
 * await net.close();
 */
export async function startNetwork(options: StartNetworkOptions): Promise<RunningNetwork> {
  const undo = noteNetworkDataDir(options);
  try {
    return await startPlannedNetwork(
      await planNetwork({ ...options, discovery: 'smp', archive: options.archive !== false }),
      options,
    );
  } catch (err) {
    const left = undo();
    if (left.length > 0) options.logger.warn({ left }, 'the failed start could not remove what it added');
    throw err;
  }
}

/**
 * Seed the central node's EER with the planned organisations (stable ids: a restart updates, as the maintainer with
 * its certificate and an access token), then wait until the SMP serves them all as an access point will ask: DNS,
 * signed metadata, the AP's URL. What `startNetwork` does once the central node listens; also for a central node
 * started in a process of its own (the end-to-end bench).
 *
 * @example
 * await seedNetworkRegisters(plan, { eerUrl: plan.central.urls.eer, logger });
 */
export async function seedNetworkRegisters(
  plan: NetworkPlan,
  options: {
    eerUrl: string;
    logger: Logger;
    timeoutMs?: number | undefined;
    /** Called once EER holds every organisation, before the wait for the SMP. */
    onSeeded?: () => void;
    /** The central node's finished propagation jobs, when it runs in this process (progress beside the SMP's answers). */
    progress?: () => Promise<number>;
  },
): Promise<void> {
  const seeds: SeedOrganisation[] = [
    ...plan.organisations.map((o) => ({
      spec: o.spec,
      ...(o.spec.receives ? { messageTypes: o.spec.receives } : {}),
      as4Url: o.urls.ap,
    })),
    // The archive is registered as an organisation is: found through the SMP by its participant id.
    ...(plan.archive ? [{ spec: plan.archive.spec, as4Url: plan.archive.urls.ap }] : []),
  ].map((o) => ({ ...o, apCertificate: plan.pki.organisations[o.spec.name]!.as4.cert }));
  const trustAnchorPem = readFileSync(plan.pki.trustAnchor, 'utf8');
  // EER takes writes from the maintainer only (system/*.cruds), with its certificate and an access token.
  const maintainer = plan.clients.maintainer;
  const client = fetchWithToken({
    authUrl: plan.central.urls.auth,
    caPem: trustAnchorPem,
    tls: maintainer.tls,
    clientId: maintainer.clientId,
    scope: EER_WRITE_SCOPES.join(' '),
    resource: plan.central.urls.eer,
  });
  try {
    await seedRegisters(options.eerUrl, seeds, client.fetch);
    options.onSeeded?.();
    await waitForSmp(seeds, {
      dnsServer: { host: plan.central.dns.host, port: plan.central.dns.port },
      zone: plan.central.dns.zone,
      trustAnchorPem,
      timeoutMs: options.timeoutMs ?? 20_000,
      logger: options.logger,
      ...(options.progress ? { progress: options.progress } : {}),
    });
  } finally {
    await client.close();
  }
}

async function startPlannedNetwork(plan: NetworkPlan, options: StartNetworkOptions): Promise<RunningNetwork> {
  // The CRL first: every node checks the certificates it relies on against it.
  let crl: CrlService;
  try {
    crl = await startCrlService({
      dataDir: plan.dataDir,
      host: plan.crl.host,
      port: plan.crl.port,
      logger: options.logger,
    });
  } catch (err) {
    throw explainListenError(err, plan.portBase);
  }
  // Then the registers: an access point with sends pending from the last run looks its receivers up at once.
  let central: RunningNode;
  try {
    central = await startNode(plan.central.config, options.logger.child({ org: CENTRAL_NAME }));
  } catch (err) {
    await crl.close();
    throw explainListenError(err, plan.portBase);
  }
  // Seed EER from the organisations (stable ids: a restart updates), then wait until the SMP serves them all as
  // an access point will ask. The organisations' nodes start once EER holds them, while the SMP is waited for: the
  // seeding's first token request has the authorization server fetch the root CA's CRL from the CRL service in this
  // process (a 10 s timeout, failing closed), which three nodes starting beside it could starve on a loaded machine.
  let seeded = (): void => {};
  const inEer = new Promise<void>((resolve) => {
    seeded = resolve;
  });
  const registers = seedNetworkRegisters(plan, {
    eerUrl: central.urls.eer!,
    logger: options.logger,
    timeoutMs: options.registersTimeoutMs,
    onSeeded: () => seeded(),
    progress: async () => (await central.queue.counts(PROPAGATE_QUEUE)).done,
  });
  const [registered, ...settled] = await Promise.allSettled([
    registers,
    ...[...plan.organisations, ...(plan.archive ? [plan.archive] : [])].map(async (o) => {
      await Promise.race([inEer, registers]);
      return startNode(o.config, options.logger.child({ org: o.spec.name }));
    }),
  ]);
  const failed = [registered, ...settled].find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(
      settled.map((s) => (s.status === 'fulfilled' ? s.value.close().catch(() => {}) : undefined)),
    );
    await central.close().catch(() => {});
    await crl.close();
    throw explainListenError(failed.reason, plan.portBase);
  }
  const nodes: Record<string, RunningNode> = {};
  plan.organisations.forEach((o, i) => {
    nodes[o.spec.name] = (settled[i] as PromiseFulfilledResult<RunningNode>).value;
  });
  const archive = plan.archive
    ? (settled[plan.organisations.length] as PromiseFulfilledResult<RunningNode>).value
    : undefined;
  const manifestFile = writeNetworkManifest(plan.dataDir, plan.manifest);
  let closed: Promise<void> | undefined;
  return {
    dataDir: plan.dataDir,
    plan,
    manifest: plan.manifest,
    manifestFile,
    nodes,
    central,
    ...(archive ? { archive } : {}),
    crl,
    close() {
      // The organisations and the archive first (their sends stop), then the registers, then the CRL. A part that
      // fails to close does not keep the others open (their servers would keep the process alive): all are closed,
      // then the first failure is thrown.
      closed ??= (async () => {
        const failures: unknown[] = [];
        const note = (results: PromiseSettledResult<void>[]) => {
          for (const r of results) if (r.status === 'rejected') failures.push(r.reason);
        };
        note(
          await Promise.allSettled(
            [...Object.values(nodes), ...(archive ? [archive] : [])].map((n) => n.close()),
          ),
        );
        note(await Promise.allSettled([central.close()]));
        note(await Promise.allSettled([crl.close()]));
        if (failures.length > 0) throw failures[0];
      })();
      return closed;
    },
  };
}
