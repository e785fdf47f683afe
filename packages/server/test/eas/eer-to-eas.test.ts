import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { shippedValidator } from '@ehmi/fhir';
import type { EasRole } from '../../src/eas/index.ts';
import { drained, type RunningEer, startEer } from '../eer/helpers.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { ADMIN_TOKEN, eerFeeds, type Json, postParameters, roleContext, startEas } from './helpers.ts';

const OU = 'LaegerneStjernepladsen.8200.AarhusN.698161000016009';

// The registers' acceptance check: "After creating an organisation with an endpoint in EER, … EAS finds the
// organisation by SOR and, through the seeded table, by patient." EER's propagation job calls the EAS admin API
// for real.
for (const engine of engines()) {
  describe(`EER → EAS (${engine.name})`, { skip: engine.skip }, () => {
    let t: TestStore;
    let eas: EasRole;
    let eer: RunningEer;

    before(async () => {
      t = await engine.open();
      eas = await startEas(roleContext(t.store, { patients: [{ cpr: '0108589995', ydernummer: '077704' }] }));
      eer = await startEer(t, { eas: { url: eas.url, adminToken: ADMIN_TOKEN } });
    });
    after(async () => {
      await eer?.close();
      await eas?.close();
      await t?.cleanup();
    });

    it('an organisation created in EER is found by SOR and by patient in EAS', async () => {
      const feed = eerFeeds().find((f) => f.id === OU)!.body;
      const put = async (r: Json) => {
        const res = await fetch(`${eer.url}/${String(r.resourceType)}/${String(r.id)}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/fhir+json' },
          body: JSON.stringify(r),
        });
        assert.ok(res.status === 200 || res.status === 201, `${res.status} ${await res.text()}`);
      };
      for (const d of feed.devices) await put(d);
      for (const e of feed.endpoints) await put(e);
      await put(feed.organization);
      await drained(eer.role);

      const bySor = await fetch(
        `${eas.url}/Organization/$getReceivingOrganizationBySORId?sorId=698161000016009`,
      );
      assert.equal(bySor.status, 200, await bySor.clone().text());
      const b = (await bySor.json()) as { total: number; entry: { resource: Json }[] };
      assert.equal(b.total, 1);
      assert.equal(b.entry[0]?.resource.id, OU);
      assert.deepEqual(
        shippedValidator()
          .issues(b)
          .filter((i) => i.severity === 'error'),
        [],
      );

      const byPatient = await fetch(
        `${eas.url}/Organization/$getReceivingOrganizationByPatientId`,
        postParameters({
          resourceType: 'Parameters',
          parameter: [
            {
              name: 'easCorePatient',
              resource: {
                resourceType: 'Patient',
                identifier: [{ system: 'urn:oid:1.2.208.176.1.2', value: '0108589995' }],
              },
            },
          ],
        }),
      );
      assert.equal(byPatient.status, 200, await byPatient.clone().text());
      const p = (await byPatient.json()) as { total: number; entry: { resource: Json }[] };
      assert.equal(p.entry[0]?.resource.id, OU);

      // Deleting it in EER removes it from EAS.
      const del = await fetch(`${eer.url}/Organization/${OU}`, { method: 'DELETE' });
      assert.ok(del.status === 200 || del.status === 204);
      await drained(eer.role);
      const gone = await fetch(
        `${eas.url}/Organization/$getReceivingOrganizationBySORId?sorId=698161000016009`,
      );
      assert.equal(gone.status, 404);
    });
  });
}
