// EDS at scale: EHMI_BENCH_EDS_N delivery status events (default 1,000,000; `--quick` 100,000) seeded in bulk into
// one store, then over HTTP: searches by message id and by sender GLN (latency p50/p99 of single requests, one at a
// time) and ingest (validated creates, several at once: events per second), plus the store's own ingest rate
// (EdsRepository.create without the profile check), and the ingest in batch Bundles of 100 events (`POST [base]`).
// SQLite, and PostgreSQL when DATABASE_URL is set.
// `--json` prints one JSON object per engine (`eds.searchByMessageId.p99Ms`, …) instead of the lines.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { createEdsRole } from '../src/eds/index.ts';
import { EdsRepository, eventRows } from '../src/eds/repository.ts';
import { edsRole } from '../src/eds/role.ts';
import type { EdsTables } from '../src/eds/tables.ts';
import { roleContext } from '../src/node.ts';
import { loadConfig, openNodeStore } from '../src/role-list.ts';
import { JobQueue } from '../src/store/index.ts';

// EHMI_BENCH_QUICK and EHMI_BENCH_RESULT: the summary of `npm run bench` runs this file and reports what it writes
// to EHMI_BENCH_RESULT as `eds` (the figures of the first engine, and each engine's own under `engines`).
const QUICK = process.argv.includes('--quick') || process.env.EHMI_BENCH_QUICK === '1';
const RESULT_FILE = process.env.EHMI_BENCH_RESULT;
const results: Record<string, unknown>[] = [];
const JSON_OUT = process.argv.includes('--json');
const N = Number(process.env.EHMI_BENCH_EDS_N ?? (QUICK ? 100_000 : 1_000_000));
/** Organisations the events are spread over (each event: one sender, one receiver). */
const ORGS = 2_000;
/** Events per message (the steps of the step table one message leaves in EDS). */
const STEPS = 10;
const SEARCHES = 400;
const INGEST = QUICK ? 2_000 : 5_000;
const CONCURRENCY = 8;
/** Events per batch Bundle in the batch ingest (`POST [base]`), and batches in flight at once. */
const BATCH_SIZE = 100;
const BATCH_CONCURRENCY = 2;

const TEMPLATE = JSON.parse(
  readFileSync(new URL('../../../fixtures/eds/json/AuditEvent-EDS-PDS-02.2.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;
const OTHER_ID = 'http://medcomehmi.dk/ig/eds/StructureDefinition/eds-otherId';

const gln = (o: number) => `579${String(1_000_000_000 + o).slice(1)}0`;
const sor = (o: number) => String(100_000_000_000_000 + o);
const messageId = (m: number) => `urn:uuid:00000000-0000-4000-8000-${String(m).padStart(12, '0')}`;

/** Event `i`: message i/STEPS, step i%STEPS, between two of the organisations, a second apart. */
function event(i: number, salt = ''): Record<string, unknown> {
  const m = Math.floor(i / STEPS);
  const s = m % ORGS;
  const r = (m * 7 + 1) % ORGS;
  const [sender, receiver] = TEMPLATE.agent as Record<string, unknown>[];
  const party = (a: Record<string, unknown>, o: number) => ({
    ...a,
    name: `Organisation ${o}`,
    who: { identifier: { value: sor(o) } },
    extension: (a.extension as Record<string, unknown>[]).map((e) => ({
      ...e,
      url: OTHER_ID,
      valueIdentifier: { ...(e.valueIdentifier as Record<string, unknown>), value: gln(o) },
    })),
  });
  const entity = (TEMPLATE.entity as Record<string, unknown>[]).map((e) => {
    const code = (e.type as { code: string }).code;
    if (code === 'ehmiMessage') return { ...e, what: { identifier: { value: `${messageId(m)}${salt}` } } };
    if (code === 'ehmiPatient')
      return { ...e, what: { identifier: { value: String(1_000_000_000 + (m % 100_000)) } } };
    if (code === 'ehmiTransportEnvelope') return { ...e, what: { identifier: { value: `sbdh-${m}` } } };
    if (code === 'ehmiMessageEnvelope') return { ...e, what: { identifier: { value: `bundle-${m}` } } };
    return e;
  });
  const { id: _id, ...rest } = TEMPLATE;
  return {
    ...rest,
    agent: [party(sender!, s), party(receiver!, r)],
    entity,
    recorded: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function latencies(
  n: number,
  url: (i: number) => string,
): Promise<{ p50Ms: number; p99Ms: number; matches: number }> {
  const times: number[] = [];
  let matches = 0;
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    const res = await fetch(url(i), { headers: { accept: 'application/fhir+json' } });
    const body = (await res.json()) as { total?: number };
    if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(body).slice(0, 300)}`);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    matches += body.total ?? 0;
  }
  times.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    p50Ms: round(percentile(times, 50)),
    p99Ms: round(percentile(times, 99)),
    matches: Math.round(matches / n),
  };
}

async function pool(n: number, fn: (i: number) => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await fn(next++);
    }),
  );
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function run(label: string, databaseUrl: string | undefined): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ehmi-bench-eds-'));
  const schema = databaseUrl ? `bench_${randomBytes(4).toString('hex')}` : 'public';
  const store = await openNodeStore({ dataDir, databaseUrl, schema, poolSize: CONCURRENCY + 2 });
  const db = store.db as unknown as import('kysely').Kysely<EdsTables>;
  // Seed in bulk: the rows EDS writes for each event, many events per transaction.
  const seedStart = process.hrtime.bigint();
  const BATCH = 500;
  const now = Date.UTC(2026, 0, 1);
  for (let from = 0; from < N; from += BATCH) {
    const rows = Array.from({ length: Math.min(BATCH, N - from) }, (_, k) =>
      eventRows(event(from + k), now + from + k, `e${from + k}`),
    );
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows.length; i += 100) {
        await trx
          .insertInto('eds_events')
          .values(rows.slice(i, i + 100).map((r) => r.event))
          .execute();
      }
      const search = rows.flatMap((r) => r.search);
      for (let i = 0; i < search.length; i += 1000) {
        await trx
          .insertInto('eds_search')
          .values(search.slice(i, i + 1000))
          .execute();
      }
    });
  }
  if (databaseUrl) await store.db.executeQuery(sqlAnalyze());
  const seeded = Number(process.hrtime.bigint() - seedStart) / 1e9;

  const config = loadConfig({
    env: {},
    overrides: { dataDir, insecure: true, eds: { enabled: true, port: 0 } },
  });
  const queue = new JobQueue(store, {
    leaseMs: 30_000,
    maxAttempts: 5,
    backoffBaseMs: 100,
    backoffMaxMs: 1000,
  });
  const role = await createEdsRole(
    roleContext(edsRole, { config, store, queue, logger: pino({ level: 'silent' }) }),
  );
  await role.start();
  const messages = Math.floor(N / STEPS);
  const pick = (i: number) => Math.floor((i * 2_654_435_761) % messages);
  // Warm the connection and the validator.
  await latencies(20, (i) => `${role.url}/AuditEvent?message-id=${messageId(pick(i))}`);
  const byMessage = await latencies(
    SEARCHES,
    (i) => `${role.url}/AuditEvent?message-id=${encodeURIComponent(messageId(pick(i)))}`,
  );
  const byGln = await latencies(SEARCHES, (i) => `${role.url}/AuditEvent?sender-gln=${gln(pick(i) % ORGS)}`);

  const httpSeconds = await pool(INGEST, async (i) => {
    const res = await fetch(`${role.url}/AuditEvent`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' },
      body: JSON.stringify(event(i, '-http')),
    });
    if (res.status === 201) await res.text();
    if (res.status !== 201) throw new Error(`POST ${res.status}: ${await res.text()}`);
  });
  // The same, as a station's reporter sends under load: batch Bundles of BATCH_SIZE events.
  const batches = Math.ceil(INGEST / BATCH_SIZE);
  const batchStart = process.hrtime.bigint();
  let nextBatch = 0;
  await Promise.all(
    Array.from({ length: BATCH_CONCURRENCY }, async () => {
      while (nextBatch < batches) {
        const b = nextBatch++;
        const entry = Array.from({ length: Math.min(BATCH_SIZE, INGEST - b * BATCH_SIZE) }, (_, k) => ({
          resource: event(b * BATCH_SIZE + k, '-batch'),
          request: { method: 'POST', url: 'AuditEvent' },
        }));
        const res = await fetch(`${role.url}/`, {
          method: 'POST',
          headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' },
          body: JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry }),
        });
        const text = await res.text();
        const answers = (JSON.parse(text) as { entry?: { response: { status: string } }[] }).entry ?? [];
        if (res.status !== 200 || answers.some((a) => !a.response.status.startsWith('201'))) {
          throw new Error(`batch POST ${res.status}: ${text.slice(0, 500)}`);
        }
      }
    }),
  );
  const batchSeconds = Number(process.hrtime.bigint() - batchStart) / 1e9;
  const repository = new EdsRepository({ store: store as never });
  const storeSeconds = await pool(INGEST, async (i) => {
    const { created } = await repository.create(event(i, '-store'));
    if (!created) throw new Error('not created');
  });
  await role.close();
  const result = {
    engine: label,
    events: N,
    seededInBulk: true,
    seedSeconds: Math.round(seeded),
    eds: {
      searchByMessageId: { ...byMessage, requests: SEARCHES },
      searchBySenderGln: { ...byGln, requests: SEARCHES },
      ingest: {
        httpEventsPerSecond: Math.round(INGEST / httpSeconds),
        httpBatchEventsPerSecond: Math.round(INGEST / batchSeconds),
        batchSize: BATCH_SIZE,
        storeEventsPerSecond: Math.round(INGEST / storeSeconds),
        concurrency: CONCURRENCY,
      },
    },
  };
  results.push(result);
  if (JSON_OUT) console.log(JSON.stringify(result));
  else {
    console.log(
      `${label.padEnd(10)} ${N.toLocaleString('en')} events seeded in bulk (${result.seedSeconds} s${QUICK ? ', --quick' : ''}); ` +
        `search by message id p50 ${byMessage.p50Ms} ms p99 ${byMessage.p99Ms} ms (${byMessage.matches} matches); ` +
        `by sender GLN p50 ${byGln.p50Ms} ms p99 ${byGln.p99Ms} ms (${byGln.matches} matches, first page of 50); ` +
        `ingest ${result.eds.ingest.httpEventsPerSecond}/s over HTTP (validated), ` +
        `${result.eds.ingest.httpBatchEventsPerSecond}/s over HTTP in batches of ${BATCH_SIZE} (validated), ` +
        `${result.eds.ingest.storeEventsPerSecond}/s into the store`,
    );
  }
  await store.close();
  if (databaseUrl) {
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    await c.query(`DROP SCHEMA "${schema}" CASCADE`);
    await c.end();
  }
  await rm(dataDir, { recursive: true, force: true });
}

function sqlAnalyze() {
  return { sql: 'analyze', parameters: [], query: { kind: 'RawNode' } } as never;
}

await run('SQLite', undefined);
if (process.env.DATABASE_URL) await run('PostgreSQL', process.env.DATABASE_URL);
if (RESULT_FILE) {
  const first = results[0] as { eds: Record<string, unknown>; events: number; seededInBulk: boolean };
  const summary = {
    ...first.eds,
    events: first.events,
    seededInBulk: first.seededInBulk,
    engines: Object.fromEntries(results.map((r) => [String(r.engine).toLowerCase(), r.eds])),
  };
  writeFileSync(RESULT_FILE, JSON.stringify(summary));
}
