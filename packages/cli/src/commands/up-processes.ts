// `ehmi up --processes`: the central node and each organisation's node in a process of its own, as separate hosts
// would run them. The parent plans the network once (keys, secrets), starts the central node's process and waits
// until it is ready (its registers serve every organisation), then the organisations' processes, writes network.json
// and supervises: a stop request stops the organisations, then the central node; a child that ends by itself stops
// the network. Each child is `ehmi up --only PART` with the parent's description and flags: it plans the same
// network (reusing what the parent made) and runs its part.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EhmiError } from '@ehmi/errors';
import type { StartNetworkOptions } from '@ehmi/network';
import { type CliContext, writeLine } from '../context.ts';
import type { StartedNetwork } from './up.ts';

/** The `ehmi` program the children run. */
const BIN = fileURLToPath(new URL('../../bin/ehmi.js', import.meta.url));
/** The part name of the central node (`--only central`). */
const CENTRAL = 'central';

/** What a child tells its parent over the IPC channel once its part serves. */
interface ReadyMessage {
  type: 'ready';
}

function isReady(message: unknown): message is ReadyMessage {
  return typeof message === 'object' && message !== null && (message as ReadyMessage).type === 'ready';
}

/** A child process running one part of the network. */
interface Part {
  name: string;
  child: ChildProcess;
  /** Resolves once the child said it is ready; rejects if it ends before. */
  ready: Promise<void>;
  /** Resolves when the child has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Set once the parent asked it to stop. */
  stopping: boolean;
}

function exitWords(e: { code: number | null; signal: NodeJS.Signals | null }): string {
  return e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
}

/** Copy a child's output line by line, each line named by its part. */
function forward(stream: NodeJS.ReadableStream, to: NodeJS.WritableStream, name: string): void {
  createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) =>
    to.write(`[${name}] ${line}\n`),
  );
}

/**
 * `ehmi up ARGS --only NAME` in a process of its own, with its role's V8 flags and the node's environment
 * (`NODE_V8_FLAGS` or `CENTRAL_NODE_V8_FLAGS`, `nodeEnvironment` of @ehmi/server).
 */
function startPart(
  name: string,
  args: readonly string[],
  v8Flags: readonly string[],
  env: NodeJS.ProcessEnv,
  ctx: CliContext,
): Part {
  const child = spawn(process.execPath, [...v8Flags, BIN, 'up', ...args, '--only', name], {
    cwd: ctx.cwd,
    env,
    // Its own process group: a terminal's Ctrl-C reaches the parent alone, which stops the parts in order. The IPC
    // channel carries "ready", and its end tells the child that the parent is gone.
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true,
  });
  forward(child.stdout!, ctx.stdout, name);
  forward(child.stderr!, ctx.stderr, name);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (m) => {
      if (isReady(m)) resolve();
    });
    child.once('error', (err) =>
      reject(
        new EhmiError('EHMI_UNAVAILABLE', `${name} could not be started: ${err.message}`, { cause: err }),
      ),
    );
    void exited.then((e) =>
      reject(
        new EhmiError('EHMI_UNAVAILABLE', `${name} ${exitWords(e)} before it was ready (its output above)`),
      ),
    );
  });
  // Whoever waits on `ready` sees the rejection; this keeps one nobody waits on from being unhandled.
  ready.catch(() => {});
  return { name, child, ready, exited, stopping: false };
}

/** Ask a part to stop (SIGTERM: it closes its servers and workers) and wait until it has ended. */
async function stopPart(part: Part): Promise<void> {
  part.stopping = true;
  if (part.child.exitCode === null && part.child.signalCode === null) part.child.kill('SIGTERM');
  await part.exited;
}

/**
 * Start the network in processes and supervise it until `stop` resolves or a part ends by itself (then the others
 * are stopped and the command fails naming it). `print` is called once every part is ready and network.json is
 * written.
 */
export async function superviseNetwork(
  options: StartNetworkOptions,
  childArgs: readonly string[],
  ctx: CliContext,
  stop: Promise<void>,
  print: (net: Omit<StartedNetwork, 'consoleOperator'>) => void,
): Promise<void> {
  const network = await import('@ehmi/network');
  const { CENTRAL_NODE_V8_FLAGS, NODE_V8_FLAGS, nodeEnvironment } = await import('@ehmi/server');
  const env = nodeEnvironment(ctx.env);
  const undo = network.noteNetworkDataDir(options);
  const parts: Part[] = [];
  let stopRequested = false;
  void stop.then(() => {
    stopRequested = true;
  });
  // Stop the organisations first (their sends stop), then the central node: as startNetwork's close.
  const stopAll = async (): Promise<void> => {
    const central = parts.filter((p) => p.name === CENTRAL);
    await Promise.all(parts.filter((p) => p.name !== CENTRAL).map(stopPart));
    await Promise.all(central.map(stopPart));
  };
  // The first part to end by itself, or the stop request: whichever comes first ends the wait.
  const ended = (): Promise<Part | undefined> =>
    Promise.race([
      stop.then(() => undefined),
      ...parts.map((p) => p.exited.then(() => (p.stopping ? new Promise<never>(() => {}) : p))),
    ]);
  let plan: Awaited<ReturnType<typeof network.planNetwork>>;
  try {
    // Keys, secrets and the console operator's password are made here, once, before any child reads them.
    plan = await network.planNetwork({ ...options, discovery: 'smp', archive: options.archive !== false });
    const waitReady = async (starting: Part[]): Promise<void> => {
      const outcome = await Promise.race([
        Promise.all(starting.map((p) => p.ready)).then(() => 'ready' as const),
        stop.then(() => 'stop' as const),
      ]);
      if (outcome === 'stop') throw new EhmiError('EHMI_UNAVAILABLE', 'stopped while starting');
    };
    parts.push(startPart(CENTRAL, childArgs, CENTRAL_NODE_V8_FLAGS, env, ctx));
    await waitReady(parts);
    // The organisations and the document archive, each a participant with its own node.
    const organisations = [...plan.organisations, ...(plan.archive ? [plan.archive] : [])].map((o) =>
      startPart(o.spec.name, childArgs, NODE_V8_FLAGS, env, ctx),
    );
    parts.push(...organisations);
    await waitReady(organisations);
  } catch (err) {
    await stopAll();
    const left = undo();
    for (const path of left) writeLine(ctx.stderr, `ehmi: the failed start could not remove ${path}`);
    if (stopRequested) {
      writeLine(ctx.stdout, 'stopped');
      return;
    }
    throw err;
  }
  const manifestFile = network.writeNetworkManifest(plan.dataDir, plan.manifest);
  print({
    plan,
    manifest: plan.manifest,
    manifestFile,
    engine: options.databaseUrl ? 'postgres' : 'sqlite',
    how: `in ${parts.length} processes (pids ${parts.map((p) => `${p.name} ${p.child.pid}`).join(', ')})`,
  });
  const crashed = await ended();
  if (crashed) {
    const e = await crashed.exited;
    writeLine(
      ctx.stderr,
      `ehmi: ${crashed.name} (pid ${crashed.child.pid}) ${exitWords(e)}: stopping the network`,
    );
  }
  await stopAll();
  if (crashed) {
    const e = await crashed.exited;
    throw new EhmiError('EHMI_UNAVAILABLE', `the network stopped because ${crashed.name} ${exitWords(e)}`);
  }
  const failed = parts.filter((p) => p.child.exitCode !== 0);
  for (const p of failed)
    writeLine(
      ctx.stderr,
      `ehmi: ${p.name} ${exitWords({ code: p.child.exitCode, signal: p.child.signalCode })} while stopping`,
    );
  writeLine(ctx.stdout, 'stopped');
  if (failed.length > 0) ctx.exitCode = 1;
}

/**
 * Run one part of the network in this process (`ehmi up --only PART`, a child of `--processes`): `central` (the
 * CRL service and the central node, whose EER it seeds with the organisations, ready once the SMP serves them all),
 * an organisation's node, or the document archive's. Tells the parent when it is ready (IPC), then runs until asked to stop or until the
 * parent is gone.
 */
export async function runNetworkPart(
  part: string,
  options: StartNetworkOptions,
  ctx: CliContext,
): Promise<void> {
  const network = await import('@ehmi/network');
  const server = await import('@ehmi/server');
  const plan = await network.planNetwork({
    ...options,
    discovery: 'smp',
    archive: options.archive !== false,
  });
  const parentGone = new Promise<void>((resolve) => {
    if (process.connected) process.once('disconnect', () => resolve());
  });
  const stop = Promise.race([
    new Promise<void>((resolve) => {
      if (ctx.stopSignal.aborted) resolve();
      else ctx.stopSignal.addEventListener('abort', () => resolve(), { once: true });
    }),
    parentGone,
  ]);
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.reverse()) await close().catch(() => {});
  };
  try {
    if (part === CENTRAL) {
      const crl = await network.startCrlService({
        dataDir: plan.dataDir,
        host: plan.crl.host,
        port: plan.crl.port,
        logger: options.logger,
      });
      closers.push(() => crl.close());
      const central = await server.startNode(plan.central.config, options.logger.child({ org: CENTRAL }));
      closers.push(() => central.close());
      await network.seedNetworkRegisters(plan, {
        eerUrl: central.urls.eer!,
        logger: options.logger,
        progress: async () => (await central.queue.counts(server.PROPAGATE_QUEUE)).done,
      });
    } else {
      const participants = [...plan.organisations, ...(plan.archive ? [plan.archive] : [])];
      const o = participants.find((p) => p.spec.name === part);
      if (!o)
        throw new EhmiError(
          'EHMI_USAGE',
          `--only ${part}: no such part of the network (${[CENTRAL, ...participants.map((p) => p.spec.name)].join(', ')})`,
        );
      const node = await server.startNode(o.config, options.logger.child({ org: part }));
      closers.push(() => node.close());
    }
  } catch (err) {
    await closeAll();
    const e = err as NodeJS.ErrnoException & { port?: number };
    if (e?.code === 'EADDRINUSE')
      throw new EhmiError('EHMI_CONFIG_INVALID', `${part}: port ${e.port ?? '?'} is in use`, { cause: err });
    throw err;
  }
  if (process.send) process.send({ type: 'ready' } satisfies ReadyMessage);
  writeLine(ctx.stdout, `ready: ${part}`);
  await stop;
  await closeAll();
  writeLine(ctx.stdout, 'stopped');
  if (process.connected) process.disconnect();
}
