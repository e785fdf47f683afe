// The token client (`@ehmi/server/token-client`) against a real authorization server role: one certificate-bound
// token per resource and scope, cached, asked for again before it expires, a refusal with the server's reason.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import type { Agent } from 'undici';
import type { AuthRole } from '../../src/auth/index.ts';
import { TokenClient } from '../../src/token-client.ts';
import { EAS, EER, startAuth, type TestPki, testPki } from '../auth/helpers.ts';
import { engines, type TestStore } from '../helpers/engines.ts';

const engine = engines()[0]!;

describe('TokenClient: client credentials over mTLS, cached and renewed', () => {
  let ts: TestStore;
  let pki: TestPki;
  let auth: AuthRole;
  let agent: Agent;
  /** Real time, unless a test moves the clock. */
  let now: number | undefined;

  before(async () => {
    pki = await testPki();
    ts = await engine.open();
    auth = await startAuth(ts, pki);
    agent = pki.agent(pki.client);
  });
  after(async () => {
    await auth?.close();
    await agent?.close();
    await pki?.anonymous.close();
    await ts?.cleanup();
  });

  const client = () =>
    new TokenClient({
      issuer: auth.issuer,
      clientId: 'msh-gp',
      dispatcher: agent,
      now: () => now ?? Date.now(),
    });

  it('a token for the resource asked for, bound to the client certificate, with the scope asked for', async () => {
    const token = await client().token({ resource: EER, scope: 'system/Endpoint.rs' });
    const claims = decodeJwt(token);
    assert.equal(claims.aud, EER);
    assert.equal(claims.client_id, 'msh-gp');
    assert.equal(claims.scope, 'system/Endpoint.rs');
    const thumbprint = createHash('sha256').update(pki.client.certificate.raw).digest('base64url');
    assert.equal((claims.cnf as Record<string, string>)['x5t#S256'], thumbprint);
  });

  it('cached per resource and scope; asked for again 30 s before it expires', async () => {
    const tokens = client();
    const first = await tokens.token({ resource: EER, scope: 'system/Endpoint.rs' });
    assert.equal(await tokens.token({ resource: EER, scope: 'system/Endpoint.rs' }), first);
    const other = await tokens.token({ resource: EAS, scope: 'system/Organization.rs' });
    assert.notEqual(other, first);
    const exp = Number(decodeJwt(first).exp) * 1000;
    now = exp - 31_000;
    assert.equal(await tokens.token({ resource: EER, scope: 'system/Endpoint.rs' }), first);
    now = exp - 29_000;
    const renewed = await tokens.token({ resource: EER, scope: 'system/Endpoint.rs' });
    assert.notEqual(renewed, first);
    now = undefined;
  });

  it('a refused request: EHMI_UNAUTHORIZED with the error and its description, and not cached', async () => {
    const tokens = client();
    for (let i = 0; i < 2; i++) {
      await assert.rejects(
        tokens.token({ resource: 'https://unknown.ehmi.test', scope: 'system/Endpoint.rs' }),
        (err: Error & { code?: string; details?: Record<string, unknown> }) => {
          assert.equal(err.code, 'EHMI_UNAUTHORIZED');
          assert.match(
            err.message,
            /refused msh-gp's token request for https:\/\/unknown\.ehmi\.test \(HTTP 400\): invalid_target: /,
          );
          assert.equal(err.details?.oauthError, 'invalid_target');
          assert.equal(typeof err.details?.oauthErrorDescription, 'string');
          return true;
        },
      );
    }
  });

  it('an authorization server that cannot be reached: EHMI_UNAVAILABLE naming it', async () => {
    const tokens = new TokenClient({ issuer: 'https://127.0.0.1:9', clientId: 'msh-gp', dispatcher: agent });
    await assert.rejects(tokens.token({ resource: EER }), {
      code: 'EHMI_UNAVAILABLE',
      message: /^the authorization server https:\/\/127\.0\.0\.1:9: its metadata cannot be had/,
    });
  });
});
