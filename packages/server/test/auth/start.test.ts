import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines, type TestStore } from '../helpers/engines.ts';
import { authConfig, startAuth } from './helpers.ts';

describe('authorization server start-up', () => {
  let ts: TestStore;
  before(async () => {
    ts = await engines()[0]!.open();
  });
  after(async () => {
    await ts?.cleanup();
  });

  it('fails closed without the node tls (mutual TLS is how clients authenticate)', async () => {
    await assert.rejects(
      startAuth(ts, undefined),
      /EHMI_CONFIG_INVALID|auth role authenticates clients by mutual TLS/,
    );
  });

  it('refuses a client registered for a scope no resource offers', async () => {
    const config = authConfig(ts, {
      clients: [{ clientId: 'x', subjectDn: 'CN=x', scope: 'system/Nothing.rs' }],
    });
    await assert.rejects(startAuth(ts, undefined, config), /auth\.clients\.0\.scope/);
  });

  it('starts without tls when the node is insecure (development)', async () => {
    const config = { ...authConfig(ts), insecure: true };
    const auth = await startAuth(ts, undefined, config);
    try {
      assert.match(auth.url, /^http:\/\//);
    } finally {
      await auth.close();
    }
  });
});
