import { EhmiError } from '@ehmi/errors';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ConsoleApiDeps } from '../session.ts';
import { type MetricSample, parseMetrics, sum } from './metrics-text.ts';
import { seesNetwork, visibleOrganisations } from './organisations.ts';
import { readRegisters } from './registers.ts';

/** One reading of a node's counters (its own server's `/metrics`), for the charts of the last hour. */
interface Reading {
  at: number;
  requests: number;
  failures: number;
  /** The MSH's `ehmi_msh_receipt_seconds`: submit → EnvelopeReceipt of each receipted envelope. */
  receiptSum: number;
  receiptCount: number;
}

/** The charts span an hour; a reading is taken at most every 5 s, when someone looks at the health page. */
const WINDOW_MS = 3_600_000;
const MIN_GAP_MS = 5_000;

/**
 * What the console has read of each node's counters within the last hour. `/metrics` holds totals since the
 * process started, so a rate over time needs readings over time: the console keeps them in memory (no patient
 * data, a few hundred numbers per node).
 */
export class MetricsHistory {
  readonly #readings = new Map<string, Reading[]>();

  add(node: string, reading: Reading): void {
    const list = this.#readings.get(node) ?? [];
    const last = list[list.length - 1];
    if (last && reading.at - last.at < MIN_GAP_MS) return;
    list.push(reading);
    while (list.length > 0 && (list[0] as Reading).at < reading.at - WINDOW_MS) list.shift();
    this.#readings.set(node, list);
  }

  /** Per-minute rates between readings, on one time axis (seconds), a node's gaps as null. */
  series(nodes: string[]) {
    const times = new Set<number>();
    for (const n of nodes)
      for (const r of (this.#readings.get(n) ?? []).slice(1)) times.add(Math.round(r.at / 1000));
    const axis = [...times].sort((a, b) => a - b);
    return {
      times: axis,
      nodes: nodes.map((key) => {
        const list = this.#readings.get(key) ?? [];
        const at = new Map<number, { requests: number; failures: number; latencyMs: number | null }>();
        for (let i = 1; i < list.length; i++) {
          const a = list[i - 1] as Reading;
          const b = list[i] as Reading;
          const minutes = (b.at - a.at) / 60_000;
          // A restarted node's counters start again at zero: that interval is unknown, not negative.
          if (b.requests < a.requests) continue;
          // Latency is the network's as its users feel it: from each envelope's submission to its EnvelopeReceipt,
          // from the MSH's own histogram (not the answer time of any HTTP call).
          const count = b.receiptCount - a.receiptCount;
          at.set(Math.round(b.at / 1000), {
            requests: Math.round(((b.requests - a.requests) / minutes) * 10) / 10,
            failures: Math.round(((b.failures - a.failures) / minutes) * 10) / 10,
            latencyMs: count > 0 ? Math.round(((b.receiptSum - a.receiptSum) / count) * 10_000) / 10 : null,
          });
        }
        return {
          key,
          requests: axis.map((t) => at.get(t)?.requests ?? null),
          latencyMs: axis.map((t) => at.get(t)?.latencyMs ?? null),
          failures: axis.map((t) => at.get(t)?.failures ?? null),
        };
      }),
    };
  }
}

const ROLE_OF: Record<string, string> = { msh: 'MSH', ap: 'AP', node: 'node' };
const CENTRAL = ['eer', 'eas', 'smp', 'eds', 'auth'];

async function probe(request: FastifyRequest, service: string) {
  try {
    const res = await request.callApi(service, '/health', { headers: { accept: 'application/json' } });
    const body = (await res.json().catch(() => ({}))) as { status?: string; reason?: string };
    return res.ok
      ? { name: service, state: 'ok' as const }
      : { name: service, state: 'unavailable' as const, reason: body.reason ?? `status ${res.status}` };
  } catch (err) {
    if (err instanceof EhmiError && err.code === 'EHMI_UNAUTHORIZED') throw err;
    return { name: service, state: 'unavailable' as const, reason: (err as Error).message };
  }
}

async function metricsOf(request: FastifyRequest, service: string): Promise<MetricSample[] | string> {
  try {
    const res = await request.callApi(service, '/metrics', { headers: { accept: 'text/plain' } });
    if (!res.ok) return `status ${res.status}`;
    return parseMetrics(await res.text());
  } catch (err) {
    if (err instanceof EhmiError && err.code === 'EHMI_UNAUTHORIZED') throw err;
    return (err as Error).message;
  }
}

/**
 * Each node's health: its services' `/health`, its own server's `/metrics` (queue depths by status, failed
 * answers, request volume and answer time), and the access points' certificates from EER. The network operator sees
 * the central node and every organisation's; an organisation's user its own node.
 */
export function registerHealthRoutes(app: FastifyInstance, deps: ConsoleApiDeps): void {
  const history = new MetricsHistory();
  app.get('/health', async (request) => {
    const orgs = await visibleOrganisations(request, deps);
    const nodes: { key: string; name: string; services: string[] }[] = orgs.map((o) => ({
      key: o.key,
      name: o.name,
      services: Object.keys(deps.services).filter((s) => s.endsWith(`:${o.key}`)),
    }));
    if (seesNetwork(request.consoleUser)) {
      nodes.unshift({
        key: 'central',
        name: 'central',
        services: [
          ...CENTRAL.filter((s) => deps.services[s]),
          ...(deps.services['node:central'] ? ['node:central'] : []),
        ],
      });
    }
    const now = Date.now();
    const answers = await Promise.all(
      nodes.map(async (n) => {
        // Each server of a node has its own registry: the node's own server counts the queues, the MSH, AP and
        // central servers their requests. The SMP's read API is plain HTTP, where no token can be bound.
        const [services, readings] = await Promise.all([
          Promise.all(n.services.map((s) => probe(request, s))),
          Promise.all(n.services.filter((s) => s !== 'smp').map((s) => metricsOf(request, s))),
        ]);
        const read = readings.filter((r): r is MetricSample[] => typeof r !== 'string');
        const metrics =
          read.length > 0 ? read.flat() : (readings.find((r) => typeof r === 'string') ?? 'no metrics');
        const own = services.find((s) => s.name === `node:${n.key}`);
        const view = {
          key: n.key,
          name: n.name,
          roles: n.services
            .map((s) => ROLE_OF[s.split(':')[0] as string] ?? s.toUpperCase())
            .filter((r) => r !== 'node'),
          services,
          queues: [] as { queue: string; ready: number; running: number; dead: number }[],
          failures: 0,
          // The node's own server's /health is 503 when the database does not answer or the data folder refuses a write.
          database: own
            ? { state: own.state, ...(own.reason ? { reason: own.reason } : {}) }
            : { state: 'ok' as const },
          ...(typeof metrics === 'string' ? { metricsError: metrics } : {}),
        };
        if (typeof metrics !== 'string') {
          const queues = new Map<string, { queue: string; ready: number; running: number; dead: number }>();
          for (const s of metrics) {
            if (s.name !== 'ehmi_queue_jobs') continue;
            const q = s.labels.queue ?? '';
            const entry = queues.get(q) ?? { queue: q, ready: 0, running: 0, dead: 0 };
            const status = s.labels.status;
            if (status === 'ready' || status === 'running' || status === 'dead') entry[status] += s.value;
            queues.set(q, entry);
          }
          view.queues = [...queues.values()].sort((a, b) => a.queue.localeCompare(b.queue));
          const failures = sum(metrics, 'ehmi_http_requests_total', { status: (v) => v.startsWith('5') });
          view.failures = failures;
          history.add(n.key, {
            at: now,
            requests: sum(metrics, 'ehmi_http_requests_total'),
            failures,
            receiptSum: sum(metrics, 'ehmi_msh_receipt_seconds_sum'),
            receiptCount: sum(metrics, 'ehmi_msh_receipt_seconds_count'),
          });
        }
        return view;
      }),
    );
    let certificates: { name: string; certificate: unknown }[] = [];
    try {
      const registers = await readRegisters(request);
      certificates = registers.accessPoints
        .filter((a) => a.certificate)
        .map((a) => ({ name: a.name, certificate: a.certificate }));
    } catch (err) {
      if (err instanceof EhmiError && err.code === 'EHMI_UNAUTHORIZED') throw err;
    }
    return { nodes: answers, certificates, series: history.series(nodes.map((n) => n.key)) };
  });
}
