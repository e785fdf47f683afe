import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AuthRole } from '../../src/auth/index.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { assertOpenApiListsEveryRoute } from '../helpers/openapi.ts';
import {
  authConfig,
  EAS,
  EER,
  getJson,
  ORGANISATION,
  requestToken,
  startAuth,
  type TestPki,
  testPki,
  verifyJwt,
  x5tS256,
} from './helpers.ts';

type Jwks = Parameters<typeof verifyJwt>[1];

for (const engine of engines()) {
  describe(`authorization server: client credentials over mutual TLS (${engine.name})`, {
    skip: engine.skip,
  }, () => {
    let ts: TestStore;
    let pki: TestPki;
    let auth: AuthRole;
    let clock = Date.UTC(2026, 0, 1);
    before(async () => {
      pki = await testPki();
      ts = await engine.open();
      auth = await startAuth(ts, pki, authConfig(ts, { keyRotationDays: 30 }), { now: () => clock });
    });
    after(async () => {
      await auth?.close();
      await ts?.cleanup();
      await pki?.anonymous.close();
    });

    it('RFC 8705 §3: a registered client gets a JWT access token for the resource, bound to its certificate', async () => {
      const agent = pki.agent(pki.client);
      const { status, body } = await requestToken(auth.url, agent, {
        client_id: 'msh-gp',
        scope: 'system/Organization.rs system/Endpoint.rs',
        resource: EER,
      });
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.token_type, 'Bearer');
      assert.equal(body.expires_in, 600);
      assert.equal(body.scope, 'system/Organization.rs system/Endpoint.rs');
      const jwks = (await getJson(`${auth.url}/jwks`, pki.anonymous)) as unknown as Jwks;
      const { header, payload } = verifyJwt(String(body.access_token), jwks);
      assert.equal(header.alg, 'PS256');
      assert.equal(header.typ, 'at+jwt');
      assert.equal(payload.iss, auth.issuer);
      assert.equal(payload.aud, EER);
      assert.equal(payload.client_id, 'msh-gp');
      assert.deepEqual(payload.cnf, { 'x5t#S256': x5tS256(pki.client) });
      assert.equal(payload.scope, 'system/Organization.rs system/Endpoint.rs');
      assert.equal(Number(payload.exp) - Number(payload.iat), 600);
      assert.deepEqual(payload['ehmi:org_context'], [
        { name: ORGANISATION.name, sor: ORGANISATION.sor, gln: ORGANISATION.gln },
      ]);
      assert.equal(payload.cvr, ORGANISATION.cvr);
      assert.equal(payload.org_name, ORGANISATION.name);
      await agent.close();
    });

    it('EHMI PDF §3.4.1: without a resource parameter the audience is the one resource offering the scope', async () => {
      const agent = pki.agent(pki.client);
      const { status, body } = await requestToken(auth.url, agent, {
        client_id: 'msh-gp',
        scope: 'system/Endpoint.rs',
      });
      assert.equal(status, 200, JSON.stringify(body));
      const jwks = (await getJson(`${auth.url}/jwks`, pki.anonymous)) as unknown as Jwks;
      assert.equal(verifyJwt(String(body.access_token), jwks).payload.aud, EER);
      await agent.close();
    });

    it('invalid_client: no client certificate', async () => {
      const { status, body } = await requestToken(auth.url, pki.anonymous, {
        client_id: 'msh-gp',
        scope: 'system/Organization.rs',
        resource: EER,
      });
      assert.equal(status, 401);
      assert.equal(body.error, 'invalid_client');
    });

    it('invalid_client: a certificate whose subject DN is not the registered one', async () => {
      const agent = pki.agent(pki.stranger);
      const { status, body } = await requestToken(auth.url, agent, {
        client_id: 'msh-gp',
        scope: 'system/Organization.rs',
        resource: EER,
      });
      assert.equal(status, 401);
      assert.equal(body.error, 'invalid_client');
      await agent.close();
    });

    it('invalid_client: a certificate meant for the TLS server, not the client', async () => {
      const agent = pki.agent(pki.server);
      const { status, body } = await requestToken(auth.url, agent, {
        client_id: 'msh-gp',
        scope: 'system/Organization.rs',
        resource: EER,
      });
      assert.equal(status, 401);
      assert.equal(body.error, 'invalid_client');
      await agent.close();
    });

    it('invalid_scope: a scope the client is not registered for', async () => {
      const agent = pki.agent(pki.client);
      const { status, body } = await requestToken(auth.url, agent, {
        client_id: 'msh-gp',
        scope: 'system/Endpoint.cruds',
        resource: EER,
      });
      assert.equal(status, 400);
      assert.equal(body.error, 'invalid_scope');
      await agent.close();
    });

    it('invalid_scope: a scope the client has but the resource does not offer', async () => {
      const agent = pki.agent(pki.client);
      const { status, body } = await requestToken(auth.url, agent, {
        client_id: 'msh-gp',
        scope: 'system/Endpoint.rs',
        resource: EAS,
      });
      assert.equal(status, 400);
      assert.equal(body.error, 'invalid_scope');
      await agent.close();
    });

    it('invalid_target: an unknown resource', async () => {
      const agent = pki.agent(pki.client);
      const { status, body } = await requestToken(auth.url, agent, {
        client_id: 'msh-gp',
        scope: 'system/Organization.rs',
        resource: 'https://unknown.ehmi.test',
      });
      assert.equal(status, 400);
      assert.equal(body.error, 'invalid_target');
      await agent.close();
    });

    it('RFC 8414 metadata states tls_client_auth and certificate-bound access tokens', async () => {
      for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
        const meta = await getJson(`${auth.url}${path}`, pki.anonymous);
        assert.equal(meta.issuer, auth.issuer);
        assert.deepEqual(meta.token_endpoint_auth_methods_supported, ['tls_client_auth']);
        assert.equal(meta.tls_client_certificate_bound_access_tokens, true);
        assert.equal(meta.token_endpoint, `${auth.issuer}/token`);
        assert.equal(meta.jwks_uri, `${auth.issuer}/jwks`);
        assert.ok((meta.grant_types_supported as string[]).includes('client_credentials'));
      }
    });

    it('the OpenAPI document lists every route', async () => {
      assertOpenApiListsEveryRoute(auth.app, await getJson(`${auth.url}/openapi.json`, pki.anonymous));
    });

    it('/health is open; /metrics is the operator’s (a node without authorization serves it to no one)', async () => {
      assert.equal((await getJson(`${auth.url}/health`, pki.anonymous)).status, 'ok');
      const { fetch } = await import('undici');
      const res = await fetch(`${auth.url}/metrics`, { dispatcher: pki.anonymous });
      assert.equal(res.status, 403);
      assert.match(await res.text(), /no authorization configured/);
    });

    it('key rotation: a new token is signed with the new key, and the JWKS still has the old one', async () => {
      const agent = pki.agent(pki.client);
      const ask = () =>
        requestToken(auth.url, agent, {
          client_id: 'msh-gp',
          scope: 'system/Organization.rs',
          resource: EER,
        });
      const before = await ask();
      const jwks0 = (await getJson(`${auth.url}/jwks`, pki.anonymous)) as unknown as Jwks;
      const oldKid = verifyJwt(String(before.body.access_token), jwks0).header.kid;

      clock += 31 * 86_400_000; // past auth.keyRotationDays
      await auth.maintainKeys();
      const after = await ask();
      const jwks1 = (await getJson(`${auth.url}/jwks`, pki.anonymous)) as unknown as Jwks;
      const newKid = verifyJwt(String(after.body.access_token), jwks1).header.kid;
      assert.notEqual(newKid, oldKid);
      assert.ok(
        jwks1.keys.some((k) => k.kid === oldKid),
        'the old key is still published',
      );
      verifyJwt(String(before.body.access_token), jwks1);
      assert.ok(
        jwks1.keys.every((k) => !('d' in k)),
        'the JWKS holds public keys only',
      );

      await auth.rotateKeys();
      const third = await ask();
      const jwks2 = (await getJson(`${auth.url}/jwks`, pki.anonymous)) as unknown as Jwks;
      assert.notEqual(verifyJwt(String(third.body.access_token), jwks2).header.kid, newKid);
      assert.equal(jwks2.keys.length, 3);

      // Once every token the old keys signed has expired (TTL + skew after they were replaced), they are dropped.
      clock += 700_000;
      await auth.maintainKeys();
      const jwks3 = (await getJson(`${auth.url}/jwks`, pki.anonymous)) as unknown as Jwks;
      assert.deepEqual(
        jwks3.keys.map((k) => k.kid),
        [auth.signingKeys().at(-1)!.kid],
      );
      await agent.close();
    });
  });
}
