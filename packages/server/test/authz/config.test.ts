import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import { accessTokenVerifierOptions } from '../../src/authz.ts';
import { loadConfig } from '../../src/role-list.ts';

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof EhmiError, `expected EhmiError, got ${String(err)}`);
    assert.equal(err.code, 'EHMI_CONFIG_INVALID');
    return err.message;
  }
  assert.fail('expected a configuration error');
}

describe('configuration: authorization (the issuer whose access tokens resource servers accept)', () => {
  it('is absent unless configured', () => {
    assert.equal(loadConfig({ env: {} }).authorization, undefined);
  });

  it('defaults: 30 s skew, PS256, ES256 and EdDSA, the JWKS found through the issuer, no operator client', () => {
    const c = loadConfig({ env: { EHMI_AUTHORIZATION_ISSUER: 'https://auth.ehmi.test' } });
    assert.deepEqual(c.authorization, {
      issuer: 'https://auth.ehmi.test',
      skewSeconds: 30,
      algorithms: ['PS256', 'ES256', 'EdDSA'],
      operatorClients: [],
    });
    const options = accessTokenVerifierOptions(c.authorization!, { audience: 'https://eer.ehmi.test' });
    assert.equal(options.issuer, 'https://auth.ehmi.test');
    assert.equal(options.jwksUrl, undefined);
    assert.equal(options.audience, 'https://eer.ehmi.test');
  });

  it('takes jwksUrl, skewSeconds and algorithms from the environment', () => {
    const c = loadConfig({
      env: {
        EHMI_AUTHORIZATION_ISSUER: 'https://auth.ehmi.test',
        EHMI_AUTHORIZATION_JWKS_URL: 'https://auth.ehmi.test/keys',
        EHMI_AUTHORIZATION_SKEW_SECONDS: '60',
        EHMI_AUTHORIZATION_ALGORITHMS: '["ES256"]',
      },
    });
    assert.equal(c.authorization?.jwksUrl, 'https://auth.ehmi.test/keys');
    assert.equal(c.authorization?.skewSeconds, 60);
    assert.deepEqual(c.authorization?.algorithms, ['ES256']);
  });

  it('refuses a skew over 300 s', () => {
    const message = configError(() =>
      loadConfig({
        env: {},
        overrides: { authorization: { issuer: 'https://auth.ehmi.test', skewSeconds: 301 } },
      }),
    );
    assert.match(message, /authorization\.skewSeconds/);
  });

  it('FAPI 2.0 §5.4: refuses none and HS256 as algorithms', () => {
    for (const alg of ['none', 'HS256']) {
      const message = configError(() =>
        loadConfig({
          env: {},
          overrides: { authorization: { issuer: 'https://auth.ehmi.test', algorithms: [alg as 'PS256'] } },
        }),
      );
      assert.match(message, /authorization\.algorithms/);
    }
  });

  it('refuses an issuer that is not a URL', () => {
    assert.match(
      configError(() => loadConfig({ env: {}, overrides: { authorization: { issuer: 'auth.ehmi.test' } } })),
      /authorization\.issuer/,
    );
  });
});
