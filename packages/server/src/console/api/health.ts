import { EhmiError } from '@ehmi/errors';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Series, seriesOf } from '../readings.ts';
import { consoleNodes, meteredServices } from '../sampler.ts';
import type { ConsoleApiDeps } from '../session.ts';
import { type MetricSample, parseMetrics, sum } from './metrics-text.ts';
import { seesNetwork, visibleOrganisations } from './organisations.ts';
import { readRegisters } from './registers.ts';

const ROLE_OF: Record<string, string> = { msh: 'MSH', ap: 'AP', node: 'node', archive: 'Archive' };

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
 * answers), the access points' certificates from EER, all read as the signed-in person; and the charts of the last
 * hour from the console's own readings (`console_readings`, taken by its sampler whether anyone looks or not). The
 * network operator sees the central node, the document archive's and every organisation's; an organisation's user
 * its own node.
 */
export function registerHealthRoutes(app: FastifyInstance, deps: ConsoleApiDeps): void {
  app.get('/health', async (request) => {
    const names = new Map((await visibleOrganisations(request, deps)).map((o) => [o.key, o.name]));
    const network = seesNetwork(request.consoleUser);
    // The central node's and the archive's are the network's: the operator's to see, no organisation's user's.
    const nodes = consoleNodes(deps.services).flatMap((n) => {
      if (!n.organisation) return network ? [{ ...n, name: n.key }] : [];
      const name = names.get(n.key);
      return name === undefined ? [] : [{ ...n, name }];
    });
    const answers = await Promise.all(
      nodes.map(async (n) => {
        // Each server of a node has its own registry: the node's own server counts the queues, the MSH, AP and
        // central servers their requests. The SMP's read API is plain HTTP, where no token can be bound.
        const [services, readings] = await Promise.all([
          Promise.all(n.services.map((s) => probe(request, s))),
          Promise.all(meteredServices(n).map((s) => metricsOf(request, s))),
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
    return {
      nodes: answers,
      certificates,
      series: await seriesFor(
        deps,
        nodes.map((n) => n.key),
      ),
    };
  });
}

/** The charts of `nodes` (those the user sees) from the stored readings of the last `history.spanMs`. */
async function seriesFor(deps: ConsoleApiDeps, nodes: string[]): Promise<Series> {
  if (!deps.history) return seriesOf(new Map(), nodes);
  const readings = await deps.history.readings.since(nodes, Date.now() - deps.history.spanMs);
  return seriesOf(readings, nodes);
}
