import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createCertificateAuthority, issueCertificate } from '@ehmi/pki';
import { Agent, fetch as undiciFetch } from 'undici';
import {
  createEasRole,
  endpointActive,
  endpointReceives,
  indexKeys,
  isGpPractice,
  normaliseCpr,
  sameMessageType,
} from '../../src/eas/index.ts';
import { loadConfig, openNodeStore } from '../../src/role-list.ts';
import { ADMIN_TOKEN, eerFeeds, NOW, readFixture, roleContext, startEas } from './helpers.ts';

describe('CPR format', () => {
  it('accepts 10 digits starting with a date, with or without the hyphen', () => {
    assert.equal(normaliseCpr('0108589995'), '0108589995');
    assert.equal(normaliseCpr('180876-4667'), '1808764667');
    assert.equal(normaliseCpr('2902001234'), '2902001234');
  });
  it('does not check modulus 11 (CPRs issued since 2007 need not satisfy it)', () => {
    // 0101011234: weights 4,3,2,7,6,5,4,3,2,1 give 93, not a multiple of 11.
    assert.equal(normaliseCpr('0101011234'), '0101011234');
  });
  it('refuses other lengths, letters and impossible dates', () => {
    for (const bad of ['010858999', '01085899951', '010858999A', '3202001234', '0013001234', '3104001234']) {
      assert.throws(() => normaliseCpr(bad), { code: 'EHMI_USAGE' });
    }
  });
});

describe('message types and endpoint activity', () => {
  const endpoint = readFixture('eer/json/Endpoint-LaegerneStjernepladsen.8200.AarhusN.5790002401428.json');
  it('matches the legacy EAS spelling against the current EER spelling of the same message and version', () => {
    assert.ok(
      sameMessageType(
        'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition:acknowledgement:2.0',
        'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::acknowledgement-message##urn:dk:medcom:fhir:acknowledgement-message::2.0',
      ),
    );
    assert.ok(
      !sameMessageType(
        'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition:homecareobservation:1.1',
        'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message::1.2',
      ),
    );
  });
  it('an endpoint receives a request only when it takes every requested type', () => {
    const ack = 'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition:acknowledgement:2.0';
    const hco11 = 'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition:homecareobservation:1.1';
    assert.ok(endpointReceives(endpoint, []));
    assert.ok(endpointReceives(endpoint, [ack]));
    assert.ok(!endpointReceives(endpoint, [ack, hco11]));
  });
  it('is active within its period and with status active; a date-only end covers its day', () => {
    assert.ok(endpointActive(endpoint, NOW));
    assert.ok(!endpointActive(endpoint, Date.parse('2024-12-31T23:00:00Z')));
    assert.ok(!endpointActive({ ...endpoint, status: 'off' }, NOW));
    const ends = { ...endpoint, period: { start: '2025-01-01', end: '2026-06-01' } };
    assert.ok(endpointActive(ends, Date.parse('2026-06-01T23:59:00Z')));
    assert.ok(!endpointActive(ends, Date.parse('2026-06-02T00:00:00Z')));
  });
});

describe('index keys', () => {
  it('indexes SOR, ydernummer (without leading zeros), endpoint GLNs and postal codes; GP = has a ydernummer', () => {
    const gp = eerFeeds().find((f) => f.id === 'LaegerneStjernepladsen.8200.AarhusN.698161000016009')!.body;
    assert.deepEqual(
      indexKeys(gp)
        .map((k) => `${k.kind}:${k.value}`)
        .sort(),
      ['gln:5790002401428', 'postal-code:8200', 'sor:698161000016009', 'ydernummer:77704'],
    );
    assert.ok(isGpPractice(gp.organization));
    const unit = eerFeeds().find((f) => f.id === 'Eer.SOR.OU-AAR-Kommune.1053851000016007')!.body;
    assert.ok(!isGpPractice(unit.organization));
    assert.ok(
      isGpPractice({
        resourceType: 'Organization',
        type: [
          {
            coding: [
              {
                system: 'http://medcomehmi.dk/ig/terminology/CodeSystem/eer-sor-io-organization-type',
                code: 'GeneralPractitioner',
              },
            ],
          },
        ],
      }),
    );
  });
});

describe('EAS configuration', () => {
  it('refuses to create the role without eas.adminToken', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ehmi-eas-'));
    const store = await openNodeStore({ dataDir });
    try {
      const ctx = roleContext(store);
      ctx.config.adminToken = undefined;
      await assert.rejects(createEasRole(ctx), { code: 'EHMI_CONFIG_INVALID', message: /eas\.adminToken/ });
    } finally {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
  it('refuses a malformed CPR or a patient without a GP in eas.patients', () => {
    for (const patients of [[{ cpr: '123', sor: '1' }], [{ cpr: '0108589995' }]]) {
      assert.throws(() => loadConfig({ env: {}, overrides: { eas: { patients } } }), {
        code: 'EHMI_CONFIG_INVALID',
      });
    }
  });
});

describe('EAS over HTTPS', () => {
  it('serves its operations over TLS when the node has TLS material', async () => {
    const ca = await createCertificateAuthority({ subject: 'CN=EAS Test CA, O=EHMI test, C=DK' });
    const server = await issueCertificate(ca, {
      subject: 'CN=eas.localhost',
      purposes: ['tls-server'],
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    const dataDir = await mkdtemp(join(tmpdir(), 'ehmi-eas-'));
    const store = await openNodeStore({ dataDir });
    const dispatcher = new Agent({ connect: { ca: ca.certificatePem } });
    const eas = await startEas(
      roleContext(
        store,
        {},
        { key: server.privateKeyPem, cert: server.certificatePem, ca: [ca.certificatePem] },
      ),
    );
    try {
      assert.match(eas.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const feed = eerFeeds().find((f) => f.id === 'LaegerneStjernepladsen.8200.AarhusN.698161000016009')!;
      const put = await undiciFetch(`${eas.url}/admin/organizations/${feed.id}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(feed.body),
        dispatcher,
      });
      assert.equal(put.status, 201);
      const res = await undiciFetch(
        `${eas.url}/Organization/$getReceivingOrganizationBySORId?sorId=698161000016009`,
        { dispatcher },
      );
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { total: number }).total, 1);
    } finally {
      await eas.close();
      await dispatcher.close();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
