import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { engines, type TestStore } from '../helpers/engines.ts';
import { EER_JSON, FIXTURES, fhir, fixture, type Json, type RunningEer, startEer } from './helpers.ts';

const EXAMPLES = readdirSync(EER_JSON).filter((f) => /^(Organization|Endpoint|Device)-.*\.json$/.test(f));

function errors(outcome: Json): Json[] {
  return (outcome.issue as Json[]).filter((i) => i.severity === 'error');
}

for (const engine of engines()) {
  describe(`EER write validation (${engine.name})`, { skip: engine.skip }, () => {
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

    it(`accepts every EER example instance of the fixtures (${EXAMPLES.length})`, async () => {
      assert.ok(EXAMPLES.length >= 50);
      for (const file of EXAMPLES) {
        const r = fixture(file);
        const res = await fhir(`${eer.url}/${r.resourceType}/${r.id}`, 'PUT', r);
        assert.equal(res.status, 201, `${file}: ${JSON.stringify(res.body).slice(0, 1500)}`);
      }
    });

    it("refuses EAS's example Endpoint, which claims the EER endpoint profile but has no GLN-ID (422, not written)", async () => {
      const r = fixture('Endpoint-EER.EndPoint-Novax.GLNID-5790002288289.json', `${FIXTURES}eas/json/`);
      const res = await fhir(`${eer.url}/Endpoint/${r.id}`, 'PUT', r);
      assert.equal(res.status, 422);
      assert.equal(res.body.resourceType, 'OperationOutcome');
      assert.ok(errors(res.body).some((i) => /GLN-ID/.test(String(i.diagnostics))));
      assert.equal((await fhir(`${eer.url}/Endpoint/${r.id}`)).status, 404, 'nothing was written');
    });

    it("refuses EDS's Device examples against the default EerDevice profile (device type not in eer-device-type)", async () => {
      const r = fixture('Device-MultiMed-AP.json', `${FIXTURES}eds/json/`);
      const res = await fhir(`${eer.url}/Device`, 'POST', r);
      assert.equal(res.status, 422);
      assert.ok(errors(res.body).some((i) => (i.expression as string[]).includes('Device.type')));
    });

    const broken: [string, string, (r: Json) => Json, RegExp][] = [
      [
        'an Organization without its SOR id',
        'Organization-example-eer-messaging-organization.json',
        (r) => ({ ...r, identifier: [] }),
        /SOR-ID|identifier/,
      ],
      [
        'an Organization without its SOR-Hierarchy type',
        'Organization-example-eer-messaging-organization.json',
        (r) => ({ ...r, type: undefined }),
        /SOR-Hierarchy|type/,
      ],
      [
        'an Endpoint with a payloadType outside ehmi-message-definition-uri',
        'Endpoint-LaegerneStjernepladsen.8200.AarhusN.5790002401428.json',
        (r) => ({
          ...r,
          payloadType: [
            {
              coding: [
                {
                  system: 'http://medcomehmi.dk/ig/terminology/CodeSystem/ehmi-message-definition-uri',
                  code: 'nope',
                },
              ],
            },
          ],
        }),
        /nope/,
      ],
      [
        'an Endpoint without period',
        'Endpoint-LaegerneStjernepladsen.8200.AarhusN.5790002401428.json',
        (r) => ({ ...r, period: undefined }),
        /period/,
      ],
      [
        'a Device with a url (0..0 in EerDevice)',
        'Device-EerDeviceAP-MultiMedAP.json',
        (r) => ({ ...r, url: 'https://ap.example/as4' }),
        /url/,
      ],
      [
        'a Device with an element R4 does not define',
        'Device-EerDeviceAP-MultiMedAP.json',
        (r) => ({ ...r, colour: 'blue' }),
        /colour/,
      ],
      [
        'an Organization claiming a profile this register does not know',
        'Organization-example-eer-messaging-organization.json',
        (r) => ({ ...r, meta: { profile: ['http://example.org/StructureDefinition/unknown'] } }),
        /not known/,
      ],
    ];
    for (const [title, file, breakIt, expected] of broken) {
      it(`refuses ${title} with 422 and an OperationOutcome naming the problem`, async () => {
        const r = JSON.parse(JSON.stringify(breakIt(fixture(file)))) as Json;
        const res = await fhir(`${eer.url}/${r.resourceType}`, 'POST', r);
        assert.equal(res.status, 422, JSON.stringify(res.body));
        const errs = errors(res.body);
        assert.ok(errs.length > 0);
        assert.ok(
          errs.some((i) => expected.test(`${i.diagnostics} ${JSON.stringify(i.expression)}`)),
          JSON.stringify(errs),
        );
      });
    }

    it('an update that fails the profile leaves the current version as it was', async () => {
      const r = fixture('Organization-example-eer-messaging-organization.json');
      const put = await fhir(`${eer.url}/Organization/${r.id}`, 'PUT', { ...r, identifier: [] });
      assert.equal(put.status, 422);
      const read = await fhir(`${eer.url}/Organization/${r.id}`);
      assert.equal(read.status, 200);
      assert.equal((read.body.meta as Json).versionId, '1');
      assert.equal((await fhir(`${eer.url}/Organization/${r.id}/_history`)).body.total, 1);
    });
  });
}
