// The cost of the audit log per call (src/audit/):
// 1. the time per HTTP call with and without the audit hook (fastify inject, no network: what the hook adds on
//    the hot path: building the record and buffering it), and a lookup flagged for MinLog (written before the
//    answer, one commit per call);
// 2. the rate the buffer is written at (one multi-row insert per batch) on SQLite, and PostgreSQL when DATABASE_URL
//    is set. EHMI_BENCH_N sets the call count (default 20,000).
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { AuditLog } from '../src/audit/log.ts';
import { createHttpServer, noteAudit } from '../src/http/index.ts';
import { storeView } from '../src/store/index.ts';
import { engines } from '../test/helpers/engines.ts';

const N = Number(process.env.EHMI_BENCH_N ?? 20_000);
const logger = pino({ level: 'silent' });

async function server(log: AuditLog | undefined): Promise<FastifyInstance> {
  const app = await createHttpServer({
    service: 'bench',
    logger,
    bodyLimitBytes: 1024 * 1024,
    metricsAccess: async () => {},
    ...(log ? { audit: { log, node: 'bench-node' } } : {}),
  });
  app.get('/messages/:id', async (request) => {
    noteAudit(request, { patient: '0101011234' });
    return { id: (request.params as { id: string }).id };
  });
  app.post('/lookup', async (request) => {
    noteAudit(request, { patient: '0101011234', minlog: true, operation: '$lookup' });
    return { ok: true };
  });
  await app.ready();
  return app;
}

async function perCall(
  app: FastifyInstance,
  n: number,
  method: 'GET' | 'POST',
  url: string,
): Promise<number> {
  for (let i = 0; i < 200; i++) await app.inject({ method, url });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await app.inject({ method, url: url.replace(':i', String(i)) });
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

for (const engine of engines()) {
  if (engine.skip) {
    console.log(`${engine.name}: skipped (${engine.skip})`);
    continue;
  }
  const ts = await engine.open();
  try {
    // Alternating rounds, the fastest of each kept: the machine is shared, and the difference is small.
    const log = new AuditLog(storeView(ts.store), { logger });
    log.start();
    const bare = await server(undefined);
    const audited = await server(log);
    const rounds = 7;
    const per = Math.ceil(N / rounds);
    let without = Number.POSITIVE_INFINITY;
    let withAudit = Number.POSITIVE_INFINITY;
    for (let r = 0; r < rounds; r++) {
      without = Math.min(without, await perCall(bare, per, 'GET', '/messages/m-:i?_format=json'));
      withAudit = Math.min(withAudit, await perCall(audited, per, 'GET', '/messages/m-:i?_format=json'));
    }
    await log.flush();
    const minlogN = Math.min(N, 2000);
    const minlog = await perCall(audited, minlogN, 'POST', '/lookup');
    await bare.close();
    await audited.close();
    await log.close();

    // The writer alone: N records buffered, then written in batches of 500.
    const writer = new AuditLog(storeView(ts.store), { logger, bufferLimit: N + 1 });
    const [template] = await writer.search({ limit: 1 });
    for (let i = 0; i < N; i++) writer.add({ ...template!, id: `bench-${i}` });
    const t0 = process.hrtime.bigint();
    await writer.flush();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    await writer.close();

    console.log(
      `${engine.name}: ${N} calls (inject): ${without.toFixed(1)} µs/call without audit, ${withAudit.toFixed(1)} µs/call with (+${(withAudit - without).toFixed(1)} µs); ` +
        `MinLog lookup (written before the answer): ${minlog.toFixed(0)} µs/call over ${minlogN}; ` +
        `buffer written at ${Math.round(N / seconds)} records/s (batches of 500)`,
    );
  } finally {
    await ts.cleanup();
  }
}
