// The console's data routes (console/api/) against stand-in public APIs: what they ask the services, and what they
// make of the answers. The real services, sign-in and browser are the console's browser test's.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { registerConsoleApi } from '../../src/console/api/index.ts';
import { parseMetrics, sum } from '../../src/console/api/metrics-text.ts';
import { type Reading, seriesOf } from '../../src/console/readings.ts';
import type { ConsoleUser } from '../../src/console/session.ts';

const OPERATOR: ConsoleUser = {
  subject: 'op',
  name: 'Operator',
  roles: ['network-operator'],
  patientData: true,
};
const GP_SUPPORT: ConsoleUser = {
  subject: 'sup',
  name: 'Support',
  roles: ['support'],
  patientData: false,
  organisation: { gln: '5790000127092', sor: '52581000016005' },
};

const message = (id: string, createdAt: string, extra: Record<string, unknown> = {}) => ({
  id,
  direction: 'out',
  status: 'sent',
  messageHeaderId: `mh-${id}`,
  bundleId: `b-${id}`,
  envelopeId: `e-${id}`,
  type: 'homecareobservation-message',
  sender: '5790000123117',
  receiver: '5790000127092',
  createdAt,
  needsAction: null,
  resends: 0,
  acknowledgement: null,
  failure: null,
  ...extra,
});

const SERVICES = {
  eer: 'https://eer.test',
  'msh:municipality': 'https://msh-m.test',
  'msh:gp': 'https://msh-g.test',
  'node:gp': 'https://node-g.test',
  // The document archive's node: the network's, no organisation's.
  archive: 'https://archive.test',
  'ap:archive': 'https://ap-archive.test',
  'node:archive': 'https://node-archive.test',
};

const searchset = (resources: unknown[]) => ({
  resourceType: 'Bundle',
  type: 'searchset',
  entry: resources.map((resource) => ({ resource })),
});

describe('the console data routes', () => {
  let app: FastifyInstance;
  let user: ConsoleUser = OPERATOR;
  const calls: string[] = [];
  /** What each service answers, by `service path` (or `service path-without-query` for a list that pages). */
  const answers = new Map<string, (path: string) => Response>();
  const json =
    (body: unknown, status = 200) =>
    () =>
      new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

  /**
   * An MSH's `GET /messages` as the MSH answers it: the filters the console passes, newest first with order=desc,
   * `limit` rows after the cursor `after` (base64url of `<epoch ms>.<id>`), a Link rel="next" when more follow.
   */
  const mshList =
    (rows: ReturnType<typeof message>[]) =>
    (path: string): Response => {
      const q = new URLSearchParams(path.split('?')[1] ?? '');
      const key = (r: { createdAt: string; id: string }) => [Date.parse(r.createdAt), r.id] as const;
      let list = rows
        .filter((r) => !q.get('status') || r.status === q.get('status'))
        .filter((r) => !q.get('type') || r.type === q.get('type'))
        .filter((r) => !q.get('receiver') || r.receiver === q.get('receiver'))
        .filter((r) => !q.get('from') || Date.parse(r.createdAt) >= Date.parse(q.get('from')!))
        .sort((a, b) => key(b)[0] - key(a)[0] || (key(b)[1] < key(a)[1] ? -1 : 1));
      const after = q.get('after');
      if (after) {
        const [at, id] = Buffer.from(after, 'base64url').toString('utf8').split('.') as [string, string];
        list = list.filter((r) => key(r)[0] < Number(at) || (key(r)[0] === Number(at) && r.id < id));
      }
      const limit = Number(q.get('limit') ?? 10_000);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (list.length > limit) headers.link = '</messages?after=x>; rel="next"';
      return new Response(JSON.stringify(list.slice(0, limit)), { status: 200, headers });
    };

  before(async () => {
    answers.set(
      'eer /Organization?_count=500',
      json(
        searchset([
          {
            resourceType: 'Organization',
            id: 'municipality',
            name: 'Pleje og Rehabilitering',
            identifier: [{ system: 'urn:oid:1.2.208.176.1.1', value: '1144561000016002' }],
          },
          {
            resourceType: 'Organization',
            id: 'gp',
            name: 'Skødstrup Lægepraksis',
            identifier: [{ system: 'urn:oid:1.2.208.176.1.1', value: '52581000016005' }],
          },
        ]),
      ),
    );
    answers.set(
      'eer /Endpoint?_count=500',
      json(
        searchset([
          {
            resourceType: 'Endpoint',
            id: 'gp-endpoint',
            managingOrganization: { reference: 'Organization/gp' },
            identifier: [{ system: 'http://www.gs1.org/gln', value: '5790000127092' }],
          },
        ]),
      ),
    );
    answers.set(
      'msh:municipality /messages',
      mshList([
        message('m1', '2026-12-07T10:00:00.000Z'),
        message('m2', '2026-12-07T10:02:00.000Z', { type: 'other-message' }),
        message('m3', '2026-12-07T10:01:00.000Z'),
      ]),
    );
    answers.set(
      'msh:gp /messages',
      mshList([
        message('g1', '2026-12-07T10:03:00.000Z', { sender: '5790000127092', receiver: '5790000123117' }),
      ]),
    );
    app = Fastify({ logger: false });
    await app.register(
      async (api) => {
        api.decorateRequest('consoleUser', undefined);
        api.decorateRequest('callApi', undefined as never);
        api.addHook('onRequest', async (request) => {
          request.consoleUser = user;
          request.callApi = async (service, path) => {
            calls.push(`${service} ${path}`);
            const answer =
              answers.get(`${service} ${path}`) ?? answers.get(`${service} ${path.split('?')[0]}`);
            return answer ? answer(path) : new Response('{}', { status: 404 });
          };
        });
        await registerConsoleApi(api, { services: SERVICES, logger: pino({ level: 'silent' }) });
      },
      { prefix: '/api' },
    );
  });
  after(() => app.close());

  const get = async (url: string) => {
    const res = await app.inject({ method: 'GET', url });
    return { status: res.statusCode, body: res.json() as Record<string, unknown> };
  };

  it('merges every visible MSH’s pages, newest first, and goes on where each MSH’s list left off', async () => {
    user = OPERATOR;
    calls.length = 0;
    const page = await get('/api/messages?limit=2');
    assert.equal(page.status, 200);
    assert.deepEqual(
      (page.body.items as { id: string; organisation: string }[]).map((m) => `${m.organisation}/${m.id}`),
      ['gp/g1', 'municipality/m2'],
    );
    // Each MSH was asked for one page of its own, newest first: nothing more.
    assert.deepEqual(calls.filter((c) => c.startsWith('msh:')).sort(), [
      'msh:gp /messages?order=desc&limit=2',
      'msh:municipality /messages?order=desc&limit=2',
    ]);
    assert.equal(typeof page.body.next, 'string');
    calls.length = 0;
    const next = await get(`/api/messages?limit=2&after=${page.body.next}`);
    assert.deepEqual(
      (next.body.items as { id: string }[]).map((m) => m.id),
      ['m3', 'm1'],
    );
    // The gp's MSH had nothing more: only the municipality's is asked, after m2.
    assert.deepEqual(
      calls.filter((c) => c.startsWith('msh:')),
      [
        `msh:municipality /messages?order=desc&limit=2&after=${Buffer.from(`${Date.parse('2026-12-07T10:02:00.000Z')}.m2`).toString('base64url')}`,
      ],
    );
    assert.equal(next.body.next, null);
    assert.deepEqual((page.body.facets as { types: string[] }).types, [
      'homecareobservation-message',
      'other-message',
    ]);
    assert.equal((await get('/api/messages?after=not-a-cursor')).status, 400);
  });

  it('filters by sender, type and time, and passes status and patient to the MSHs', async () => {
    user = OPERATOR;
    calls.length = 0;
    const page = await get(
      '/api/messages?sender=0088:5790000123117&type=homecareobservation-message&from=2026-12-07T10:00:30Z&status=sent&patient=2509479989',
    );
    assert.equal(page.status, 200, JSON.stringify(page.body));
    // The sender is the municipality: only its MSH is asked, with every filter.
    assert.deepEqual(calls.filter((c) => c.startsWith('msh:')).sort(), [
      'msh:municipality /messages?order=desc&limit=50&status=sent&patient=2509479989&type=homecareobservation-message&from=2026-12-07T10%3A00%3A30Z',
    ]);
    assert.deepEqual(
      (page.body.items as { id: string }[]).map((m) => m.id),
      ['m3'],
    );
  });

  it('a search by patient needs the patient-data entitlement (403)', async () => {
    user = { ...OPERATOR, patientData: false };
    const page = await get('/api/messages?patient=2509479989');
    assert.equal(page.status, 403);
  });

  it('an organisation’s user is asked only its own organisation’s MSH', async () => {
    user = GP_SUPPORT;
    calls.length = 0;
    const page = await get('/api/messages');
    assert.equal(page.status, 200);
    assert.deepEqual(
      calls.filter((c) => c.startsWith('msh:')),
      ['msh:gp /messages?order=desc&limit=50'],
    );
    assert.equal((page.body.items as unknown[]).length, 1);
    const orgs = await get('/api/organisations');
    assert.deepEqual(
      (orgs.body as unknown as { key: string; gln?: string }[]).map((o) => [o.key, o.gln]),
      [['gp', '5790000127092']],
    );
  });

  it('gives each visible MSH’s pings of its partners; an MSH that refuses is named, the others still shown', async () => {
    user = OPERATOR;
    const ping = {
      receiver: '0088:5790000127092',
      lastOk: {
        at: '2026-12-07T10:00:00.000Z',
        roundTripMs: 42,
        receiptTime: '2026-12-07T10:00:00.040Z',
        as4MessageId: 'p1@ehmi',
      },
      lastAttemptAt: '2026-12-07T10:00:00.000Z',
    };
    answers.set('msh:municipality /pings', json([ping]));
    answers.set(
      'msh:gp /pings',
      json({ resourceType: 'OperationOutcome', issue: [{ diagnostics: 'down for maintenance' }] }, 503),
    );
    try {
      const res = await app.inject({ method: 'GET', url: '/api/pings' });
      assert.equal(res.statusCode, 200, res.body);
      const byKey = new Map(
        (res.json() as { key: string; pings: unknown[]; error?: string }[]).map((o) => [o.key, o]),
      );
      assert.deepEqual(byKey.get('municipality')?.pings, [ping]);
      assert.match(byKey.get('gp')?.error ?? '', /down for maintenance/);
      // An organisation's user is asked only its own MSH.
      user = GP_SUPPORT;
      calls.length = 0;
      await app.inject({ method: 'GET', url: '/api/pings' });
      assert.deepEqual(
        calls.filter((c) => c.startsWith('msh:')),
        ['msh:gp /pings'],
      );
    } finally {
      user = OPERATOR;
      answers.delete('msh:municipality /pings');
      answers.delete('msh:gp /pings');
    }
  });

  it('an MSH that cannot be reached is named beside the list, the others still listed', async () => {
    user = OPERATOR;
    const saved = answers.get('msh:gp /messages')!;
    answers.set(
      'msh:gp /messages',
      json({ resourceType: 'OperationOutcome', issue: [{ diagnostics: 'down for maintenance' }] }, 503),
    );
    try {
      const page = await get('/api/messages');
      assert.equal(page.status, 200);
      assert.equal((page.body.items as unknown[]).length, 3);
      assert.match(JSON.stringify(page.body.unavailable), /down for maintenance/);
    } finally {
      answers.set('msh:gp /messages', saved);
    }
  });

  it('a message’s content needs the patient-data entitlement (403), and asks the MSH nothing', async () => {
    user = GP_SUPPORT;
    calls.length = 0;
    const item = await get('/api/inbox/gp/item-1');
    assert.equal(item.status, 403);
    assert.deepEqual(calls, []);
  });

  it('the health page: the operator sees the central node and the archive’s, an organisation’s user its own node only', async () => {
    const metrics = (text: string) => () =>
      new Response(text, { status: 200, headers: { 'content-type': 'text/plain' } });
    answers.set('archive /health', json({ status: 'ok' }));
    answers.set('ap:archive /health', json({ status: 'ok' }));
    answers.set(
      'node:archive /health',
      json({ status: 'unavailable', reason: 'the database does not answer' }, 503),
    );
    answers.set('node:gp /health', json({ status: 'ok' }));
    answers.set(
      'archive /metrics',
      metrics(
        'ehmi_http_requests_total{method="GET",route="/DocumentReference",status="500",service="archive"} 3',
      ),
    );
    answers.set('ap:archive /metrics', metrics('ehmi_http_requests_total{status="200",service="ap"} 5'));
    answers.set(
      'node:archive /metrics',
      metrics('ehmi_queue_jobs{queue="archive.ingest",status="dead",service="node"} 2'),
    );
    answers.set('node:gp /metrics', metrics('ehmi_http_requests_total{status="200",service="node"} 1'));
    type Health = {
      nodes: {
        key: string;
        roles: string[];
        services: { name: string; state: string }[];
        queues: { queue: string; dead: number }[];
        failures: number;
        database: { state: string; reason?: string };
      }[];
      series: { nodes: { key: string }[] };
    };
    user = OPERATOR;
    calls.length = 0;
    const page = await get('/api/health');
    assert.equal(page.status, 200, JSON.stringify(page.body));
    const health = page.body as unknown as Health;
    assert.deepEqual(
      health.nodes.map((n) => n.key),
      ['central', 'archive', 'municipality', 'gp'],
    );
    const archive = health.nodes.find((n) => n.key === 'archive')!;
    assert.deepEqual(archive.roles, ['Archive', 'AP']);
    assert.deepEqual(
      archive.services.map((s) => [s.name, s.state]),
      [
        ['archive', 'ok'],
        ['ap:archive', 'ok'],
        ['node:archive', 'unavailable'],
      ],
    );
    assert.deepEqual(archive.database, { state: 'unavailable', reason: 'the database does not answer' });
    assert.equal(archive.failures, 3);
    assert.deepEqual(
      archive.queues.map((q) => [q.queue, q.dead]),
      [['archive.ingest', 2]],
    );
    assert.deepEqual(
      health.series.nodes.map((n) => n.key),
      ['central', 'archive', 'municipality', 'gp'],
    );

    // The gp's support user: its own node, and none of the archive's services is asked anything.
    user = GP_SUPPORT;
    calls.length = 0;
    const own = (await get('/api/health')).body as unknown as Health;
    assert.deepEqual(
      own.nodes.map((n) => n.key),
      ['gp'],
    );
    assert.deepEqual(
      own.series.nodes.map((n) => n.key),
      ['gp'],
    );
    assert.deepEqual(
      calls.filter((c) => c.includes('archive')),
      [],
    );
  });

  it('an organisation the console does not know: 404', async () => {
    user = OPERATOR;
    assert.equal((await get('/api/inbox/nowhere')).status, 404);
    assert.equal((await get('/api/messages/nowhere/m1')).status, 404);
  });

  it('bad query values are refused (400)', async () => {
    user = OPERATOR;
    assert.equal((await get('/api/messages?patient=123')).status, 400);
    assert.equal((await get('/api/messages?limit=100000')).status, 400);
    assert.equal((await get('/api/messages?status=lost')).status, 400);
  });
});

describe('the health page’s readings of /metrics', () => {
  const TEXT = [
    '# HELP ehmi_http_requests_total HTTP requests answered',
    '# TYPE ehmi_http_requests_total counter',
    'ehmi_http_requests_total{method="GET",route="/inbox",status="200",service="msh"} 7',
    'ehmi_http_requests_total{method="POST",route="/messages",status="503",service="msh"} 2',
    'ehmi_queue_jobs{queue="msh.dispatch",status="dead",service="node"} 1',
    'ehmi_label_escapes{detail="a \\"quoted\\" word"} 1',
  ].join('\n');

  it('parses samples with their labels and sums them by label', () => {
    const samples = parseMetrics(TEXT);
    assert.equal(samples.length, 4);
    assert.equal(sum(samples, 'ehmi_http_requests_total'), 9);
    assert.equal(sum(samples, 'ehmi_http_requests_total', { status: (v) => v.startsWith('5') }), 2);
    assert.equal(sum(samples, 'ehmi_queue_jobs', { status: 'dead' }), 1);
    assert.equal(samples[3]?.labels.detail, 'a "quoted" word');
  });

  it('turns readings into rates per minute; a restart and a gap are unknown intervals', () => {
    const t0 = Date.UTC(2026, 11, 7, 10);
    const r = (at: number, requests: number, receiptSum = 0, receiptCount = 0): Reading => ({
      at,
      counters: { requests, failures: 0, receiptSum, receiptCount },
    });
    const list: Reading[] = [
      r(t0, 100, 1, 100),
      r(t0 + 60_000, 160, 4, 160), // 60 requests in a minute, 3 s over 60 EnvelopeReceipts: 50 ms each
      r(t0 + 120_000, 10, 4.1, 10), // a restart: counters went down
      { at: t0 + 180_000, counters: null }, // the node did not answer
      r(t0 + 240_000, 40),
      r(t0 + 270_000, 55), // 15 in half a minute
    ];
    const s = seriesOf(new Map([['gp', list]]), ['gp', 'hospital']);
    assert.deepEqual(
      s.times,
      [60_000, 120_000, 180_000, 240_000, 270_000].map((d) => (t0 + d) / 1000),
    );
    assert.deepEqual(s.nodes[0]?.requests, [60, null, null, null, 30]);
    assert.deepEqual(s.nodes[0]?.latencyMs, [50, null, null, null, null]);
    assert.deepEqual(s.nodes[1]?.requests, [null, null, null, null, null]);
  });
});
