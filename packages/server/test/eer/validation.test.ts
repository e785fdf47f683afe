import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { engines, type TestStore } from '../helpers/engines.ts';
import {
  EER_JSON,
  FIXTURES,
  fhir,
  fixture,
  type Json,
  type RunningEer,
  startEer,
  uniqueSor,
  withSor,
} from './helpers.ts';

const ORG = 'Organization-example-eer-messaging-organization.json';
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
        // Seven of MedCom's example Organizations share one SOR id: each is accepted alone.
        if (r.resourceType === 'Organization') {
          assert.equal((await fhir(`${eer.url}/Organization/${r.id}`, 'DELETE')).status, 200);
        }
      }
    });

    it('refuses a second Organization with a SOR id the register holds: 422 duplicate naming the first, nothing written', async () => {
      const first = await fhir(`${eer.url}/Organization/sor-first`, 'PUT', {
        ...withSor(fixture(ORG), '123456789012345'),
        id: 'sor-first',
      });
      assert.equal(first.status, 201, JSON.stringify(first.body));
      const second = await fhir(`${eer.url}/Organization`, 'POST', withSor(fixture(ORG), '123456789012345'));
      assert.equal(second.status, 422);
      const issue = errors(second.body)[0]!;
      assert.equal(issue.code, 'duplicate');
      assert.match(String(issue.diagnostics), /SOR id 123456789012345 .*Organization\/sor-first/);
      const found = await fhir(`${eer.url}/Organization?sor=123456789012345`);
      assert.equal(found.body.total, 1, 'nothing was written');
      // Within one transaction as well.
      const bundle = await fhir(`${eer.url}/`, 'POST', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [1, 2].map(() => ({
          resource: withSor(fixture(ORG), '123456789012346'),
          request: { method: 'POST', url: 'Organization' },
        })),
      });
      assert.equal(bundle.status, 422, JSON.stringify(bundle.body));
      assert.equal((await fhir(`${eer.url}/Organization?sor=123456789012346`)).body.total, 0);
      // Updating the holder itself is no duplicate; once it is deleted, the SOR id is free.
      const again = await fhir(`${eer.url}/Organization/sor-first`, 'PUT', {
        ...first.body,
        name: 'Renamed',
      });
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal((await fhir(`${eer.url}/Organization/sor-first`, 'DELETE')).status, 200);
      const freed = await fhir(`${eer.url}/Organization`, 'POST', withSor(fixture(ORG), '123456789012345'));
      assert.equal(freed.status, 201, JSON.stringify(freed.body));
    });

    const WRONG_GLN = '5790000121527'; // 579000012152 + check digit 6 is right
    const wrongGln: [string, string, (r: Json) => Json, string][] = [
      [
        'Endpoint (its GLN-ID)',
        'Endpoint-LaegerneStjernepladsen.8200.AarhusN.5790002401428.json',
        (r) => ({
          ...r,
          identifier: [{ use: 'official', system: 'http://www.gs1.org/gln', value: WRONG_GLN }],
        }),
        'Endpoint.identifier[0].value',
      ],
      [
        'Organization (a GLN identifier beside the SOR id)',
        ORG,
        (r) => ({
          ...withSor(r),
          identifier: [
            ...(withSor(r).identifier as Json[]),
            { system: 'https://www.gs1.org/gln', value: WRONG_GLN },
          ],
        }),
        'Organization.identifier[1].value',
      ],
      [
        'Device (its identifier)',
        'Device-EerDeviceAP-MultiMedAP.json',
        (r) => ({ ...r, identifier: [{ system: 'https://www.gs1.org/gln', value: WRONG_GLN }] }),
        'Device.identifier[0].value',
      ],
    ];
    for (const [title, file, breakIt, expression] of wrongGln) {
      it(`refuses a wrong GLN check digit on an ${title}: 422 naming the value, nothing written`, async () => {
        const r: Json = {
          ...breakIt(fixture(file)),
          id: `wrong-gln-${expression.split('.')[0]!.toLowerCase()}`,
        };
        const res = await fhir(`${eer.url}/${String(r.resourceType)}/${r.id}`, 'PUT', r);
        assert.equal(res.status, 422, JSON.stringify(res.body));
        const issue = errors(res.body).find((i) => (i.expression as string[]).includes(expression));
        assert.ok(issue, JSON.stringify(res.body));
        assert.equal(issue.code, 'value');
        assert.match(
          String(issue.diagnostics),
          /GLN 5790000121527 has a wrong check digit: GS1 mod-10 gives 6/,
        );
        assert.equal((await fhir(`${eer.url}/${String(r.resourceType)}/${r.id}`)).status, 404);
      });
    }

    it('refuses the other identifier rules: a SOR id under 11 digits, a CVR failing modulus 11, a ydernummer with letters', async () => {
      const r = {
        ...fixture(ORG),
        identifier: [
          { system: 'urn:oid:1.2.208.176.1.1', value: '1234567890' },
          { system: 'http://cvr.dk', value: '29812277' },
          { system: 'urn:oid:1.2.208.176.1.4', value: '07A704' },
        ],
      };
      const res = await fhir(`${eer.url}/Organization`, 'POST', r);
      assert.equal(res.status, 422);
      const messages = errors(res.body)
        .filter((i) => i.code === 'value')
        .map((i) => String(i.diagnostics));
      assert.deepEqual(messages, [
        'SOR id 1234567890 is not 11 or more digits (min-digits-sor)',
        'CVR 29812277 fails the modulus 11 check (CVR-modulus-11)',
        'ydernummer 07A704 is not 1–7 digits',
      ]);
      const ok = await fhir(`${eer.url}/Organization`, 'POST', {
        ...r,
        identifier: [
          { system: 'urn:oid:1.2.208.176.1.1', value: uniqueSor() },
          { system: 'http://cvr.dk', value: '29812276' },
          { system: 'urn:oid:1.2.208.176.1.4', value: '077704' },
        ],
      });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
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
      const r = { ...withSor(fixture(ORG)), id: 'unchanged-after-422' };
      assert.equal((await fhir(`${eer.url}/Organization/${r.id}`, 'PUT', r)).status, 201);
      const put = await fhir(`${eer.url}/Organization/${r.id}`, 'PUT', { ...r, identifier: [] });
      assert.equal(put.status, 422);
      const read = await fhir(`${eer.url}/Organization/${r.id}`);
      assert.equal(read.status, 200);
      assert.equal((read.body.meta as Json).versionId, '1');
      assert.equal((await fhir(`${eer.url}/Organization/${r.id}/_history`)).body.total, 1);
    });
  });
}
