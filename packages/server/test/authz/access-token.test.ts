import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair, importJWK, SignJWT, UnsecuredJWT } from 'jose';
import type { Agent } from 'undici';
import type { AuthRole } from '../../src/auth/index.ts';
import { AccessTokenVerifier } from '../../src/authz.ts';
import { EAS, EER, ORGANISATION, startAuth, type TestPki, testPki } from '../auth/helpers.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import {
  type Answer,
  call,
  claimsOf,
  clientToken,
  codeOf,
  signedByIssuer,
  startResourceServer,
  type TestResourceServer,
} from './helpers.ts';

const SKEW = 30;
// The store only holds the authorization server's keys here: one engine is enough.
const engine = engines()[0]!;

function assertInvalidToken(answer: Answer, description: RegExp): void {
  assert.equal(answer.status, 401, JSON.stringify(answer.body));
  assert.match(answer.challenge ?? '', /^Bearer error="invalid_token", error_description="[^"]+"$/);
  assert.match(answer.challenge ?? '', description);
  assert.equal(codeOf(answer.body), 'EHMI_UNAUTHORIZED');
  assert.equal(answer.body.resourceType, 'OperationOutcome');
}

describe('resource server: certificate-bound access tokens (FAPI 2.0 §5.3.3, RFC 8705 §3, RFC 6750 §3.1)', () => {
  let ts: TestStore;
  let other: TestStore;
  let pki: TestPki;
  let auth: AuthRole;
  let otherAuth: AuthRole;
  let rs: TestResourceServer;
  let clientAgent: Agent;
  let strangerAgent: Agent;
  let offsetMs = 0;
  let token: string;

  before(async () => {
    pki = await testPki();
    ts = await engine.open();
    other = await engine.open();
    auth = await startAuth(ts, pki);
    otherAuth = await startAuth(other, pki);
    // No jwksUrl: found through the issuer's RFC 8414 metadata.
    rs = await startResourceServer(pki, {
      issuer: auth.issuer,
      audience: [EER, 'https://eer-alias.ehmi.test'],
      skewSeconds: SKEW,
      ca: [pki.caPem],
      now: () => Date.now() + offsetMs,
    });
    clientAgent = pki.agent(pki.client);
    strangerAgent = pki.agent(pki.stranger);
    token = await clientToken(auth, pki);
  });
  after(async () => {
    await rs?.close();
    await auth?.close();
    await otherAuth?.close();
    await clientAgent?.close();
    await strangerAgent?.close();
    await pki?.anonymous.close();
    await ts?.cleanup();
    await other?.cleanup();
  });

  it('a token of the issuer, for this server, bound to the certificate presented and with the scope: accepted, its claims on the request', async () => {
    const answer = await call(rs, clientAgent, '/Endpoint', token);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.challenge, null);
    assert.deepEqual(answer.body, {
      clientId: 'msh-gp',
      scopes: ['system/Organization.rs', 'system/Endpoint.rs'],
      organisation: {
        contexts: [{ name: ORGANISATION.name, sor: ORGANISATION.sor, gln: ORGANISATION.gln }],
        cvr: ORGANISATION.cvr,
        name: ORGANISATION.name,
      },
      patient: null,
    });
  });

  it('a route that names no scope takes a valid token with any scope', async () => {
    assert.equal((await call(rs, clientAgent, '/any', token)).status, 200);
  });

  it('paths in open need no token', async () => {
    assert.equal((await call(rs, pki.anonymous, '/health')).status, 200);
  });

  it('RFC 6750 §3.1: no token → 401 with a Bearer challenge and no error code', async () => {
    const answer = await call(rs, clientAgent, '/Endpoint');
    assert.equal(answer.status, 401);
    assert.equal(answer.challenge, 'Bearer scope="system/Endpoint.rs"');
    assert.equal(codeOf(answer.body), 'EHMI_UNAUTHORIZED');
  });

  it('invalid_request: an Authorization header that is not Bearer <token>', async () => {
    const { fetch } = await import('undici');
    const res = await fetch(`${rs.url}/Endpoint`, {
      dispatcher: clientAgent,
      headers: { authorization: `Basic ${Buffer.from('msh-gp:secret').toString('base64')}` },
    });
    assert.equal(res.status, 400);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_request"/);
    await res.body?.cancel();
  });

  it('FAPI 2.0 §5.3.3, RFC 6750 §2.3: a token in the query string → 400 invalid_request', async () => {
    const answer = await call(rs, clientAgent, `/Endpoint?access_token=${token}`);
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.match(
      answer.challenge ?? '',
      /^Bearer error="invalid_request", error_description="[^"]*query string/,
    );
    assert.equal(codeOf(answer.body), 'EHMI_USAGE');
    // Also when the header carries it as well.
    assert.equal((await call(rs, clientAgent, `/Endpoint?access_token=${token}`, token)).status, 400);
  });

  it('RFC 8705 §3: invalid_token when no client certificate is presented', async () => {
    assertInvalidToken(await call(rs, pki.anonymous, '/Endpoint', token), /no client certificate/);
  });

  it('RFC 8705 §3: invalid_token when the token is bound to another certificate than the one presented', async () => {
    assertInvalidToken(await call(rs, strangerAgent, '/Endpoint', token), /another certificate/);
  });

  it('RFC 8705 §3: invalid_token when the token is not bound to a certificate at all', async () => {
    const { cnf: _cnf, ...unbound } = claimsOf(token);
    const forged = await signedByIssuer(auth, unbound);
    assertInvalidToken(await call(rs, clientAgent, '/Endpoint', forged), /not bound/);
  });

  it('invalid_token: expired beyond the clock skew', async (t) => {
    const exp = Number(claimsOf(token).exp) * 1000;
    offsetMs = exp + (SKEW + 5) * 1000 - Date.now();
    t.after(() => {
      offsetMs = 0;
    });
    assertInvalidToken(await call(rs, clientAgent, '/Endpoint', token), /expired/);
  });

  it('accepted: past exp but within the clock skew', async (t) => {
    const exp = Number(claimsOf(token).exp) * 1000;
    offsetMs = exp + (SKEW - 5) * 1000 - Date.now();
    t.after(() => {
      offsetMs = 0;
    });
    assert.equal((await call(rs, clientAgent, '/Endpoint', token)).status, 200);
  });

  it('RFC 9068 §2.2: invalid_token when the token has no exp', async () => {
    const { exp: _exp, ...forever } = claimsOf(token);
    assertInvalidToken(await call(rs, clientAgent, '/Endpoint', await signedByIssuer(auth, forever)), /exp/);
  });

  it('RFC 8707: invalid_token for a token issued for another resource server (aud)', async () => {
    const forEas = await clientToken(auth, pki, 'system/Organization.rs', EAS);
    assertInvalidToken(await call(rs, clientAgent, '/Endpoint', forEas), /aud/);
  });

  it('a token for any one of the server’s own URLs is accepted', async () => {
    const aliased = await signedByIssuer(auth, { ...claimsOf(token), aud: 'https://eer-alias.ehmi.test' });
    assert.equal((await call(rs, clientAgent, '/Endpoint', aliased)).status, 200);
  });

  it('RFC 6750 §3.1: insufficient_scope → 403 naming the scope needed', async () => {
    const answer = await call(rs, clientAgent, '/Device', token);
    assert.equal(answer.status, 403, JSON.stringify(answer.body));
    assert.match(
      answer.challenge ?? '',
      /^Bearer error="insufficient_scope", error_description="[^"]+", scope="system\/Device.rs system\/Endpoint.cruds"$/,
    );
    assert.equal(codeOf(answer.body), 'EHMI_FORBIDDEN');
    // The token was valid: the refusal is the client's, and the audit log names it (request.access).
    assert.deepEqual(rs.answered.at(-1), { url: '/Device', status: 403, clientId: 'msh-gp' });
  });

  it('the issuer issues its access tokens with typ at+jwt (RFC 9068 §2.1)', () => {
    const [header] = token.split('.') as [string];
    assert.equal(JSON.parse(Buffer.from(header, 'base64url').toString()).typ, 'at+jwt');
  });

  it('RFC 9068 §4: invalid_token for a token signed by the issuer’s key whose typ is JWT, not at+jwt', async () => {
    const key = auth.signingKeys().at(-1)!;
    const sign = async (typ: string | undefined) =>
      new SignJWT(claimsOf(token))
        .setProtectedHeader({ alg: key.alg, kid: key.kid, ...(typ ? { typ } : {}) })
        .sign(await importJWK(key.jwk as Parameters<typeof importJWK>[0], key.alg));
    assertInvalidToken(await call(rs, clientAgent, '/Endpoint', await sign('JWT')), /not of type at\+jwt/);
    assertInvalidToken(
      await call(rs, clientAgent, '/Endpoint', await sign(undefined)),
      /not of type at\+jwt/,
    );
    // The media type's long form is the same type (RFC 9068 §4).
    const long = await call(rs, clientAgent, '/Endpoint', await sign('application/at+jwt'));
    assert.equal(long.status, 200, JSON.stringify(long.body));
  });

  it('FAPI 2.0 §5.4: invalid_token for alg none', async () => {
    const unsecured = new UnsecuredJWT(claimsOf(token)).encode();
    assertInvalidToken(await call(rs, clientAgent, '/Endpoint', unsecured), /algorithm not allowed/);
  });

  it('FAPI 2.0 §5.4: invalid_token for an algorithm outside the allowed ones (HS256)', async () => {
    const hmac = await new SignJWT(claimsOf(token))
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('a shared secret of at least 32 bytes!'));
    assertInvalidToken(await call(rs, clientAgent, '/Endpoint', hmac), /algorithm not allowed/);
  });

  it('invalid_token for a tampered signature', async () => {
    const [h, p, s] = token.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    sig[10]! ^= 0x01;
    const tampered = `${h}.${p}.${sig.toString('base64url')}`;
    assertInvalidToken(await call(rs, clientAgent, '/Endpoint', tampered), /signature does not verify/);
  });

  it('invalid_token for a tampered payload (more scope) under the original signature', async () => {
    const [h, , s] = token.split('.') as [string, string, string];
    const more = { ...claimsOf(token), scope: 'system/Endpoint.rs system/Device.rs' };
    const tampered = `${h}.${Buffer.from(JSON.stringify(more)).toString('base64url')}.${s}`;
    assertInvalidToken(await call(rs, clientAgent, '/Device', tampered), /signature does not verify/);
  });

  it('invalid_token for a token of another authorization server (iss)', async () => {
    const foreign = await clientToken(otherAuth, pki);
    assert.notEqual(otherAuth.issuer, auth.issuer);
    assertInvalidToken(
      await call(rs, clientAgent, '/Endpoint', foreign),
      /not signed with a key of the issuer/,
    );
  });

  it('invalid_token for a token signed with the issuer’s key but naming another issuer (iss)', async () => {
    const renamed = await signedByIssuer(auth, { ...claimsOf(token), iss: otherAuth.issuer });
    assertInvalidToken(await call(rs, clientAgent, '/Endpoint', renamed), /iss claim/);
  });

  it('invalid_token for a token naming the issuer but signed with a key the issuer does not publish', async () => {
    const { privateKey } = await generateKeyPair('PS256');
    const forged = await new SignJWT(claimsOf(token))
      .setProtectedHeader({ alg: 'PS256', kid: 'not-the-issuers', typ: 'at+jwt' })
      .sign(privateKey);
    assertInvalidToken(
      await call(rs, clientAgent, '/Endpoint', forged),
      /not signed with a key of the issuer/,
    );
  });

  it('a patient restriction (ehmi:patient) is refused where the service cannot honour it, and reaches the request where it can', async () => {
    const restricted = await signedByIssuer(auth, {
      ...claimsOf(token),
      'ehmi:patient': { cpr: '0101701234' },
    });
    const refused = await call(rs, clientAgent, '/Endpoint', restricted);
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.match(JSON.stringify(refused.body), /restricted to one patient/);
    const honouring = await startResourceServer(
      pki,
      { issuer: auth.issuer, audience: EER, ca: [pki.caPem], now: () => Date.now() + offsetMs },
      { honoursPatientRestriction: true },
    );
    try {
      const answer = await call(honouring, clientAgent, '/Endpoint', restricted);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.deepEqual(answer.body.patient, { cpr: '0101701234' });
    } finally {
      await honouring.close();
    }
  });

  it('invalid_token for a patient restriction that names no CPR number (never read as no restriction)', async () => {
    const broken = await signedByIssuer(auth, { ...claimsOf(token), 'ehmi:patient': { cpr: '123' } });
    assertInvalidToken(await call(rs, clientAgent, '/Endpoint', broken), /ehmi:patient/);
  });

  it('503 when the issuer’s keys cannot be fetched, and nothing said about the token', async () => {
    const closed = await startResourceServer(pki, {
      issuer: auth.issuer,
      jwksUrl: 'https://127.0.0.1:1/jwks',
      audience: EER,
      ca: [pki.caPem],
      timeoutMs: 2_000,
    });
    try {
      const answer = await call(closed, clientAgent, '/Endpoint', token);
      assert.equal(answer.status, 503, JSON.stringify(answer.body));
      assert.equal(answer.challenge, null);
      assert.equal(codeOf(answer.body), 'EHMI_UNAVAILABLE');
    } finally {
      await closed.close();
    }
  });

  it('a token that verified is checked in full once; its binding, exp and the cache age are checked on every call', async () => {
    let at = Date.now();
    const verifier = new AccessTokenVerifier({
      issuer: auth.issuer,
      jwksUrl: `${auth.url}/jwks`,
      audience: EER,
      ca: [pki.caPem],
      skewSeconds: SKEW,
      verifiedCacheMs: 60_000,
      now: () => at,
    });
    try {
      const first = await verifier.verify(token, pki.client.certificate.raw);
      assert.equal(verifier.signatureChecks, 1);
      assert.equal(await verifier.verify(token, pki.client.certificate.raw), first);
      assert.equal(await verifier.verify(token, Buffer.from(pki.client.certificate.raw)), first);
      assert.equal(verifier.signatureChecks, 1);
      // The binding is the connection's, not the token's: another certificate or none is refused, from memory too.
      await assert.rejects(verifier.verify(token, pki.stranger.certificate.raw), /another certificate/);
      await assert.rejects(verifier.verify(token, undefined), /no client certificate/);
      assert.equal(verifier.signatureChecks, 1);
      // Past the cache's age: checked in full again.
      at += 60_000;
      await verifier.verify(token, pki.client.certificate.raw);
      assert.equal(verifier.signatureChecks, 2);
      // Past exp beyond the skew: refused as expired, though it was in memory a moment before.
      at = Number(claimsOf(token).exp) * 1000 - 1_000;
      await verifier.verify(token, pki.client.certificate.raw);
      const checks = verifier.signatureChecks;
      at = Number(claimsOf(token).exp) * 1000 + (SKEW + 1) * 1000;
      await assert.rejects(verifier.verify(token, pki.client.certificate.raw), /expired/);
      assert.equal(verifier.signatureChecks, checks + 1);
      // A token that failed is never remembered: each call checks it again.
      const [h, p, s] = token.split('.') as [string, string, string];
      const tampered = `${h}.${p}.${s.slice(0, -4)}AAAA`;
      at = Date.now();
      await assert.rejects(verifier.verify(tampered, pki.client.certificate.raw), /signature/);
      await assert.rejects(verifier.verify(tampered, pki.client.certificate.raw), /signature/);
      assert.equal(verifier.signatureChecks, checks + 3);
    } finally {
      await verifier.close();
    }
  });

  it('verifiedCacheMs 0: every call checks the token in full', async () => {
    const verifier = new AccessTokenVerifier({
      issuer: auth.issuer,
      jwksUrl: `${auth.url}/jwks`,
      audience: EER,
      ca: [pki.caPem],
      verifiedCacheMs: 0,
    });
    try {
      await verifier.verify(token, pki.client.certificate.raw);
      await verifier.verify(token, pki.client.certificate.raw);
      assert.equal(verifier.signatureChecks, 2);
    } finally {
      await verifier.close();
    }
  });

  it('verify() on its own: an explicit jwksUrl, and the claims of a bound token', async () => {
    const verifier = new AccessTokenVerifier({
      issuer: auth.issuer,
      jwksUrl: `${auth.url}/jwks`,
      audience: EER,
      ca: [pki.caPem],
    });
    try {
      const claims = await verifier.verify(token, pki.client.certificate.raw);
      assert.equal(claims.clientId, 'msh-gp');
      assert.ok(claims.scopes.has('system/Endpoint.rs'));
      assert.equal(claims.organisation?.contexts[0]?.gln, ORGANISATION.gln);
      assert.ok(claims.expiresAt.getTime() > Date.now());
      await assert.rejects(verifier.verify(token, pki.stranger.certificate.raw), {
        code: 'EHMI_UNAUTHORIZED',
      });
    } finally {
      await verifier.close();
    }
  });
});
