// The node's audit log (src/audit/): every call to a server of the node recorded with its true outcome, who called
// and about whom; the operator's FHIR search on the node's own server (certificate-bound token, own scope); retention;
// durability across a restart; a bounded buffer when the database is down; MinLog records written before the answer.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { type Agent, fetch } from 'undici';
import { MINLOG_CODE, MINLOG_SYSTEM } from '../../src/audit/event.ts';
import type { AuditLog } from '../../src/audit/log.ts';
import type { AuditRecord } from '../../src/audit/record.ts';
import { AUDIT_SCOPE } from '../../src/audit/search.ts';
import type { AuthRole } from '../../src/auth/index.ts';
import { createHttpServer, listen, noteAudit } from '../../src/http/index.ts';
import { type RunningNode, startNode } from '../../src/node.ts';
import { loadConfig, openNodeStore, ROLE_MIGRATIONS } from '../../src/role-list.ts';
import { openStore } from '../../src/store/index.ts';
import { authConfig, CLIENT_DN, requestToken, startAuth, type TestPki, testPki } from '../auth/helpers.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { allRecords, testAudit } from './helpers.ts';

type Json = Record<string, unknown>;
const engine = engines()[0]!;
const CPR = '1808764667';
const OPERATOR_DN = 'CN=stranger, O=Other, C=DK';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

/** A server of the node with routes that answer as told: the hook records what they answer. */
async function testServer(log: AuditLog): Promise<{ app: FastifyInstance; url: string }> {
  const app = await createHttpServer({
    service: 'test',
    logger: pino({ level: 'silent' }),
    bodyLimitBytes: 1024,
    metricsAccess: async () => {},
    audit: { log, node: 'test-node' },
  });
  app.get('/patients/:cpr', async (request) => {
    noteAudit(request, { patient: (request.params as { cpr: string }).cpr });
    return { ok: true };
  });
  app.get('/broken', async () => {
    throw new Error('a bug');
  });
  app.post('/lookup', async (request) => {
    noteAudit(request, { minlog: true, patient: CPR, operation: '$lookup' });
    return { ok: true };
  });
  app.get('/Organization/:id', async () => ({ resourceType: 'Organization' }));
  const url = await listen(app, { host: '127.0.0.1', port: 0, https: false });
  return { app, url };
}

describe('the audit log of a node', () => {
  let ts: TestStore;
  let pki: TestPki;
  let auth: AuthRole;
  let node: RunningNode;
  let dataDir: string;
  let nodeUrl: string;
  let operator: Agent;
  let client: Agent;
  let startConfig: () => ReturnType<typeof loadConfig>;

  const tokenOf = async (agent: Agent, clientId: string) => {
    const t = await requestToken(auth.url, agent, {
      client_id: clientId,
      scope: AUDIT_SCOPE,
      resource: nodeUrl,
    });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    return String(t.body.access_token);
  };
  const search = async (
    agent: Agent,
    query: string,
    token?: string,
    headers: Record<string, string> = {},
  ) => {
    const res = await fetch(`${nodeUrl}/audit/AuditEvent${query}`, {
      dispatcher: agent,
      headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
    const text = await res.text();
    return {
      status: res.status,
      requestId: res.headers.get('x-request-id'),
      challenge: res.headers.get('www-authenticate'),
      body: (text ? JSON.parse(text) : {}) as Json,
    };
  };
  const events = (bundle: Json) =>
    ((bundle.entry as Json[] | undefined) ?? []).map((e) => e.resource as Json);
  /**
   * The events a search finds once the calls it looks for are recorded. A call is recorded when its answer has left
   * (fastify's onResponse), which can be just after the client has read it: flush and search until they are there.
   */
  const recorded = async (query: string, token: string): Promise<Json[]> => {
    for (let attempt = 0; ; attempt++) {
      await node.audit.flush();
      const found = events((await search(operator, query, token)).body);
      if (found.length > 0 || attempt >= 200) return found;
      await new Promise((resolve) => setImmediate(resolve));
    }
  };

  before(async () => {
    pki = await testPki();
    ts = await engine.open();
    dataDir = await mkdtemp(join(tmpdir(), 'ehmi-audit-'));
    const port = await freePort();
    nodeUrl = `https://127.0.0.1:${port}`;
    auth = await startAuth(
      ts,
      pki,
      authConfig(ts, {
        resources: { [nodeUrl]: AUDIT_SCOPE },
        clients: [
          { clientId: 'operator', subjectDn: OPERATOR_DN, scope: AUDIT_SCOPE },
          // Registered for the scope, but not one of the node's operator clients.
          { clientId: 'msh-gp', subjectDn: CLIENT_DN, scope: AUDIT_SCOPE },
        ],
      }),
    );
    await writeFile(join(dataDir, 'key.pem'), pki.server.privateKeyPem);
    await writeFile(join(dataDir, 'cert.pem'), pki.server.certificatePem);
    await writeFile(join(dataDir, 'ca.pem'), pki.caPem);
    startConfig = () =>
      loadConfig({
        env: {},
        overrides: {
          dataDir,
          http: { port },
          log: { level: 'silent' },
          tls: {
            key: join(dataDir, 'key.pem'),
            cert: join(dataDir, 'cert.pem'),
            ca: [join(dataDir, 'ca.pem')],
          },
          authorization: { issuer: auth.issuer, operatorClients: ['operator'] },
          audit: { flushIntervalMs: 50 },
        },
      });
    node = await startNode(startConfig(), pino({ level: 'silent' }));
    operator = pki.agent(pki.stranger);
    client = pki.agent(pki.client);
  });
  after(async () => {
    await node?.close();
    await auth?.close();
    await operator?.close();
    await client?.close();
    await pki?.anonymous.close();
    await ts?.cleanup();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('the operator searches it; a call without a token gets 401, a client not the operator 403, each recorded as a failure with who tried', async () => {
    const none = await search(client, '');
    assert.equal(none.status, 401);
    assert.equal(none.challenge, `Bearer scope="${AUDIT_SCOPE}"`);
    const notOperator = await search(client, '', await tokenOf(client, 'msh-gp'));
    assert.equal(notOperator.status, 403, JSON.stringify(notOperator.body));
    const token = await tokenOf(operator, 'operator');
    const first = await search(operator, '?_count=5', token);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.resourceType, 'Bundle');
    assert.equal(first.body.type, 'searchset');

    const refused = await recorded(`?request-id=${none.requestId}`, token);
    assert.equal(refused.length, 1);
    assert.equal(refused[0]!.outcome, '4');
    assert.match(String(refused[0]!.outcomeDesc), /HTTP 401 EHMI_UNAUTHORIZED/);
    const caller = (refused[0]!.agent as Json[])[0]!;
    assert.equal(caller.name, CLIENT_DN);
    assert.equal((caller.network as Json).address, '127.0.0.1');

    const forbidden = await recorded('?agent=msh-gp&outcome=4', token);
    assert.equal(forbidden.length, 1);
    assert.deepEqual((forbidden[0]!.agent as Json[])[0]!.who, {
      identifier: { system: 'urn:ietf:params:oauth:client-id', value: 'msh-gp' },
    });
    assert.match(String(forbidden[0]!.outcomeDesc), /HTTP 403 EHMI_FORBIDDEN/);

    // Reading the audit log is itself audited: the operator's first search, a success.
    const reads = await recorded(`?request-id=${first.requestId}`, token);
    assert.equal(reads.length, 1);
    assert.equal(reads[0]!.outcome, '0');
    assert.deepEqual(reads[0]!.subtype, [
      { system: 'http://hl7.org/fhir/restful-interaction', code: 'search-type' },
    ]);
    assert.equal(reads[0]!.action, 'R');
    const query = (reads[0]!.entity as Json[]).find((e) => (e.role as Json | undefined)?.code === '24');
    assert.equal(Buffer.from(String(query?.query), 'base64').toString(), '_count=5');
    assert.equal((reads[0]!.source as Json).observer !== undefined, true);
  });

  it('X-Request-Id: a sane one is kept and echoed, and names the record; another is replaced by a UUID', async () => {
    const token = await tokenOf(operator, 'operator');
    const kept = await search(operator, '', token, { 'x-request-id': 'client-req.42' });
    assert.equal(kept.requestId, 'client-req.42');
    const replaced = await search(operator, '', token, { 'x-request-id': `bad id ${'x'.repeat(200)}` });
    assert.match(replaced.requestId ?? '', /^[0-9a-f-]{36}$/);
    const found = await recorded('?entity-id=client-req.42', token);
    assert.equal(found.length, 1);
    const entity = (found[0]!.entity as Json[]).find(
      (e) => (e.type as Json | undefined)?.code === 'XrequestId',
    );
    assert.deepEqual(entity?.what, { identifier: { value: 'client-req.42' } });
  });

  it('a success, a 404 and a 500 of another server of the node: outcomes 0, 4 and 8; a patient call carries the patient', async () => {
    const { app, url } = await testServer(node.audit);
    try {
      assert.equal((await fetch(`${url}/patients/${CPR}?x=1&access_token=secret`)).status, 200);
      assert.equal((await fetch(`${url}/nowhere`)).status, 404);
      assert.equal((await fetch(`${url}/broken`)).status, 500);
      assert.equal((await fetch(`${url}/Organization/abc`)).status, 200);
    } finally {
      await app.close();
    }
    let records: AuditRecord[] = [];
    for (let attempt = 0; records.length < 4 && attempt < 200; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setImmediate(resolve));
      records = (await allRecords(node.audit)).filter((r) => r.service === 'test');
    }
    const by = (route: string) => records.find((r) => r.route === route)!;
    assert.equal(by('/patients/:cpr').outcome, '0');
    assert.equal(by('/patients/:cpr').patient, CPR);
    assert.equal(by('/patients/:cpr').query, 'x=1&access_token=REDACTED');
    assert.equal(by('/patients/:cpr').subtype, 'GET');
    assert.equal(by('/nowhere').outcome, '4');
    assert.equal(by('/broken').outcome, '8');
    assert.equal(by('/broken').detail, 'EHMI_INTERNAL');
    assert.equal(by('/Organization/:id').subtype, 'read');
    assert.equal(by('/Organization/:id').resource, 'Organization/abc');

    const token = await tokenOf(operator, 'operator');
    const patient = await search(operator, `?patient=urn:oid:1.2.208.176.1.2|${CPR}`, token);
    const [event] = events(patient.body);
    assert.ok(event);
    const entity = (event.entity as Json[]).find((e) => (e.role as Json | undefined)?.code === '1');
    assert.deepEqual(entity?.what, { identifier: { system: 'urn:oid:1.2.208.176.1.2', value: CPR } });
    const serious = events((await search(operator, '?outcome=8', token)).body);
    assert.ok(serious.some((e) => String(e.outcomeDesc).includes('HTTP 500')));
    const xml = await fetch(`${nodeUrl}/audit/AuditEvent?_format=xml&outcome=8`, {
      dispatcher: operator,
      headers: { authorization: `Bearer ${token}` },
    });
    assert.match(xml.headers.get('content-type') ?? '', /^application\/fhir\+xml/);
    assert.match(
      await xml.text(),
      /<Bundle xmlns="http:\/\/hl7.org\/fhir">[\s\S]*<AuditEvent>[\s\S]*<outcome value="8"\/>/,
    );
    assert.equal((await search(operator, '?patient=12345', token)).status, 400);
    assert.equal((await search(operator, '?colour=blue', token)).status, 400);
  });

  it('a person-specific lookup is flagged for MinLog and written before its answer', async () => {
    const { app, url } = await testServer(node.audit);
    let requestId: string | null;
    try {
      const res = await fetch(`${url}/lookup`, { method: 'POST' });
      assert.equal(res.status, 200);
      requestId = res.headers.get('x-request-id');
    } finally {
      await app.close();
    }
    // Not flushed: the record is already in the database.
    const [record] = await node.audit.search({ requestId: requestId!, limit: 1 });
    assert.equal(record?.minlog, true);
    const token = await tokenOf(operator, 'operator');
    const [event] = events(
      (await search(operator, `?purpose=person-lookup&request-id=${requestId}`, token)).body,
    );
    assert.deepEqual(event?.purposeOfEvent, [{ coding: [{ system: MINLOG_SYSTEM, code: MINLOG_CODE }] }]);
    assert.deepEqual(event?.subtype, [
      { system: 'http://hl7.org/fhir/restful-interaction', code: 'operation' },
      { system: 'urn:ehmi:audit:operation', code: '$lookup' },
    ]);
    assert.equal(event?.action, 'E');
  });

  it('paging: _count and a next link, newest first by default, oldest first with _sort=date', async () => {
    const token = await tokenOf(operator, 'operator');
    await node.audit.flush();
    const page = await search(operator, '?_count=2', token);
    const links = page.body.link as { relation: string; url: string }[];
    const next = links.find((l) => l.relation === 'next');
    assert.ok(next, JSON.stringify(links));
    const [a, b] = events(page.body).map((e) => Date.parse(String(e.recorded)));
    assert.ok(a! >= b!);
    const second = await fetch(next.url, {
      dispatcher: operator,
      headers: { authorization: `Bearer ${token}` },
    });
    const nextEvents = events((await second.json()) as Json);
    assert.equal(nextEvents.length, 2);
    assert.ok(Date.parse(String(nextEvents[0]!.recorded)) <= b!);
    const oldest = events((await search(operator, '?_count=2&_sort=date', token)).body);
    assert.ok(Date.parse(String(oldest[0]!.recorded)) <= Date.parse(String(oldest[1]!.recorded)));
    const since = new Date(Date.now() - 60_000).toISOString();
    assert.ok(events((await search(operator, `?date=ge${since}`, token)).body).length > 0);
    assert.equal(events((await search(operator, '?date=lt2000-01-01', token)).body).length, 0);
  });

  it('the retention sweep deletes records older than audit.retentionDays, and only those', async () => {
    const [template] = await node.audit.search({ limit: 1 });
    const day = 86_400_000;
    const old: AuditRecord = { ...template!, id: 'old-record', recorded: Date.now() - 401 * day };
    const young: AuditRecord = { ...template!, id: 'young-record', recorded: Date.now() - 399 * day };
    await node.audit.write(old);
    await node.audit.write(young);
    const removed = await node.audit.sweep();
    assert.equal(removed, 1);
    assert.equal((await node.audit.search({ entity: 'old-record', limit: 1 })).length, 0);
    assert.equal((await node.audit.search({ entity: 'young-record', limit: 1 })).length, 1);
  });

  it('records survive a restart: what was buffered at close is written', async () => {
    const token = await tokenOf(operator, 'operator');
    const last = await search(operator, '', token, { 'x-request-id': 'just-before-close' });
    assert.equal(last.status, 200);
    await node.close();
    node = await startNode(startConfig(), pino({ level: 'silent' }));
    const found = await node.audit.search({ requestId: 'just-before-close', limit: 1 });
    assert.equal(found.length, 1);
    assert.equal(found[0]!.outcome, '0');
    assert.equal(found[0]!.caller.clientId, 'operator');
  });
});

describe('the audit log when the database is down', () => {
  it('keeps at most bufferLimit records, counts and logs the loss, and refuses a MinLog lookup it cannot record (503)', async () => {
    const ts = await engine.open();
    const { log } = testAudit(ts.store, { bufferLimit: 5, batchSize: 100, flushIntervalMs: 10_000 });
    const { app, url } = await testServer(log);
    try {
      await ts.store.close();
      for (let i = 0; i < 8; i++) assert.equal((await fetch(`${url}/patients/${CPR}`)).status, 200);
      await log.flush();
      assert.equal(log.buffered, 5);
      assert.equal(log.dropped, 3);
      const lookup = await fetch(`${url}/lookup`, { method: 'POST' });
      assert.equal(lookup.status, 503);
      const body = (await lookup.json()) as Json;
      assert.equal(body.resourceType, 'OperationOutcome');
      assert.match(JSON.stringify(body), /audit log/);
    } finally {
      await app.close();
      await log.close();
      assert.ok(log.dropped >= 8, `dropped ${log.dropped}`);
      await ts.cleanup().catch(() => {});
    }
  });

  it('keeps what it could not write while the database is locked, and writes it once the database is back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ehmi-audit-lock-'));
    const store = await openNodeStore({ dataDir: dir, busyTimeoutMs: 50 });
    const { log } = testAudit(store, { flushIntervalMs: 10_000 });
    const { app, url } = await testServer(log);
    // Another process's write lock (the fault suite's database seam does the same for longer).
    const locker = new SqliteDatabase(join(dir, 'ehmi.sqlite'));
    try {
      locker.exec('BEGIN EXCLUSIVE');
      for (let i = 0; i < 3; i++) assert.equal((await fetch(`${url}/patients/${CPR}`)).status, 200);
      await log.flush();
      assert.equal(log.buffered, 3);
      assert.equal(log.dropped, 0);
      locker.exec('COMMIT');
      await log.flush();
      assert.equal(log.buffered, 0);
      assert.equal((await log.search({ patient: CPR, limit: 10 })).length, 3);
    } finally {
      locker.close();
      await app.close();
      await log.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the audit table EAS had before the node audit log', () => {
  it('its rows become audit records of the node audit log (MinLog, the CPR, who, the outcome of the status), and the table goes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ehmi-audit-migrate-'));
    try {
      const before = Object.fromEntries(Object.entries(ROLE_MIGRATIONS).filter(([name]) => name < '0030'));
      const old = await openStore<Json>({ dataDir: dir, migrations: before });
      // biome-ignore lint/suspicious/noExplicitAny: the table of an older schema
      const db = old.db as any;
      await db
        .insertInto('eas_audit')
        .values([
          {
            id: 'a1',
            at: 1_700_000_000_000,
            client_id: 'gp-eua',
            organisation: JSON.stringify({ cvr: '12345678', contexts: [] }),
            certificate: CLIENT_DN,
            operation: 'getReceivingOrganizationByPatientId',
            cpr: CPR,
            outcome: 'found',
            status: 200,
            detail: null,
          },
          {
            id: 'a2',
            at: 1_700_000_000_001,
            client_id: null,
            organisation: null,
            certificate: OPERATOR_DN,
            operation: 'getReceivingOrganizationByPatientId',
            cpr: null,
            outcome: 'refused',
            status: 401,
            detail: 'EHMI_UNAUTHORIZED',
          },
        ])
        .execute();
      await old.close();
      const store = await openNodeStore({ dataDir: dir });
      try {
        const { log } = testAudit(store);
        const [found] = await log.search({ patient: CPR, limit: 10 });
        assert.equal(found?.id, 'a1');
        assert.equal(found?.outcome, '0');
        assert.equal(found?.minlog, true);
        assert.equal(found?.caller.clientId, 'gp-eua');
        assert.equal(found?.caller.organisation?.cvr, '12345678');
        assert.equal(found?.subtype, '$getReceivingOrganizationByPatientId');
        const [refused] = await log.search({ outcome: ['4'], limit: 10 });
        assert.equal(refused?.id, 'a2');
        assert.equal(refused?.caller.certificate, OPERATOR_DN);
        assert.match(refused?.detail ?? '', /refused EHMI_UNAUTHORIZED/);
        // biome-ignore lint/suspicious/noExplicitAny: a table that is no more
        await assert.rejects((store.db as any).selectFrom('eas_audit').selectAll().execute());
      } finally {
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
