import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eerResourcesFor } from '../../src/eer/index.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { smpTestPki } from '../smp/helpers.ts';
import { fhir, type Json, type RunningEer, startEer } from './helpers.ts';

async function resources() {
  const pki = await smpTestPki();
  return eerResourcesFor({
    key: 'unused',
    title: 'Pleje og Rehabilitering',
    sor: '1144561000016002',
    gln: '5790000123117',
    apUrl: 'https://127.0.0.1:8711/as4',
    apCertificate: pki.ap.certificatePem,
  });
}

/** The three resources as a transaction that references by urn:uuid fullUrls, ids left to the server. */
function transaction(r: Awaited<ReturnType<typeof resources>>): Json {
  const [org, ep, dev] = [
    'urn:uuid:0b7c2e1e-0000-4000-8000-000000000001',
    'urn:uuid:0b7c2e1e-0000-4000-8000-000000000002',
    'urn:uuid:0b7c2e1e-0000-4000-8000-000000000003',
  ];
  const strip = ({ id: _id, ...rest }: Json) => rest;
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: org,
        resource: { ...strip(r.organization), endpoint: [{ reference: ep }] },
        request: { method: 'POST', url: 'Organization' },
      },
      {
        fullUrl: ep,
        resource: {
          ...strip(r.endpoint),
          managingOrganization: { reference: org },
          extension: [{ ...(r.endpoint.extension as Json[])[0], valueReference: { reference: dev } }],
        },
        request: { method: 'POST', url: 'Endpoint' },
      },
      { fullUrl: dev, resource: strip(r.device), request: { method: 'POST', url: 'Device' } },
    ],
  };
}

for (const engine of engines()) {
  describe(`EER transaction Bundles (${engine.name})`, { skip: engine.skip }, () => {
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

    it('creates an Organization, its Endpoint and AP Device at once, urn:uuid references rewritten to the new ids', async () => {
      const res = await fhir(`${eer.url}/`, 'POST', transaction(await resources()));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.type, 'transaction-response');
      const entries = res.body.entry as Json[];
      assert.deepEqual(
        entries.map((e) => (e.response as Json).status),
        ['201 Created', '201 Created', '201 Created'],
      );
      const [org, ep, dev] = entries.map((e) => e.resource as Json);
      assert.deepEqual(org!.endpoint, [{ reference: `Endpoint/${ep!.id}` }]);
      assert.deepEqual(ep!.managingOrganization, { reference: `Organization/${org!.id}` });
      assert.equal(((ep!.extension as Json[])[0]!.valueReference as Json).reference, `Device/${dev!.id}`);
      const found = await fhir(`${eer.url}/Organization?gln=5790000123117&_include=Organization:endpoint`);
      assert.equal(found.body.total, 1);
      assert.equal((found.body.entry as Json[]).length, 2);
    });

    it('one invalid entry → 422 naming Bundle.entry[n], and nothing of the Bundle is written', async () => {
      const before = (await fhir(`${eer.url}/Organization?_summary=count`)).body.total;
      const t = transaction(await resources());
      ((t.entry as Json[])[1]!.resource as Json).identifier = [];
      const res = await fhir(`${eer.url}/`, 'POST', t);
      assert.equal(res.status, 422);
      const issues = (res.body.issue as Json[]).filter((i) => i.severity === 'error');
      assert.ok(issues.some((i) => (i.expression as string[])[0]!.startsWith('Bundle.entry[1].resource')));
      assert.equal((await fhir(`${eer.url}/Organization?_summary=count`)).body.total, before);
    });

    it('a failing write inside the transaction rolls back the writes before it', async () => {
      const before = (await fhir(`${eer.url}/Organization?_summary=count`)).body.total;
      const t = transaction(await resources());
      (t.entry as Json[]).push({ request: { method: 'DELETE', url: 'Device/never-existed' } });
      const res = await fhir(`${eer.url}/`, 'POST', t);
      assert.equal(res.status, 404);
      assert.equal((await fhir(`${eer.url}/Organization?_summary=count`)).body.total, before);
    });

    it('refuses batch Bundles, GET entries and other resource types', async () => {
      assert.equal(
        (await fhir(`${eer.url}/`, 'POST', { resourceType: 'Bundle', type: 'batch' })).status,
        400,
      );
      const get = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ request: { method: 'GET', url: 'Organization' } }],
      };
      assert.equal((await fhir(`${eer.url}/`, 'POST', get)).status, 400);
      const patient = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } }],
      };
      assert.equal((await fhir(`${eer.url}/`, 'POST', patient)).status, 404);
    });
  });
}
