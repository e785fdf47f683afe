import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { startNode } from '../../src/node.ts';
import { loadConfig } from '../../src/role-list.ts';

describe('EAS in a node', () => {
  it('runs from environment configuration (token, seeded patients) and answers on its own server', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ehmi-eas-node-'));
    const config = loadConfig({
      env: {
        EHMI_EAS_ENABLED: 'true',
        EHMI_EAS_PORT: '0',
        EHMI_EAS_ADMIN_TOKEN: 'eas-admin-token-from-env-0123',
        EHMI_EAS_PATIENTS: JSON.stringify([{ cpr: '0108589995', sor: '698161000016009' }]),
      },
      // Without authorization (the static admin token): the insecure development switch.
      overrides: { dataDir, http: { port: 0 }, insecure: true },
    });
    const node = await startNode(config, pino({ level: 'silent' }));
    try {
      assert.ok(node.urls.eas);
      assert.notEqual(node.urls.eas, node.urls.node);
      assert.equal((await fetch(`${node.urls.eas}/metadata`)).status, 200);
      assert.equal((await fetch(`${node.urls.eas}/health`)).status, 200);
      const gp = await node.store.db.selectFrom('eas_patient_gp').selectAll().execute();
      assert.deepEqual(
        gp.map((r) => [r.cpr, r.sor]),
        [['0108589995', '698161000016009']],
      );
      const denied = await fetch(`${node.urls.eas}/admin/organizations/x`, { method: 'DELETE' });
      assert.equal(denied.status, 401);
    } finally {
      await node.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
