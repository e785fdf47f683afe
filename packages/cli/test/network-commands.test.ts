// The network commands (send, inbox, ack, track, resend) against a stand-in for the MSH side of the EUA API
// contract (/tmp/briefs/msh-api.md): real HTTPS with the network's generated PKI and mTLS, canned answers. The
// end-to-end tests (test/e2e/) run the same commands against the real MSH.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { jsonToXml, validateFhirDocument } from '@ehmi/fhir';
import { type NetworkManifest, planNetwork, writeNetworkManifest } from '@ehmi/network';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { FIXTURES, runEhmi } from './helpers.ts';

const HCO_401 = join(
  FIXTURES,
  'fhir/examples/medcom-homecareobservation-1.2.1/Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json',
);

interface Seen {
  org: string;
  method: string;
  url: string;
  contentType: string | undefined;
  body: Buffer;
  clientCn: string | undefined;
}

async function run(argv: string[], cwd: string) {
  const r = await runEhmi(argv, { cwd });
  return { code: r.code, out: r.stdout, err: r.stderr, lines: r.stdout.trimEnd().split('\n') };
}

const oo = (diagnostics: string, expression?: string[]) => ({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: 'invalid', diagnostics, ...(expression ? { expression } : {}) }],
});

describe('ehmi send/inbox/ack/track/resend against an MSH (contract stand-in)', () => {
  let dir: string;
  let manifest: NetworkManifest;
  const servers: FastifyInstance[] = [];
  const seen: Seen[] = [];
  /** What the stand-in MSH answers, by `org METHOD path`. */
  const answers = new Map<string, { status: number; body: unknown }>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ehmi-cli-net-'));
    const plan = await planNetwork({ dataDir: dir, portBase: 30000, logger: pino({ level: 'silent' }) });
    const ca = readFileSync(plan.pki.trustAnchor, 'utf8');
    manifest = structuredClone(plan.manifest);
    // A network without EDS: `ehmi track` shows the sending MSH's timeline (its EDS journey is track-eds.test.ts's).
    delete manifest.services.eds;
    for (const org of manifest.organisations) {
      const tls = plan.pki.organisations[org.name]!.tlsServer;
      const app = Fastify({
        https: {
          key: readFileSync(tls.key),
          cert: readFileSync(tls.cert),
          ca,
          requestCert: true,
          rejectUnauthorized: true,
        },
      });
      app.removeAllContentTypeParsers();
      app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
      app.all('*', async (req, reply) => {
        const peer = (req.raw.socket as TLSSocket).getPeerX509Certificate?.();
        seen.push({
          org: org.name,
          method: req.method,
          url: req.url,
          contentType: req.headers['content-type'],
          body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
          clientCn: peer ? /CN=([^\n,]+)/.exec(new X509Certificate(peer.raw).subject)?.[1] : undefined,
        });
        const a = answers.get(`${org.name} ${req.method} ${req.url}`);
        if (!a)
          return reply
            .code(404)
            .type('application/fhir+json')
            .send(oo(`no ${req.url}`));
        return reply
          .code(a.status)
          .type(a.status >= 400 ? 'application/fhir+json' : 'application/json')
          .send(a.body);
      });
      await app.listen({ host: '127.0.0.1', port: 0 });
      servers.push(app);
      const port = (app.server.address() as { port: number }).port;
      org.msh = `https://127.0.0.1:${port}`;
    }
    writeNetworkManifest(dir, manifest);
  });

  after(async () => {
    for (const s of servers) await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  const last = (r: { lines: string[] }) => r.lines[r.lines.length - 1];

  it('send builds a prøvesvar from municipality to gp that passes the MedCom profiles, and prints the id last', async () => {
    answers.set('municipality POST /messages', {
      status: 202,
      body: {
        id: 'trk-1',
        status: 'accepted',
        messageHeaderId: 'mh-1',
        bundleId: 'b-1',
        envelopeId: 'e-1',
        sender: '0088:5790000123117',
        receiver: '0088:5790000127092',
      },
    });
    seen.length = 0;
    const save = join(dir, 'saved.json');
    const r = await run(
      ['send', 'homecareobservation', '--from', 'municipality', '--to', 'gp', '--data', dir, '--save', save],
      dir,
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(last(r), 'trk-1');
    assert.match(r.out, /for gp/);
    assert.equal(seen.length, 1);
    const req = seen[0]!;
    assert.equal(req.org, 'municipality');
    assert.equal(req.contentType, 'application/fhir+json');
    assert.equal(
      req.clientCn,
      'EHMI municipality TLS client',
      'the EUA presents its organisation TLS client certificate',
    );
    assert.deepEqual(await readFile(save), req.body, '--save holds the exact bytes submitted');
    const bundle = JSON.parse(req.body.toString('utf8'));
    assert.equal(bundle.resourceType, 'Bundle');
    const header = bundle.entry[0].resource;
    assert.equal(header.eventCoding.code, 'homecareobservation-message');
    const orgs = bundle.entry
      .map((e: { resource: unknown }) => e.resource)
      .filter((x: { resourceType: string }) => x.resourceType === 'Organization');
    const glns = orgs.map((o: { identifier: { value: string }[] }) => o.identifier[0]!.value).sort();
    assert.deepEqual(glns, ['5790000123117', '5790000127092']);
    const result = validateFhirDocument(req.body);
    const errors = result.issues.filter((i) => i.severity === 'error');
    assert.deepEqual(errors, [], 'the built message is a valid MedCom HomeCareObservation');
    // fresh ids on every send
    await run(['send', 'homecareobservation', '--from', 'municipality', '--to', 'gp', '--data', dir], dir);
    const again = JSON.parse(seen[1]!.body.toString('utf8'));
    assert.notEqual(again.id, bundle.id);
    assert.notEqual(again.entry[0].resource.id, header.id);
  });

  it('send --file submits a Bundle as it is, XML with the FHIR XML media type; a 200 says it was a duplicate', async () => {
    answers.set('municipality POST /messages', {
      status: 200,
      body: { id: 'trk-1', status: 'receipted', messageHeaderId: 'mh-1', bundleId: 'b-1', envelopeId: 'e-1' },
    });
    seen.length = 0;
    const bundle = JSON.parse(readFileSync(HCO_401, 'utf8'));
    const file = join(dir, 'message.xml');
    const xml = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${jsonToXml(bundle)}`);
    await writeFile(file, xml);
    const r = await run(
      ['send', 'homecareobservation', '--from', 'municipality', '--file', file, '--data', dir],
      dir,
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(last(r), 'trk-1');
    assert.match(r.out, /already accepted earlier/);
    assert.equal(seen[0]!.contentType, 'application/fhir+xml');
    assert.deepEqual(seen[0]!.body, xml);
  });

  it('a 422 from the MSH prints the OperationOutcome issues on stderr and exits 1', async () => {
    answers.set('municipality POST /messages', {
      status: 422,
      body: {
        resourceType: 'OperationOutcome',
        issue: [
          {
            severity: 'error',
            code: 'invalid',
            diagnostics: 'first problem',
            expression: ['Bundle.entry[0]'],
          },
          { severity: 'error', code: 'required', diagnostics: 'second problem' },
        ],
      },
    });
    const r = await run(
      ['send', 'homecareobservation', '--from', 'municipality', '--to', 'gp', '--data', dir],
      dir,
    );
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.match(r.err, /HTTP 422/);
    assert.match(r.err, /first problem \(at Bundle\.entry\[0\]\)/);
    assert.match(r.err, /second problem/);
  });

  it('send --file with a --to the file is not addressed to: exit 2 naming both, nothing submitted', async () => {
    seen.length = 0;
    const file = HCO_401;
    const r = await run(
      [
        'send',
        'homecareobservation',
        '--from',
        'municipality',
        '--to',
        'hospital',
        '--file',
        file,
        '--data',
        dir,
      ],
      dir,
    );
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /addressed to GLN 5790000127092 \(gp\), not to hospital \(5790000209354\)/);
    assert.equal(seen.length, 0, 'nothing was posted to the MSH');
    answers.set('municipality POST /messages', {
      status: 202,
      body: { id: 'trk-2', status: 'accepted', messageHeaderId: 'mh-2', bundleId: 'b-2', envelopeId: 'e-2' },
    });
    const ok = await run(
      ['send', 'homecareobservation', '--from', 'municipality', '--to', 'gp', '--file', file, '--data', dir],
      dir,
    );
    assert.equal(ok.code, 0, ok.err);
    assert.equal(seen.length, 1);
  });

  it('an OperationOutcome with its text in details.text (as the MSH writes it) prints that text', async () => {
    answers.set('municipality POST /messages', {
      status: 403,
      body: {
        resourceType: 'OperationOutcome',
        issue: [
          {
            severity: 'error',
            code: 'forbidden',
            details: {
              coding: [{ system: 'urn:ehmi:error-code', code: 'EHMI_FORBIDDEN' }],
              text: 'not yours',
            },
            expression: ['MessageHeader.sender'],
          },
        ],
      },
    });
    const r = await run(
      ['send', 'homecareobservation', '--from', 'municipality', '--to', 'gp', '--data', dir],
      dir,
    );
    assert.equal(r.code, 1);
    assert.match(r.err, /error forbidden: not yours \(at MessageHeader\.sender\)/);
  });

  it('send: an unknown organisation is exit 2 naming the known ones; an unknown type or a bad file too', async () => {
    const r = await run(
      ['send', 'homecareobservation', '--from', 'nowhere', '--to', 'gp', '--data', dir],
      dir,
    );
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown organisation "nowhere" \(known: municipality, gp, hospital\)/);
    const t = await run(['send', 'letter', '--from', 'municipality', '--to', 'gp', '--data', dir], dir);
    assert.equal(t.code, 2);
    assert.match(t.err, /unknown message type "letter"/);
    const f = await run(
      [
        'send',
        'homecareobservation',
        '--from',
        'municipality',
        '--file',
        join(dir, 'no.json'),
        '--data',
        dir,
      ],
      dir,
    );
    assert.equal(f.code, 2);
    const junk = join(dir, 'junk.txt');
    await writeFile(junk, 'hello');
    const j = await run(
      ['send', 'homecareobservation', '--from', 'municipality', '--file', junk, '--data', dir],
      dir,
    );
    assert.equal(j.code, 2);
    assert.match(j.err, /neither FHIR JSON nor FHIR XML/);
    const h = await run(
      ['send', 'homecareobservation', '--from', 'municipality', '--to', 'hospital', '--data', dir],
      dir,
    );
    assert.equal(h.code, 2, 'a prøvesvar goes to a GP practice');
    const m = await run(['send', 'homecareobservation', '--from', 'municipality', '--data', dir], dir);
    assert.equal(m.code, 2);
    assert.match(m.err, /--to/);
  });

  it('send --payload posts the file as it is to /payloads with the receiver, DOCUMENTID, PROCESSID and PATIENTID', async () => {
    const file = join(FIXTURES, 'payloads/edifact/medrpt-r0131k-synthetic.edi');
    const documentType = 'urn:dk:healthcare:medcom:messaging:edifact:medrpt:rpt01:r0131k';
    const gp = manifest.organisations.find((o) => o.name === 'gp')!;
    const query = new URLSearchParams({
      receiver: `0088:${gp.gln}`,
      documentType,
      process: 'urn:ehmi:sdn-emergence',
      receiverSor: gp.sor,
      patientId: '0101010227',
    });
    answers.set(`municipality POST /payloads?${query}`, {
      status: 202,
      body: { id: 'trk-p', status: 'accepted', messageHeaderId: 'mh-p' },
    });
    seen.length = 0;
    const r = await run(
      [
        'send',
        '--from',
        'municipality',
        '--to',
        'gp',
        '--payload',
        file,
        '--document-type',
        documentType,
      ].concat(['--patient', '0101010227', '--data', dir]),
      dir,
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(last(r), 'trk-p');
    assert.match(r.out, /MESSAGEIDENTIFIER mh-p/);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.contentType, 'application/edifact');
    assert.deepEqual(seen[0]!.body, readFileSync(file), 'the octets as they are (ISO-8859-1, CRLF)');
    // Usage errors before any call: no document type, no receiver, a message type beside --payload.
    seen.length = 0;
    for (const argv of [
      ['send', '--from', 'municipality', '--to', 'gp', '--payload', file],
      ['send', '--from', 'municipality', '--payload', file, '--document-type', documentType],
      ['send', 'homecareobservation', '--from', 'municipality', '--to', 'gp', '--payload', file],
      [
        'send',
        'homecareobservation',
        '--from',
        'municipality',
        '--to',
        'gp',
        '--document-type',
        documentType,
      ],
    ]) {
      const u = await run([...argv, '--data', dir], dir);
      assert.equal(u.code, 2, `${argv.join(' ')}: ${u.err}`);
    }
    assert.equal(seen.length, 0);
  });

  it('inbox lists the items, --json as {id, bundleId, messageHeaderId, type, sender, receivedAt}', async () => {
    const item = {
      id: 'in-1',
      bundleId: 'b-1',
      messageHeaderId: 'mh-1',
      type: 'homecareobservation-message',
      sender: '0088:5790000123117',
      receivedAt: '2026-11-26T02:00:00.000Z',
    };
    answers.set('gp GET /inbox', { status: 200, body: [item] });
    const j = await run(['inbox', 'gp', '--json', '--data', dir], dir);
    assert.equal(j.code, 0, j.err);
    assert.deepEqual(JSON.parse(j.out), [item]);
    const h = await run(['inbox', 'gp', '--data', dir], dir);
    assert.equal(h.code, 0);
    assert.match(h.out, /gp inbox: 1 message/);
    assert.match(h.out, /in-1 {2}homecareobservation-message {2}from municipality \(0088:5790000123117\)/);
    answers.set('hospital GET /inbox', { status: 200, body: [] });
    assert.match((await run(['inbox', 'hospital', '--data', dir], dir)).out, /hospital inbox: empty/);
    const u = await run(['inbox', 'gp2', '--data', dir], dir);
    assert.equal(u.code, 2);
    assert.match(u.err, /known: municipality, gp, hospital/);
  });

  it('inbox --patient takes a CPR number of 10 digits (exit 2 otherwise, before any call)', async () => {
    seen.length = 0;
    const r = await run(['inbox', 'gp', '--patient', '250947-9989', '--data', dir], dir);
    assert.equal(r.code, 2);
    assert.match(r.err, /--patient expects a CPR number of 10 digits/);
    assert.equal(seen.length, 0);
  });

  it('ack posts {code} to $acknowledge and prints the acknowledgement id; a bad --code is exit 2', async () => {
    answers.set('gp POST /inbox/in-1/$acknowledge', { status: 202, body: { id: 'ack-1' } });
    seen.length = 0;
    const r = await run(['ack', 'gp', 'in-1', '--code', 'transient-error', '--data', dir], dir);
    assert.equal(r.code, 0, r.err);
    assert.equal(last(r), 'ack-1');
    assert.deepEqual(JSON.parse(seen[0]!.body.toString()), { code: 'transient-error' });
    assert.equal(seen[0]!.clientCn, 'EHMI gp TLS client');
    const d = await run(['ack', 'gp', 'in-1', '--data', dir], dir);
    assert.equal(d.code, 0);
    assert.deepEqual(JSON.parse(seen[1]!.body.toString()), { code: 'ok' });
    const b = await run(['ack', 'gp', 'in-1', '--code', 'maybe', '--data', dir], dir);
    assert.equal(b.code, 2);
    answers.set('gp POST /inbox/in-2/$acknowledge', { status: 409, body: oo('already acknowledged') });
    const c = await run(['ack', 'gp', 'in-2', '--data', dir], dir);
    assert.equal(c.code, 1);
    assert.match(c.err, /already acknowledged/);
  });

  it('track, in a network without EDS, asks every MSH and prints the status and one line per event; --json has {id, status, events}', async () => {
    const status = {
      id: 'trk-1',
      direction: 'out',
      status: 'receipted',
      messageHeaderId: 'mh-1',
      bundleId: 'b-1',
      envelopeId: 'e-1',
      type: 'homecareobservation-message',
      sender: '0088:5790000123117',
      receiver: '0088:5790000127092',
      createdAt: '2026-11-26T02:00:00.000Z',
      needsAction: null,
      resends: 0,
      acknowledgement: null,
      failure: null,
      events: [
        { code: '01.1', station: 'eua', time: '2026-11-26T02:00:00.000Z', outcome: 'success' },
        {
          code: '03.2',
          station: 'ap',
          time: '2026-11-26T02:00:00.100Z',
          outcome: 'success',
          detail: 'receipt',
        },
        { code: '10.1', station: 'msh', time: '2026-11-26T02:00:00.200Z', outcome: 'success' },
      ],
    };
    answers.set('municipality GET /messages/trk-1', { status: 200, body: status });
    seen.length = 0;
    const j = await run(['track', 'trk-1', '--json', '--data', dir], dir);
    assert.equal(j.code, 0, j.err);
    assert.deepEqual(JSON.parse(j.out), {
      id: 'trk-1',
      status: 'receipted',
      events: status.events.map(({ code, station, time, outcome }) => ({ code, station, time, outcome })),
    });
    assert.deepEqual(new Set(seen.map((s) => s.org)), new Set(['municipality', 'gp', 'hospital']));
    const h = await run(['track', 'trk-1', '--data', dir], dir);
    assert.equal(h.lines.length, 4);
    assert.match(h.lines[0]!, /^receipted {2}trk-1 .*municipality → gp/);
    assert.match(h.lines[2]!, /03\.2 +ap +success {2}receipt/);
    const n = await run(['track', 'nope', '--data', dir], dir);
    assert.equal(n.code, 1);
    assert.match(n.err, /no organisation's MSH knows message nope/);
  });

  it('webhooks add posts {url, events, description} and prints the id and the secret; list, failures, retry and remove call their routes', async () => {
    const id = '6f1c2a4e-0b7d-4c59-9a43-2d1e8f7c3b10';
    const hook = {
      id,
      url: 'https://127.0.0.1:9443/ehmi',
      events: ['inbox.received'],
      description: 'GP system',
      createdAt: '2026-12-07T08:00:00.000Z',
      createdBy: 'gp-eua',
      disabled: null,
    };
    answers.set('gp POST /webhooks', { status: 201, body: { ...hook, secret: 'whsec_c2VjcmV0' } });
    seen.length = 0;
    const add = await run(
      [
        'webhooks',
        'add',
        'gp',
        hook.url,
        '--events',
        'inbox.received',
        '--description',
        'GP system',
        '--data',
        dir,
      ],
      dir,
    );
    assert.equal(add.code, 0, add.err);
    assert.deepEqual(JSON.parse(seen[0]!.body.toString('utf8')), {
      url: hook.url,
      events: ['inbox.received'],
      description: 'GP system',
    });
    assert.equal(seen[0]!.contentType, 'application/json');
    assert.match(
      add.out,
      new RegExp(`webhook ${id} of gp: https://127.0.0.1:9443/ehmi \\(inbox.received\\)`),
    );
    assert.match(add.out, /secret \(shown once.*\): whsec_c2VjcmV0/);
    const bad = await run(
      ['webhooks', 'add', 'gp', hook.url, '--events', 'inbox.deleted', '--data', dir],
      dir,
    );
    assert.equal(bad.code, 2);
    assert.match(bad.err, /unknown event type "inbox.deleted"/);

    answers.set('gp GET /webhooks', { status: 200, body: [hook] });
    const list = await run(['webhooks', 'list', 'gp', '--data', dir], dir);
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /gp webhooks: 1 webhook\n/);
    assert.match(list.out, new RegExp(`${id} {2}https://127.0.0.1:9443/ehmi {2}inbox.received`));

    const failure = {
      id: `msg_${'a'.repeat(32)}`,
      type: 'inbox.received',
      attempts: 15,
      lastStatus: 500,
      lastError: 'HTTP 500',
      failedAt: '2026-12-07T09:00:00.000Z',
    };
    answers.set(`gp GET /webhooks/${id}/failures`, { status: 200, body: [failure] });
    const failures = await run(['webhooks', 'failures', 'gp', id, '--data', dir], dir);
    assert.equal(failures.code, 0, failures.err);
    assert.match(failures.out, /1 failed delivery/);
    assert.match(failures.out, new RegExp(`${failure.id} {2}inbox.received {2}15 tries .* 500: HTTP 500`));
    answers.set(`gp POST /webhooks/${id}/failures/${failure.id}/$retry`, {
      status: 202,
      body: { id: failure.id },
    });
    const retry = await run(['webhooks', 'retry', 'gp', id, failure.id, '--data', dir], dir);
    assert.equal(retry.code, 0, retry.err);
    assert.match(retry.out, /queued again/);

    answers.set(`gp DELETE /webhooks/${id}`, { status: 204, body: '' });
    const removed = await run(['webhooks', 'remove', 'gp', id, '--data', dir], dir);
    assert.equal(removed.code, 0, removed.err);
    assert.match(removed.out, new RegExp(`webhook ${id} of gp removed`));
    // A refusal is the MSH's OperationOutcome, exit 1.
    answers.set('gp POST /webhooks', {
      status: 422,
      body: oo('url: a webhook is called over HTTPS only, not http'),
    });
    const http = await run(['webhooks', 'add', 'gp', 'http://127.0.0.1:9/h', '--data', dir], dir);
    assert.equal(http.code, 1);
    assert.match(http.err, /HTTPS only/);
  });

  it('resend posts $resend to the MSH that sent the message', async () => {
    answers.set('municipality POST /messages/trk-1/$resend', {
      status: 202,
      body: { id: 'trk-1', envelopeId: 'e-2', resends: 1 },
    });
    seen.length = 0;
    const r = await run(['resend', 'trk-1', '--data', dir], dir);
    assert.equal(r.code, 0, r.err);
    assert.equal(last(r), 'trk-1');
    assert.match(r.out, /resend 1, new envelope e-2/);
    assert.ok(
      seen.some(
        (s) => s.org === 'municipality' && s.method === 'POST' && s.url === '/messages/trk-1/$resend',
      ),
    );
    answers.set('municipality POST /messages/trk-1/$resend', {
      status: 409,
      body: oo('resent twice already'),
    });
    const c = await run(['resend', 'trk-1', '--data', dir], dir);
    assert.equal(c.code, 1);
    assert.match(c.err, /resent twice already/);
  });
});

describe('network commands without a running network', () => {
  it('no network.json in the data folder: one line, exit 4', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'ehmi-cli-nonet-'));
    try {
      for (const argv of [
        ['send', 'homecareobservation', '--from', 'municipality', '--to', 'gp'],
        ['inbox', 'gp'],
        ['ack', 'gp', 'x'],
        ['track', 'x'],
        ['resend', 'x'],
      ]) {
        const r = await run([...argv, '--data', empty], empty);
        assert.equal(r.code, 4, argv.join(' '));
        assert.equal(r.err.trim().split('\n').length, 1);
        assert.match(r.err, /no local network in .*ehmi up/);
      }
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('a network.json whose servers are stopped: one line saying it is not running, exit 4', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ehmi-cli-stopped-'));
    try {
      // A port base nobody listens on (the plan starts nothing).
      const plan = await planNetwork({ dataDir: dir, portBase: 1100, logger: pino({ level: 'silent' }) });
      writeNetworkManifest(dir, plan.manifest);
      for (const argv of [
        ['inbox', 'gp'],
        ['track', 'x'],
        ['send', 'homecareobservation', '--from', 'municipality', '--to', 'gp'],
      ]) {
        const r = await run([...argv, '--data', dir], dir);
        assert.equal(r.code, 4, `${argv.join(' ')}: ${r.err}`);
        assert.equal(r.err.trim().split('\n').length, 1);
        assert.match(r.err, /is not running .*ehmi up/);
      }
      // the default data folder is ./.ehmi of the working directory
      const d = await run(['inbox', 'gp'], dir);
      assert.equal(d.code, 4);
      assert.match(d.err, /\.ehmi/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
