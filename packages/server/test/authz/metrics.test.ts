import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { type Agent, fetch } from 'undici';
import type { AuthRole } from '../../src/auth/index.ts';
import { createHttpServer, listen } from '../../src/http/index.ts';
import { METRICS_SCOPE, metricsAccess } from '../../src/metrics-access.ts';
import { type ConfigInput, loadConfig } from '../../src/role-list.ts';
import { askForClientCertificate, revocationChecker } from '../../src/trust.ts';
import { authConfig, CLIENT_DN, requestToken, startAuth, type TestPki, testPki } from '../auth/helpers.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { codeOf } from './helpers.ts';

/** The audience the test server takes (a token names it as its resource). */
const SERVER = 'https://ap.ehmi.test';
const engine = engines()[0]!;

describe('/metrics is the operator’s (metrics-access.ts)', () => {
  let ts: TestStore;
  let pki: TestPki;
  let auth: AuthRole;
  let operatorAgent: Agent;
  let clientAgent: Agent;
  const servers: { app: FastifyInstance; close(): Promise<void> }[] = [];

  /** A server of a node with these node settings, over HTTPS asking for client certificates (or plain HTTP). */
  async function start(node: ConfigInput, https = true): Promise<string> {
    const config = loadConfig({ env: {}, overrides: { dataDir: ts.dataDir, ...node } });
    const tls = { key: pki.server.privateKeyPem, cert: pki.server.certificatePem, ca: [pki.caPem] };
    const access = metricsAccess(
      {
        node: config,
        tls: { ...tls, client: tls },
        revocation: revocationChecker(config.revocation),
        logger: pino({ level: 'silent' }),
      },
      { service: 'test', audience: () => [SERVER], anchorsKey: 'tls.ca' },
    );
    const app = await createHttpServer({
      service: 'test',
      logger: pino({ level: 'silent' }),
      bodyLimitBytes: 1024,
      metricsAccess: access.hook,
      ...(https ? { tls: askForClientCertificate(tls, tls.ca) } : {}),
    });
    servers.push({ app, close: access.close });
    return listen(app, { host: '127.0.0.1', port: 0, https });
  }

  const withAuthorization = () => ({
    authorization: { issuer: auth.issuer, operatorClients: ['operator'] },
  });

  async function tokenOf(agent: Agent, clientId: string): Promise<string> {
    const t = await requestToken(auth.url, agent, {
      client_id: clientId,
      scope: METRICS_SCOPE,
      resource: SERVER,
    });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    return String(t.body.access_token);
  }

  async function metrics(url: string, agent: Agent, token?: string) {
    const res = await fetch(`${url}/metrics`, {
      dispatcher: agent,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    const text = await res.text();
    return { status: res.status, challenge: res.headers.get('www-authenticate'), text };
  }

  before(async () => {
    pki = await testPki();
    ts = await engine.open();
    auth = await startAuth(
      ts,
      pki,
      authConfig(ts, {
        resources: { [SERVER]: METRICS_SCOPE },
        clients: [
          { clientId: 'operator', subjectDn: 'CN=stranger, O=Other, C=DK', scope: METRICS_SCOPE },
          // Registered for the scope, but not one of the node's operator clients.
          { clientId: 'msh-gp', subjectDn: CLIENT_DN, scope: METRICS_SCOPE },
        ],
      }),
    );
    operatorAgent = pki.agent(pki.stranger);
    clientAgent = pki.agent(pki.client);
  });
  after(async () => {
    for (const s of servers) {
      await s.app.close();
      await s.close();
    }
    await auth?.close();
    await operatorAgent?.close();
    await clientAgent?.close();
    await pki?.anonymous.close();
    await ts?.cleanup();
  });

  it('an operator client’s certificate-bound token for this server, with the metrics scope: 200', async () => {
    const url = await start(withAuthorization());
    const answer = await metrics(url, operatorAgent, await tokenOf(operatorAgent, 'operator'));
    assert.equal(answer.status, 200, answer.text);
    assert.match(answer.text, /process_cpu_seconds_total\{service="test"\}/);
    assert.equal((await fetch(`${url}/health`, { dispatcher: pki.anonymous })).status, 200);
  });

  it('a client that is not one of authorization.operatorClients: 403, even with the scope', async () => {
    const url = await start(withAuthorization());
    const answer = await metrics(url, clientAgent, await tokenOf(clientAgent, 'msh-gp'));
    assert.equal(answer.status, 403, answer.text);
    assert.match(answer.text, /not one of authorization\.operatorClients/);
  });

  it('no token: 401 with a Bearer challenge naming the scope; no certificate: 401', async () => {
    const url = await start(withAuthorization());
    const none = await metrics(url, operatorAgent);
    assert.equal(none.status, 401);
    assert.equal(none.challenge, `Bearer scope="${METRICS_SCOPE}"`);
    const anonymous = await metrics(url, pki.anonymous, await tokenOf(operatorAgent, 'operator'));
    assert.equal(anonymous.status, 401, anonymous.text);
    assert.match(anonymous.challenge ?? '', /^Bearer error="invalid_token"/);
    assert.equal(codeOf(JSON.parse(anonymous.text)), 'EHMI_UNAUTHORIZED');
  });

  it('over plain HTTP no token can be bound: 403 saying so', async () => {
    const url = await start(withAuthorization(), false);
    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 403);
    assert.match(await res.text(), /plain HTTP/);
  });

  it('without authorization: 403 saying the node has none, unless insecure (development) opens it', async () => {
    const closed = await start({});
    const refused = await metrics(closed, operatorAgent);
    assert.equal(refused.status, 403);
    assert.equal(JSON.parse(refused.text).resourceType, 'OperationOutcome');
    assert.match(refused.text, /no authorization configured/);
    const open = await start({ insecure: true });
    assert.equal((await metrics(open, pki.anonymous)).status, 200);
  });
});
