import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SmpClient } from '@ehmi/smp';
import pino from 'pino';
import { SmpAdminClient } from '../../src/eer/smp-admin-client.ts';
import { startNode } from '../../src/node.ts';
import { loadConfig } from '../../src/role-list.ts';
import type { SmpRole } from '../../src/smp/index.ts';
import { AP_URL, HCO_CURRENT, RECEIVER, SDN, smpTestPki, TOKEN, ZONE } from './helpers.ts';

describe('smp role in a node', () => {
  it('runs when smp.enabled, configured from the environment, and serves discovery through its zone', async () => {
    const pki = await smpTestPki();
    const dataDir = await mkdtemp(join(tmpdir(), 'ehmi-node-smp-'));
    const config = loadConfig({
      env: {
        EHMI_SMP_ENABLED: 'true',
        EHMI_SMP_PORT: '0',
        EHMI_SMP_SIGNING_CERT: join(pki.dir, 'smp.pem'),
        EHMI_SMP_SIGNING_KEY: join(pki.dir, 'smp.key'),
        EHMI_SMP_ADMIN_TOKEN: TOKEN,
        EHMI_SMP_DNS_ENABLED: 'true',
        EHMI_SMP_DNS_PORT: '0',
        EHMI_SMP_DNS_ZONE: ZONE,
      },
      // The static admin token is a development path: the node is insecure (no authorization).
      overrides: { dataDir, http: { port: 0 }, insecure: true },
    });
    const node = await startNode(config, pino({ level: 'silent' }));
    try {
      const smp = node.roles.smp as SmpRole;
      assert.equal(node.urls.smp, smp.url);
      const admin = new SmpAdminClient({ baseUrl: smp.url, token: TOKEN });
      await admin.publishServiceGroup(RECEIVER);
      await admin.publishServiceMetadata({
        participant: RECEIVER,
        documentType: HCO_CURRENT,
        process: SDN,
        endpointUrl: AP_URL,
        certificatePem: pki.ap.certificatePem,
      });
      const client = new SmpClient({
        sml: { zone: ZONE },
        dns: { host: '127.0.0.1', port: smp.dns!.port, timeoutMs: 1000, tries: 2 },
        trustAnchors: [pki.root.certificate],
      });
      assert.equal((await client.lookup(RECEIVER, HCO_CURRENT)).endpointUrl, AP_URL);
    } finally {
      await node.close();
      await rm(dataDir, { recursive: true, force: true });
      pki.cleanup();
    }
  });
});
