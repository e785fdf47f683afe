import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import { checkCertificateTrust } from '@ehmi/pki';
import pino from 'pino';
import {
  CENTRAL_SERVICES,
  centralServicePort,
  checkPortBase,
  DEFAULT_NETWORK,
  ensureNetworkPki,
  isValidGln,
  LOCAL_ORGANISATIONS,
  MANIFEST_FILE,
  NETWORK_PORT_SPAN,
  organisationPorts,
  organisationsOf,
  participantOf,
  planNetwork,
  readNetworkManifest,
  writeNetworkManifest,
} from '../src/index.ts';

const logger = pino({ level: 'silent' });

describe('local network: organisations', () => {
  it('has a municipality (sender), a gp (receiver) and a hospital, with short names without spaces', () => {
    assert.deepEqual(
      LOCAL_ORGANISATIONS.map((o) => o.role),
      ['municipality', 'gp', 'hospital'],
    );
    for (const o of LOCAL_ORGANISATIONS) assert.match(o.name, /^[a-z0-9-]+$/);
    assert.equal(new Set(LOCAL_ORGANISATIONS.map((o) => o.gln)).size, 3);
  });

  it('every GLN has a valid GS1 check digit and every SOR code is digits', () => {
    for (const o of LOCAL_ORGANISATIONS) {
      assert.ok(isValidGln(o.gln), o.gln);
      assert.match(o.sor, /^\d+$/);
    }
    assert.equal(isValidGln('5790000123118'), false, 'a wrong check digit is refused');
    assert.equal(participantOf({ gln: '5790000127092' }), '0088:5790000127092');
  });
});

describe('local network: ports', () => {
  it('reserves base..base+9 for the central services and gives each organisation msh, ap, node from base+10', () => {
    assert.equal(centralServicePort(8700, 'auth'), 8700);
    assert.ok(CENTRAL_SERVICES.every((s) => centralServicePort(8700, s) < 8710));
    assert.deepEqual(organisationPorts(8700, 0), { msh: 8710, ap: 8711, node: 8712 });
    assert.deepEqual(organisationPorts(8700, 2), { msh: 8716, ap: 8717, node: 8718 });
  });

  it('never leaves the 50-port span', () => {
    const used = LOCAL_ORGANISATIONS.flatMap((_, i) => Object.values(organisationPorts(20000, i)));
    assert.equal(new Set(used).size, used.length);
    assert.ok(Math.max(...used) < 20000 + NETWORK_PORT_SPAN);
    assert.throws(
      () => organisationPorts(20000, 14),
      (e: unknown) => e instanceof EhmiError,
    );
  });

  it('a port base whose span does not fit is a usage error', () => {
    assert.throws(
      () => checkPortBase(65500),
      (e: unknown) => e instanceof EhmiError && e.code === 'EHMI_USAGE',
    );
    assert.throws(
      () => checkPortBase(0),
      (e: unknown) => e instanceof EhmiError && e.code === 'EHMI_USAGE',
    );
    assert.equal(checkPortBase(65535 - 49), 65486);
  });
});

describe('local network: PKI', () => {
  let dir: string;
  const orgs = LOCAL_ORGANISATIONS.slice(0, 2);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ehmi-net-pki-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('generates a root CA and per organisation an AS4, a TLS server and a TLS client credential that chain to it', async () => {
    const pki = await ensureNetworkPki(dir, orgs);
    assert.equal(pki.generated, true);
    assert.equal(pki.trustAnchor, join(dir, 'pki', 'root-ca.pem'));
    const { readFileSync } = await import('node:fs');
    const root = new X509Certificate(readFileSync(pki.trustAnchor));
    assert.ok(root.ca);
    for (const org of ['municipality', 'gp']) {
      const creds = pki.organisations[org]!;
      for (const files of [creds.as4, creds.tlsServer, creds.tlsClient]) {
        checkCertificateTrust(new X509Certificate(readFileSync(files.cert)), { trustAnchors: [root] });
        assert.equal((await stat(files.key)).mode & 0o777, 0o600);
      }
      const tls = new X509Certificate(readFileSync(creds.tlsServer.cert));
      assert.match(tls.subjectAltName ?? '', /DNS:localhost/);
      assert.match(tls.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    }
  });

  it('reuses what exists on the next start, and issues again only what is missing', async () => {
    const { readFileSync } = await import('node:fs');
    const first = await ensureNetworkPki(dir, orgs);
    assert.equal(first.generated, false);
    const rootBefore = readFileSync(first.trustAnchor, 'utf8');
    const as4Before = readFileSync(first.organisations.gp!.as4.cert, 'utf8');
    const tlsBefore = readFileSync(first.organisations.gp!.tlsServer.cert, 'utf8');
    await unlink(first.organisations.gp!.tlsServer.key);
    const second = await ensureNetworkPki(dir, orgs);
    assert.equal(second.generated, true);
    assert.equal(readFileSync(second.trustAnchor, 'utf8'), rootBefore);
    assert.equal(readFileSync(second.organisations.gp!.as4.cert, 'utf8'), as4Before);
    assert.notEqual(readFileSync(second.organisations.gp!.tlsServer.cert, 'utf8'), tlsBefore);
  });

  it('a credential not issued by the root (a replaced root) is issued again', async () => {
    const other = await mkdtemp(join(tmpdir(), 'ehmi-net-pki-other-'));
    const gp = orgs.slice(1);
    try {
      const { readFileSync } = await import('node:fs');
      const a = await ensureNetworkPki(other, gp);
      const as4Before = readFileSync(a.organisations.gp!.as4.cert, 'utf8');
      // Another network's root in place of this one's: every credential must be issued again from it.
      const b = await ensureNetworkPki(dir, gp);
      await writeFile(a.trustAnchor, readFileSync(b.trustAnchor));
      await writeFile(a.trustAnchorKey, readFileSync(b.trustAnchorKey));
      const c = await ensureNetworkPki(other, gp);
      assert.equal(c.generated, true);
      assert.notEqual(readFileSync(c.organisations.gp!.as4.cert, 'utf8'), as4Before);
      checkCertificateTrust(new X509Certificate(readFileSync(c.organisations.gp!.as4.cert)), {
        trustAnchors: [readFileSync(b.trustAnchor)],
      });
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});

describe('local network: plan and network.json', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ehmi-net-plan-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives each organisation its own node config: ports, data folder, TLS, AP credential, trust anchors', async () => {
    const plan = await planNetwork({ dataDir: dir, portBase: 30000, logger });
    assert.equal(plan.organisations.length, 3);
    plan.organisations.forEach((o, i) => {
      const c = o.config;
      assert.equal(c.msh.enabled, true);
      assert.equal(c.ap.enabled, true);
      assert.deepEqual({ msh: c.msh.port, ap: c.ap.port, node: c.http.port }, organisationPorts(30000, i));
      assert.equal(c.dataDir, join(dir, o.spec.name));
      assert.deepEqual(c.organisation, { name: o.spec.name, gln: o.spec.gln, sor: o.spec.sor });
      const creds = plan.pki.organisations[o.spec.name]!;
      assert.deepEqual(c.tls, {
        cert: creds.tlsServer.cert,
        key: creds.tlsServer.key,
        clientCert: creds.tlsClient.cert,
        clientKey: creds.tlsClient.key,
        ca: [plan.pki.trustAnchor],
      });
      assert.equal(c.revocation.refreshMs, 10_000);
      assert.deepEqual(c.msh.clientTrustAnchors, [plan.pki.trustAnchor]);
      assert.deepEqual(c.ap.trustAnchors, [plan.pki.trustAnchor]);
      assert.deepEqual(c.ap.signing, creds.as4);
      assert.equal(c.database.url, undefined);
      // the static discovery map knows every organisation's AP
      for (const other of plan.organisations) {
        const entry = c.ap.discovery.static[participantOf(other.spec)];
        assert.equal(entry?.url, other.urls.ap);
        assert.equal(entry?.certificate, plan.pki.organisations[other.spec.name]!.as4.cert);
      }
    });
  });

  it('on PostgreSQL puts each organisation in its own schema (prefix from database.schema)', async () => {
    const url = 'postgres://u@127.0.0.1:1/db';
    const plan = await planNetwork({ dataDir: dir, portBase: 30000, logger, databaseUrl: url });
    assert.deepEqual(
      plan.organisations.map((o) => [o.config.database.url, o.config.database.schema]),
      [
        [url, 'ehmi_municipality'],
        [url, 'ehmi_gp'],
        [url, 'ehmi_hospital'],
      ],
    );
    const prefixed = await planNetwork({
      dataDir: dir,
      portBase: 30000,
      logger,
      databaseUrl: url,
      base: { database: { schema: 'test_ab12' } },
    });
    assert.equal(prefixed.organisations[1]!.config.database.schema, 'test_ab12_gp');
  });

  it("a description's central services, ports and message types: without EDS and the console, nobody reports and network.json names neither", async () => {
    const organisations = organisationsOf(DEFAULT_NETWORK).map((o, i) =>
      i === 2 ? { ...o, ports: { msh: 30040, ap: 30041, node: 30042 } } : o,
    );
    const plan = await planNetwork({
      dataDir: dir,
      portBase: 30000,
      logger,
      discovery: 'smp',
      organisations,
      centralServices: ['auth', 'eer', 'eas', 'smp', 'dns'],
    });
    assert.equal(plan.central.config.eds.enabled, false);
    assert.equal(plan.central.config.console.enabled, false);
    assert.equal(plan.central.config.eer.enabled && plan.central.config.auth.enabled, true);
    assert.equal('eds' in plan.manifest.services || 'console' in plan.manifest.services, false);
    for (const o of plan.organisations) assert.equal(o.config.deliveryStatus.url, undefined, o.spec.name);
    // No console, no sampler reading the nodes' /metrics.
    assert.deepEqual(plan.organisations[0]!.config.authorization?.operatorClients, ['operator']);
    assert.deepEqual(plan.organisations[2]!.urls, {
      msh: 'https://127.0.0.1:30040',
      ap: 'https://127.0.0.1:30041',
      node: 'https://127.0.0.1:30042',
    });
    assert.equal(plan.organisations[2]!.config.msh.port, 30040);
    // All of them (the default): EDS and the console run, and every node reports to EDS.
    const all = await planNetwork({ dataDir: dir, portBase: 30000, logger, discovery: 'smp', organisations });
    assert.equal(all.central.config.eds.enabled && all.central.config.console.enabled, true);
    for (const o of all.organisations) assert.equal(o.config.deliveryStatus.url, all.manifest.services.eds);
  });

  it('keeps shared settings from base but never its addressing', async () => {
    const plan = await planNetwork({
      dataDir: dir,
      portBase: 30000,
      logger,
      base: {
        log: { level: 'warn' },
        ap: { send: { backoffBaseMs: 50 }, discovery: { static: {} }, port: 1 },
        http: { port: 1 },
      },
    });
    const c = plan.organisations[0]!.config;
    assert.equal(c.log.level, 'warn');
    assert.equal(c.ap.send.backoffBaseMs, 50);
    assert.equal(c.ap.port, 30011);
    assert.equal(c.http.port, 30012);
    assert.equal(Object.keys(c.ap.discovery.static).length, 3);
  });

  it('the manifest has services, trustAnchor and organisations with absolute paths', async () => {
    const plan = await planNetwork({ dataDir: dir, portBase: 30000, logger });
    const m = plan.manifest;
    assert.deepEqual(m.services, {
      smp: 'http://127.0.0.1:30003',
      eer: 'https://127.0.0.1:30001',
      eas: 'https://127.0.0.1:30002',
      eds: 'https://127.0.0.1:30005',
      dns: 'dns://127.0.0.1:30004',
      node: 'https://127.0.0.1:30009',
      crl: 'http://127.0.0.1:30008/root-ca.crl',
    });
    assert.equal(m.trustAnchor, join(dir, 'pki', 'root-ca.pem'));
    assert.deepEqual(
      m.organisations.map((o) => Object.keys(o).sort()),
      m.organisations.map((o) => [
        'ap',
        'certificates',
        'clientId',
        'gln',
        'msh',
        'name',
        'node',
        'role',
        'scope',
        'sor',
        'title',
        'tls',
        ...(o.role === 'gp' ? ['ydernummer'] : []),
      ]),
    );
    assert.deepEqual(m.organisations[1], {
      name: 'gp',
      role: 'gp',
      gln: '5790000127092',
      sor: '52581000016005',
      title: 'Skødstrup Lægepraksis',
      ydernummer: '061654',
      msh: 'https://127.0.0.1:30013',
      ap: 'https://127.0.0.1:30014',
      node: 'https://127.0.0.1:30015',
      clientId: 'gp-eua',
      scope:
        'msh/messages.write msh/messages.read msh/inbox.read msh/inbox.write msh/webhooks.read msh/webhooks.write msh/messages.resend system/Organization.rs system/Endpoint.rs system/Device.rs eas/patient-gp.r system/AuditEvent.c system/AuditEvent.rs system/AuditEvent.crs',
      tls: { cert: join(dir, 'pki', 'gp', 'tls-client.pem'), key: join(dir, 'pki', 'gp', 'tls-client.key') },
      certificates: {
        as4: { cert: join(dir, 'pki', 'gp', 'as4.pem'), key: join(dir, 'pki', 'gp', 'as4.key') },
        tlsServer: {
          cert: join(dir, 'pki', 'gp', 'tls-server.pem'),
          key: join(dir, 'pki', 'gp', 'tls-server.key'),
        },
        tlsClient: {
          cert: join(dir, 'pki', 'gp', 'tls-client.pem'),
          key: join(dir, 'pki', 'gp', 'tls-client.key'),
        },
      },
    });
    assert.deepEqual(m.operator, {
      name: 'operator',
      clientId: 'operator',
      scope:
        'msh/messages.read msh/inbox.read msh/webhooks.read msh/messages.resend system/Organization.rs system/Endpoint.rs system/Device.rs system/AuditEvent.c system/AuditEvent.rs system/AuditEvent.crs ehmi/metrics.read ehmi/audit.read',
      tls: {
        cert: join(dir, 'pki', 'operator', 'tls-client.pem'),
        key: join(dir, 'pki', 'operator', 'tls-client.key'),
      },
    });
    assert.deepEqual(m.maintainer, {
      name: 'maintainer',
      clientId: 'maintainer',
      scope: 'system/Organization.cruds system/Endpoint.cruds system/Device.cruds',
      tls: {
        cert: join(dir, 'pki', 'maintainer', 'tls-client.pem'),
        key: join(dir, 'pki', 'maintainer', 'tls-client.key'),
      },
    });
    writeNetworkManifest(dir, m);
    assert.deepEqual(readNetworkManifest(dir), m);
  });

  it('the central node runs the authorization server on base+0 (HTTPS, the network root as the CAs of its clients), registering every organisation, the operator and the maintainer', async () => {
    const plan = await planNetwork({ dataDir: dir, portBase: 30000, logger, discovery: 'smp' });
    const auth = plan.central.config.auth;
    assert.equal(auth.enabled, true);
    assert.equal(auth.port, 30000);
    assert.equal(auth.issuer, 'https://127.0.0.1:30000');
    assert.equal(auth.issuer, plan.manifest.services.auth);
    assert.deepEqual(plan.central.config.tls?.ca, [plan.pki.trustAnchor]);
    assert.equal(plan.central.config.tls?.cert, plan.pki.central.tlsServer.cert);
    // Every MSH, EER and EAS with their scopes; every HTTPS server (each organisation's MSH, AP and node server, the
    // central EER, EAS, authorization server and node server) with the operator's metrics scope, and each node's own
    // server with the audit log's. Not the SMP (plain HTTP, base+3): no token can be bound there.
    const msh =
      'msh/messages.write msh/messages.read msh/inbox.read msh/inbox.write msh/webhooks.read msh/webhooks.write msh/messages.resend ehmi/metrics.read';
    const metrics = 'ehmi/metrics.read';
    const nodeServer = 'ehmi/metrics.read ehmi/audit.read';
    assert.deepEqual(auth.resources, {
      'https://127.0.0.1:30010': msh,
      'https://127.0.0.1:30011': metrics,
      'https://127.0.0.1:30012': nodeServer,
      'https://127.0.0.1:30013': msh,
      'https://127.0.0.1:30014': metrics,
      'https://127.0.0.1:30015': nodeServer,
      'https://127.0.0.1:30016': msh,
      'https://127.0.0.1:30017': metrics,
      'https://127.0.0.1:30018': nodeServer,
      'https://127.0.0.1:30001':
        'system/Organization.rs system/Endpoint.rs system/Device.rs system/Organization.cruds system/Endpoint.cruds system/Device.cruds ehmi/metrics.read',
      'https://127.0.0.1:30002': 'system/Organization.rs eas/patient-gp.r eas/index.write ehmi/metrics.read',
      'https://127.0.0.1:30005':
        'system/AuditEvent.c system/AuditEvent.rs system/AuditEvent.crs ehmi/metrics.read',
      // The SMP's admin API: HTTPS on the last port of the span.
      'https://127.0.0.1:30049': 'smp/publication.write ehmi/metrics.read',
      'https://127.0.0.1:30000': metrics,
      'https://127.0.0.1:30009': nodeServer,
    });
    assert.equal(plan.central.urls.node, 'https://127.0.0.1:30009');
    // EER and EAS ask for its tokens (the JWKS over HTTPS, trusted through tls.ca, the network's root).
    assert.deepEqual(plan.central.config.authorization, {
      issuer: 'https://127.0.0.1:30000',
      skewSeconds: 30,
      algorithms: ['PS256', 'ES256', 'EdDSA'],
      operatorClients: ['operator', 'console-sampler'],
    });
    assert.deepEqual(
      auth.clients.map((c) => c.clientId),
      [
        'municipality-eua',
        'gp-eua',
        'hospital-eua',
        'operator',
        'maintainer',
        'console',
        'console-sampler',
        'central-eer',
      ],
    );
    const gp = auth.clients[1]!;
    assert.deepEqual(gp.organisation, {
      gln: '5790000127092',
      sor: '52581000016005',
      cvr: '30466519',
      name: 'Skødstrup Lægepraksis',
    });
    assert.equal(gp.scope, plan.manifest.organisations[1]!.scope);
    // The subject DN of the gp's TLS client certificate, RFC 4514 (last RDN first).
    const subject = new X509Certificate(await readFile(plan.pki.organisations.gp!.tlsClient.cert)).subject;
    assert.equal(gp.subjectDn, subject.split('\n').reverse().join(', '));
    assert.equal(auth.clients[3]!.organisation, undefined);
    // The central node's EER: its own TLS client certificate, the SMP's and EAS's admin scopes, and it propagates as
    // that client; no static admin token is left in the central config.
    const eer = auth.clients.find((c) => c.clientId === 'central-eer')!;
    const central = new X509Certificate(await readFile(plan.pki.central.tlsClient.cert)).subject;
    assert.equal(eer.subjectDn, central.split('\n').reverse().join(', '));
    assert.equal(eer.scope, 'smp/publication.write eas/index.write');
    assert.equal(eer.organisation, undefined);
    // The console: a client of the authorization code grant, its redirect URI the console's callback.
    const consoleClient = auth.clients.find((c) => c.clientId === 'console')!;
    assert.deepEqual(consoleClient.grantTypes, ['authorization_code', 'refresh_token']);
    assert.deepEqual(consoleClient.redirectUris, [`${plan.manifest.services.console}/auth/callback`]);
    // Its sampler: client credentials with the console's certificate, the nodes' /metrics only.
    const sampler = auth.clients.find((c) => c.clientId === 'console-sampler')!;
    assert.deepEqual(sampler.grantTypes, ['client_credentials']);
    assert.equal(sampler.scope, 'ehmi/metrics.read');
    assert.equal(sampler.subjectDn, consoleClient.subjectDn);
    assert.equal(plan.central.config.console.sampling.clientId, 'console-sampler');
    const config = plan.central.config;
    assert.equal(config.tls?.clientCert, plan.pki.central.tlsClient.cert);
    assert.equal(config.eer.propagation.clientId, 'central-eer');
    assert.deepEqual(config.eer.smp, { url: 'https://127.0.0.1:30049' });
    assert.deepEqual(config.eer.eas, { url: 'https://127.0.0.1:30002' });
    assert.equal(config.smp.admin.port, 30049);
    assert.equal(config.smp.adminToken, undefined);
    assert.equal(config.eas.adminToken, undefined);
    assert.equal(config.insecure, false);
    // Only the central node runs it.
    for (const o of plan.organisations) assert.equal(o.config.auth.enabled, false);
  });

  it('with the central node (smp discovery), the MSHs take its access tokens: authorization, the operator may read; network.json names the issuer', async () => {
    const plan = await planNetwork({ dataDir: dir, portBase: 30000, logger, discovery: 'smp' });
    for (const o of plan.organisations) {
      assert.equal(o.config.authorization?.issuer, 'https://127.0.0.1:30000');
      assert.deepEqual(o.config.tls?.ca, [plan.pki.trustAnchor]);
      // The node's operator: it reads the MSH, and every server's /metrics; the console's sampler the /metrics.
      assert.deepEqual(o.config.authorization?.operatorClients, ['operator', 'console-sampler']);
      assert.match(o.urls.node, /^https:/);
    }
    assert.equal(plan.manifest.services.auth, 'https://127.0.0.1:30000');
    // The central node's EER and EAS take its tokens too.
    assert.equal(plan.central.config.authorization?.issuer, 'https://127.0.0.1:30000');
  });

  it('without it (static discovery, nodes started alone), the MSHs take mTLS alone under the insecure switch and network.json names no issuer', async () => {
    const plan = await planNetwork({ dataDir: dir, portBase: 30000, logger });
    for (const o of plan.organisations) {
      assert.equal(o.config.authorization, undefined);
      assert.equal(o.config.insecure, true);
      assert.deepEqual(o.config.msh.operatorClients, []);
    }
    assert.equal(plan.manifest.services.auth, undefined);
    const forced = await planNetwork({ dataDir: dir, portBase: 30000, logger, accessTokens: true });
    assert.equal(forced.organisations[0]!.config.authorization?.issuer, forced.central.urls.auth);
    assert.equal(forced.organisations[0]!.config.insecure, false);
  });

  it('refuses an organisation named like a network-level client', async () => {
    for (const name of ['operator', 'maintainer']) {
      await assert.rejects(
        planNetwork({
          dataDir: dir,
          portBase: 30000,
          logger,
          organisations: [{ ...LOCAL_ORGANISATIONS[1]!, name }],
        }),
        (e: unknown) =>
          e instanceof EhmiError && e.code === 'EHMI_CONFIG_INVALID' && e.message.includes(name),
      );
    }
  });

  it('reading a folder without network.json says no network is there (EHMI_UNAVAILABLE)', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'ehmi-net-empty-'));
    try {
      assert.throws(
        () => readNetworkManifest(empty),
        (e: unknown) => e instanceof EhmiError && e.code === 'EHMI_UNAVAILABLE' && /ehmi up/.test(e.message),
      );
      await writeFile(join(empty, MANIFEST_FILE), '{"services": {}}');
      assert.throws(
        () => readNetworkManifest(empty),
        (e: unknown) => e instanceof EhmiError && e.code === 'EHMI_CONFIG_INVALID',
      );
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
