import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { EhmiError } from '@ehmi/errors';
import type { NetworkManifest, NetworkPlan } from '@ehmi/network';
import { type Command, Option } from 'commander';
import { type CliContext, writeLine } from '../context.ts';
import { runNetworkPart, superviseNetwork } from './up-processes.ts';

interface UpOptions {
  config?: string;
  data?: string;
  host?: string;
  port?: string;
  portBase?: string;
  network?: string;
  processes?: boolean;
  printSchema?: boolean;
  /** Internal: run one part of the network (`central` or an organisation) as a child of `--processes`. */
  only?: string;
}

function parsePort(value: string, flag: string, max = 65535): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > max)
    throw new EhmiError('EHMI_USAGE', `${flag} expects 0–${max}, got "${value}"`);
  return n;
}

/**
 * Resolves when the user asks to stop (Ctrl-C, SIGTERM, SIGHUP, or npm going away: see cli/stop.ts). Called before
 * the start, so that a signal during it is kept: the command finishes starting, then closes everything.
 */
function stopped(ctx: CliContext): Promise<void> {
  if (ctx.stopSignal.aborted) return Promise.resolve();
  return new Promise((resolve) => ctx.stopSignal.addEventListener('abort', () => resolve(), { once: true }));
}

/** A word as a POSIX shell reads it back (quoted only when it has to be). */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * Paths as the user named the data folder: absolute when it was given absolute, else relative to the working
 * folder (`.ehmi/pki/root-ca.pem`).
 */
function pathShower(given: string, dataDir: string, cwd: string): (path: string) => string {
  return (path) => {
    if (isAbsolute(given)) return path;
    const inside = relative(dataDir, path);
    if (inside === '' || (!inside.startsWith(`..${sep}`) && inside !== '..' && !isAbsolute(inside)))
      return join(given, inside);
    return relative(cwd, path) || '.';
  };
}

/** A listen error as one line naming the port (Node's own text says `listen EADDRINUSE … 127.0.0.1:8080`). */
function explainListenError(err: unknown): unknown {
  const e = err as NodeJS.ErrnoException & { port?: number };
  if (e?.code !== 'EADDRINUSE') return err;
  return new EhmiError(
    'EHMI_CONFIG_INVALID',
    `${e.port ? `port ${e.port}` : 'a port'} is in use (is the node already running?)`,
    { cause: err },
  );
}

/** One node as the config says (`--config` or `--port`): what `ehmi up` ran before the local network. */
async function upNode(opts: UpOptions, ctx: CliContext): Promise<void> {
  const overrides: Record<string, unknown> = {};
  if (opts.data) overrides.dataDir = opts.data;
  const http: Record<string, unknown> = {};
  if (opts.host) http.host = opts.host;
  if (opts.port !== undefined) http.port = parsePort(opts.port, '--port');
  if (Object.keys(http).length > 0) overrides.http = http;
  // Loaded here, not at the top: `ehmi --help` should not pay for the server's dependencies.
  const { loadConfig } = await import('@ehmi/server/config');
  const { startNode } = await import('@ehmi/server');
  const config = loadConfig({ file: opts.config, env: ctx.env, cwd: ctx.cwd, overrides });
  const stop = stopped(ctx);
  // A start that fails (a port in use) takes back what it added to the data folder.
  const { noteDataDir } = await import('@ehmi/network');
  // What a node writes in its data folder: the SQLite store (with its WAL files), the blob store, temporary files.
  const undo = noteDataDir(config.dataDir, {
    owns: (name) => /^(ehmi\.sqlite(-wal|-shm|-journal)?|blobs|tmp)$/.test(name),
  });
  let node: Awaited<ReturnType<typeof startNode>>;
  try {
    node = await startNode(config);
  } catch (err) {
    for (const path of undo()) writeLine(ctx.stderr, `ehmi: the failed start could not remove ${path}`);
    throw explainListenError(err);
  }
  for (const [service, url] of Object.entries(node.urls)) {
    writeLine(ctx.stdout, `${service.padEnd(8)} ${url}   try: curl ${url}/health`);
  }
  // The data folder as given (--data), or as the config file's relative dataDir resolved from here.
  const inside = relative(ctx.cwd, config.dataDir);
  const shownData =
    opts.data ?? (inside && !inside.startsWith('..') && !isAbsolute(inside) ? inside : config.dataDir);
  writeLine(ctx.stdout, `ready: store ${node.store.engine}, data in ${shownData} (Ctrl-C stops)`);
  await stop;
  await node.close();
  writeLine(ctx.stdout, 'stopped');
}

/** What `ehmi up` prints of a started network: its servers with an example each, then the ready line. */
export interface StartedNetwork {
  plan: NetworkPlan;
  manifest: NetworkManifest;
  manifestFile: string;
  engine: string;
  /** How the nodes run: `in this process`, `in 5 processes`. */
  how: string;
  /** The console's first operator: user name and the file of the password. */
  consoleOperator: { username: string; passwordFile: string };
}

/** The local network: the organisations of the description (default three), each a node with its MSH and access point, and the central node. */
async function upNetwork(opts: UpOptions, ctx: CliContext): Promise<void> {
  const { loadConfig } = await import('@ehmi/server/config');
  const { createLogger } = await import('@ehmi/server');
  const network = await import('@ehmi/network');
  const description = opts.network
    ? network.readNetworkDescription(resolve(ctx.cwd, opts.network), opts.network)
    : network.DEFAULT_NETWORK;
  const portBase =
    opts.portBase === undefined
      ? (description.portBase ?? network.DEFAULT_PORT_BASE)
      : parsePort(opts.portBase, '--port-base');
  // EHMI_* variables (log level, timings) apply to every node; the network sets the rest.
  const base = loadConfig({ env: ctx.env, cwd: ctx.cwd });
  // Nine servers logging every request would bury the lines below; EHMI_LOG_LEVEL=info brings them back.
  if (!ctx.env.EHMI_LOG_LEVEL) base.log.level = 'warn';
  const given = opts.data ?? ctx.env.EHMI_DATA_DIR ?? '.ehmi';
  const dataDir = resolve(ctx.cwd, given);
  const logger = createLogger(base);
  const options = {
    dataDir,
    portBase,
    ...(base.database.url ? { databaseUrl: base.database.url } : {}),
    logger,
    ...(opts.host ? { host: opts.host } : {}),
    base,
    organisations: network.organisationsOf(description),
    centralServices: network.centralServicesOf(description),
  };
  if (opts.only !== undefined) {
    await runNetworkPart(opts.only, options, ctx);
    return;
  }
  const started = Date.now();
  const stop = stopped(ctx);
  const consoleOperator = {
    username: network.CONSOLE_OPERATOR,
    passwordFile: network.consoleOperatorPasswordFile(dataDir),
  };
  if (opts.processes) {
    // The children read the same description and flags: each plans the same network and runs its part of it.
    const childArgs = [
      ...(opts.network ? ['--network', resolve(ctx.cwd, opts.network)] : []),
      '--data',
      dataDir,
      '--port-base',
      String(portBase),
      ...(opts.host ? ['--host', opts.host] : []),
    ];
    await superviseNetwork(options, childArgs, ctx, stop, (net) =>
      printNetwork({ ...net, consoleOperator }, ctx, given, dataDir, started),
    );
    return;
  }
  const net = await network.startNetwork(options);
  printNetwork(
    {
      plan: net.plan,
      manifest: net.manifest,
      manifestFile: net.manifestFile,
      engine: Object.values(net.nodes)[0]?.store.engine ?? 'sqlite',
      how: 'in this process',
      consoleOperator,
    },
    ctx,
    given,
    dataDir,
    started,
  );
  await stop;
  await net.close();
  writeLine(ctx.stdout, 'stopped');
}

function printNetwork(
  net: StartedNetwork,
  ctx: CliContext,
  given: string,
  dataDir: string,
  started: number,
): void {
  const show = pathShower(given, dataDir, ctx.cwd);
  // The commands below find the network in ./.ehmi by themselves; any other folder is named as the user named it.
  const dataFlag = dataDir === resolve(ctx.cwd, '.ehmi') ? '' : ` --data ${shellWord(show(dataDir))}`;
  const orgs = net.plan.organisations;
  const width = Math.max(...orgs.map((o) => o.spec.name.length));
  const receiver = orgs.find((o) => o.spec.role === 'gp')?.spec.name ?? orgs[1]?.spec.name ?? 'ORG';
  const cacert = shellWord(show(net.manifest.trustAnchor));
  for (const o of orgs) {
    const n = o.spec.name;
    const example =
      o.spec.role === 'municipality'
        ? `npx ehmi send homecareobservation --from ${n} --to ${receiver}${dataFlag}`
        : `npx ehmi inbox ${n}${dataFlag}`;
    const name = n.padEnd(width);
    writeLine(ctx.stdout, `${name}  msh   ${o.urls.msh}   try: ${example}`);
    writeLine(ctx.stdout, `${name}  ap    ${o.urls.ap}   try: curl --cacert ${cacert} ${o.urls.ap}/health`);
    writeLine(ctx.stdout, `${name}  node  ${o.urls.node}   try: npx ehmi metrics ${o.urls.node}${dataFlag}`);
  }
  const examples: Record<string, string> = net.plan.central.examples;
  for (const [service, url] of Object.entries(net.manifest.services)) {
    // The client certificates of the EER and EAS examples sit next to the root CA, under pki/.
    const pkiDir = dirname(net.manifest.trustAnchor);
    // The console: how to sign in (the operator's account, its generated password, the CA the browser must trust).
    const signIn =
      service === 'console'
        ? `   try: open ${url} and sign in as ${net.consoleOperator.username}, the password is in ${show(net.consoleOperator.passwordFile)} (the browser must trust ${cacert})`
        : undefined;
    const example = signIn
      ? signIn
      : examples[service]
        ? `   try: ${examples[service].replaceAll(net.manifest.trustAnchor, cacert).replaceAll(`${pkiDir}/`, `${show(pkiDir)}/`)}${examples[service].startsWith('npx ehmi') ? dataFlag : ''}`
        : '';
    writeLine(ctx.stdout, `${service.padEnd(width)}  ${url}${example}`);
  }
  writeLine(
    ctx.stdout,
    `ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${orgs.length} organisations (${orgs.map((o) => o.spec.name).join(', ')}), store ${net.engine}, ${net.how}, ${show(net.manifestFile)} (Ctrl-C stops)`,
  );
}

export function registerUp(program: Command, ctx: CliContext): void {
  program
    .command('up')
    .description(
      'start the local EHMI network (municipality, gp, hospital: an MSH and an access point each, or the organisations of --network FILE) and run until Ctrl-C; with --config or --port, one node as configured',
    )
    .option(
      '--network <file>',
      'the network description (JSON; its schema: ehmi up --print-schema) instead of the three organisations',
    )
    .option(
      '--processes',
      "run each organisation's node and the central node in a process of its own, as separate hosts would",
    )
    .option('--print-schema', 'print the JSON Schema of a network description (--network) and exit')
    .addOption(new Option('--only <part>', 'run one part of the network (internal: --processes)').hideHelp())
    .option('--data <dir>', 'data folder (keys, databases, network.json); default ./.ehmi')
    .option('--port-base <n>', 'first of the 50 consecutive ports the network uses (default 8700)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('-c, --config <file>', 'run one node from this configuration file (JSON) instead of the network')
    .option(
      '--port <port>',
      'run one node listening on this port (0 picks a free one) instead of the network',
    )
    .action(async (opts: UpOptions) => {
      if (opts.printSchema) {
        const { networkJsonSchema } = await import('@ehmi/network');
        writeLine(ctx.stdout, JSON.stringify(networkJsonSchema(), null, 2));
        return;
      }
      if (opts.config !== undefined || opts.port !== undefined || ctx.env.EHMI_CONFIG) {
        for (const [flag, given] of [
          ['--port-base', opts.portBase],
          ['--network', opts.network],
          ['--processes', opts.processes],
        ] as const)
          if (given !== undefined)
            throw new EhmiError(
              'EHMI_USAGE',
              `${flag} is for the local network, not with --config or --port`,
            );
        await upNode(opts, ctx);
        return;
      }
      await upNetwork(opts, ctx);
    });
}
