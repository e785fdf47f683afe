import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { engines, type TestStore } from '../helpers/engines.ts';
import {
  EER_JSON,
  fhir,
  fixture,
  type Json,
  oneOrganizationPerSor,
  type RunningEer,
  startEer,
} from './helpers.ts';

const EXAMPLES = oneOrganizationPerSor(
  readdirSync(EER_JSON)
    .filter((f) => /^(Organization|Endpoint|Device)-.*\.json$/.test(f))
    .map((f) => fixture(f)),
);
const ORGS = EXAMPLES.filter((r) => r.resourceType === 'Organization');
const SOR = 'urn:oid:1.2.208.176.1.1';
const HCO =
  'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message::1.2';

const ids = (bundle: Json, mode = 'match') =>
  ((bundle.entry as Json[] | undefined) ?? [])
    .filter((e) => (e.search as Json).mode === mode)
    .map((e) => `${(e.resource as Json).resourceType}/${(e.resource as Json).id}`)
    .sort();
const refsOf = (r: Json, key: string) =>
  ((r[key] as Json[] | undefined) ?? []).map((x) => x.reference as string);

for (const engine of engines()) {
  describe(`EER search (${engine.name})`, { skip: engine.skip }, () => {
    let ts: TestStore;
    let eer: RunningEer;
    before(async () => {
      ts = await engine.open();
      eer = await startEer(ts);
      for (const r of EXAMPLES) {
        const res = await fhir(`${eer.url}/${r.resourceType}/${r.id}`, 'PUT', r);
        assert.equal(res.status, 201);
      }
    });
    after(async () => {
      await eer?.close();
      await ts?.cleanup();
    });

    const search = async (query: string) => {
      const res = await fhir(`${eer.url}/${query}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.type, 'searchset');
      return res.body;
    };

    it('identifier=system|value finds the organisations with that SOR id, with total', async () => {
      const sor = '1144351000016009';
      const b = await search(`Organization?identifier=${encodeURIComponent(`${SOR}|${sor}`)}`);
      assert.deepEqual(ids(b), ['Organization/Eer.Sor.OU-AAR-Kommune.1144351000016009']);
      assert.equal(b.total, 1);
      assert.equal((await search(`Organization?identifier=${sor}`)).total, 1, 'value alone, any system');
      assert.equal(
        (await search(`Organization?identifier=${encodeURIComponent(`urn:other|${sor}`)}`)).total,
        0,
      );
    });

    it('sor=<id> is the SOR identifier search: it finds the one organisation with that SOR id', async () => {
      const expected = ORGS.filter((o) =>
        (o.identifier as Json[]).some((i) => i.system === SOR && i.value === '543210987654321'),
      ).map((o) => `Organization/${o.id}`);
      assert.equal(expected.length, 1);
      const b = await search('Organization?sor=543210987654321');
      assert.deepEqual(ids(b), expected);
      assert.equal(b.total, 1);
    });

    it('gln=<GLN> finds the Endpoint, and on Organization the organisations listing that endpoint', async () => {
      const eps = await search('Endpoint?gln=5790002401428');
      assert.deepEqual(ids(eps), [
        'Endpoint/LaegerneStjernepladsen.8200.AarhusN.5790002401428',
        'Endpoint/LaegerneStjernepladsen.SOR.5790002401428',
      ]);
      const viaHttps = await search(
        `Endpoint?gln=${encodeURIComponent('https://www.gs1.org/gln|5790002401428')}`,
      );
      assert.equal(viaHttps.total, 2, 'either GLN system spelling');
      const expected = ORGS.filter((o) =>
        refsOf(o, 'endpoint').some((r) => r.endsWith('.5790002401428')),
      ).map((o) => `Organization/${o.id}`);
      assert.deepEqual(ids(await search('Organization?gln=5790002401428')), expected.sort());
    });

    it('name matches anywhere in the name, ignoring case; name:exact the whole name', async () => {
      const expected = ORGS.filter((o) => String(o.name).toLowerCase().includes('stjernepladsen')).map(
        (o) => `Organization/${o.id}`,
      );
      assert.ok(expected.length >= 2);
      assert.deepEqual(ids(await search('Organization?name=STJERNEpladsen')), expected.sort());
      assert.equal(
        (await search(`Organization?name:exact=${encodeURIComponent('Lægerne Stjernepladsen I/S')}`)).total,
        4,
      );
      assert.equal(
        (await search('Organization?name=50%25')).total,
        0,
        'LIKE wildcards are matched literally',
      );
      assert.equal((await search('Endpoint?name=sor%20endpoint')).total, 1);
    });

    it('messageType (the EER IG SearchParameter) finds organisations through their endpoints', async () => {
      const b = await search(`Organization?messageType=${encodeURIComponent(HCO)}`);
      assert.ok((b.total as number) > 0);
      for (const e of b.entry as Json[]) assert.ok(refsOf(e.resource as Json, 'endpoint').length > 0);
    });

    it('Endpoint?organization=…&_include=Endpoint:organization returns the managing organisation too', async () => {
      const b = await search(
        'Endpoint?organization=Organization/Eer.Sor.IO-AAR-Kommune.311000016009&_include=Endpoint:organization',
      );
      assert.deepEqual(ids(b), [
        'Endpoint/EerEndpoint-Messaging-AAR-eDeliveryFhir.01',
        'Endpoint/EerEndpoint-Messaging-AAR-eDeliveryFhir.5790000123117',
      ]);
      assert.equal(b.total, 2, 'total counts matches only');
      assert.deepEqual(ids(b, 'include'), ['Organization/Eer.Sor.IO-AAR-Kommune.311000016009']);
      const bare = await search('Endpoint?organization=Eer.Sor.IO-AAR-Kommune.311000016009');
      assert.equal(bare.total, 2, 'a bare id is a reference to the parameter target');
    });

    it('Organization?sor=…&_include=Organization:endpoint, and _revinclude=Endpoint:organization', async () => {
      const b = await search('Organization?sor=698131000016001&_include=Organization:endpoint');
      assert.equal(
        b.total,
        0,
        'the LaegerneStjernepladsen examples carry another SOR id than their name says',
      );
      const inc = await search(
        'Organization?identifier=1144351000016009&_include=Organization:endpoint&_include=Endpoint:organization',
      );
      assert.deepEqual(ids(inc, 'include'), [
        'Endpoint/EerEndpoint-Messaging-AAR-eDeliveryFhir.5790000123117',
      ]);
      const rev = await search(
        'Organization?_id=Eer.Sor.IO-AAR-Kommune.311000016009&_revinclude=Endpoint:organization',
      );
      assert.deepEqual(ids(rev), ['Organization/Eer.Sor.IO-AAR-Kommune.311000016009']);
      assert.deepEqual(ids(rev, 'include'), [
        'Endpoint/EerEndpoint-Messaging-AAR-eDeliveryFhir.01',
        'Endpoint/EerEndpoint-Messaging-AAR-eDeliveryFhir.5790000123117',
      ]);
    });

    it('Device by type and organization-less search; _count pages with a next link; _summary=count', async () => {
      const aps = await search(
        `Device?type=${encodeURIComponent('http://medcomehmi.dk/ig/terminology/CodeSystem/eer-device-type|AP')}`,
      );
      assert.deepEqual(ids(aps), ['Device/EerDeviceAP-KvalitetsItAP', 'Device/EerDeviceAP-MultiMedAP']);
      const page1 = await search('Organization?_count=5');
      assert.equal((page1.entry as Json[]).length, 5);
      assert.equal(page1.total, ORGS.length);
      const next = (page1.link as Json[]).find((l) => l.relation === 'next')?.url as string;
      assert.ok(next);
      const page2 = (await fhir(next)).body;
      assert.equal((page2.entry as Json[]).length, 5);
      assert.equal(ids(page1).filter((x) => ids(page2).includes(x)).length, 0, 'pages do not overlap');
      const count = await search('Organization?_summary=count');
      assert.equal(count.total, ORGS.length);
      assert.equal(count.entry, undefined);
    });

    it('a deleted resource is no longer found; an update is found by its new values only', async () => {
      const id = 'EER.SOR.HI-AAR-Kommune.7141000016000';
      const r = (await fhir(`${eer.url}/Organization/${id}`)).body;
      await fhir(`${eer.url}/Organization/${id}`, 'PUT', { ...r, name: 'Omdøbt enhed' });
      assert.equal((await search('Organization?name=omdøbt')).total, 1);
      assert.equal(
        (await search(`Organization?name=${encodeURIComponent('Sundhed og Omsorg (7141')}`)).total,
        0,
      );
      await fhir(`${eer.url}/Organization/${id}`, 'DELETE');
      assert.equal((await search('Organization?name=omdøbt')).total, 0);
      assert.equal((await search('Organization?identifier=7141000016000')).total, 0);
    });

    it('unknown parameters and bad _include / _count are 400 with an OperationOutcome', async () => {
      for (const q of [
        'Organization?colour=blue',
        'Organization?_include=Organization:nope',
        'Organization?_include=Patient:organization',
        'Organization?_count=-1',
        'Organization?identifier:above=1',
      ]) {
        const res = await fhir(`${eer.url}/${q}`);
        assert.equal(res.status, 400, q);
        assert.equal(res.body.resourceType, 'OperationOutcome', q);
      }
    });
  });
}
