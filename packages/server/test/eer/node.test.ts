import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SmpClient } from '@ehmi/smp';
import pino from 'pino';
import type { EerRole } from '../../src/eer/index.ts';
import { startNode } from '../../src/node.ts';
import { loadConfig } from '../../src/role-list.ts';
import { freePort } from '../helpers/ports.ts';
import { smpTestPki, TOKEN, ZONE } from '../smp/helpers.ts';
import { drained, fhir, type Json } from './helpers.ts';

const EER = 'http://medcomehmi.dk/ig/eer/StructureDefinition/';
const GLN = '5790002401428';
const SOR = '698131000016001';
const HCO =
  'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message::1.2';
const EAS_TOKEN = 'eas-admin-token-0123456789';

describe('EER in a node with the SMP and EAS', () => {
  it('an organisation created in EER is served by the SMP (found through the local DNS) and found by EAS by SOR id', async () => {
    const pki = await smpTestPki();
    const dataDir = await mkdtemp(join(tmpdir(), 'ehmi-eer-node-'));
    const [smpPort, easPort] = [await freePort(), await freePort()];
    const apUrl = 'https://127.0.0.1:18711/as4';
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir,
        // The registers' static admin tokens, without authorization: the insecure development switch.
        insecure: true,
        http: { port: 0 },
        log: { level: 'silent' },
        queue: { pollIntervalMs: 20, backoffBaseMs: 50, backoffMaxMs: 200 },
        smp: {
          enabled: true,
          port: smpPort,
          signing: { cert: join(pki.dir, 'smp.pem'), key: join(pki.dir, 'smp.key') },
          adminToken: TOKEN,
          dns: { enabled: true, port: 0, zone: ZONE },
        },
        eer: {
          enabled: true,
          port: 0,
          smp: { url: `http://127.0.0.1:${smpPort}`, adminToken: TOKEN },
          apTrustAnchors: [join(pki.dir, 'root.pem')],
          eas: { url: `http://127.0.0.1:${easPort}`, adminToken: EAS_TOKEN },
        },
        eas: { enabled: true, port: easPort, adminToken: EAS_TOKEN },
      },
    });
    const node = await startNode(config, pino({ level: 'silent' }));
    try {
      const eer = node.urls.eer!;
      const device: Json = {
        resourceType: 'Device',
        id: 'ap',
        extension: [
          {
            url: `${EER}smp-public-key`,
            extension: [
              {
                url: `${EER}smp-public-certificate`,
                valueBase64Binary: Buffer.from(pki.ap.certificate.raw).toString('base64'),
              },
            ],
          },
        ],
        identifier: [{ value: 'ap' }],
        type: {
          coding: [{ system: 'http://medcomehmi.dk/ig/terminology/CodeSystem/eer-device-type', code: 'AP' }],
        },
        status: 'active',
        deviceName: [{ name: 'AP', type: 'manufacturer-name' }],
        manufacturer: 'ehmi-node',
      };
      const org: Json = {
        resourceType: 'Organization',
        identifier: [{ system: 'urn:oid:1.2.208.176.1.1', value: SOR }],
        type: [
          {
            coding: [
              {
                system: 'http://medcomehmi.dk/ig/terminology/CodeSystem/eer-sor-organization-type',
                code: 'OU',
              },
            ],
          },
        ],
        name: 'Lægerne Stjernepladsen I/S',
        address: [{ line: ['Stjernepladsen 1'], city: 'Aarhus N', postalCode: '8200' }],
      };
      assert.equal((await fhir(`${eer}/Device/ap`, 'PUT', device)).status, 201);
      const created = await fhir(`${eer}/Organization`, 'POST', org);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const orgId = created.body.id as string;
      const endpoint: Json = {
        resourceType: 'Endpoint',
        extension: [{ url: `${EER}eer-dk-ap-system-extension`, valueReference: { reference: 'Device/ap' } }],
        identifier: [{ system: 'http://www.gs1.org/gln', value: GLN }],
        status: 'active',
        connectionType: {
          system: 'http://medcomehmi.dk/ig/terminology/CodeSystem/eer-endpoint-connection-type',
          code: 'EerMessagingEdeliveryFhir',
        },
        managingOrganization: { reference: `Organization/${orgId}` },
        period: { start: '2025-01-01' },
        payloadType: [
          {
            coding: [
              {
                system: 'http://medcomehmi.dk/ig/terminology/CodeSystem/ehmi-message-definition-uri',
                code: HCO,
              },
            ],
          },
        ],
        payloadMimeType: ['application/fhir+xml'],
        address: apUrl,
      };
      const ep = await fhir(`${eer}/Endpoint`, 'POST', endpoint);
      assert.equal(ep.status, 201, JSON.stringify(ep.body));
      const withEndpoint = { ...created.body, endpoint: [{ reference: `Endpoint/${ep.body.id}` }] };
      assert.equal((await fhir(`${eer}/Organization/${orgId}`, 'PUT', withEndpoint)).status, 200);
      await drained(node.roles.eer as EerRole);

      const smp = node.roles.smp as unknown as { dns?: { port: number } };
      const found = await new SmpClient({
        sml: { zone: ZONE, cnamePort: smpPort },
        dns: { host: '127.0.0.1', port: smp.dns!.port, timeoutMs: 1000, tries: 2 },
        trustAnchors: [pki.root.certificate],
        cacheTtlMs: 0,
      }).lookup(`0088:${GLN}`, HCO, 'urn:ehmi:sdn-emergence');
      assert.equal(found.endpointUrl, apUrl);
      assert.equal(
        found.certificate.raw.toString('base64'),
        Buffer.from(pki.ap.certificate.raw).toString('base64'),
      );

      const eas = await fhir(`${node.urls.eas}/Organization/%24getReceivingOrganizationBySORId?sorId=${SOR}`);
      assert.equal(eas.status, 200, JSON.stringify(eas.body));
      const resources = ((eas.body.entry as Json[]) ?? []).map((e) => e.resource as Json);
      assert.ok(resources.some((r) => r.resourceType === 'Organization' && r.id === orgId));
      assert.ok(resources.some((r) => r.resourceType === 'Endpoint' && r.id === ep.body.id));
    } finally {
      await node.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
