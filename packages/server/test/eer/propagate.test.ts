import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { issueCertificate } from '@ehmi/pki';
import { SmpClient } from '@ehmi/smp';
import type { SmpRole } from '../../src/smp/index.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { type SmpTestPki, smpTestPki, startSmp, TOKEN, ZONE } from '../smp/helpers.ts';
import { drained, fhir, type Json, Recorder, type RunningEer, startEer } from './helpers.ts';

const GLN = '5790000121526';
const PARTICIPANT = `0088:${GLN}`;
const HCO =
  'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message::1.2';
const ACK =
  'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::acknowledgement-message##urn:dk:medcom:fhir:acknowledgement-message::2.0';
const SBDH_ACK =
  'urn:dk:healthcare:messaging:oasis:ebxml:schema:xsd::ehmisbdh-acknowledgement##urn:dk:ehmi:sbdh:ehmisbdh-acknowledgement::1.0';
const AP_URL = 'https://127.0.0.1:18711/as4';
const EER = 'http://medcomehmi.dk/ig/eer/StructureDefinition/';
const MSG_URI = 'http://medcomehmi.dk/ig/terminology/CodeSystem/ehmi-message-definition-uri';

/** The AP Device, as eerDevices.fsh, with the AP certificate as the EER pilot registers it (smp-public-key). */
function apDevice(certificateDerBase64: string): Json {
  return {
    resourceType: 'Device',
    id: 'ap-1',
    meta: { profile: [`${EER}EerDevice`] },
    extension: [
      {
        url: `${EER}smp-public-key`,
        extension: [{ url: `${EER}smp-public-certificate`, valueBase64Binary: certificateDerBase64 }],
      },
    ],
    identifier: [{ value: 'ap-1' }],
    type: {
      coding: [
        {
          system: 'http://medcomehmi.dk/ig/terminology/CodeSystem/eer-device-type',
          code: 'AP',
          display: 'eDelivery Access Point',
        },
      ],
    },
    status: 'active',
    deviceName: [{ name: 'Test AP', type: 'manufacturer-name' }],
    manufacturer: 'ehmi-node',
  };
}

function organization(endpoints: string[]): Json {
  return {
    resourceType: 'Organization',
    id: 'org-1',
    meta: { profile: [`${EER}Eer.Messaging.Organization`] },
    identifier: [{ system: 'urn:oid:1.2.208.176.1.1', value: '698131000016001' }],
    type: [
      {
        coding: [
          { system: 'http://medcomehmi.dk/ig/terminology/CodeSystem/eer-sor-organization-type', code: 'OU' },
        ],
      },
    ],
    name: 'Lægerne Stjernepladsen',
    endpoint: endpoints.map((e) => ({ reference: `Endpoint/${e}` })),
  };
}

function endpoint(payloadTypes: string[], extra: Json = {}): Json {
  return {
    resourceType: 'Endpoint',
    id: 'ep-1',
    meta: { profile: [`${EER}eer.dk.endpoint.messaging`] },
    extension: [{ url: `${EER}eer-dk-ap-system-extension`, valueReference: { reference: 'Device/ap-1' } }],
    identifier: [{ system: 'http://www.gs1.org/gln', value: GLN }],
    status: 'active',
    connectionType: {
      system: 'http://medcomehmi.dk/ig/terminology/CodeSystem/eer-endpoint-connection-type',
      code: 'EerMessagingEdeliveryFhir',
    },
    managingOrganization: { reference: 'Organization/org-1' },
    period: { start: '2025-01-01' },
    payloadType: payloadTypes.map((code) => ({ coding: [{ system: MSG_URI, code }] })),
    payloadMimeType: ['application/fhir+xml', 'application/fhir+json'],
    address: AP_URL,
    ...extra,
  };
}

for (const engine of engines()) {
  describe(`EER propagation (${engine.name})`, { skip: engine.skip }, () => {
    let pki: SmpTestPki;
    let ts: TestStore;
    let smpStore: TestStore;
    let smp: SmpRole;
    let eas: Recorder;
    let eer: RunningEer;
    let certB64: string;

    before(async () => {
      pki = await smpTestPki();
      certB64 = Buffer.from(pki.ap.certificate.raw).toString('base64');
      ts = await engine.open();
      smpStore = await engine.open();
      smp = await startSmp(smpStore.store, pki);
      eas = await new Recorder().start();
      eer = await startEer(ts, {
        smp: { url: smp.url, adminToken: TOKEN },
        apTrustAnchors: [join(pki.dir, 'root.pem')],
        eas: { url: eas.url, adminToken: 'eas-admin-token-0123456789' },
      });
    });
    after(async () => {
      await eer?.close();
      await smp?.close();
      await eas?.close();
      await ts?.cleanup();
      await smpStore?.cleanup();
    });

    const client = () =>
      new SmpClient({
        sml: { zone: ZONE, cnamePort: Number(new URL(smp.url).port) },
        dns: { host: '127.0.0.1', port: smp.dns!.port, timeoutMs: 1000, tries: 2 },
        trustAnchors: [pki.root.certificate],
        cacheTtlMs: 0,
      });

    it('an Organization with an Endpoint (+ AP Device) is published: the SMP serves it, DNS discovery finds the AP', async () => {
      assert.equal((await fhir(`${eer.url}/Device/ap-1`, 'PUT', apDevice(certB64))).status, 201);
      const org = await fhir(`${eer.url}/Organization/org-1`, 'PUT', organization(['ep-1']));
      assert.equal(org.status, 201, JSON.stringify(org.body));
      const ep = await fhir(`${eer.url}/Endpoint/ep-1`, 'PUT', endpoint([HCO, ACK, SBDH_ACK]));
      assert.equal(ep.status, 201, JSON.stringify(ep.body));
      await drained(eer.role);

      const group = await fetch(`${smp.url}/iso6523-actorid-upis%3A%3A0088%3A${GLN}`);
      assert.equal(group.status, 200);
      const groupXml = await group.text();
      for (const d of [HCO, ACK, SBDH_ACK])
        assert.ok(
          groupXml.includes(encodeURIComponent(`dk-medcom-messaging::${d}`)) ||
            groupXml.includes(encodeURIComponent(d)),
          d,
        );

      const found = await client().lookup(PARTICIPANT, HCO, 'urn:ehmi:sdn-emergence');
      assert.equal(found.endpointUrl, AP_URL);
      assert.equal(found.certificate.raw.toString('base64'), certB64);
      const ack = await client().lookup(PARTICIPANT, SBDH_ACK, 'urn:ehmi:sdn-emergence');
      assert.equal(ack.endpointUrl, AP_URL);

      // EAS got the organisation with its endpoint and the AP device, with the bearer token.
      const put = eas.requests
        .filter((r) => r.method === 'PUT' && r.path === '/admin/organizations/org-1')
        .at(-1);
      assert.ok(put, 'EAS PUT');
      assert.equal(put.authorization, 'Bearer eas-admin-token-0123456789');
      const feed = JSON.parse(put.body) as { organization: Json; endpoints: Json[]; devices: Json[] };
      assert.equal(feed.organization.id, 'org-1');
      assert.deepEqual(
        feed.endpoints.map((e) => e.id),
        ['ep-1'],
      );
      assert.deepEqual(
        feed.devices.map((d) => d.id),
        ['ap-1'],
      );
    });

    it('a message type dropped from the Endpoint is removed from the SMP', async () => {
      const ep = await fhir(`${eer.url}/Endpoint/ep-1`, 'PUT', endpoint([HCO, SBDH_ACK]));
      assert.equal(ep.status, 200, JSON.stringify(ep.body));
      await drained(eer.role);
      await assert.rejects(
        client().lookup(PARTICIPANT, ACK, 'urn:ehmi:sdn-emergence'),
        (e: Error & { code?: string }) => /NOT_REGISTERED|NOT_FOUND/.test(e.code ?? ''),
      );
      assert.equal((await client().lookup(PARTICIPANT, HCO, 'urn:ehmi:sdn-emergence')).endpointUrl, AP_URL);
    });

    it('a new AP certificate on the Device is republished for every endpoint using it', async () => {
      const renewed = await issueCertificate(pki.root, {
        subject: 'CN=AP 5790000121526 renewed, O=EHMI Test, C=DK',
        purposes: ['as4'],
      });
      const other = Buffer.from(renewed.certificate.raw).toString('base64');
      assert.equal((await fhir(`${eer.url}/Device/ap-1`, 'PUT', apDevice(other))).status, 200);
      await drained(eer.role);
      const found = await client().lookup(PARTICIPANT, HCO, 'urn:ehmi:sdn-emergence');
      assert.equal(found.certificate.raw.toString('base64'), other);
      await fhir(`${eer.url}/Device/ap-1`, 'PUT', apDevice(certB64));
      await drained(eer.role);
    });

    it('deleting the Organization removes the participant from the SMP and the organisation from EAS', async () => {
      assert.equal((await fhir(`${eer.url}/Organization/org-1`, 'DELETE')).status, 204);
      await drained(eer.role);
      assert.equal((await fetch(`${smp.url}/iso6523-actorid-upis%3A%3A0088%3A${GLN}`)).status, 404);
      assert.ok(eas.requests.some((r) => r.method === 'DELETE' && r.path === '/admin/organizations/org-1'));
    });

    it('a failing target is retried by the queue until it answers', async () => {
      let failures = 2;
      eas.status = (r) => (r.method === 'PUT' && failures-- > 0 ? 503 : 200);
      const before = eas.requests.length;
      assert.equal((await fhir(`${eer.url}/Organization/org-1`, 'PUT', organization(['ep-1']))).status, 201);
      await drained(eer.role);
      const puts = eas.requests.slice(before).filter((r) => r.method === 'PUT');
      assert.equal(puts.length, 3, 'two 503s, then success');
      const counts = await eer.queue.counts('eer.propagate');
      assert.equal(counts.dead, 0);
      eas.status = () => 200;
      // The organisation is back in the SMP too.
      assert.equal((await client().lookup(PARTICIPANT, HCO, 'urn:ehmi:sdn-emergence')).endpointUrl, AP_URL);
    });

    it('an access point no sender would accept is refused at the write, with the reason, and nothing is published', async () => {
      const jobs = await eer.queue.counts('eer.propagate');
      const refused = async (path: string, resource: Json, reason: RegExp) => {
        const res = await fhir(`${eer.url}/${path}`, 'PUT', resource);
        assert.equal(res.status, 422, path);
        const outcome = res.body as { issue: { severity: string; diagnostics: string }[] };
        assert.ok(
          outcome.issue.some((i) => i.severity === 'error' && reason.test(i.diagnostics)),
          JSON.stringify(outcome.issue),
        );
      };
      const [tlsClient, stranger] = await Promise.all([
        issueCertificate(pki.root, { subject: 'CN=TLS client, O=EHMI Test, C=DK', purposes: ['tls-client'] }),
        issueCertificate(pki.rogueRoot, { subject: 'CN=AP stranger, O=Nobody, C=XX', purposes: ['as4'] }),
      ]);
      const b64 = (c: { certificate: { raw: Buffer } }) => Buffer.from(c.certificate.raw).toString('base64');
      await refused('Device/ap-1', apDevice(b64(tlsClient)), /cannot serve as as4|TLS/);
      await refused('Device/ap-1', apDevice(b64(stranger)), /does not chain to a trust anchor/);
      // (A plain-HTTP address is refused too, but not under the insecure switch these tests run with: units.test.ts.)
      assert.deepEqual(await eer.queue.counts('eer.propagate'), jobs);
      // The register still serves the access point it had.
      const found = await client().lookup(PARTICIPANT, HCO, 'urn:ehmi:sdn-emergence');
      assert.equal(found.certificate.raw.toString('base64'), certB64);
    });

    it('a write that fails the profile enqueues nothing', async () => {
      const jobs = await eer.queue.counts('eer.propagate');
      const bad = endpoint([HCO], { identifier: [] });
      assert.equal((await fhir(`${eer.url}/Endpoint/ep-1`, 'PUT', bad)).status, 422);
      assert.deepEqual(await eer.queue.counts('eer.propagate'), jobs);
    });
  });
}

describe('EER propagation without targets', () => {
  it('skips the SMP and EAS when eer.smp and eer.eas are unset (no jobs)', async () => {
    const [sqlite] = engines();
    const ts = await sqlite!.open();
    const eer = await startEer(ts);
    try {
      assert.equal((await fhir(`${eer.url}/Organization/org-1`, 'PUT', organization([]))).status, 201);
      const c = await eer.queue.counts('eer.propagate');
      assert.equal(c.ready + c.running + c.done + c.dead, 0);
    } finally {
      await eer.close();
      await ts.cleanup();
    }
  });
});
