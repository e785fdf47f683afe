import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { shippedValidator } from '@ehmi/fhir';
import type { EasRole } from '../../src/eas/index.ts';
import { openNodeStore } from '../../src/role-list.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { assertOpenApiListsEveryRoute } from '../helpers/openapi.ts';
import { admin, eerFeeds, type Json, postParameters, readFixture, roleContext, startEas } from './helpers.ts';

const EAS_ORG = 'http://medcomehmi.dk/ig/eas/StructureDefinition/eas-messaging-organization';
const STJERNE_OU = 'LaegerneStjernepladsen.8200.AarhusN.698161000016009';
const STJERNE_ENDPOINT = 'LaegerneStjernepladsen.8200.AarhusN.5790002401428';
const HCO_1_2 = 'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition:homecareobservation:1.2';

interface Entry {
  fullUrl: string;
  resource: Json;
  search: { mode: string };
}
interface Bundle {
  resourceType: string;
  type: string;
  total: number;
  entry: Entry[];
}
interface Outcome {
  resourceType: string;
  issue: { code: string; details: { text: string; coding: { code: string }[] }; expression?: string[] }[];
}

const matches = (b: Bundle) => b.entry.filter((e) => e.search.mode === 'match').map((e) => e.resource);
const included = (b: Bundle, type: string) =>
  b.entry
    .filter((e) => e.search.mode === 'include' && e.resource.resourceType === type)
    .map((e) => e.resource);

/** The answer validates: no error in the Bundle, each Organization against EasMessagingOrganization (it claims it). */
function assertConforms(bundle: Bundle): void {
  const errors = shippedValidator()
    .issues(bundle)
    .filter((i) => i.severity === 'error');
  assert.deepEqual(errors, []);
  for (const org of matches(bundle)) {
    assert.deepEqual((org.meta as Json).profile, [EAS_ORG]);
    const orgErrors = shippedValidator()
      .issues(org, { profile: EAS_ORG })
      .filter((i) => i.severity === 'error');
    assert.deepEqual(orgErrors, []);
  }
}

async function outcome(res: Response, status: number): Promise<Outcome> {
  assert.equal(res.status, status, await res.clone().text());
  assert.match(res.headers.get('content-type') ?? '', /application\/fhir\+json/);
  const oo = (await res.json()) as Outcome;
  assert.equal(oo.resourceType, 'OperationOutcome');
  return oo;
}

async function bundle(res: Response): Promise<Bundle> {
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(res.headers.get('content-type') ?? '', /application\/fhir\+json/);
  const b = (await res.json()) as Bundle;
  assert.equal(b.resourceType, 'Bundle');
  assert.equal(b.type, 'searchset');
  return b;
}

for (const engine of engines()) {
  describe(`EAS (${engine.name})`, { skip: engine.skip }, () => {
    let t: TestStore;
    let eas: EasRole;
    const op = (name: string, query = '') => `${eas.url}/Organization/$${name}${query}`;

    before(async () => {
      t = await engine.open();
      eas = await startEas(
        roleContext(t.store, { patients: [{ cpr: '180876-4667', sor: '698161000016009' }] }),
      );
      for (const feed of eerFeeds()) {
        const res = await fetch(`${eas.url}/admin/organizations/${feed.id}`, admin('PUT', feed.body));
        assert.equal(res.status, 201, await res.text());
      }
      const res = await fetch(`${eas.url}/admin/patients/0108589995`, admin('PUT', { ydernummer: '077704' }));
      assert.equal(res.status, 201);
    });
    after(async () => {
      await eas?.close();
      await t?.cleanup();
    });

    describe('$getReceivingOrganizationBySORId', () => {
      it('finds the organisation by SOR id (GET), with its endpoint and AP device, valid against the EAS profiles', async () => {
        const b = await bundle(await fetch(op('getReceivingOrganizationBySORId', '?sorId=698161000016009')));
        assert.equal(b.total, 1);
        const [org] = matches(b);
        assert.equal(org?.id, STJERNE_OU);
        assert.deepEqual(org?.endpoint, [{ reference: `Endpoint/${STJERNE_ENDPOINT}` }]);
        const [endpoint] = included(b, 'Endpoint');
        assert.equal(endpoint?.id, STJERNE_ENDPOINT);
        assert.deepEqual(endpoint?.identifier, [
          { system: 'http://www.gs1.org/gln', value: '5790002401428' },
        ]);
        assert.deepEqual(
          included(b, 'Device').map((d) => d.id),
          ['EerDeviceAP-MultiMedAP'],
        );
        assert.equal(b.entry[0]?.fullUrl, `${eas.url}/Organization/${STJERNE_OU}`);
        assertConforms(b);
      });

      it('answers the operation path with $ percent-encoded (%24) too, and 404 for an unknown operation', async () => {
        const res = await fetch(
          `${eas.url}/Organization/%24getReceivingOrganizationBySORId?sorId=698161000016009`,
        );
        assert.equal((await bundle(res)).total, 1);
        const oo = await outcome(await fetch(`${eas.url}/Organization/$getSomethingElse`), 404);
        assert.match(oo.issue[0]!.details.text, /no operation Organization\/\$getSomethingElse/);
      });

      it('POST with Parameters filters by message type, matching MedCom spellings of the same message', async () => {
        const b = await bundle(
          await fetch(
            op('getReceivingOrganizationBySORId'),
            postParameters({
              resourceType: 'Parameters',
              parameter: [
                { name: 'sorId', valueString: '698161000016009' },
                { name: 'messageType', valueString: HCO_1_2 },
              ],
            }),
          ),
        );
        assert.deepEqual(
          matches(b).map((o) => o.id),
          [STJERNE_OU],
        );
        assertConforms(b);
      });

      it("the IG's example request (HomeCareObservation 1.1) finds no endpoint: 404, use case 4b", async () => {
        const req = readFixture('eas/json/Parameters-EX-GetReceivingOrganizationBySORId-Request.json');
        (req.parameter as Json[])[0] = { name: 'sorId', valueString: '698161000016009' };
        const oo = await outcome(
          await fetch(op('getReceivingOrganizationBySORId'), postParameters(req)),
          404,
        );
        assert.match(
          oo.issue[0]!.details.text,
          /EER receiver data does not exist.*homecareobservation:1\.1.*4b/,
        );
      });

      it('an organisation whose endpoints expired (Aarhus, period to 2024-01-01) → 404, use case 4b', async () => {
        const oo = await outcome(
          await fetch(op('getReceivingOrganizationBySORId', '?sorId=1053851000016007')),
          404,
        );
        assert.match(oo.issue[0]!.details.text, /no active endpoint.*4b/);
        assert.equal(oo.issue[0]!.code, 'not-found');
      });

      it('an unknown SOR id → 404, use case 4a', async () => {
        const oo = await outcome(
          await fetch(op('getReceivingOrganizationBySORId', '?sorId=999999999999')),
          404,
        );
        assert.match(oo.issue[0]!.details.text, /SOR information does not exist.*999999999999.*4a/);
      });

      it('several SOR ids: the known ones answer, the unknown ones are noted in an OperationOutcome entry', async () => {
        const b = await bundle(
          await fetch(op('getReceivingOrganizationBySORId', '?sorId=698161000016009&sorId=999999999999')),
        );
        assert.equal(b.total, 1);
        const notes = b.entry.filter((e) => e.search.mode === 'outcome');
        assert.equal(notes.length, 1);
        assert.match(JSON.stringify(notes[0]?.resource), /999999999999/);
        assertConforms(b);
      });

      it('a malformed sorId → 400 naming sorId', async () => {
        const oo = await outcome(await fetch(op('getReceivingOrganizationBySORId', '?sorId=abc')), 400);
        assert.match(oo.issue[0]!.details.text, /sorId/);
        assert.deepEqual(oo.issue[0]!.expression, ["Parameters.parameter.where(name = 'sorId')"]);
      });

      it('a missing sorId → 400 naming sorId', async () => {
        const oo = await outcome(await fetch(op('getReceivingOrganizationBySORId')), 400);
        assert.match(oo.issue[0]!.details.text, /parameter 'sorId' is missing/);
      });

      it('an unknown parameter → 400 naming it', async () => {
        const oo = await outcome(await fetch(op('getReceivingOrganizationBySORId', '?sorId=1&sor=2')), 400);
        assert.match(oo.issue[0]!.details.text, /no parameter 'sor'/);
      });

      it('a POST body that is not Parameters → 400; a sorId without valueString → 400 with its expression', async () => {
        await outcome(
          await fetch(op('getReceivingOrganizationBySORId'), postParameters({ resourceType: 'Patient' })),
          400,
        );
        const oo = await outcome(
          await fetch(
            op('getReceivingOrganizationBySORId'),
            postParameters({ resourceType: 'Parameters', parameter: [{ name: 'sorId', valueInteger: 1 }] }),
          ),
          400,
        );
        assert.deepEqual(oo.issue[0]!.expression, ['Parameters.parameter[0].valueString']);
      });
    });

    describe('$getReceivingOrganizationByGPId', () => {
      it('finds the GP by ydernummer (GET and POST)', async () => {
        const b = await bundle(await fetch(op('getReceivingOrganizationByGPId', '?gpId=077704')));
        assert.deepEqual(
          matches(b).map((o) => o.id),
          [STJERNE_OU],
        );
        assertConforms(b);
        const req = readFixture('eas/json/Parameters-EX-GetReceivingOrganizationByGPId-Request.json');
        (req.parameter as Json[]).splice(1, 2, { name: 'messageType', valueString: HCO_1_2 });
        const p = await bundle(await fetch(op('getReceivingOrganizationByGPId'), postParameters(req)));
        assert.deepEqual(
          matches(p).map((o) => o.id),
          [STJERNE_OU],
        );
      });

      it('an unknown ydernummer → 404, use case 2a', async () => {
        const oo = await outcome(await fetch(op('getReceivingOrganizationByGPId', '?gpId=999999')), 404);
        assert.match(oo.issue[0]!.details.text, /ydernummer 999999.*2a/);
      });

      it('gpId twice, or missing, or not digits → 400 naming gpId', async () => {
        for (const q of ['?gpId=077704&gpId=057584', '', '?gpId=x1']) {
          const oo = await outcome(await fetch(op('getReceivingOrganizationByGPId', q)), 400);
          assert.match(oo.issue[0]!.details.text, /gpId/);
        }
      });
    });

    describe('$getReceivingOrganizationByPatientId', () => {
      const patientRequest = (cpr: string, system?: string): RequestInit =>
        postParameters({
          resourceType: 'Parameters',
          parameter: [
            {
              name: 'easCorePatient',
              resource: {
                resourceType: 'Patient',
                meta: { profile: ['http://medcomehmi.dk/ig/eas/StructureDefinition/EasCorePatient'] },
                identifier: [{ ...(system ? { system } : {}), value: cpr }],
              },
            },
          ],
        });

      it('finds the GP of a patient through the seeded table (admin API: CPR → ydernummer)', async () => {
        const b = await bundle(
          await fetch(
            op('getReceivingOrganizationByPatientId'),
            patientRequest('0108589995', 'urn:oid:1.2.208.176.1.2'),
          ),
        );
        assert.deepEqual(
          matches(b).map((o) => o.id),
          [STJERNE_OU],
        );
        assertConforms(b);
      });

      it('the patient seeded from config (CPR → SOR), with the IG example request whose CPR has no system', async () => {
        const b = await bundle(
          await fetch(op('getReceivingOrganizationByPatientId'), patientRequest('1808764667')),
        );
        assert.deepEqual(
          matches(b).map((o) => o.id),
          [STJERNE_OU],
        );
        // The IG's example asks for HomeCareObservation 1.1, which the GP's endpoint does not receive: use case 1c.
        const req = readFixture('eas/json/Parameters-EX-GetReceivingOrganizationByPatientId-Request.json');
        const oo = await outcome(
          await fetch(op('getReceivingOrganizationByPatientId'), postParameters(req)),
          404,
        );
        assert.match(oo.issue[0]!.details.text, /EER receiver data does not exist.*1c/);
      });

      it('a patient the register does not know → 404, use case 1a, without the CPR in the answer', async () => {
        const oo = await outcome(
          await fetch(op('getReceivingOrganizationByPatientId'), patientRequest('0101011234')),
          404,
        );
        assert.match(oo.issue[0]!.details.text, /PatId does not exist.*1a/);
        assert.doesNotMatch(JSON.stringify(oo), /0101011234/);
      });

      it('a patient whose GP EAS does not know → 404, use case 1b', async () => {
        const put = await fetch(`${eas.url}/admin/patients/0202021234`, admin('PUT', { sor: '123456789' }));
        assert.equal(put.status, 201);
        const oo = await outcome(
          await fetch(op('getReceivingOrganizationByPatientId'), patientRequest('0202021234')),
          404,
        );
        assert.match(oo.issue[0]!.details.text, /SOR information does not exist.*1b/);
      });

      it('a malformed CPR → 400 naming easCorePatient (10 digits, a date; no modulus 11 check)', async () => {
        for (const cpr of ['12345', '3213991234', 'abcdefghij']) {
          const oo = await outcome(
            await fetch(op('getReceivingOrganizationByPatientId'), patientRequest(cpr)),
            400,
          );
          assert.match(oo.issue[0]!.details.text, /easCorePatient/);
        }
        // 0101011234 fails modulus 11 and is still a well-formed CPR (404 above, not 400).
      });

      it('GET is refused with 400: the Patient parameter needs POST', async () => {
        const oo = await outcome(
          await fetch(op('getReceivingOrganizationByPatientId', '?cpr=0108589995')),
          400,
        );
        assert.match(oo.issue[0]!.details.text, /easCorePatient.*POST/);
      });

      it('a Parameters without the patient → 400 naming easCorePatient', async () => {
        const oo = await outcome(
          await fetch(
            op('getReceivingOrganizationByPatientId'),
            postParameters({
              resourceType: 'Parameters',
              parameter: [{ name: 'messageType', valueString: HCO_1_2 }],
            }),
          ),
          400,
        );
        assert.match(oo.issue[0]!.details.text, /easCorePatient/);
      });
    });

    describe('$getListOfGpByPostalCode', () => {
      it('returns the GPs in the postal code and not the others (nor non-GPs there)', async () => {
        const b = await bundle(await fetch(op('getListOfGpByPostalCode', '?postalCode=8200')));
        // Eer.SOR.OU-AAR-Kommune.1053851000016007 is in 8200 too, but is no GP; the 2100 GP is elsewhere.
        assert.deepEqual(
          matches(b).map((o) => o.id),
          [STJERNE_OU],
        );
        assertConforms(b);
      });

      it("the IG's example request (2100, 2300) finds the GP in 2100", async () => {
        const req = readFixture('eas/json/Parameters-EX-GetListOfGpByPostalCode-Request.json');
        const b = await bundle(await fetch(op('getListOfGpByPostalCode'), postParameters(req)));
        assert.deepEqual(
          matches(b).map((o) => o.id),
          ['example-eer-messaging-organization'],
        );
        assertConforms(b);
      });

      it('no GP in the postal code → 200 with an empty searchset and an informational OperationOutcome (use case 3a)', async () => {
        const b = await bundle(await fetch(op('getListOfGpByPostalCode', '?postalCode=9990')));
        assert.equal(b.total, 0);
        assert.equal(b.entry.length, 1);
        assert.equal(b.entry[0]?.search.mode, 'outcome');
        assert.match(JSON.stringify(b.entry[0]?.resource), /9990.*3a/);
        assertConforms(b);
      });

      it('no postal code (0..*) lists every GP with an active endpoint', async () => {
        const b = await bundle(await fetch(op('getListOfGpByPostalCode')));
        assert.deepEqual(
          matches(b).map((o) => o.id),
          [
            'LaegerneStjernepladsen.8200.AarhusN.698161000016009',
            'example-eer-messaging-organization',
          ].sort(),
        );
      });

      it('a postal code that is not four digits → 400 naming postalCode', async () => {
        const oo = await outcome(await fetch(op('getListOfGpByPostalCode', '?postalCode=82')), 400);
        assert.match(oo.issue[0]!.details.text, /postalCode/);
      });
    });

    it('serves an OpenAPI document generated from the route schemas, listing every route', async () => {
      const res = await fetch(`${eas.url}/openapi.json`);
      assert.equal(res.status, 200);
      const doc = (await res.json()) as { paths: Record<string, unknown> };
      assertOpenApiListsEveryRoute(eas.app, doc);
      assert.ok(doc.paths['/Organization/{operation}']);
      assert.ok(doc.paths['/admin/patients/{cpr}']);
    });

    it('refuses a bad query parameter with 400 and an OperationOutcome naming it', async () => {
      const res = await fetch(op('getReceivingOrganizationBySORId', '?nonsense=1'));
      assert.equal(res.status, 400);
      assert.match(res.headers.get('content-type') ?? '', /application\/fhir\+json/);
      const oo = (await res.json()) as Outcome;
      assert.equal(oo.resourceType, 'OperationOutcome');
      assert.equal(oo.issue[0]?.details.coding[0]?.code, 'EHMI_USAGE');
      assert.ok(oo.issue[0]?.expression?.[0]?.includes('nonsense'));
    });

    it('GET /metadata lists the four operations by their canonical OperationDefinitions', async () => {
      const res = await fetch(`${eas.url}/metadata`);
      assert.equal(res.status, 200);
      const cs = (await res.json()) as Json;
      const errors = shippedValidator()
        .issues(cs)
        .filter((i) => i.severity === 'error');
      assert.deepEqual(errors, []);
      const ops = ((cs.rest as Json[])[0]!.resource as Json[])[0]!.operation as Json[];
      assert.deepEqual(ops.map((o) => o.name).sort(), [
        'getListOfGpByPostalCode',
        'getReceivingOrganizationByGPId',
        'getReceivingOrganizationByPatientId',
        'getReceivingOrganizationBySORId',
      ]);
      assert.ok(
        ops.every((o) => String(o.definition).startsWith('http://medcomehmi.dk/ig/eas/OperationDefinition/')),
      );
      const od = await fetch(`${eas.url}/OperationDefinition/GetReceivingOrganizationBySORId`);
      assert.equal(((await od.json()) as Json).code, 'getReceivingOrganizationBySORId');
    });

    describe('admin API', () => {
      it('refuses a missing or wrong bearer token with 401 (and changes nothing)', async () => {
        const body = eerFeeds().find((f) => f.id === STJERNE_OU)!.body;
        for (const init of [
          admin('PUT', body, ''),
          admin('PUT', body, 'wrong-token-wrong-token'),
          admin('DELETE', undefined, ''),
          { method: 'PUT', headers: { authorization: 'Basic Zm9vOmJhcg==' } },
        ]) {
          const oo = await outcome(await fetch(`${eas.url}/admin/organizations/${STJERNE_OU}`, init), 401);
          assert.equal(oo.issue[0]!.code, 'login');
        }
        const res = await fetch(`${eas.url}/admin/patients/0108589995`, admin('DELETE', undefined, ''));
        assert.equal(res.status, 401);
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
        await bundle(await fetch(op('getReceivingOrganizationBySORId', '?sorId=698161000016009')));
      });

      it('PUT replaces (200), DELETE removes (204), and lookups follow', async () => {
        const feed = eerFeeds().find((f) => f.id === 'example-eer-messaging-organization')!;
        const renamed = {
          ...feed.body,
          organization: { ...feed.body.organization, name: 'Renamed practice' },
        };
        const put = await fetch(`${eas.url}/admin/organizations/${feed.id}`, admin('PUT', renamed));
        assert.equal(put.status, 200);
        const b = await bundle(await fetch(op('getReceivingOrganizationByGPId', '?gpId=057584')));
        assert.equal(matches(b)[0]?.name, 'Renamed practice');
        const held = await fetch(`${eas.url}/admin/organizations/${feed.id}`, admin('GET'));
        assert.equal(held.status, 200);
        assert.deepEqual(await held.json(), renamed);
        const del = await fetch(`${eas.url}/admin/organizations/${feed.id}`, admin('DELETE'));
        assert.equal(del.status, 204);
        await outcome(await fetch(op('getReceivingOrganizationByGPId', '?gpId=057584')), 404);
        await outcome(await fetch(`${eas.url}/admin/organizations/${feed.id}`, admin('GET')), 404);
        const back = await fetch(`${eas.url}/admin/organizations/${feed.id}`, admin('PUT', feed.body));
        assert.equal(back.status, 201);
      });

      it('concurrent PUTs of one organisation all succeed and leave exactly one copy', async () => {
        const feed = eerFeeds().find((f) => f.id === STJERNE_OU)!;
        const names = Array.from({ length: 8 }, (_, i) => `Stjernepladsen ${i}`);
        const answers = await Promise.all(
          names.map((name) =>
            fetch(
              `${eas.url}/admin/organizations/${STJERNE_OU}`,
              admin('PUT', { ...feed.body, organization: { ...feed.body.organization, name } }),
            ),
          ),
        );
        assert.deepEqual(
          answers.map((r) => r.status),
          names.map(() => 200),
        );
        const b = await bundle(await fetch(op('getReceivingOrganizationBySORId', '?sorId=698161000016009')));
        assert.equal(b.total, 1);
        assert.ok(names.includes(String(matches(b)[0]?.name)));
        assert.equal(included(b, 'Endpoint').length, 1);
        const restore = await fetch(`${eas.url}/admin/organizations/${STJERNE_OU}`, admin('PUT', feed.body));
        assert.equal(restore.status, 200);
      });

      it('refuses a body that is not {organization, endpoints, devices} or whose id differs from the path → 400', async () => {
        const feed = eerFeeds().find((f) => f.id === STJERNE_OU)!;
        for (const body of [
          { organization: { resourceType: 'Patient' } },
          { ...feed.body, organization: { ...feed.body.organization, id: 'other' } },
          { ...feed.body, endpoints: [{ resourceType: 'Endpoint' }] },
          { ...feed.body, extra: 1 },
        ]) {
          await outcome(await fetch(`${eas.url}/admin/organizations/${STJERNE_OU}`, admin('PUT', body)), 400);
        }
        await outcome(await fetch(`${eas.url}/admin/patients/12`, admin('PUT', { sor: '1' })), 400);
        await outcome(await fetch(`${eas.url}/admin/patients/0108589995`, admin('PUT', {})), 400);
      });
    });

    it('keeps its data across a restart (a new role on a new store handle)', async () => {
      await eas.close();
      const store = await openNodeStore({ ...t.connection, busyTimeoutMs: 5000, poolSize: 2 });
      try {
        const again = await startEas(roleContext(store));
        try {
          const url = `${again.url}/Organization/$getReceivingOrganizationByPatientId`;
          const b = await bundle(
            await fetch(
              url,
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
            ),
          );
          assert.deepEqual(
            matches(b).map((o) => o.id),
            [STJERNE_OU],
          );
        } finally {
          await again.close();
        }
      } finally {
        await store.close();
      }
      eas = await startEas(roleContext(t.store));
    });
  });
}
