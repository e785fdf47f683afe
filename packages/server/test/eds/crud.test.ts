// EDS create, read and the interactions it refuses, on a node without authorization (insecure): every sample event
// of the EDS IG validates and is stored, an invalid one is refused and not stored, an event posted again is stored
// once, update/patch/delete are 405, and the CapabilityStatement says so (MedCom's EDS TestScripts assert the same).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jsonToXml, shippedValidator, xmlToJson } from '@ehmi/fhir';
import { engines, type TestStore } from '../helpers/engines.ts';
import {
  call,
  edsFixture,
  edsSamples,
  type Json,
  matchIds,
  type RunningEds,
  startEds,
  withMessage,
} from './helpers.ts';

const PATIENT = 'http://medcomehmi.dk/ig/eds/StructureDefinition/EdsPatientDeliveryStatus';
const BASIC = 'http://medcomehmi.dk/ig/eds/StructureDefinition/EdsBasicDeliveryStatus';

for (const engine of engines()) {
  describe(`EDS create and read (${engine.name})`, { skip: engine.skip }, () => {
    let ts: TestStore;
    let eds: RunningEds;
    const count = async () => {
      const answer = await call(`${eds.url}/AuditEvent?_summary=count`);
      assert.equal(answer.status, 200, answer.text);
      return answer.body.total as number;
    };
    before(async () => {
      ts = await engine.open();
      eds = await startEds(ts);
    });
    after(async () => {
      await eds?.close();
      await ts?.cleanup();
    });

    it('every sample event of the EDS IG (01.1 … 20.1) validates and is stored: 201, Location AuditEvent/<id>/_history/1', async () => {
      const samples = edsSamples();
      assert.equal(samples.length, 34);
      for (const { name, event } of samples) {
        const answer = await call(`${eds.url}/AuditEvent`, 'POST', event);
        assert.equal(answer.status, 201, `${name}: ${answer.text}`);
        const body = answer.body;
        assert.notEqual(body.id, event.id, `${name}: the server assigns the id`);
        assert.match(String(body.id), /^[A-Za-z0-9\-.]{1,64}$/);
        assert.equal(answer.headers.get('location'), `${eds.url}/AuditEvent/${String(body.id)}/_history/1`);
        const meta = body.meta as Json;
        assert.equal(meta.versionId, '1');
        assert.ok(Date.parse(String(meta.lastUpdated)) > Date.now() - 60_000);
        assert.equal(body.recorded, event.recorded, 'recorded is kept as registered');
        const read = await call(`${eds.url}/AuditEvent/${String(body.id)}`);
        assert.equal(read.status, 200, read.text);
        assert.deepEqual(read.body, body);
      }
      assert.equal(await count(), 34);
    });

    it('the same event twice is stored once: 200 the second time, with the stored event and its Location', async () => {
      const event = withMessage(edsFixture('AuditEvent-EDS-PDS-02.1.json'), 'MSG-twice');
      const before = await count();
      const first = await call(`${eds.url}/AuditEvent`, 'POST', event);
      assert.equal(first.status, 201, first.text);
      // A retry after a timeout: the same content (the id and meta a station may send are not the event's identity).
      const again = await call(`${eds.url}/AuditEvent`, 'POST', { ...event, id: 'retry', meta: {} });
      assert.equal(again.status, 200, again.text);
      assert.equal(again.body.id, first.body.id);
      assert.equal(again.headers.get('location'), first.headers.get('location'));
      const asXml = await call(`${eds.url}/AuditEvent`, 'POST', jsonToXml(event), {
        'content-type': 'application/fhir+xml',
      });
      assert.equal(asXml.status, 200, asXml.text);
      assert.equal(asXml.body.id, first.body.id);
      assert.equal(await count(), before + 1);
      const search = await call(`${eds.url}/AuditEvent?message-id:exact=MSG-twice`);
      assert.deepEqual(matchIds(search.body), [first.body.id]);
    });

    it('posts that race store the event once', async () => {
      const event = withMessage(edsFixture('AuditEvent-EDS-PDS-03.1.json'), 'MSG-race');
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => call(`${eds.url}/AuditEvent`, 'POST', event)),
      );
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 200, 200, 200, 200, 201]);
      assert.equal(new Set(answers.map((a) => a.body.id)).size, 1);
      const search = await call(`${eds.url}/AuditEvent?message-id:exact=MSG-race&_summary=count`);
      assert.equal(search.body.total, 1);
    });

    it('an event without subtype, with an outcome outside the EDS value set, or claiming another profile is 422 and not stored', async () => {
      const good = withMessage(edsFixture('AuditEvent-EDS-PDS-01.1.json'), 'MSG-invalid');
      const { subtype: _s, ...noSubtype } = good;
      const cases: [string, Json, RegExp][] = [
        ['no subtype', noSubtype, /subtype/],
        ['outcome 4', { ...good, outcome: '4' }, /ehmi-delivery-status-outcome-valueset/],
        [
          'another profile',
          { ...good, meta: { profile: ['http://hl7.org/fhir/StructureDefinition/AuditEvent'] } },
          /not an EDS profile/,
        ],
        ['no agents', { ...good, agent: [] }, /agent/],
      ];
      const before = await count();
      for (const [what, event, why] of cases) {
        const answer = await call(`${eds.url}/AuditEvent`, 'POST', event);
        assert.equal(answer.status, 422, `${what}: ${answer.text}`);
        assert.equal(answer.body.resourceType, 'OperationOutcome', what);
        const issues = answer.body.issue as Json[];
        assert.ok(
          issues.some((i) => i.severity === 'error' && why.test(String(i.diagnostics))),
          `${what}: ${answer.text}`,
        );
      }
      assert.equal(await count(), before, 'nothing stored');
      const none = await call(`${eds.url}/AuditEvent?message-id=MSG-invalid&_summary=count`);
      assert.equal(none.body.total, 0);
    });

    it('the profile checked: the one meta.profile claims; none claimed: Patient with an ehmiPatient entity, else Basic', async () => {
      // A patient event that claims Basic only is checked as Basic (which allows no more than it says) …
      const patientEvent = withMessage(edsFixture('AuditEvent-EDS-PDS-04.1.json'), 'MSG-profile-1');
      const { meta: _m, ...unclaimed } = patientEvent;
      const answer = await call(`${eds.url}/AuditEvent`, 'POST', unclaimed);
      assert.equal(answer.status, 201, answer.text);
      // … and one without its ehmiPatient entity that claims the Patient profile fails it.
      const withoutPatient: Json = {
        ...patientEvent,
        entity: (patientEvent.entity as Json[]).filter((e) => (e.type as Json).code !== 'ehmiPatient'),
      };
      const refused = await call(`${eds.url}/AuditEvent`, 'POST', {
        ...withoutPatient,
        meta: { profile: [PATIENT] },
      });
      assert.equal(refused.status, 422, refused.text);
      assert.match(refused.text, /ehmiPatient|entity/);
      const { meta: _m2, ...basic } = withoutPatient;
      const asBasic = await call(`${eds.url}/AuditEvent`, 'POST', basic);
      assert.equal(asBasic.status, 201, asBasic.text);
      assert.equal(asBasic.body.recorded, basic.recorded);
    });

    it('made-up GLNs (GLN-1234 of the IG samples) are valid EDS data: the registers’ identifier rules do not apply', async () => {
      const event = withMessage(edsFixture('AuditEvent-EDS-PDS-01.1.json'), 'MSG-gln');
      assert.match(JSON.stringify(event), /GLN-1234/);
      const answer = await call(`${eds.url}/AuditEvent`, 'POST', event);
      assert.equal(answer.status, 201, answer.text);
    });

    it('XML in and out: a create in FHIR XML, a read with _format=xml and with Accept', async () => {
      const event = withMessage(edsFixture('AuditEvent-EDS-BDS-07.1.json'), 'MSG-xml');
      const created = await call(`${eds.url}/AuditEvent?_format=xml`, 'POST', jsonToXml(event), {
        'content-type': 'application/fhir+xml',
        accept: 'application/fhir+xml',
      });
      assert.equal(created.status, 201, created.text);
      assert.match(created.headers.get('content-type') ?? '', /^application\/fhir\+xml/);
      const stored = xmlToJson(created.text) as Json;
      assert.equal(stored.resourceType, 'AuditEvent');
      for (const read of [
        await call(`${eds.url}/AuditEvent/${String(stored.id)}?_format=xml`),
        await call(`${eds.url}/AuditEvent/${String(stored.id)}`, 'GET', undefined, {
          accept: 'application/fhir+xml',
        }),
      ]) {
        assert.equal(read.status, 200, read.text);
        assert.deepEqual(xmlToJson(read.text), stored);
      }
    });

    it('If-None-Exist: a match is 200 with it and nothing new; no match creates', async () => {
      const event = withMessage(edsFixture('AuditEvent-EDS-PDS-05.1.json'), 'MSG-conditional');
      const first = await call(`${eds.url}/AuditEvent`, 'POST', event);
      assert.equal(first.status, 201, first.text);
      const other = { ...event, recorded: '2025-11-01T00:00:09.000+02:00' };
      const matched = await call(`${eds.url}/AuditEvent`, 'POST', other, {
        'if-none-exist': 'message-id:exact=MSG-conditional',
      });
      assert.equal(matched.status, 200, matched.text);
      assert.equal(matched.body.id, first.body.id);
      const created = await call(`${eds.url}/AuditEvent`, 'POST', other, {
        'if-none-exist': 'message-id:exact=MSG-conditional&date=2025-11-01T00:00:09%2B02:00',
      });
      assert.equal(created.status, 201, created.text);
      const twice = await call(`${eds.url}/AuditEvent`, 'POST', withMessage(other, 'MSG-conditional-2'), {
        'if-none-exist': 'message-id=MSG-conditional',
      });
      assert.equal(twice.status, 412, twice.text);
      const bad = await call(`${eds.url}/AuditEvent`, 'POST', event, { 'if-none-exist': 'colour=blue' });
      assert.equal(bad.status, 400, bad.text);
    });

    it('PUT, PATCH and DELETE are 405 with an OperationOutcome, and change nothing', async () => {
      const event = withMessage(edsFixture('AuditEvent-EDS-PDS-06.1.json'), 'MSG-immutable');
      const created = await call(`${eds.url}/AuditEvent`, 'POST', event);
      const id = String(created.body.id);
      const attempts: [string, string, unknown, Record<string, string>][] = [
        ['PUT', `/AuditEvent/${id}`, { ...created.body, outcome: '8' }, {}],
        [
          'PATCH',
          `/AuditEvent/${id}`,
          '[{"op":"replace","path":"/outcome","value":"8"}]',
          {
            'content-type': 'application/json-patch+json',
          },
        ],
        ['DELETE', `/AuditEvent/${id}`, undefined, {}],
        ['DELETE', `/AuditEvent?message-id=MSG-immutable`, undefined, {}],
        ['PUT', `/AuditEvent?message-id=MSG-immutable`, { ...created.body, outcome: '8' }, {}],
      ];
      for (const [method, path, body, headers] of attempts) {
        const answer = await call(`${eds.url}${path}`, method, body, headers);
        assert.equal(answer.status, 405, `${method} ${path}: ${answer.text}`);
        assert.equal(answer.body.resourceType, 'OperationOutcome');
        assert.ok(answer.headers.get('allow'));
      }
      const read = await call(`${eds.url}/AuditEvent/${id}`);
      assert.deepEqual(read.body, created.body);
    });

    it('a read of an unknown id is 404 with an OperationOutcome; an unknown type is 404', async () => {
      for (const path of ['/AuditEvent/no-such-event', '/AuditEvent/%20bad', '/Device']) {
        const answer = await call(`${eds.url}${path}`);
        assert.equal(answer.status, 404, `${path}: ${answer.text}`);
        assert.equal(answer.body.resourceType, 'OperationOutcome');
      }
    });

    it('a body that is no AuditEvent is 400', async () => {
      const org = await call(`${eds.url}/AuditEvent`, 'POST', { resourceType: 'Organization', name: 'x' });
      assert.equal(org.status, 400, org.text);
      const text = await call(`${eds.url}/AuditEvent`, 'POST', 'hello', { 'content-type': 'text/plain' });
      assert.equal(text.status, 400, text.text);
    });

    it('GET /metadata: a valid R4 CapabilityStatement with read, search-type and create of AuditEvent only, every search parameter with its definition, JSON and XML', async () => {
      const answer = await call(`${eds.url}/metadata`);
      assert.equal(answer.status, 200, answer.text);
      const cs = answer.body;
      const outcome = shippedValidator().validate(cs);
      const errors = outcome.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');
      assert.deepEqual(errors, [], JSON.stringify(errors));
      assert.deepEqual(cs.format, ['application/fhir+json', 'application/fhir+xml']);
      const rest = (cs.rest as Json[])[0]!;
      const resources = rest.resource as Json[];
      assert.deepEqual(
        resources.map((r) => r.type),
        ['AuditEvent'],
      );
      const audit = resources[0]!;
      const interactions = (audit.interaction as Json[]).map((i) => i.code);
      assert.deepEqual(interactions, ['read', 'search-type', 'create']);
      assert.equal(
        (audit.interaction as Json[]).filter((i) => ['update', 'patch', 'delete'].includes(String(i.code)))
          .length,
        0,
      );
      assert.equal(audit.conditionalCreate, true);
      assert.deepEqual(audit.supportedProfile, [BASIC, PATIENT]);
      const params = new Map((audit.searchParam as Json[]).map((p) => [p.name, p]));
      for (const name of [
        'date',
        'outcome',
        'message-id',
        'orig-message-id',
        'entityIdentifier',
        'sender-gln',
        'sender-sor',
        'sender-name',
        'senderOrg',
        'receiver-gln',
        'receiver-sor',
        'receiver-name',
        'receiverOrg',
        'participant-sor',
        'cpr',
        'ehmiMessageType',
      ]) {
        assert.ok(params.get(name)?.definition, `searchParam ${name} with its definition`);
      }
      assert.equal(
        params.get('cpr')?.definition,
        'http://medcomehmi.dk/ig/eds/SearchParameter/SearchParameter-EDS-CPR',
      );
      const xml = await call(`${eds.url}/metadata`, 'GET', undefined, { accept: 'application/fhir+xml' });
      assert.equal(xml.status, 200);
      assert.deepEqual(xmlToJson(xml.text), cs);
    });
  });
}
