// Two organisations of the local network (municipality → gp), each node in a process of its own that the suite
// kills, restarts and starves; the EUAs are this process (the network's client), and a recorder writes what each
// was told. Built on the end-to-end tests' pair (planning, CRL service, client) and node processes.
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../src/role-list.ts';
import { type Engine, FAST, makePair, type NodeProcess, type Pair, spawnNode } from '../e2e/helpers.ts';
import { FaultProxy } from './proxy.ts';
import { Recorder } from './recorder.ts';
import type { Rng } from './rng.ts';

export const SENDER = 'municipality';
export const RECEIVER = 'gp';

/**
 * The nodes' settings under faults: a short job lease, so a restarted process takes over a killed one's jobs
 * soon; an AS4 exchange timeout longer than the proxy's stalls; reception awareness retrying for about two minutes
 * (100 sends, at most 1.5 s apart), longer than any fault the suite holds.
 */
export const FAULT_CONFIG = {
  ...FAST,
  log: { level: 'warn' as const },
  queue: { ...FAST.queue, leaseMs: 3000 },
  ap: {
    send: { maxAttempts: 100, backoffBaseMs: 200, backoffMaxMs: 1500, timeoutMs: 12_000 },
    handover: { maxAttempts: 1000, backoffBaseMs: 100, backoffMaxMs: 1000 },
  },
};

export class FaultNode {
  readonly org: string;
  readonly config: Config;
  readonly #cluster: FaultCluster;
  #process: NodeProcess | undefined;
  #expecting = false;
  readonly #log: string;

  constructor(cluster: FaultCluster, org: string, config: Config) {
    this.#cluster = cluster;
    this.org = org;
    this.config = config;
    this.#log = join(cluster.runDir, `${org}.log`);
  }

  get running(): boolean {
    return this.#process !== undefined;
  }

  get pid(): number | undefined {
    return this.#process?.child.pid;
  }

  /** Start the node's process and wait until it serves. */
  async start(): Promise<void> {
    if (this.#process) throw new Error(`${this.org} runs already`);
    const fd = openSync(this.#log, 'a');
    const p = spawnNode(this.config, { stderr: fd });
    closeSync(fd);
    this.#process = p;
    this.#expecting = false;
    void p.exited.then((why) => {
      const expected = this.#expecting && (why === 'SIGKILL' || why === 0);
      this.#cluster.recorder.write({
        kind: 'exit',
        org: this.org,
        why: expected ? String(why) : `${String(why)}${this.#cause()}`,
        expected,
        ...(expected ? {} : { log: this.#tail() }),
      });
      if (this.#process === p) this.#process = undefined;
      // A node that ended by itself is started again, as a service manager would: the error is counted, and the
      // messages still show whether anything was lost.
      if (!expected && !this.#cluster.closing)
        setTimeout(() => {
          if (!this.#process && !this.#cluster.closing) this.start().catch(() => {});
        }, 500);
    });
    await p.ready;
  }

  /** `kill -9`. */
  async kill(): Promise<void> {
    const p = this.#process;
    if (!p) return;
    this.#expecting = true;
    this.#process = undefined;
    p.child.kill('SIGKILL');
    await p.exited;
  }

  /** SIGTERM: the node closes and the process exits with 0 (anything else is an unhandled error). */
  async stop(): Promise<void> {
    const p = this.#process;
    if (!p) return;
    this.#expecting = true;
    this.#process = undefined;
    p.child.kill('SIGTERM');
    await p.exited;
  }

  /** The crash's own words: the first lines of the log that are not the node's JSON log lines. */
  #cause(): string {
    const lines = this.#tail()
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('{') && !/^\s+at /.test(l));
    return lines.length > 0 ? ` (${lines.slice(0, 2).join(' ').slice(0, 300)})` : '';
  }

  #tail(): string {
    try {
      return readFileSync(this.#log, 'utf8').split('\n').slice(-30).join('\n');
    } catch {
      return '';
    }
  }
}

export interface ClusterOptions {
  /** Put a fault proxy between the sending and the receiving AP, its faults drawn from this source. */
  proxy?: Rng;
  /** The receiver's data folder (a small file system of its own, for the disk-full fault). */
  receiverDataDir?: string;
}

export class FaultCluster {
  readonly pair: Pair;
  readonly runDir: string;
  /** The recorder of the fault under way (`phase`). */
  recorder: Recorder;
  readonly nodes: Record<string, FaultNode>;
  /** Inbox items the receiving EUA has seen, over all phases: each is recorded once, in the phase it came in. */
  readonly seenItems = new Set<string>();

  readonly proxy: FaultProxy | undefined;

  private constructor(pair: Pair, runDir: string, options: ClusterOptions, proxy: FaultProxy | undefined) {
    this.pair = pair;
    this.proxy = proxy;
    this.runDir = runDir;
    this.recorder = new Recorder(join(runDir, 'start.jsonl'));
    this.nodes = {};
    for (const org of [SENDER, RECEIVER]) {
      const config = structuredClone(pair.plan.organisations.find((o) => o.spec.name === org)!.config);
      if (org === SENDER && proxy) {
        const receiver = pair.plan.organisations.find((o) => o.spec.name === RECEIVER)!;
        const entry = config.ap.discovery.static[`0088:${receiver.spec.gln}`]!;
        entry.url = `${proxy.url}${new URL(entry.url).pathname.replace(/^\/$/, '')}`;
      }
      if (org === RECEIVER && options.receiverDataDir) config.dataDir = options.receiverDataDir;
      this.nodes[org] = new FaultNode(this, org, config);
    }
  }

  /** Plan the pair on `engine`; the records and the nodes' logs go to `runDir`. */
  static async create(engine: Engine, runDir: string, options: ClusterOptions = {}): Promise<FaultCluster> {
    mkdirSync(runDir, { recursive: true });
    const pair = await makePair(engine, FAULT_CONFIG);
    let proxy: FaultProxy | undefined;
    if (options.proxy) {
      const receiver = pair.plan.organisations.find((o) => o.spec.name === RECEIVER)!;
      const tls = pair.plan.pki.organisations[RECEIVER]!.tlsServer;
      proxy = new FaultProxy({
        target: receiver.urls.ap,
        cert: tls.cert,
        key: tls.key,
        ca: pair.plan.pki.trustAnchor,
        rng: options.proxy,
      });
      await proxy.listen();
    }
    return new FaultCluster(pair, runDir, options, proxy);
  }

  /** Begin a fault's phase: what the EUAs are told from now on goes to `<runDir>/<name>.jsonl`. */
  phase(name: string): Recorder {
    this.recorder = new Recorder(join(this.runDir, `${name}.jsonl`));
    return this.recorder;
  }

  get sender(): FaultNode {
    return this.nodes[SENDER]!;
  }

  get receiver(): FaultNode {
    return this.nodes[RECEIVER]!;
  }

  async start(): Promise<void> {
    await Promise.all([this.sender.start(), this.receiver.start()]);
  }

  /** Set once `close` began: no node is started again after that. */
  closing = false;

  /** Stop both nodes cleanly (an unclean exit is recorded), then remove the data. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([this.sender.stop(), this.receiver.stop()]);
    await this.proxy?.close();
    await this.pair.cleanup();
  }
}
