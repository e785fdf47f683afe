// The console's own readings of every node's counters, for the health page's charts of the last hour: on an
// interval, whether anyone looks or not, with a token of the console's own client (never a person's).
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { linkSignal } from '../abort.ts';
import { parseMetrics, sum } from './api/metrics-text.ts';
import { ARCHIVE_NODE, organisationKeys } from './api/organisations.ts';
import type { ConsoleReadings, Counters } from './readings.ts';

/** The central node's services the health page shows, beside its own server (`node:central`). */
export const CENTRAL_SERVICES = ['eer', 'eas', 'smp', 'eds', 'auth'];

/** A node of the network as the console knows it from its services: its key and the services that are its. */
export interface ConsoleNode {
  /** `central`, `archive`, or an organisation's key (`msh:<key>`, `ap:<key>`, `node:<key>`). */
  key: string;
  services: string[];
  /** An organisation's node (its users see it); the central node and the archive's are the network's. */
  organisation: boolean;
}

/** The central node's services among the console's (those it runs), `node:central` last. */
export function centralServices(services: Readonly<Record<string, string>>): string[] {
  return [
    ...CENTRAL_SERVICES.filter((s) => services[s]),
    ...(services['node:central'] ? ['node:central'] : []),
  ];
}

/** An organisation's services among the console's: `msh:<key>`, `ap:<key>`, `node:<key>`. */
export function organisationServices(services: Readonly<Record<string, string>>, key: string): string[] {
  return Object.keys(services).filter((s) => s.endsWith(`:${key}`));
}

/** The document archive's services among the console's: its FHIR API, access point and own server; none without it. */
export function archiveServices(services: Readonly<Record<string, string>>): string[] {
  if (!services[ARCHIVE_NODE]) return [];
  return [ARCHIVE_NODE, `ap:${ARCHIVE_NODE}`, `node:${ARCHIVE_NODE}`].filter((s) => services[s]);
}

/**
 * The nodes of the network from the console's services, for the health page and the sampler alike: the central
 * node, the archive's when there is one, then each organisation's.
 */
export function consoleNodes(services: Readonly<Record<string, string>>): ConsoleNode[] {
  const archive = archiveServices(services);
  return [
    { key: 'central', services: centralServices(services), organisation: false },
    ...(archive.length > 0 ? [{ key: ARCHIVE_NODE, services: archive, organisation: false }] : []),
    ...[...organisationKeys({ services })].map(([key]) => ({
      key,
      services: organisationServices(services, key),
      organisation: true,
    })),
  ];
}

/**
 * The services whose `/metrics` make a node's counters: every one but the SMP's read API, which is plain HTTP
 * (where no token can be bound to a certificate, so its `/metrics` is served to no one).
 */
export function meteredServices(node: Pick<ConsoleNode, 'services'>): string[] {
  return node.services.filter((s) => s !== 'smp');
}

/** A node's counters from its servers' `/metrics` (each server has its own registry: they add up). */
export function countersOf(texts: readonly string[]): Counters {
  const samples = texts.flatMap((t) => parseMetrics(t));
  return {
    requests: sum(samples, 'ehmi_http_requests_total'),
    failures: sum(samples, 'ehmi_http_requests_total', { status: (v) => v.startsWith('5') }),
    receiptSum: sum(samples, 'ehmi_msh_receipt_seconds_sum'),
    receiptCount: sum(samples, 'ehmi_msh_receipt_seconds_count'),
  };
}

export interface MetricsSamplerOptions {
  readings: ConsoleReadings;
  /** The nodes to read, each round. */
  nodes: () => readonly Pick<ConsoleNode, 'key' | 'services'>[];
  /**
   * A service's `/metrics` text; throws when the service does not answer it (down, refusing, not 2xx). `signal`
   * aborts when the read takes longer than the round's limit or the sampler stops: a server that takes the
   * connection and never answers costs a gap, never a round that does not end.
   */
  read: (service: string, signal: AbortSignal) => Promise<string>;
  /** Between the starts of two rounds. */
  intervalMs: number;
  /** Readings older than this are deleted at each round. */
  retentionMs: number;
  logger: Logger;
  now?: () => number;
}

/** What one round did: each node's reading (a gap with why), and how many old readings were deleted. */
export interface SampleRound {
  at: number;
  nodes: { key: string; ok: boolean; reason?: string }[];
  purged: number;
}

/**
 * Reads every node's counters on an interval and stores them (`console_readings`), deleting what is older than the
 * retention. A node that does not answer (any of its servers) is recorded as a gap; no failure of a round, the
 * database's included, stops the sampler or the console. Emits `sampled` with each {@link SampleRound}.
 */
export class MetricsSampler extends EventEmitter<{ sampled: [SampleRound] }> {
  readonly #o: MetricsSamplerOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;
  /** The nodes whose last reading was a gap, and those read at least once. */
  readonly #down = new Set<string>();
  readonly #read = new Set<string>();
  /** Aborts the reads of the round under way when the sampler stops. */
  #round = new AbortController();

  constructor(options: MetricsSamplerOptions) {
    super();
    this.#o = options;
  }

  /** One round now: read every node, store, purge. */
  async sample(): Promise<SampleRound> {
    const now = this.#o.now ?? Date.now;
    const at = now();
    // A read may take the interval (at most 10 s), then that node's reading is a gap.
    const { signal, unlink } = linkSignal(
      AbortSignal.timeout(Math.min(this.#o.intervalMs, 10_000)),
      this.#round.signal,
    );
    let nodes: SampleRound['nodes'];
    try {
      // Every read settles before the round's signal is let go, so that stop() aborts each one still running.
      const settled = await Promise.allSettled(
        this.#o.nodes().map(async (node) => {
          const services = meteredServices(node);
          try {
            if (services.length === 0) throw new Error('no service of the node serves /metrics');
            const counters = countersOf(await Promise.all(services.map((s) => this.#o.read(s, signal))));
            await this.#o.readings.add(node.key, { at, counters });
            if (this.#down.delete(node.key) && this.#read.has(node.key)) {
              this.#o.logger.info({ node: node.key }, 'node metrics read again');
            }
            this.#read.add(node.key);
            return { key: node.key, ok: true };
          } catch (err) {
            const reason = (err as Error).message;
            await this.#o.readings.add(node.key, { at, counters: null });
            if (!this.#down.has(node.key)) {
              this.#down.add(node.key);
              // A node not read yet is most likely starting after the console (`ehmi up` starts the central node
              // first): said quietly; a node that answered before and no longer does is worth a warning.
              const level = this.#read.has(node.key) ? 'warn' : 'debug';
              this.#o.logger[level]({ node: node.key, reason }, 'node metrics not read: a gap in its charts');
            }
            return { key: node.key, ok: false, reason };
          }
        }),
      );
      nodes = settled.map((s) => {
        if (s.status === 'rejected') throw s.reason;
        return s.value;
      });
    } finally {
      unlink();
    }
    const purged = await this.#o.readings.purge(at - this.#o.retentionMs);
    const round = { at, nodes, purged };
    this.emit('sampled', round);
    return round;
  }

  /** Sample now and then every `intervalMs` (a round that takes longer delays the next; rounds never overlap). */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#round = new AbortController();
    const tick = () => {
      const started = Date.now();
      this.#running = this.sample()
        .then(() => undefined)
        .catch((err) => this.#o.logger.error({ err }, 'console metrics sampling failed'))
        .finally(() => {
          this.#running = undefined;
          if (this.#stopped) return;
          this.#timer = setTimeout(tick, Math.max(0, this.#o.intervalMs - (Date.now() - started)));
          this.#timer.unref();
        });
    };
    tick();
  }

  /** Stop sampling; the reads of a round under way are aborted, and this resolves once that round has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#round.abort(new Error('the console is stopping'));
    await this.#running;
  }
}
