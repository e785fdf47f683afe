import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { AuthorizationServerMetadata } from '../../src/authz.ts';
import { createHttpServer } from '../../src/http/index.ts';
import { SMART_CONFIGURATION_PATH, serveSmartConfiguration } from '../../src/smart-configuration.ts';

const ISSUER = 'https://auth.ehmi.test';

describe('SMART configuration (SMART App Launch 2.x) from the authorization server’s metadata', () => {
  let app: FastifyInstance;
  let metadata: AuthorizationServerMetadata | undefined;

  before(async () => {
    app = await createHttpServer({
      service: 'test',
      logger: pino({ level: 'silent' }),
      bodyLimitBytes: 1024,
      metricsAccess: async () => {},
    });
    serveSmartConfiguration(app, { metadata: async () => metadata, scopes: ['system/Endpoint.rs'] });
  });
  after(async () => {
    await app?.close();
  });

  const get = async () => {
    const res = await app.inject({ method: 'GET', url: SMART_CONFIGURATION_PATH });
    return { status: res.statusCode, body: res.json() as Record<string, unknown> };
  };

  it('states the issuer’s endpoints, client credentials over tls_client_auth, permission-v2, and the mTLS fields it states', async () => {
    metadata = {
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/jwks`,
      token_endpoint: `${ISSUER}/token`,
      grant_types_supported: ['client_credentials', 'authorization_code'],
      token_endpoint_auth_methods_supported: ['tls_client_auth', 'private_key_jwt'],
      tls_client_certificate_bound_access_tokens: true,
      mtls_endpoint_aliases: { token_endpoint: 'https://mtls.auth.ehmi.test/token' },
    };
    const { status, body } = await get();
    assert.equal(status, 200);
    assert.deepEqual(body, {
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/jwks`,
      token_endpoint: `${ISSUER}/token`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['tls_client_auth'],
      scopes_supported: ['system/Endpoint.rs'],
      capabilities: ['permission-v2'],
      tls_client_certificate_bound_access_tokens: true,
      mtls_endpoint_aliases: { token_endpoint: 'https://mtls.auth.ehmi.test/token' },
    });
  });

  it('says nothing the authorization server does not support (RFC 8414 §2 defaults: no client_credentials, client_secret_basic)', async () => {
    metadata = { issuer: ISSUER, jwks_uri: `${ISSUER}/jwks`, token_endpoint: `${ISSUER}/token` };
    const { status, body } = await get();
    assert.equal(status, 200);
    assert.deepEqual(body.grant_types_supported, []);
    assert.deepEqual(body.token_endpoint_auth_methods_supported, []);
    assert.equal(body.tls_client_certificate_bound_access_tokens, undefined);
  });

  it('503 when the authorization server publishes no metadata, or no token endpoint', async () => {
    metadata = undefined;
    assert.equal((await get()).status, 503);
    metadata = { issuer: ISSUER, jwks_uri: `${ISSUER}/jwks` };
    const { status, body } = await get();
    assert.equal(status, 503);
    assert.match(JSON.stringify(body), /no token endpoint/);
  });
});
