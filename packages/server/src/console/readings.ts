// The health page's readings of the nodes' counters: written by the console's sampler (`sampler.ts`), read as
// per-minute series by the health route (`api/health.ts`). Table `console_readings` (`tables.ts`).
import type { ConsoleStore } from './tables.ts';

/** A node's counters at one time: sums over its servers' `/metrics`. */
export interface Counters {
  requests: number;
  failures: number;
  /** The MSH's `ehmi_msh_receipt_seconds`: submit → EnvelopeReceipt of each receipted envelope. */
  receiptSum: number;
  receiptCount: number;
}

/** One reading: the counters, or null when the node did not answer (a gap in its charts). */
export interface Reading {
  at: number;
  counters: Counters | null;
}

/** One node's series on the common time axis: per-minute rates between readings, a gap as null. */
export interface NodeSeries {
  key: string;
  requests: (number | null)[];
  latencyMs: (number | null)[];
  failures: (number | null)[];
}

/** The charts' data: one time axis (epoch seconds) and each node's series on it. */
export interface Series {
  times: number[];
  nodes: NodeSeries[];
}

/** The durable readings of the console role, on SQLite and PostgreSQL alike. */
export class ConsoleReadings {
  constructor(private readonly store: ConsoleStore) {}

  /** Record a reading of `node` (a second reading at the same millisecond, by another instance, is dropped). */
  async add(node: string, reading: Reading): Promise<void> {
    const c = reading.counters;
    await this.store.db
      .insertInto('console_readings')
      .values({
        node,
        at: reading.at,
        requests: c?.requests ?? null,
        failures: c?.failures ?? null,
        receipt_sum: c?.receiptSum ?? null,
        receipt_count: c?.receiptCount ?? null,
      })
      .onConflict((oc) => oc.columns(['node', 'at']).doNothing())
      .execute();
  }

  /** The readings of `nodes` at or after `from`, oldest first, by node. */
  async since(nodes: readonly string[], from: number): Promise<Map<string, Reading[]>> {
    const out = new Map<string, Reading[]>(nodes.map((n) => [n, []]));
    if (nodes.length === 0) return out;
    const rows = await this.store.db
      .selectFrom('console_readings')
      .selectAll()
      .where('node', 'in', [...nodes])
      .where('at', '>=', from)
      .orderBy('at')
      .execute();
    for (const r of rows) {
      const counters =
        r.requests === null || r.failures === null || r.receipt_sum === null || r.receipt_count === null
          ? null
          : {
              requests: Number(r.requests),
              failures: Number(r.failures),
              receiptSum: Number(r.receipt_sum),
              receiptCount: Number(r.receipt_count),
            };
      out.get(r.node)?.push({ at: Number(r.at), counters });
    }
    return out;
  }

  /** Delete the readings older than `before`; how many went. */
  async purge(before: number): Promise<number> {
    const result = await this.store.db
      .deleteFrom('console_readings')
      .where('at', '<', before)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

/**
 * Per-minute rates between consecutive readings of each node, on one time axis (seconds): an interval next to a
 * gap (the node did not answer) or across a restart (its counters went down) is unknown, so null.
 */
export function seriesOf(
  readings: ReadonlyMap<string, readonly Reading[]>,
  nodes: readonly string[],
): Series {
  const perNode = nodes.map((key) => {
    const list = readings.get(key) ?? [];
    const at = new Map<number, { requests: number; failures: number; latencyMs: number | null } | null>();
    for (let i = 1; i < list.length; i++) {
      const a = (list[i - 1] as Reading).counters;
      const bReading = list[i] as Reading;
      const b = bReading.counters;
      const t = Math.round(bReading.at / 1000);
      // A restarted node's counters start again at zero: that interval is unknown, not negative.
      if (!a || !b || b.requests < a.requests) {
        at.set(t, null);
        continue;
      }
      const minutes = (bReading.at - (list[i - 1] as Reading).at) / 60_000;
      // Latency is the network's as its users feel it: from each envelope's submission to its EnvelopeReceipt,
      // from the MSH's own histogram (not the answer time of any HTTP call).
      const count = b.receiptCount - a.receiptCount;
      at.set(t, {
        requests: Math.round(((b.requests - a.requests) / minutes) * 10) / 10,
        failures: Math.round(((b.failures - a.failures) / minutes) * 10) / 10,
        latencyMs: count > 0 ? Math.round(((b.receiptSum - a.receiptSum) / count) * 10_000) / 10 : null,
      });
    }
    return { key, at };
  });
  const times = [...new Set(perNode.flatMap((n) => [...n.at.keys()]))].sort((x, y) => x - y);
  return {
    times,
    nodes: perNode.map(({ key, at }) => ({
      key,
      requests: times.map((t) => at.get(t)?.requests ?? null),
      latencyMs: times.map((t) => at.get(t)?.latencyMs ?? null),
      failures: times.map((t) => at.get(t)?.failures ?? null),
    })),
  };
}
