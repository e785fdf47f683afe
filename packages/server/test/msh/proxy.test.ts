// TLS ended at a trusted proxy that forwards the client certificate (RFC 9440 `Client-Cert`): a real TLS-terminating
// reverse proxy (node's https, doing what HAProxy or nginx do: end the client's TLS, put its certificate in
// Client-Cert, call the node over TLS with the proxy's own client certificate) in front of an MSH whose access
// tokens come from a real authorization server. The node checks the forwarded certificate like a presented one, and
// binds tokens to it.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, Agent as HttpsAgent, request as httpsRequest, type Server } from 'node:https';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import {
  type Credential,
  createCertificateAuthority,
  issueCertificate,
  issueCrl,
  RevocationChecker,
} from '@ehmi/pki';
import { decodeJwt } from 'jose';
import pino from 'pino';
import { Agent, fetch } from 'undici';
import { type AuditLog, auditEvent } from '../../src/audit/index.ts';
import type { AuthRole } from '../../src/auth/index.ts';
import { createMsh, type MessageServiceHandler } from '../../src/msh/index.ts';
import { mshRole } from '../../src/msh/role.ts';
import { roleContext } from '../../src/node.ts';
import { configSchema, loadConfig } from '../../src/role-list.ts';
import { JobQueue } from '../../src/store/index.ts';
import { trustedProxiesOf } from '../../src/trust.ts';
import { allRecords, testAudit } from '../audit/helpers.ts';
import { authConfig, requestToken, startAuth } from '../auth/helpers.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { freePort } from '../helpers/ports.ts';
import { homecare, LoopbackAp, ORG_A, removeDir } from './helpers.ts';

const engine = engines()[0]!;
const EUA_DN = 'CN=eua.acute, O=EHMI test, C=DK';
const CRL_URL = 'http://crl.ehmi.test/root.crl';
const SCOPES = 'msh/messages.write msh/messages.read';

interface Answer {
  status: number;
  text: string;
}

/**
 * A TLS-terminating reverse proxy: asks the client for a certificate without judging it (as nginx's
 * `ssl_verify_client optional_no_ca`: the node judges), sets Client-Cert to the DER of what the client presented
 * (removing any Client-Cert the client sent), and calls the node over TLS presenting `own`.
 */
async function startProxy(
  target: () => string,
  tls: { server: Credential; own: Credential; caPem: string },
): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new HttpsAgent({
    ca: tls.caPem,
    cert: tls.own.certificatePem,
    key: tls.own.privateKeyPem,
    keepAlive: true,
  });
  const server: Server = createServer(
    {
      key: tls.server.privateKeyPem,
      cert: tls.server.certificatePem,
      requestCert: true,
      rejectUnauthorized: false,
    },
    (req, res) => {
      const headers = { ...req.headers };
      delete headers['client-cert'];
      delete headers['client-cert-chain'];
      const presented = (req.socket as TLSSocket).getPeerCertificate();
      if (presented?.raw) headers['client-cert'] = `:${presented.raw.toString('base64')}:`;
      const to = new URL(req.url ?? '/', target());
      headers.host = to.host;
      const up = httpsRequest(to, { method: req.method, headers, agent: upstream }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      up.on('error', (err) => {
        res.writeHead(502).end(String(err));
      });
      req.pipe(up);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      upstream.destroy();
    },
  };
}

/** Whether Debian's `haproxy` is installed (CI installs it: `.ci/run`). */
const HAPROXY = spawnSync('haproxy', ['-v']).status === 0;

/**
 * HAProxy with `examples/operations/haproxy-client-cert.cfg` as the operator would use it, its files and addresses
 * replaced by the test's. It listens on a socket the test opened (`fd@3`), so it is reached once it accepts, with no
 * waiting for it to start.
 */
async function startHaproxy(
  dir: string,
  node: string,
  files: { public: string; clientCas: string; nodeCa: string; proxyClient: string },
): Promise<{ url: string; close(): Promise<void> }> {
  const example = await readFile(
    fileURLToPath(new URL('../../../../examples/operations/haproxy-client-cert.cfg', import.meta.url)),
    'utf8',
  );
  const to = new URL(node);
  const config = example
    .replace('bind :443 ', 'bind fd@3 ')
    .replace('/etc/haproxy/tls/msh-public.pem', files.public)
    .replace('/etc/haproxy/tls/ehmi-client-cas.pem', files.clientCas)
    .replace('/etc/haproxy/tls/ehmi-ca.pem', files.nodeCa)
    .replace('/etc/haproxy/tls/proxy-client.pem', files.proxyClient)
    .replace('10.0.0.10:8701', to.host)
    .replace('sni str(msh.example.dk)', 'sni str(localhost)');
  const file = join(dir, 'haproxy.cfg');
  await writeFile(file, config);
  const listener = createNetServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as AddressInfo).port;
  const fd = (listener as unknown as { _handle: { fd: number } })._handle.fd;
  const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe', fd] });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  // The listening socket is HAProxy's now; this process keeps no copy that could accept.
  await new Promise((resolve) => listener.close(resolve));
  return {
    url: `https://127.0.0.1:${port}`,
    async close() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0 && code !== 143 && code !== null) throw new Error(`haproxy exited ${code}: ${stderr}`);
    },
  };
}

describe('MSH behind a TLS-terminating proxy that forwards the client certificate (RFC 9440)', () => {
  let dir: string;
  let ts: TestStore;
  let auth: AuthRole;
  let msh: MessageServiceHandler;
  let audit: AuditLog;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let otherProxy: Awaited<ReturnType<typeof startProxy>>;
  let authProxy: Awaited<ReturnType<typeof startProxy>>;
  let caPem: string;
  const agents: Agent[] = [];
  const creds = {} as Record<
    'server' | 'eua' | 'other' | 'proxy' | 'otherProxy' | 'expired' | 'revoked' | 'stranger',
    Credential
  >;
  let token: string;
  let files: Record<string, string>;
  /** The MSH's URL (its port chosen before the authorization server starts, which names it as a resource). */
  let MSH: string;

  const agent = (cred?: Credential) => {
    const a = new Agent({
      connect: { ca: caPem, ...(cred ? { cert: cred.certificatePem, key: cred.privateKeyPem } : {}) },
    });
    agents.push(a);
    return a;
  };
  const call = async (
    base: string,
    dispatcher: Agent,
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: string,
  ): Promise<Answer> => {
    const res = await fetch(`${base}${path}`, {
      method,
      dispatcher,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body ? { 'content-type': 'application/fhir+json' } : {}),
        ...headers,
      },
      ...(body ? { body } : {}),
    });
    return { status: res.status, text: await res.text() };
  };
  const der = (cred: Credential) => `:${Buffer.from(cred.certificate.raw).toString('base64')}:`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ehmi-proxy-'));
    const ca = await createCertificateAuthority({ subject: 'CN=Proxy Test Root, O=EHMI, C=DK' });
    const elsewhere = await createCertificateAuthority({ subject: 'CN=Elsewhere Root, O=Other, C=DK' });
    caPem = ca.certificatePem;
    const client = (subject: string, more: Partial<Parameters<typeof issueCertificate>[1]> = {}) =>
      issueCertificate(ca, { subject, purposes: ['tls-client'], ...more });
    creds.server = await issueCertificate(ca, {
      subject: 'CN=127.0.0.1, O=EHMI test, C=DK',
      purposes: ['tls-server', 'tls-client'],
      ipAddresses: ['127.0.0.1'],
      dnsNames: ['localhost'],
    });
    creds.eua = await client(EUA_DN);
    creds.other = await client('CN=other eua, O=EHMI test, C=DK');
    creds.proxy = await client('CN=proxy, O=EHMI test, C=DK');
    creds.otherProxy = await client('CN=another proxy, O=EHMI test, C=DK');
    creds.expired = await client('CN=expired eua, O=EHMI test, C=DK', {
      notBefore: new Date(Date.now() - 20 * 86_400_000),
      notAfter: new Date(Date.now() - 10 * 86_400_000),
    });
    creds.revoked = await client('CN=revoked eua, O=EHMI test, C=DK', { crlDistributionPoint: CRL_URL });
    creds.stranger = await issueCertificate(elsewhere, {
      subject: 'CN=stranger, O=Other, C=DK',
      purposes: ['tls-client'],
    });
    const crl = await issueCrl(ca, {
      revoked: [
        {
          serialNumber: creds.revoked.certificate.serialNumber,
          revokedAt: new Date(Date.now() - 1000),
          reason: 'keyCompromise',
        },
      ],
      thisUpdate: new Date(Date.now() - 60_000),
      nextUpdate: new Date(Date.now() + 86_400_000),
      crlNumber: 1,
    });
    files = {};
    for (const [name, pem] of [
      ['ca.pem', caPem],
      ['server.crt', creds.server.certificatePem],
      ['server.key', creds.server.privateKeyPem],
      ['proxy.crt', creds.proxy.certificatePem],
      // HAProxy's: a certificate and its key in one file.
      ['public.pem', `${creds.server.certificatePem.trim()}\n${creds.server.privateKeyPem.trim()}\n`],
      ['proxy-client.pem', `${creds.proxy.certificatePem.trim()}\n${creds.proxy.privateKeyPem.trim()}\n`],
    ] as const) {
      files[name] = join(dir, name);
      await writeFile(files[name], pem);
    }

    ts = await engine.open();
    const port = await freePort();
    MSH = `https://127.0.0.1:${port}`;
    const authSettings = authConfig(ts, {
      resources: { [MSH]: SCOPES },
      clients: [
        {
          clientId: 'acute-eua',
          subjectDn: EUA_DN,
          scope: SCOPES,
          organisation: { gln: ORG_A.gln, sor: ORG_A.sor, cvr: '12345678', name: ORG_A.name },
        },
      ],
    });
    // The authorization server behind the same proxy: it authenticates the client (tls_client_auth) by the
    // forwarded certificate and binds the token to it.
    auth = await startAuth(ts, { caPem, server: creds.server } as Parameters<typeof startAuth>[1], {
      ...authSettings,
      http: { ...authSettings.http, trustedProxies: [{ certificate: files['proxy.crt']! }] },
    });
    const config = configSchema.parse({
      dataDir: ts.dataDir,
      organisation: ORG_A,
      tls: { cert: files['server.crt'], key: files['server.key'], ca: [files['ca.pem']] },
      authorization: { issuer: auth.issuer },
      http: { trustedProxies: [{ certificate: files['proxy.crt'] }] },
      msh: {
        enabled: true,
        port,
        clientTrustAnchors: [files['ca.pem']],
        sweepIntervalMs: 3_600_000,
      },
      log: { level: 'silent' },
    });
    const node = testAudit(ts.store);
    audit = node.log;
    msh = await createMsh(
      roleContext(mshRole, {
        config,
        store: ts.store,
        queue: new JobQueue(ts.store, {
          leaseMs: 30_000,
          maxAttempts: 5,
          backoffBaseMs: 20,
          backoffMaxMs: 200,
        }),
        logger: pino({ level: 'silent' }),
        tls: { key: creds.server.privateKeyPem, cert: creds.server.certificatePem, ca: [caPem] },
        // The revoked certificate's CRL, served as a CRL distribution point would serve it.
        revocation: new RevocationChecker({
          fetch: async (url) => {
            if (url !== CRL_URL) throw new Error(`no CRL at ${url}`);
            return crl.der;
          },
        }),
        audit: node.audit,
      }),
      { accessPoint: new LoopbackAp() },
    );
    await msh.start();
    proxy = await startProxy(() => msh.url, { server: creds.server, own: creds.proxy, caPem });
    otherProxy = await startProxy(() => msh.url, { server: creds.server, own: creds.otherProxy, caPem });
    authProxy = await startProxy(() => auth.url, { server: creds.server, own: creds.proxy, caPem });
    const issued = await requestToken(authProxy.url, agent(creds.eua), {
      client_id: 'acute-eua',
      scope: SCOPES,
      resource: MSH,
    });
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    token = String(issued.body.access_token);
  });

  after(async () => {
    await proxy?.close();
    await otherProxy?.close();
    await authProxy?.close();
    for (const a of agents) await a.close();
    await msh?.close();
    await audit?.close();
    await auth?.close();
    await ts?.cleanup();
    await removeDir(dir);
  });

  it('an EUA through the proxy submits and reads with its token, bound to its own certificate; the audit log names it and the proxy', async () => {
    const eua = agent(creds.eua);
    const submitted = await call(proxy.url, eua, 'POST', '/messages', {}, JSON.stringify(homecare()));
    assert.equal(submitted.status, 202, submitted.text);
    const { id } = JSON.parse(submitted.text) as { id: string };
    const read = await call(proxy.url, eua, 'GET', `/messages/${id}`);
    assert.equal(read.status, 200, read.text);
    // Both calls, each naming the EUA's certificate and the proxy it came through.
    const records = (await allRecords(audit)).filter(
      (r) => r.route === '/messages' || r.route === '/messages/:id',
    );
    assert.deepEqual(
      records.map((r) => [r.method, r.status]),
      [
        ['POST', 202],
        ['GET', 200],
      ],
    );
    for (const r of records) {
      assert.equal(r.caller.clientId, 'acute-eua');
      assert.match(r.caller.certificate ?? '', /CN=eua\.acute/);
      assert.match(r.caller.proxy ?? '', /CN=proxy/);
      // The AuditEvent: the client named by its forwarded certificate, the proxy as an agent that is not the requestor.
      const agents = (auditEvent(r) as { agent: { name?: string; requestor: boolean }[] }).agent;
      assert.ok(agents.some((a) => /CN=eua\.acute/.test(a.name ?? '')));
      assert.ok(agents.some((a) => /CN=proxy/.test(a.name ?? '') && !a.requestor));
    }
  });

  it("the token issued through the proxy is bound to the forwarded certificate, never the proxy's; the proxy itself gets none", async () => {
    const cnf = decodeJwt(token).cnf as Record<string, string>;
    const thumbprint = (cred: Credential) =>
      createHash('sha256').update(cred.certificate.raw).digest('base64url');
    assert.equal(cnf['x5t#S256'], thumbprint(creds.eua));
    assert.notEqual(cnf['x5t#S256'], thumbprint(creds.proxy));
    // The proxy calling the authorization server on its own (no Client-Cert) authenticates no client.
    const refused = await requestToken(auth.url, agent(creds.proxy), {
      client_id: 'acute-eua',
      scope: SCOPES,
      resource: MSH,
    });
    assert.equal(refused.status, 401, JSON.stringify(refused.body));
    assert.equal(refused.body.error, 'invalid_client');
  });

  it('through HAProxy with the example configuration: the EUA submits and reads; a Client-Cert the client sends is not passed on; another client with its token is refused', {
    skip: !HAPROXY && 'haproxy is not installed',
  }, async () => {
    const haproxy = await startHaproxy(dir, msh.url, {
      public: files['public.pem']!,
      clientCas: files['ca.pem']!,
      nodeCa: files['ca.pem']!,
      proxyClient: files['proxy-client.pem']!,
    });
    try {
      const eua = agent(creds.eua);
      const submitted = await call(haproxy.url, eua, 'POST', '/messages', {}, JSON.stringify(homecare()));
      assert.equal(submitted.status, 202, submitted.text);
      const { id } = JSON.parse(submitted.text) as { id: string };
      // A header the client writes itself is replaced by the certificate it presented.
      const read = await call(haproxy.url, eua, 'GET', `/messages/${id}`, {
        'client-cert': der(creds.other),
      });
      assert.equal(read.status, 200, read.text);
      const other = await call(haproxy.url, agent(creds.other), 'GET', `/messages/${id}`);
      assert.equal(other.status, 401, other.text);
      assert.match(other.text, /bound to another certificate than the one presented/);
    } finally {
      await haproxy.close();
    }
  });

  it('a token bound to one certificate, with another certificate forwarded, is refused (401 invalid_token)', async () => {
    const answer = await call(proxy.url, agent(creds.other), 'GET', '/messages');
    assert.equal(answer.status, 401, answer.text);
    assert.match(answer.text, /bound to another certificate than the one presented/);
  });

  it('a client that connects to the node itself with a Client-Cert header is refused, whatever the header says', async () => {
    for (const forged of [der(creds.eua), der(creds.other), 'not a certificate']) {
      const answer = await call(msh.url, agent(creds.eua), 'GET', '/messages', { 'client-cert': forged });
      assert.equal(answer.status, 401, answer.text);
      assert.match(answer.text, /taken only from a trusted proxy \(http\.trustedProxies\)/);
    }
    // Without the header, the same client and token are served directly (TLS ended at the node).
    assert.equal((await call(msh.url, agent(creds.eua), 'GET', '/messages')).status, 200);
  });

  it('a proxy that presents another certificate than the configured one is refused', async () => {
    const answer = await call(otherProxy.url, agent(creds.eua), 'GET', '/messages');
    assert.equal(answer.status, 401, answer.text);
    assert.match(answer.text, /taken only from a trusted proxy.*CN=another proxy/);
  });

  it('the trusted proxy calling without a forwarded certificate is not a client', async () => {
    const answer = await call(msh.url, agent(creds.proxy), 'GET', '/messages');
    assert.equal(answer.status, 401, answer.text);
    assert.match(answer.text, /forwarded no client certificate \(client-cert\)/);
  });

  it('an expired, a revoked, an untrusted or a malformed forwarded certificate is refused', async () => {
    const cases: [Credential | string, RegExp][] = [
      [creds.expired, /forwarded client certificate .*CN=expired eua.* is not valid at/],
      [creds.revoked, /forwarded client certificate.*revoked/i],
      [creds.stranger, /forwarded client certificate/],
    ];
    for (const [cred, message] of cases) {
      const answer = await call(proxy.url, agent(cred as Credential), 'GET', '/messages');
      assert.equal(answer.status, 401, answer.text);
      assert.match(answer.text, message);
    }
    // A proxy that sends something else than a byte sequence (straight to the node, as the proxy).
    const malformed = await call(msh.url, agent(creds.proxy), 'GET', '/messages', {
      'client-cert': 'not a certificate',
    });
    assert.equal(malformed.status, 401, malformed.text);
    assert.match(malformed.text, /not a structured-field byte sequence/);
  });
});

describe('trusted proxies: configuration', () => {
  it('examples/operations/node-behind-proxy.json is a configuration the node reads (docs/operations.md)', () => {
    const config = loadConfig({
      file: fileURLToPath(new URL('../../../../examples/operations/node-behind-proxy.json', import.meta.url)),
      env: {},
    });
    assert.deepEqual(config.http.trustedProxies, [{ certificate: '/etc/ehmi/tls/proxy-client.crt' }]);
    assert.equal(config.http.clientCertificateHeader, 'Client-Cert');
  });

  it('none configured: no proxy is trusted; a proxy certificate that cannot be read, or holds none, fails the start naming its key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ehmi-proxy-config-'));
    try {
      const http = (trustedProxies: { certificate: string }[]) =>
        configSchema.parse({ http: { trustedProxies } }).http;
      assert.equal(trustedProxiesOf(http([])), undefined);
      assert.throws(() => trustedProxiesOf(http([{ certificate: join(dir, 'missing.crt') }])), {
        code: 'EHMI_CONFIG_INVALID',
        message: /^http\.trustedProxies\[0\]\.certificate: cannot read/,
      });
      await writeFile(join(dir, 'empty.crt'), 'no certificate here');
      assert.throws(() => trustedProxiesOf(http([{ certificate: join(dir, 'empty.crt') }])), {
        code: 'EHMI_CONFIG_INVALID',
        message: /^http\.trustedProxies\[0\]\.certificate: .* holds no PEM certificate/,
      });
    } finally {
      await removeDir(dir);
    }
  });
});
