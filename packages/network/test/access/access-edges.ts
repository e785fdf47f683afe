// The edges of "data access, not network access" in a real local network: each FHIR service and the token endpoint
// refuse a client certificate that is missing, from another CA, revoked or expired; the FHIR services say where
// their tokens come from (SMART configuration); /metrics is the operator's, on every server.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createCertificateAuthority, issueCertificate } from '@ehmi/pki';
import { Agent, fetch } from 'undici';
import { eventually } from '../../../server/test/e2e/helpers.ts';
import {
  loadNetworkRoot,
  type ManifestOrganisation,
  NetworkClient,
  type RunningNetwork,
  revokeNetworkCertificate,
} from '../../src/index.ts';
import { sharedNetwork } from './shared.ts';

const DAY = 86_400_000;
type Pem = { cert: string; key: string };

interface Answer {
  status: number;
  challenge: string;
  body: Record<string, unknown>;
}

const ehmiCode = (body: Record<string, unknown>) =>
  (body as { issue?: { details?: { coding?: { code: string }[] } }[] }).issue?.[0]?.details?.coding?.[0]
    ?.code;

describe('access at the edges (local network)', () => {
  let dataDir: string;
  let net: RunningNetwork;
  let client: NetworkClient;
  let ca: string;
  let gp: ManifestOrganisation;
  /** The client certificates of the failure modes (PEM), and none. */
  const credentials: Record<'gp' | 'stranger' | 'revoked' | 'expired', Pem> = {} as never;
  const agents = new Map<string, Agent>();
  const agent = (who: keyof typeof credentials | 'none'): Agent => {
    let a = agents.get(who);
    if (!a) {
      const tls = who === 'none' ? undefined : credentials[who];
      a = new Agent({ connect: { ca, ...(tls ? { cert: tls.cert, key: tls.key } : {}) } });
      agents.set(who, a);
    }
    return a;
  };
  const pemOf = (files: { cert: string; key: string }): Pem => ({
    cert: readFileSync(files.cert, 'utf8'),
    key: readFileSync(files.key, 'utf8'),
  });

  before(async () => {
    ({ net, dataDir } = await sharedNetwork());
    ca = readFileSync(net.manifest.trustAnchor, 'utf8');
    client = NetworkClient.open(dataDir);
    gp = net.manifest.organisations.find((o) => o.name === 'gp')!;
    credentials.gp = pemOf(gp.tls);
    // The maintainer's TLS client certificate, revoked as `ehmi pki revoke maintainer --purpose tls-client` does:
    // on the network's CRL (issued by @ehmi/pki), which the nodes fetch at most every 10 s.
    await revokeNetworkCertificate(dataDir, 'maintainer', 'tls-client');
    credentials.revoked = pemOf(net.manifest.maintainer.tls);
    // Issued by the network's own root, meant for TLS clients, expired yesterday.
    const expired = await issueCertificate(loadNetworkRoot(dataDir), {
      subject: 'CN=expired EUA, O=Nobody, C=DK',
      purposes: ['tls-client'],
      notBefore: new Date(Date.now() - 3 * DAY),
      notAfter: new Date(Date.now() - DAY),
      crlDistributionPoint: net.plan.crl.url,
    });
    credentials.expired = { cert: expired.certificatePem, key: expired.privateKeyPem };
    const other = await createCertificateAuthority({ subject: 'CN=Another CA, O=Elsewhere, C=DK' });
    const stranger = await issueCertificate(other, {
      subject: 'CN=stranger, O=Elsewhere, C=DK',
      purposes: ['tls-client'],
    });
    credentials.stranger = { cert: stranger.certificatePem, key: stranger.privateKeyPem };
  });
  after(async () => {
    await client?.close();
    for (const a of agents.values()) await a.close();
  });

  async function token(
    who: keyof typeof credentials,
    params: { client_id: string; scope: string; resource: string },
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${net.manifest.services.auth}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...params }).toString(),
      dispatcher: agent(who),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async function gpToken(scope: string, resource: string): Promise<string> {
    const t = await token('gp', { client_id: gp.clientId, scope, resource });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    return String(t.body.access_token);
  }

  async function call(url: string, who: keyof typeof credentials | 'none', bearer?: string): Promise<Answer> {
    const res = await fetch(url, {
      dispatcher: agent(who),
      headers: { accept: 'application/fhir+json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { text };
    }
    return { status: res.status, challenge: res.headers.get('www-authenticate') ?? '', body };
  }

  /** The FHIR services, each with a read the gp's EUA may make and the token it needs. */
  const services = () => {
    const { eer, eas } = net.manifest.services;
    return [
      { name: 'the MSH API', url: `${gp.msh}/inbox`, scope: 'msh/inbox.read', resource: gp.msh },
      { name: 'EER', url: `${eer}/Organization/gp`, scope: 'system/Organization.rs', resource: eer! },
      {
        name: 'EAS',
        url: `${eas}/Organization/$getReceivingOrganizationBySORId?sorId=${gp.sor}`,
        scope: 'system/Organization.rs',
        resource: eas!,
      },
    ];
  };

  /** 401, a Bearer challenge saying the token cannot be taken on this certificate, an OperationOutcome with why. */
  function assertCertificateRefused(answer: Answer, reason: RegExp): void {
    assert.equal(answer.status, 401, JSON.stringify(answer.body));
    assert.match(answer.challenge, /^Bearer error="invalid_token", error_description="[^"]*certificate/);
    assert.equal(answer.body.resourceType, 'OperationOutcome');
    assert.equal(ehmiCode(answer.body), 'EHMI_UNAUTHORIZED');
    assert.match(JSON.stringify(answer.body), reason);
  }

  describe('each FHIR service refuses the client certificate, with a valid token of the gp', () => {
    for (const i of [0, 1, 2]) {
      const service = () => services()[i]!;
      const label = ['the MSH API', 'EER', 'EAS'][i];

      it(`${label}: the gp's own certificate and token → 200`, async () => {
        const s = service();
        const answer = await call(s.url, 'gp', await gpToken(s.scope, s.resource));
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
      });

      it(`${label}: no client certificate → 401 (a bare Bearer challenge without a token, also on the same connection again)`, async () => {
        const s = service();
        assertCertificateRefused(
          await call(s.url, 'none', await gpToken(s.scope, s.resource)),
          /client certificate issued under \S+ is required/,
        );
        const bare = await call(s.url, 'none');
        assert.equal(bare.status, 401);
        assert.equal(bare.challenge, 'Bearer');
        assert.equal(bare.body.resourceType, 'OperationOutcome');
      });

      it(`${label}: a certificate from another CA → 401`, async () => {
        const s = service();
        assertCertificateRefused(
          await call(s.url, 'stranger', await gpToken(s.scope, s.resource)),
          /is required \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify)/i,
        );
      });

      it(`${label}: an expired certificate of the network's root → 401`, async () => {
        const s = service();
        assertCertificateRefused(
          await call(s.url, 'expired', await gpToken(s.scope, s.resource)),
          /CERT_HAS_EXPIRED|expired/,
        );
      });

      it(`${label}: a revoked certificate (on the network's CRL) → 401 naming the revocation`, async () => {
        const s = service();
        const t = await gpToken(s.scope, s.resource);
        // The node fetches the CRL again at most every 10 s (revocation.refreshMs of the network).
        // Until then the certificate passes and the gp's token is refused for it (bound to another certificate).
        const answer = await eventually(`${label} refuses the revoked certificate`, async () => {
          const a = await call(s.url, 'revoked', t);
          return /revoked/.test(JSON.stringify(a.body)) ? a : undefined;
        });
        assertCertificateRefused(answer, /revoked/);
      });
    }
  });

  describe('the token endpoint authenticates clients by their certificate (RFC 8705 §2): invalid_client', () => {
    const gpAsks = (who: keyof typeof credentials | 'none') =>
      fetch(`${net.manifest.services.auth}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: gp.clientId,
          scope: 'msh/inbox.read',
          resource: gp.msh,
        }).toString(),
        dispatcher: agent(who),
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> }));

    it('the gp’s own certificate → 200 and a token', async () => {
      const answer = await gpAsks('gp');
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(typeof answer.body.access_token, 'string');
    });

    for (const who of ['none', 'stranger', 'expired'] as const) {
      it(`${who === 'none' ? 'no client certificate' : who === 'stranger' ? 'a certificate from another CA' : 'an expired certificate'} → 401 invalid_client`, async () => {
        const answer = await gpAsks(who);
        assert.equal(answer.status, 401, JSON.stringify(answer.body));
        assert.equal(answer.body.error, 'invalid_client');
      });
    }

    it('a revoked certificate (the maintainer’s, with its own client id) → 401 invalid_client naming the revocation', async () => {
      const { maintainer, services } = net.manifest;
      const answer = await eventually('the token endpoint refuses the revoked certificate', async () => {
        const a = await token('revoked', {
          client_id: maintainer.clientId,
          scope: 'system/Organization.cruds',
          resource: services.eer!,
        });
        return a.status === 401 ? a : undefined;
      });
      assert.equal(answer.body.error, 'invalid_client');
      assert.match(String(answer.body.error_description), /revoked/);
    });
  });

  describe('SMART configuration (SMART App Launch 2.x) on the FHIR services', () => {
    it('EER, EAS and the MSH API say, openly, where tokens come from and which scopes they take', async () => {
      const { eer, eas, auth } = net.manifest.services;
      const meta = (await (
        await fetch(`${auth}/.well-known/oauth-authorization-server`, { dispatcher: agent('none') })
      ).json()) as Record<string, unknown>;
      const expectScopes: Record<string, string[]> = {
        [eer!]: ['system/Organization.rs', 'system/Endpoint.cruds', 'system/Device.rs', 'ehmi/metrics.read'],
        [eas!]: ['system/Organization.rs', 'eas/patient-gp.r'],
        [gp.msh]: [
          'msh/messages.write',
          'msh/messages.read',
          'msh/inbox.read',
          'msh/inbox.write',
          'msh/webhooks.read',
          'msh/webhooks.write',
        ],
      };
      for (const [base, scopes] of Object.entries(expectScopes)) {
        // No client certificate, no token.
        const res = await fetch(`${base}/.well-known/smart-configuration`, { dispatcher: agent('none') });
        assert.equal(res.status, 200, base);
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
        const smart = (await res.json()) as Record<string, unknown>;
        assert.equal(smart.issuer, auth);
        assert.equal(smart.issuer, meta.issuer);
        assert.equal(smart.jwks_uri, meta.jwks_uri);
        assert.equal(smart.token_endpoint, meta.token_endpoint);
        assert.equal(smart.token_endpoint, `${auth}/token`);
        assert.deepEqual(smart.grant_types_supported, ['client_credentials']);
        assert.deepEqual(smart.token_endpoint_auth_methods_supported, ['tls_client_auth']);
        assert.deepEqual(smart.capabilities, ['permission-v2']);
        assert.equal(smart.tls_client_certificate_bound_access_tokens, true);
        for (const s of scopes) assert.ok((smart.scopes_supported as string[]).includes(s), `${base}: ${s}`);
        assert.equal(smart.authorization_endpoint, undefined, 'no user launch: no authorization endpoint');
      }
    });
  });

  describe('/metrics is the operator’s on every server', () => {
    it('the operator (its certificate, a token with ehmi/metrics.read for that server) reads every HTTPS server of every node', async () => {
      const central = net.plan.central.urls;
      const org = net.plan.organisations.find((o) => o.spec.name === 'gp')!;
      const servers: [string, string][] = [
        [org.urls.msh, 'msh'],
        [org.urls.ap, 'ap'],
        [org.urls.node, 'node'],
        [central.eer, 'eer'],
        [central.eas, 'eas'],
        [central.eds, 'eds'],
        [central.auth, 'auth'],
        [central.node, 'node'],
      ];
      for (const [url, service] of servers) {
        const res = await client.metrics(url);
        assert.equal(res.status, 200, `${url}: ${res.text}`);
        assert.match(res.text, new RegExp(`^process_cpu_seconds_total\\{service="${service}"\\}`, 'm'), url);
      }
      // The node's own server carries the queue depths.
      assert.match((await client.metrics(org.urls.node)).text, /ehmi_queue_jobs/);
    });

    it('the SMP speaks plain HTTP, where no token can be bound: its /metrics is refused (403, saying why)', async () => {
      // Nor is it a resource of the authorization server: the operator can get no token for it.
      await assert.rejects(client.metrics(net.manifest.services.smp!), /invalid_target/);
      const res = await fetch(`${net.manifest.services.smp}/metrics`);
      assert.equal(res.status, 403);
      assert.match(await res.text(), /plain HTTP/);
    });

    it('without a client certificate: 401 with a Bearer challenge; /health stays open', async () => {
      const answer = await call(`${gp.msh}/metrics`, 'none');
      assert.equal(answer.status, 401);
      assert.match(answer.challenge, /^Bearer/);
      assert.equal(answer.body.resourceType, 'OperationOutcome');
      const ap = await call(`${gp.ap}/metrics`, 'none');
      assert.equal(ap.status, 401);
      assert.equal((await call(`${gp.ap}/health`, 'none')).status, 200);
    });

    it('an organisation’s EUA: its MSH token lacks the scope (403 insufficient_scope), and it may not ask for it', async () => {
      const t = await gpToken('msh/inbox.read', gp.msh);
      const answer = await call(`${gp.msh}/metrics`, 'gp', t);
      assert.equal(answer.status, 403, JSON.stringify(answer.body));
      assert.match(answer.challenge, /error="insufficient_scope", .*scope="ehmi\/metrics.read"/);
      const asked = await token('gp', {
        client_id: gp.clientId,
        scope: 'ehmi/metrics.read',
        resource: gp.msh,
      });
      assert.equal(asked.status, 400, JSON.stringify(asked.body));
      assert.equal(asked.body.error, 'invalid_scope');
    });

    it('the operator’s metrics token for EER is refused at EAS (audience)', async () => {
      const { operator, services } = net.manifest;
      const operatorAgent = new Agent({ connect: { ca, ...pemOf(operator.tls) } });
      agents.set('operator', operatorAgent);
      const res = await fetch(`${services.auth}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: operator.clientId,
          scope: 'ehmi/metrics.read',
          resource: services.eer!,
        }).toString(),
        dispatcher: operatorAgent,
      });
      const forEer = String(((await res.json()) as { access_token: string }).access_token);
      const atEas = await fetch(`${services.eas}/metrics`, {
        dispatcher: operatorAgent,
        headers: { authorization: `Bearer ${forEer}` },
      });
      assert.equal(atEas.status, 401);
      assert.match(atEas.headers.get('www-authenticate') ?? '', /error="invalid_token".*aud/);
      await atEas.body?.cancel();
    });

    it('an AS4 sender without a client certificate still reaches the AP’s AS4 endpoint (asked, never required)', async () => {
      const res = await fetch(`${gp.ap}/as4`, {
        method: 'POST',
        headers: { 'content-type': 'application/soap+xml' },
        body: '<not-a-soap-envelope/>',
        dispatcher: agent('none'),
      });
      const text = await res.text();
      // An ebMS answer about the message, not a refusal of the connection or of the client.
      assert.notEqual(res.status, 401, text);
      assert.match(text, /EBMS:\d{4}/);
    });
  });

  describe('the audit log is the operator’s, on each node’s own server', () => {
    it('the operator searches a node’s audit log: the calls of every server, refusals as failures with who tried', async () => {
      const { services } = net.manifest;
      // A refused call to EER (no token) and the gp EUA's lookup by CPR at EAS: both in the central node's log.
      const refused = await call(`${services.eer}/Organization/gp`, 'gp');
      assert.equal(refused.status, 401);
      const t = await gpToken('eas/patient-gp.r', services.eas!);
      const lookup = await fetch(`${services.eas}/Organization/$getReceivingOrganizationByPatientId`, {
        method: 'POST',
        dispatcher: agent('gp'),
        headers: { authorization: `Bearer ${t}`, 'content-type': 'application/fhir+json' },
        body: JSON.stringify({
          resourceType: 'Parameters',
          parameter: [
            {
              name: 'easCorePatient',
              resource: {
                resourceType: 'Patient',
                identifier: [{ system: 'urn:oid:1.2.208.176.1.2', value: '0101011234' }],
              },
            },
          ],
        }),
      });
      await lookup.body?.cancel();
      type Bundle = { entry?: { resource: Record<string, unknown> }[] };
      const failures = await eventually('the refused EER call in the central audit log', async () => {
        const res = await client.audit(services.node!, new URLSearchParams({ outcome: '4', _count: '200' }));
        assert.equal(res.status, 200, res.text);
        const found = ((res.json as Bundle).entry ?? []).map((e) => e.resource);
        const eer = found.find(
          (e) => String(e.outcomeDesc).includes('HTTP 401') && JSON.stringify(e).includes('GET /:type/:id'),
        );
        assert.ok(eer, 'no refused EER read');
        return eer;
      });
      assert.match(JSON.stringify(failures.agent), /msh\.gp|CN=/);
      const patient = await client.audit(
        services.node!,
        new URLSearchParams({ patient: 'urn:oid:1.2.208.176.1.2|0101011234', purpose: 'person-lookup' }),
      );
      const [event] = (patient.json as Bundle).entry ?? [];
      assert.ok(event, patient.text);
      assert.match(JSON.stringify(event.resource.agent), new RegExp(gp.clientId));
      // An organisation's node has its own log; an EUA may not read it.
      const own = await client.audit(gp.node!, new URLSearchParams({ _count: '1' }));
      assert.equal(own.status, 200, own.text);
      const eua = await call(`${gp.node}/audit/AuditEvent`, 'gp');
      assert.equal(eua.status, 401);
    });
  });
});
