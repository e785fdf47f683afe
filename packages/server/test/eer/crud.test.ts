import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines, type TestStore } from '../helpers/engines.ts';
import { assertOpenApiListsEveryRoute } from '../helpers/openapi.ts';
import { fhir, fixture, type Json, type RunningEer, reopen, startEer } from './helpers.ts';

const ORG = 'Organization-example-eer-messaging-organization.json';

for (const engine of engines()) {
  describe(`EER FHIR REST (${engine.name})`, { skip: engine.skip }, () => {
    let ts: TestStore;
    let eer: RunningEer;
    before(async () => {
      ts = await engine.open();
      eer = await startEer(ts);
    });
    after(async () => {
      await eer?.close();
      await ts?.cleanup();
    });

    // MedCom EER TestScripts: create → read → update name → read back → delete → read gone.
    it('create 201, read 200, update 200, read back, delete 204, read 410', async () => {
      const created = await fhir(`${eer.url}/Organization`, 'POST', fixture(ORG));
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id as string;
      assert.notEqual(id, 'example-eer-messaging-organization', 'the server assigns the id');
      assert.equal(created.headers.get('location'), `${eer.url}/Organization/${id}/_history/1`);
      assert.equal(created.headers.get('etag'), 'W/"1"');
      assert.equal((created.body.meta as Json).versionId, '1');

      const read = await fhir(`${eer.url}/Organization/${id}`);
      assert.equal(read.status, 200);
      assert.equal(read.body.name, 'Example Organization');

      const updated = await fhir(
        `${eer.url}/Organization/${id}`,
        'PUT',
        { ...read.body, name: 'Renamed Organization' },
        {
          'if-match': 'W/"1"',
        },
      );
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      assert.equal(updated.headers.get('etag'), 'W/"2"');

      const back = await fhir(`${eer.url}/Organization/${id}`);
      assert.equal(back.body.name, 'Renamed Organization');
      assert.equal((back.body.meta as Json).versionId, '2');

      const deleted = await fhir(`${eer.url}/Organization/${id}`, 'DELETE');
      assert.equal(deleted.status, 204);
      const gone = await fhir(`${eer.url}/Organization/${id}`);
      assert.equal(gone.status, 410);
      assert.equal(gone.body.resourceType, 'OperationOutcome');
      assert.equal(
        (await fhir(`${eer.url}/Organization/${id}/_history/2`)).status,
        200,
        'old versions stay readable',
      );
    });

    it('serves an OpenAPI document generated from the route schemas, listing every route', async () => {
      const res = await fetch(`${eer.url}/openapi.json`);
      assert.equal(res.status, 200);
      const doc = (await res.json()) as Json;
      assertOpenApiListsEveryRoute(eer.role.app, doc);
      assert.ok((doc.paths as Json)['/{type}/{id}/_history/{vid}']);
    });

    it('refuses a bad query parameter with 400 and an OperationOutcome naming it', async () => {
      const bad = await fhir(`${eer.url}/Organization?_count=lots`);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.resourceType, 'OperationOutcome');
      const issue = (bad.body.issue as Json[])[0] as {
        expression: string[];
        details: { coding: { code: string }[] };
      };
      assert.equal(issue.details.coding[0]?.code, 'EHMI_USAGE');
      assert.deepEqual(issue.expression, ['_count']);
    });

    it('history lists every version, newest first, the deletion included', async () => {
      const { body } = await fhir(`${eer.url}/Organization`, 'POST', fixture(ORG));
      const id = body.id as string;
      await fhir(`${eer.url}/Organization/${id}`, 'PUT', { ...body, name: 'v2' });
      await fhir(`${eer.url}/Organization/${id}`, 'PUT', { ...body, name: 'v3' });
      await fhir(`${eer.url}/Organization/${id}`, 'DELETE');
      const h = await fhir(`${eer.url}/Organization/${id}/_history`);
      assert.equal(h.status, 200);
      assert.equal(h.body.type, 'history');
      assert.equal(h.body.total, 4);
      const entries = h.body.entry as Json[];
      assert.deepEqual(
        entries.map((e) => [(e.request as Json).method, (e.response as Json).etag]),
        [
          ['DELETE', 'W/"4"'],
          ['PUT', 'W/"3"'],
          ['PUT', 'W/"2"'],
          ['POST', 'W/"1"'],
        ],
      );
      assert.equal(entries[0]!.resource, undefined);
      assert.equal((entries[1]!.resource as Json).name, 'v3');
      const v1 = await fhir(`${eer.url}/Organization/${id}/_history/1`);
      assert.equal(v1.body.name, 'Example Organization');
      assert.equal((await fhir(`${eer.url}/Organization/${id}/_history/4`)).status, 410);
      assert.equal((await fhir(`${eer.url}/Organization/${id}/_history/9`)).status, 404);
    });

    it('If-Match with a stale version is refused with 412 and changes nothing', async () => {
      const { body } = await fhir(`${eer.url}/Organization`, 'POST', fixture(ORG));
      const id = body.id as string;
      await fhir(`${eer.url}/Organization/${id}`, 'PUT', { ...body, name: 'second' });
      const stale = await fhir(
        `${eer.url}/Organization/${id}`,
        'PUT',
        { ...body, name: 'lost update' },
        {
          'if-match': 'W/"1"',
        },
      );
      assert.equal(stale.status, 412);
      assert.equal((await fhir(`${eer.url}/Organization/${id}`)).body.name, 'second');
    });

    it('PUT to a new id creates it under that id (update as create)', async () => {
      const r = await fhir(`${eer.url}/Organization/my-org-1`, 'PUT', { ...fixture(ORG), id: 'my-org-1' });
      assert.equal(r.status, 201);
      assert.equal(r.headers.get('location'), `${eer.url}/Organization/my-org-1/_history/1`);
    });

    it('unknown resource type → 404, unknown id → 404', async () => {
      const r = await fhir(`${eer.url}/Patient`, 'POST', { resourceType: 'Patient' });
      assert.equal(r.status, 404);
      assert.equal(r.body.resourceType, 'OperationOutcome');
      assert.equal((await fhir(`${eer.url}/Patient/x`)).status, 404);
      assert.equal((await fhir(`${eer.url}/Organization/does-not-exist`)).status, 404);
    });

    it('unreadable bodies → 400: broken JSON, a type other than the URL, PUT without the URL id', async () => {
      const broken = await fhir(`${eer.url}/Organization`, 'POST', '{"resourceType": "Organization",');
      assert.equal(broken.status, 400);
      assert.equal(broken.body.resourceType, 'OperationOutcome');
      assert.equal((await fhir(`${eer.url}/Organization`, 'POST', { resourceType: 'Endpoint' })).status, 400);
      assert.equal((await fhir(`${eer.url}/Organization`, 'POST', '[1,2]')).status, 400);
      const noId = await fhir(`${eer.url}/Organization/abc`, 'PUT', fixture(ORG));
      assert.equal(noId.status, 400);
      assert.equal((await fhir(`${eer.url}/Organization/abc`)).status, 404, 'nothing was written');
      assert.equal(
        (await fhir(`${eer.url}/Organization/abc`, 'PUT', fixture(ORG), { 'if-match': 'nope' })).status,
        400,
      );
    });

    it('speaks FHIR XML too (create from XML, read as XML)', async () => {
      const xml =
        '<Organization xmlns="http://hl7.org/fhir"><identifier><system value="urn:oid:1.2.208.176.1.1"/><value value="123456789012345"/></identifier>' +
        '<type><coding><system value="http://medcomehmi.dk/ig/terminology/CodeSystem/eer-sor-organization-type"/><code value="OU"/></coding></type>' +
        '<name value="XML Organisation"/></Organization>';
      const res = await fetch(`${eer.url}/Organization`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+xml', accept: 'application/fhir+xml' },
        body: xml,
      });
      assert.equal(res.status, 201, await res.clone().text());
      assert.match(res.headers.get('content-type') ?? '', /application\/fhir\+xml/);
      const text = await res.text();
      assert.match(text, /<name value="XML Organisation"\/>/);
      const malformed = await fetch(`${eer.url}/Organization`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+xml' },
        body: '<Organization xmlns="http://hl7.org/fhir"><name value="x"/>',
      });
      assert.equal(malformed.status, 400);
    });

    it('without the node’s authorization there is no SMART configuration: 404', async () => {
      const r = await fhir(`${eer.url}/.well-known/smart-configuration`);
      assert.equal(r.status, 404);
      assert.equal(r.body.resourceType, 'OperationOutcome');
    });

    it('GET /metadata is a CapabilityStatement naming the EER profiles and search parameters', async () => {
      const r = await fhir(`${eer.url}/metadata`);
      assert.equal(r.status, 200);
      assert.equal(r.body.resourceType, 'CapabilityStatement');
      assert.equal(r.body.fhirVersion, '4.0.1');
      const resources = ((r.body.rest as Json[])[0]!.resource as Json[]).map((x) => x.type);
      assert.deepEqual(resources, ['Organization', 'Endpoint', 'Device']);
      const org = ((r.body.rest as Json[])[0]!.resource as Json[])[0]!;
      assert.equal(org.profile, 'http://medcomehmi.dk/ig/eer/StructureDefinition/Eer.Messaging.Organization');
      const params = (org.searchParam as Json[]).map((p) => p.name);
      for (const p of ['identifier', 'sor', 'gln', 'name', 'messageType']) assert.ok(params.includes(p), p);
    });

    it('a restart keeps every resource and version', async () => {
      const { body } = await fhir(`${eer.url}/Organization`, 'POST', fixture(ORG));
      const id = body.id as string;
      await fhir(`${eer.url}/Organization/${id}`, 'PUT', { ...body, name: 'before restart' });
      await eer.close();
      await ts.store.close();
      const store = await reopen(ts);
      ts.store = store;
      eer = await startEer(ts, {}, {}, store);
      const read = await fhir(`${eer.url}/Organization/${id}`);
      assert.equal(read.status, 200);
      assert.equal(read.body.name, 'before restart');
      assert.equal((await fhir(`${eer.url}/Organization/${id}/_history`)).body.total, 2);
      const found = await fhir(`${eer.url}/Organization?name=before%20restart`);
      assert.equal(found.body.total, 1);
    });
  });
}
