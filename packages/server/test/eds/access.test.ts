// EDS with the node's `authorization`: mTLS and certificate-bound access tokens of a real authorization server (the
// `auth` role). A system client registers events of its own organisation (and device) only and sees the events of
// messages it took part in; the network operator registers and reads any; a patient-restricted token sees that
// patient's events only (docs/architecture.md "EDS").
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Agent } from 'undici';
import type { AuthRole } from '../../src/auth/index.ts';
import { authConfig, CLIENT_DN, requestToken, startAuth, type TestPki, testPki } from '../auth/helpers.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { call, edsFixture, type Json, matchIds, type RunningEds, startEds, withMessage } from './helpers.ts';

const EDS = 'https://eds.ehmi.test';
const STRANGER_DN = 'CN=stranger, O=Other, C=DK';
const BOTH = 'system/AuditEvent.c system/AuditEvent.rs';
const OTHER_ID = 'http://medcomehmi.dk/ig/eds/StructureDefinition/eds-otherId';

const CARE = { sor: '937961000016000', gln: '5790000000011', name: 'Aarhus Kommune' };
const GP = { sor: '698141000016008', gln: '5790000000028', name: 'Lægerne Stjernepladsen' };
const LAB = { sor: '111111000016001', gln: '5790000000035', name: 'Laboratoriet' };
const CPR = '0101011234';

/** A sample event between two organisations, observed by `device`, about `cpr`. */
function event(
  messageId: string,
  sender: typeof CARE,
  receiver: typeof GP,
  device = 'Cura-EUA',
  cpr = CPR,
): Json {
  const base = withMessage(edsFixture('AuditEvent-EDS-PDS-01.1.json'), messageId);
  const agent = (a: Json, org: typeof CARE) => ({
    ...a,
    name: org.name,
    who: { identifier: { value: org.sor } },
    extension: [
      {
        ...(a.extension as Json[])[0],
        url: OTHER_ID,
        valueIdentifier: {
          ...(((a.extension as Json[])[0] as Json).valueIdentifier as Json),
          value: org.gln,
        },
      },
    ],
  });
  const [s, r] = base.agent as Json[];
  const contained = (base.contained as Json[]).map((d) => ({ ...d, identifier: [{ value: device }] }));
  const entity = (base.entity as Json[]).map((e) =>
    (e.type as Json).code === 'ehmiPatient' ? { ...e, what: { identifier: { value: cpr } } } : e,
  );
  return { ...base, agent: [agent(s!, sender), agent(r!, receiver)], contained, entity };
}

for (const engine of engines()) {
  describe(`EDS: access tokens when the node has authorization (own organisation, device, operator, patient) (${engine.name})`, {
    skip: engine.skip,
  }, () => {
    let ts: TestStore;
    let pki: TestPki;
    let auth: AuthRole;
    let eds: RunningEds;
    let gpAgent: Agent;
    let otherAgent: Agent;

    const token = async (
      agent: Agent,
      clientId: string,
      scope = BOTH,
      extra: Record<string, string> = {},
    ) => {
      const { status, body } = await requestToken(auth.url, agent, {
        client_id: clientId,
        scope,
        resource: EDS,
        ...extra,
      });
      assert.equal(status, 200, JSON.stringify(body));
      return String(body.access_token);
    };
    const as = (agent: Agent, bearer: string | undefined) => ({
      post: (body: Json) =>
        call(
          `${eds.url}/AuditEvent`,
          'POST',
          body,
          bearer ? { authorization: `Bearer ${bearer}` } : {},
          agent,
        ),
      get: (path: string) =>
        call(
          `${eds.url}${path}`,
          'GET',
          undefined,
          bearer ? { authorization: `Bearer ${bearer}` } : {},
          agent,
        ),
    });

    before(async () => {
      pki = await testPki();
      ts = await engine.open();
      auth = await startAuth(
        ts,
        pki,
        authConfig(ts, {
          resources: { [EDS]: BOTH },
          clients: [
            {
              clientId: 'care-msh',
              subjectDn: CLIENT_DN,
              scope: BOTH,
              organisation: { ...CARE, deviceId: 'Cura-MSH' },
            },
            { clientId: 'care-any', subjectDn: CLIENT_DN, scope: BOTH, organisation: CARE },
            { clientId: 'gp-reader', subjectDn: CLIENT_DN, scope: 'system/AuditEvent.rs', organisation: GP },
            { clientId: 'lab', subjectDn: STRANGER_DN, scope: BOTH, organisation: LAB },
            { clientId: 'nobody', subjectDn: STRANGER_DN, scope: BOTH },
            { clientId: 'operator', subjectDn: STRANGER_DN, scope: BOTH },
            {
              clientId: 'citizen-app',
              subjectDn: CLIENT_DN,
              scope: 'system/AuditEvent.rs',
              authorizationDetailsTypes: ['ehmi_patient'],
            },
          ],
        }),
      );
      eds = await startEds(
        ts,
        { publicUrl: EDS },
        { key: pki.server.privateKeyPem, cert: pki.server.certificatePem, ca: [pki.caPem] },
        { authorization: { issuer: auth.issuer, operatorClients: ['operator'] } },
      );
      gpAgent = pki.agent(pki.client);
      otherAgent = pki.agent(pki.stranger);
    });
    after(async () => {
      await eds?.close();
      await auth?.close();
      await gpAgent?.close();
      await otherAgent?.close();
      await pki?.anonymous.close();
      await ts?.cleanup();
    });

    it('no token: 401 with WWW-Authenticate: Bearer; no certificate: 401; /metadata and the SMART configuration need neither', async () => {
      const none = await as(gpAgent, undefined).post(event('A-none', CARE, GP));
      assert.equal(none.status, 401, none.text);
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
      const anonymous = await as(pki.anonymous, await token(gpAgent, 'care-any')).get('/AuditEvent');
      assert.equal(anonymous.status, 401, anonymous.text);
      const metadata = await call(`${eds.url}/metadata`, 'GET', undefined, {}, pki.anonymous);
      assert.equal(metadata.status, 200, metadata.text);
      const smart = await call(
        `${eds.url}/.well-known/smart-configuration`,
        'GET',
        undefined,
        {},
        pki.anonymous,
      );
      assert.equal(smart.status, 200, smart.text);
      for (const scope of ['system/AuditEvent.c', 'system/AuditEvent.rs', 'system/AuditEvent.crs']) {
        assert.ok((smart.body.scopes_supported as string[]).includes(scope), scope);
      }
    });

    it('a client registers events of its own organisation, as sender or receiver (by SOR or GLN): 201', async () => {
      const client = as(gpAgent, await token(gpAgent, 'care-any'));
      const sent = await client.post(event('A-own-1', CARE, GP));
      assert.equal(sent.status, 201, sent.text);
      const received = await client.post(event('A-own-2', LAB, CARE));
      assert.equal(received.status, 201, received.text);
    });

    it("another organisation's event: 403 naming why, nothing stored", async () => {
      const client = as(gpAgent, await token(gpAgent, 'care-any'));
      const answer = await client.post(event('A-foreign', GP, LAB));
      assert.equal(answer.status, 403, answer.text);
      assert.equal(answer.body.resourceType, 'OperationOutcome');
      assert.match(answer.text, /not the organisation of the access token/);
      const operator = as(otherAgent, await token(otherAgent, 'operator'));
      const found = await operator.get('/AuditEvent?message-id:exact=A-foreign&_summary=count');
      assert.equal(found.body.total, 0);
    });

    it('a token naming a device registers only with that device as source.observer: 403 for another', async () => {
      const client = as(gpAgent, await token(gpAgent, 'care-msh'));
      const wrong = await client.post(event('A-device-1', CARE, GP, 'Cura-EUA'));
      assert.equal(wrong.status, 403, wrong.text);
      assert.match(
        wrong.text,
        /source\.observer \(Cura-EUA\) is not the device of the access token \(Cura-MSH\)/,
      );
      const right = await client.post(event('A-device-2', CARE, GP, 'Cura-MSH'));
      assert.equal(right.status, 201, right.text);
    });

    it('a read-only token cannot register (403 insufficient_scope); a token with no organisation cannot either', async () => {
      const reader = await as(gpAgent, await token(gpAgent, 'gp-reader', 'system/AuditEvent.rs')).post(
        event('A-ro', GP, CARE),
      );
      assert.equal(reader.status, 403, reader.text);
      assert.match(reader.headers.get('www-authenticate') ?? '', /insufficient_scope/);
      const nobody = await as(otherAgent, await token(otherAgent, 'nobody')).post(
        event('A-nobody', CARE, GP),
      );
      assert.equal(nobody.status, 403, nobody.text);
      assert.match(nobody.text, /names no organisation/);
    });

    it('the operator registers and reads any event', async () => {
      const operator = as(otherAgent, await token(otherAgent, 'operator'));
      const created = await operator.post(event('A-operator', GP, LAB, 'any-device'));
      assert.equal(created.status, 201, created.text);
      const read = await operator.get(`/AuditEvent/${String(created.body.id)}`);
      assert.equal(read.status, 200, read.text);
      const all = await operator.get('/AuditEvent?_summary=count');
      assert.equal(all.body.total, 4, 'A-own-1, A-own-2, A-device-2 and this one');
    });

    it("a client sees only events of messages it took part in: another's event is 404 to read and absent from searches", async () => {
      const operator = as(otherAgent, await token(otherAgent, 'operator'));
      const gpLab = await operator.post(event('A-seen-1', GP, LAB, 'x'));
      const careGp = await operator.post(event('A-seen-2', CARE, GP, 'x'));
      const labCare = await operator.post(event('A-seen-3', LAB, CARE, 'x'));
      const care = as(gpAgent, await token(gpAgent, 'care-any'));
      const lab = as(otherAgent, await token(otherAgent, 'lab'));
      assert.equal((await care.get(`/AuditEvent/${String(gpLab.body.id)}`)).status, 404);
      assert.equal((await care.get(`/AuditEvent/${String(careGp.body.id)}`)).status, 200);
      const careSees = await care.get('/AuditEvent?message-id=A-seen');
      assert.deepEqual(matchIds(careSees.body).sort(), [careGp.body.id, labCare.body.id].sort());
      assert.equal(careSees.body.total, 2);
      const labSees = await lab.get('/AuditEvent?message-id=A-seen');
      assert.deepEqual(matchIds(labSees.body).sort(), [gpLab.body.id, labCare.body.id].sort());
      // A search by another organisation's identifiers finds only what the client may see.
      const bySender = await lab.get(`/AuditEvent?sender-sor=${GP.sor}&message-id=A-seen`);
      assert.deepEqual(matchIds(bySender.body), [gpLab.body.id]);
      const everything = await operator.get('/AuditEvent?message-id=A-seen');
      assert.equal(everything.body.total, 3);
    });

    it("a patient-restricted token sees that patient's events only", async () => {
      const operator = as(otherAgent, await token(otherAgent, 'operator'));
      const mine = await operator.post(event('A-patient-1', CARE, GP, 'x', '0202021234'));
      await operator.post(event('A-patient-2', CARE, GP, 'x', '0303031234'));
      const citizen = as(
        gpAgent,
        await token(gpAgent, 'citizen-app', 'system/AuditEvent.rs', {
          authorization_details: JSON.stringify([{ type: 'ehmi_patient', cpr: '0202021234' }]),
        }),
      );
      const sees = await citizen.get('/AuditEvent?message-id=A-patient');
      assert.deepEqual(matchIds(sees.body), [mine.body.id]);
      const other = await citizen.get('/AuditEvent?cpr=0303031234');
      assert.equal(other.body.total, 0);
    });

    it('a batch Bundle answers each entry on its own (201, 200 for a repeat, 422, 403, 400) and stores only the accepted ones, in order', async () => {
      const bearer = await token(gpAgent, 'care-any');
      const headers = { authorization: `Bearer ${bearer}` };
      const earlier = event('B-repeat', CARE, GP);
      const first = await as(gpAgent, bearer).post(earlier);
      assert.equal(first.status, 201, first.text);
      const post = (resource: Json, url = 'AuditEvent', method = 'POST') => ({
        resource,
        request: { method, url },
      });
      const { subtype: _subtype, ...invalid } = event('B-invalid', CARE, GP);
      const fresh = event('B-fresh', CARE, GP);
      const bundle = {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          post(fresh),
          post(invalid),
          post(event('B-others', LAB, GP)),
          post(earlier),
          post(event('B-put', CARE, GP), 'AuditEvent/x', 'PUT'),
          post(fresh),
        ],
      };
      const answer = await call(`${eds.url}/`, 'POST', bundle, headers, gpAgent);
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.body.type, 'batch-response');
      const entries = answer.body.entry as Json[];
      const status = entries.map((e) => String((e.response as Json).status).slice(0, 3));
      assert.deepEqual(status, ['201', '422', '403', '200', '400', '200']);
      const outcome = (i: number) => JSON.stringify((entries[i]!.response as Json).outcome);
      assert.match(outcome(1), /subtype/);
      assert.match(outcome(2), /not the organisation of the access token/);
      assert.match(outcome(4), /PUT/);
      const stored = (entries[0]!.resource as Json).id;
      assert.equal((entries[0]!.response as Json).location, `AuditEvent/${String(stored)}/_history/1`);
      assert.equal((entries[3]!.response as Json).location, `AuditEvent/${String(first.body.id)}/_history/1`);
      assert.equal(
        (entries[5]!.resource as Json).id,
        stored,
        'the same event twice in one batch is stored once',
      );
      const operator = as(otherAgent, await token(otherAgent, 'operator'));
      for (const [id, n] of [
        ['B-fresh', 1],
        ['B-repeat', 1],
        ['B-invalid', 0],
        ['B-others', 0],
        ['B-put', 0],
      ] as const) {
        const found = await operator.get(`/AuditEvent?message-id:exact=${id}&_summary=count`);
        assert.equal(found.body.total, n, `${id}: ${found.text}`);
      }
      // return=minimal leaves the events out of the answer.
      const minimal = await call(
        `${eds.url}/`,
        'POST',
        { resourceType: 'Bundle', type: 'batch', entry: [post(event('B-minimal', CARE, GP))] },
        { ...headers, prefer: 'return=minimal' },
        gpAgent,
      );
      const only = (minimal.body.entry as Json[])[0]!;
      assert.equal(only.resource, undefined);
      assert.equal((only.response as Json).status, '201 Created');
    });

    it('a batch needs the create scope; a transaction is 400, more entries than eds.batch.maxEntries 413, nothing stored', async () => {
      const reader = await token(gpAgent, 'gp-reader', 'system/AuditEvent.rs');
      const batch = (n: number, id = 'B-limit') => ({
        resourceType: 'Bundle',
        type: 'batch',
        entry: Array.from({ length: n }, (_, i) => ({
          resource: event(`${id}-${i}`, CARE, GP),
          request: { method: 'POST', url: 'AuditEvent' },
        })),
      });
      const denied = await call(
        `${eds.url}/`,
        'POST',
        batch(1),
        { authorization: `Bearer ${reader}` },
        gpAgent,
      );
      assert.equal(denied.status, 403, denied.text);
      assert.match(denied.headers.get('www-authenticate') ?? '', /insufficient_scope/);
      const headers = { authorization: `Bearer ${await token(gpAgent, 'care-any')}` };
      const transaction = await call(
        `${eds.url}/`,
        'POST',
        { ...batch(1), type: 'transaction' },
        headers,
        gpAgent,
      );
      assert.equal(transaction.status, 400, transaction.text);
      assert.match(transaction.text, /transaction/);
      const tooMany = await call(`${eds.url}/`, 'POST', batch(201), headers, gpAgent);
      assert.equal(tooMany.status, 413, tooMany.text);
      assert.match(tooMany.text, /at most 200/);
      const metadata = await call(`${eds.url}/metadata`, 'GET', undefined, {}, pki.anonymous);
      const rest = (metadata.body.rest as Json[])[0]!;
      assert.deepEqual(
        rest.interaction,
        [{ code: 'batch' }],
        'the CapabilityStatement says batch is supported',
      );
      const operator = as(otherAgent, await token(otherAgent, 'operator'));
      const found = await operator.get('/AuditEvent?message-id=B-limit&_summary=count');
      assert.equal(found.body.total, 0);
    });
  });
}

describe('EDS fails closed', () => {
  it('without the node’s authorization (and not insecure) it refuses to start, naming authorization', async () => {
    const ts = await engines()[0]!.open();
    try {
      await assert.rejects(
        startEds(ts, {}, undefined, { insecure: false }),
        (err: Error & { code?: string }) =>
          err.code === 'EHMI_CONFIG_INVALID' && /authorization/.test(err.message),
      );
    } finally {
      await ts.cleanup();
    }
  });

  it('the scopes a request needs: .c or EHMI’s .crs to register, .rs or .crs to read; PUT/PATCH/DELETE any valid token (then 405)', async () => {
    // The scope function: POST needs .c or .crs, GET .rs or .crs.
    const { edsScopes } = await import('../../src/eds/access.ts');
    const request = (method: string) => ({ method }) as never;
    assert.deepEqual(edsScopes(request('POST')), ['system/AuditEvent.c', 'system/AuditEvent.crs']);
    assert.deepEqual(edsScopes(request('GET')), ['system/AuditEvent.rs', 'system/AuditEvent.crs']);
    assert.equal(edsScopes(request('DELETE')), undefined);
  });
});
