// EER over HTTP on one store: creates (validation against the EER profile + history + search index + commit) and
// searches (sor, name contains, gln through the endpoints, with _include). Reports requests per second on SQLite,
// and on PostgreSQL when DATABASE_URL is set. EHMI_BENCH_N organisations (default 300), each with an endpoint.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { createEerRole } from '../src/eer/index.ts';
import { eerRole } from '../src/eer/role.ts';
import { roleContext } from '../src/node.ts';
import { loadConfig, openNodeStore } from '../src/role-list.ts';
import { JobQueue } from '../src/store/index.ts';

const N = Number(process.env.EHMI_BENCH_N ?? 300);
const CONCURRENCY = 4;
const EER = 'http://medcomehmi.dk/ig/eer/StructureDefinition/';
const TERM = 'http://medcomehmi.dk/ig/terminology/CodeSystem/';

function gln(i: number): string {
  const body = `579${String(1_000_000_000 + i).slice(1)}`;
  let sum = 0;
  for (let k = 0; k < 12; k++) sum += Number(body[11 - k]) * (k % 2 === 0 ? 3 : 1);
  return `${body}${(10 - (sum % 10)) % 10}`;
}

const sor = (i: number) => String(100_000_000_000_000 + i);

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

async function ok(res: Response): Promise<void> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${res.status} ${text.slice(0, 300)}`);
}

async function run(label: string, databaseUrl: string | undefined): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ehmi-bench-eer-'));
  const schema = databaseUrl ? `bench_${randomBytes(4).toString('hex')}` : 'public';
  const store = await openNodeStore({ dataDir, databaseUrl, schema, poolSize: CONCURRENCY + 2 });
  // EER's write path without access tokens: the insecure development switch.
  const config = loadConfig({
    env: {},
    overrides: { dataDir, insecure: true, eer: { enabled: true, port: 0 } },
  });
  const queue = new JobQueue(store, {
    leaseMs: 30_000,
    maxAttempts: 5,
    backoffBaseMs: 100,
    backoffMaxMs: 1000,
  });
  const role = await createEerRole(
    roleContext(eerRole, { config, store, queue, logger: pino({ level: 'silent' }) }),
  );
  await role.start();
  const put = (r: Record<string, unknown>) =>
    fetch(`${role.url}/${r.resourceType}/${r.id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' },
      body: JSON.stringify(r),
    }).then(ok);
  const created = await pool(N, async (i) => {
    await put({
      resourceType: 'Organization',
      id: `org-${i}`,
      meta: { profile: [`${EER}Eer.Messaging.Organization`] },
      identifier: [{ system: 'urn:oid:1.2.208.176.1.1', value: sor(i) }],
      type: [{ coding: [{ system: `${TERM}eer-sor-organization-type`, code: 'OU' }] }],
      name: `Bench organisation ${i}`,
      endpoint: [{ reference: `Endpoint/ep-${i}` }],
    });
    await put({
      resourceType: 'Endpoint',
      id: `ep-${i}`,
      meta: { profile: [`${EER}eer.dk.endpoint.messaging`] },
      identifier: [{ system: 'http://www.gs1.org/gln', value: gln(i) }],
      status: 'active',
      connectionType: { system: `${TERM}eer-endpoint-connection-type`, code: 'EerMessagingEdeliveryFhir' },
      managingOrganization: { reference: `Organization/org-${i}` },
      period: { start: '2025-01-01' },
      payloadType: [
        {
          coding: [
            {
              system: `${TERM}ehmi-message-definition-uri`,
              code: 'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message::1.2',
            },
          ],
        },
      ],
      payloadMimeType: ['application/fhir+xml'],
      address: 'https://ap.example/as4',
    });
  });
  const queries = [
    (i: number) => `Organization?sor=${sor(i)}&_include=Organization:endpoint`,
    (i: number) => `Organization?name=organisation%20${i}`,
    (i: number) => `Organization?gln=${gln(i)}`,
  ];
  const timings: string[] = [];
  for (const [name, q] of [
    ['sor+_include', queries[0]!],
    ['name', queries[1]!],
    ['gln via endpoint', queries[2]!],
  ] as const) {
    const t = await pool(N, async (i) => {
      await fetch(`${role.url}/${q(i)}`).then(ok);
    });
    timings.push(`${name} ${(N / t).toFixed(0)}/s`);
  }
  console.log(
    `${label.padEnd(12)} ${2 * N} validated creates in ${created.toFixed(2)} s = ${((2 * N) / created).toFixed(0)}/s; ` +
      `searches over ${N} organisations: ${timings.join(', ')}`,
  );
  await role.close();
  await store.close();
  if (databaseUrl) {
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    await c.query(`DROP SCHEMA "${schema}" CASCADE`);
    await c.end();
  }
  await rm(dataDir, { recursive: true, force: true });
}

await run('SQLite', undefined);
if (process.env.DATABASE_URL) await run('PostgreSQL', process.env.DATABASE_URL);
