import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import {
  type CertificateRole,
  type Credential,
  checkCertificatePurpose,
  checkCertificateTrust,
  createCertificateAuthority,
  issueCertificate,
  readCrl,
  revocationUrls,
} from '@ehmi/pki';
import pino from 'pino';
import { request } from 'undici';
import { freePortBase } from '../../server/test/e2e/helpers.ts';
import {
  CENTRAL_OPERATOR,
  ensureNetworkPki,
  LOCAL_ORGANISATIONS,
  type NetworkPki,
  networkCrlUrl,
  readRevocations,
  revokeNetworkCertificate,
  startCrlService,
} from '../src/index.ts';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const EMAIL_PROTECTION = '1.3.6.1.5.5.7.3.4';
const DOCUMENT_SIGNING = '1.3.6.1.5.5.7.3.36';
const ROLES: readonly CertificateRole[] = ['as4', 'tls-server', 'tls-client', 'smp-signing'];

const cert = (file: string) => new X509Certificate(readFileSync(file));
const refused = (c: X509Certificate, role: CertificateRole) =>
  assert.throws(
    () => checkCertificatePurpose(c, role),
    (err: unknown) => err instanceof EhmiError && err.code === 'EHMI_CERTIFICATE_UNTRUSTED',
    `${c.subject} must not serve as ${role}`,
  );

describe('local network PKI: certificates by purpose', () => {
  let dir: string;
  let pki: NetworkPki;
  const crlUrl = networkCrlUrl('127.0.0.1', 31000);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ehmi-net-purpose-'));
    pki = await ensureNetworkPki(dir, LOCAL_ORGANISATIONS, { crlUrl, hosts: ['ehmi.test'] });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lays out the files by purpose under pki/<org>/ and pki/central/', () => {
    for (const o of LOCAL_ORGANISATIONS) {
      for (const p of ['as4', 'tls-server', 'tls-client']) {
        assert.ok(existsSync(join(dir, 'pki', o.name, `${p}.pem`)), `${o.name} ${p}.pem`);
        assert.ok(existsSync(join(dir, 'pki', o.name, `${p}.key`)), `${o.name} ${p}.key`);
      }
    }
    for (const p of ['tls-server', 'tls-client', 'smp-signing']) {
      assert.ok(existsSync(join(dir, 'pki', 'central', `${p}.pem`)), `central ${p}.pem`);
    }
    assert.equal(pki.organisations.gp!.as4.cert, join(dir, 'pki', 'gp', 'as4.pem'));
    assert.equal(pki.central.smpSigning.cert, join(dir, 'pki', 'central', 'smp-signing.pem'));
    for (const name of ['operator', 'maintainer'] as const) {
      assert.deepEqual(pki.clients[name], {
        cert: join(dir, 'pki', name, 'tls-client.pem'),
        key: join(dir, 'pki', name, 'tls-client.key'),
      });
      assert.ok(existsSync(pki.clients[name].cert) && existsSync(pki.clients[name].key), name);
    }
  });

  it('the operator and the maintainer have a TLS client certificate (clientAuth only) of the network operator', () => {
    for (const name of ['operator', 'maintainer'] as const) {
      const c = cert(pki.clients[name].cert);
      assert.deepEqual(c.keyUsage, [CLIENT_AUTH]);
      checkCertificatePurpose(c, 'tls-client');
      for (const role of ROLES.filter((r) => r !== 'tls-client')) refused(c, role);
      assert.ok(c.subject.split('\n').includes(`CN=EHMI ${name} TLS client`), c.subject);
    }
  });

  it('the AS4 certificate is RSA 3072 with the AS4 key usages and EKU emailProtection only: as4 yes, TLS and SMP no', () => {
    for (const o of LOCAL_ORGANISATIONS) {
      const as4 = cert(pki.organisations[o.name]!.as4.cert);
      assert.equal(as4.publicKey.asymmetricKeyType, 'rsa');
      assert.equal(as4.publicKey.asymmetricKeyDetails?.modulusLength, 3072);
      assert.deepEqual(as4.keyUsage, [EMAIL_PROTECTION]);
      checkCertificatePurpose(as4, 'as4');
      refused(as4, 'tls-server');
      refused(as4, 'tls-client');
    }
  });

  it('the TLS server certificate has serverAuth only, with SAN localhost, 127.0.0.1 and the hosts', () => {
    const tls = cert(pki.organisations.gp!.tlsServer.cert);
    assert.deepEqual(tls.keyUsage, [SERVER_AUTH]);
    checkCertificatePurpose(tls, 'tls-server');
    for (const role of ROLES.filter((r) => r !== 'tls-server')) refused(tls, role);
    assert.ok(tls.checkHost('localhost') && tls.checkHost('ehmi.test') && tls.checkIP('127.0.0.1'));
  });

  it('the TLS client certificate has clientAuth only: refused for as4, tls-server and smp-signing', () => {
    const tls = cert(pki.organisations.gp!.tlsClient.cert);
    assert.deepEqual(tls.keyUsage, [CLIENT_AUTH]);
    checkCertificatePurpose(tls, 'tls-client');
    for (const role of ROLES.filter((r) => r !== 'tls-client')) refused(tls, role);
  });

  it('the central node has TLS server, TLS client and SMP signing (EKU documentSigning) certificates', () => {
    const server = cert(pki.central.tlsServer.cert);
    const client = cert(pki.central.tlsClient.cert);
    const smp = cert(pki.central.smpSigning.cert);
    assert.deepEqual(server.keyUsage, [SERVER_AUTH]);
    assert.deepEqual(client.keyUsage, [CLIENT_AUTH]);
    assert.deepEqual(smp.keyUsage, [DOCUMENT_SIGNING]);
    checkCertificatePurpose(smp, 'smp-signing');
    refused(smp, 'tls-server');
    refused(server, 'smp-signing');
  });

  it('every certificate chains to the root, names the CRL URL as its one distribution point and has an OCES3-style subject', () => {
    const root = cert(pki.trustAnchor);
    const holders = [
      ...LOCAL_ORGANISATIONS.map((o) => ({ o, files: Object.values(pki.organisations[o.name]!) })),
      { o: CENTRAL_OPERATOR, files: Object.values(pki.central) },
      { o: CENTRAL_OPERATOR, files: Object.values(pki.clients) },
    ];
    for (const { o, files } of holders) {
      for (const f of files) {
        const c = cert(f.cert);
        checkCertificateTrust(c, { trustAnchors: [root] });
        assert.deepEqual([...revocationUrls(c).crl], [crlUrl], f.cert);
        assert.match(c.subject, /^C=DK$/m);
        assert.ok(c.subject.split('\n').includes(`O=${o.title}`), c.subject);
        assert.match(c.subject, new RegExp(`NTRDK-${o.cvr}`));
        assert.match(c.subject, /UI:DK-S:G:[0-9a-f-]{36}/);
      }
    }
  });

  it('a new CRL URL (another port base or host) issues every certificate again with it, from the same root', async () => {
    const other = await mkdtemp(join(tmpdir(), 'ehmi-net-cdp-'));
    try {
      const orgs = LOCAL_ORGANISATIONS.slice(1, 2);
      const a = await ensureNetworkPki(other, orgs, { crlUrl });
      const root = readFileSync(a.trustAnchor, 'utf8');
      const serial = cert(a.organisations.gp!.as4.cert).serialNumber;
      const same = await ensureNetworkPki(other, orgs, { crlUrl });
      assert.equal(same.generated, false);
      const moved = networkCrlUrl('127.0.0.1', 32000);
      const b = await ensureNetworkPki(other, orgs, { crlUrl: moved });
      assert.equal(b.generated, true);
      assert.equal(readFileSync(b.trustAnchor, 'utf8'), root);
      const as4 = cert(b.organisations.gp!.as4.cert);
      assert.notEqual(as4.serialNumber, serial);
      assert.deepEqual([...revocationUrls(as4).crl], [moved]);
      assert.deepEqual([...revocationUrls(cert(b.central.smpSigning.cert)).crl], [moved]);
      // The AS4 key replaced stays beside the new one, for decryption only (ap.previousEncryption).
      assert.equal(a.organisations.gp!.as4Previous, undefined);
      const previous = b.organisations.gp!.as4Previous;
      assert.ok(previous, 'the replaced AS4 credential is kept as the previous one');
      assert.equal(cert(previous.cert).serialNumber, serial);
      assert.equal(readFileSync(previous.key, 'utf8').includes('PRIVATE KEY'), true);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});

describe('local network PKI: a data folder of the layout before certificates by purpose', () => {
  let dir: string;
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gets the new files issued from the same root, its old files left alone', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ehmi-net-upgrade-'));
    // What the previous version wrote: root-ca, per organisation ap (signing + encryption) and tls (server +
    // client), central tls and smp-signing (purpose signing), none with a CRL distribution point.
    const root = await createCertificateAuthority({
      subject: 'CN=EHMI Local Network Root CA, O=EHMI local network, C=DK',
    });
    const write = async (folder: string, name: string, cred: Credential) => {
      await mkdir(join(dir, 'pki', folder), { recursive: true });
      await writeFile(join(dir, 'pki', folder, `${name}.pem`), cred.certificatePem);
      await writeFile(join(dir, 'pki', folder, `${name}.key`), cred.privateKeyPem, { mode: 0o600 });
    };
    await mkdir(join(dir, 'pki'), { recursive: true });
    await writeFile(join(dir, 'pki', 'root-ca.pem'), root.certificatePem);
    await writeFile(join(dir, 'pki', 'root-ca.key'), root.privateKeyPem, { mode: 0o600 });
    const old = {
      ap: await issueCertificate(root, { subject: 'CN=ap.gp', purposes: ['signing', 'encryption'] }),
      tls: await issueCertificate(root, {
        subject: 'CN=gp.localhost',
        purposes: ['tls-server', 'tls-client'],
        dnsNames: ['localhost'],
        ipAddresses: ['127.0.0.1'],
      }),
      smp: await issueCertificate(root, { subject: 'CN=smp.ehmi.internal', purposes: ['signing'] }),
    };
    await write('gp', 'ap', old.ap);
    await write('gp', 'tls', old.tls);
    await write('central', 'tls', old.tls);
    await write('central', 'smp-signing', old.smp);
    assert.ok(existsSync(join(dir, 'pki', 'gp', 'ap.pem')) && !existsSync(join(dir, 'pki', 'gp', 'as4.pem')));

    const crlUrl = networkCrlUrl('127.0.0.1', 31000);
    const pki = await ensureNetworkPki(dir, LOCAL_ORGANISATIONS.slice(1, 2), { crlUrl });
    assert.equal(pki.generated, true);
    assert.equal(readFileSync(pki.trustAnchor, 'utf8'), root.certificatePem);
    for (const files of [...Object.values(pki.organisations.gp!), ...Object.values(pki.central)]) {
      const c = cert(files.cert);
      checkCertificateTrust(c, { trustAnchors: [root.certificate] });
      assert.deepEqual([...revocationUrls(c).crl], [crlUrl]);
    }
    // The SMP's old signing certificate (purpose signing, no CRL) is replaced in place.
    const smp = cert(pki.central.smpSigning.cert);
    assert.notEqual(smp.serialNumber, old.smp.certificate.serialNumber);
    checkCertificatePurpose(smp, 'smp-signing');
    assert.equal(readFileSync(join(dir, 'pki', 'gp', 'ap.pem'), 'utf8'), old.ap.certificatePem);
    // The CRL of the root is there, empty.
    const crl = readCrl(readFileSync(pki.crl.file), root.certificate);
    assert.equal(crl.entries.length, 0);
  });
});

describe('local network PKI: revocation', () => {
  let dir: string;
  let service: Awaited<ReturnType<typeof startCrlService>> | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ehmi-net-revoke-'));
  });
  after(async () => {
    await service?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a revoked certificate is on the CRL served at once, and the next start issues a new one in its place', async () => {
    const base = await freePortBase();
    const crlUrl = networkCrlUrl('127.0.0.1', base);
    const orgs = LOCAL_ORGANISATIONS.slice(1, 2);
    const pki = await ensureNetworkPki(dir, orgs, { crlUrl });
    service = await startCrlService({
      dataDir: dir,
      host: '127.0.0.1',
      port: base + 8,
      logger: pino({ level: 'silent' }),
    });
    const root = cert(pki.trustAnchor);
    const fetchCrl = async () => {
      const res = await request(crlUrl);
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'application/pkix-crl');
      return readCrl(Buffer.from(await res.body.arrayBuffer()), root);
    };
    const before = await fetchCrl();
    const as4 = cert(pki.organisations.gp!.as4.cert);
    assert.equal(before.revoked(as4.serialNumber), undefined);

    const r = await revokeNetworkCertificate(dir, 'gp', 'as4');
    assert.equal(r.serialNumber, as4.serialNumber);
    assert.equal(r.crlUrl, crlUrl);
    assert.equal(r.already, false);
    const after = await fetchCrl();
    assert.equal(after.revoked(as4.serialNumber)?.reason, 'keyCompromise');
    assert.ok((after.crlNumber ?? 0) > (before.crlNumber ?? 0));
    assert.equal(after.revoked(cert(pki.organisations.gp!.tlsServer.cert).serialNumber), undefined);
    assert.deepEqual(
      readRevocations(dir).map((e) => [e.holder, e.purpose, e.serialNumber]),
      [['gp', 'as4', as4.serialNumber]],
    );

    const again = await revokeNetworkCertificate(dir, 'gp', 'as4', { reason: 'superseded' });
    assert.equal(again.already, true);
    assert.equal(readRevocations(dir).length, 1);

    const restarted = await ensureNetworkPki(dir, orgs, { crlUrl });
    assert.equal(restarted.generated, true);
    const renewed = cert(restarted.organisations.gp!.as4.cert);
    assert.notEqual(renewed.serialNumber, as4.serialNumber);
    checkCertificatePurpose(renewed, 'as4');
    // A revoked key is not kept for decryption.
    assert.equal(restarted.organisations.gp!.as4Previous, undefined);
    const latest = await fetchCrl();
    assert.ok(latest.revoked(as4.serialNumber));
    assert.equal(latest.revoked(renewed.serialNumber), undefined);
    // What was not revoked stays.
    assert.equal(
      cert(restarted.organisations.gp!.tlsServer.cert).serialNumber,
      cert(pki.organisations.gp!.tlsServer.cert).serialNumber,
    );
  });

  it('refuses a purpose the holder has no certificate for, and an unknown holder (EHMI_USAGE)', async () => {
    const usage = (pattern: RegExp) => (err: unknown) =>
      err instanceof EhmiError && err.code === 'EHMI_USAGE' && pattern.test(err.message);
    await assert.rejects(
      revokeNetworkCertificate(dir, 'gp', 'smp-signing'),
      usage(/gp has no smp-signing certificate/),
    );
    await assert.rejects(revokeNetworkCertificate(dir, 'central', 'as4'), usage(/central has no as4/));
    await assert.rejects(
      revokeNetworkCertificate(dir, 'operator', 'as4'),
      usage(/operator has no as4 certificate: the network client operator has tls-client/),
    );
    await assert.rejects(
      revokeNetworkCertificate(dir, 'pharmacy', 'as4'),
      usage(/unknown organisation "pharmacy" \(known: console, gp, maintainer, operator, central\)/),
    );
  });

  it('without a PKI in the folder says so (EHMI_UNAVAILABLE)', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'ehmi-net-nopki-'));
    try {
      await assert.rejects(
        revokeNetworkCertificate(empty, 'gp', 'as4'),
        (err: unknown) => err instanceof EhmiError && err.code === 'EHMI_UNAVAILABLE',
      );
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('the test key cache (EHMI_TEST_KEY_CACHE)', () => {
  const gp = LOCAL_ORGANISATIONS.filter((o) => o.name === 'gp');
  let cache: string;
  let saved: string | undefined;
  const dirs: string[] = [];
  before(async () => {
    saved = process.env.EHMI_TEST_KEY_CACHE;
    cache = await mkdtemp(join(tmpdir(), 'ehmi-keys-'));
    process.env.EHMI_TEST_KEY_CACHE = cache;
  });
  after(async () => {
    if (saved === undefined) delete process.env.EHMI_TEST_KEY_CACHE;
    else process.env.EHMI_TEST_KEY_CACHE = saved;
    for (const d of [cache, ...dirs]) await rm(d, { recursive: true, force: true });
  });
  const fresh = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ehmi-keys-pki-'));
    dirs.push(dir);
    return { dir, pki: await ensureNetworkPki(dir, gp) };
  };
  const keyFiles = (pki: NetworkPki) => [
    pki.trustAnchorKey,
    ...Object.values(pki.central).map((f) => f.key),
    ...Object.values(pki.clients).map((f) => f.key),
    ...Object.values(pki.organisations.gp!).map((f) => f.key),
  ];
  const keys = (pki: NetworkPki) => new Set(keyFiles(pki).map((f) => readFileSync(f, 'utf8')));

  it('a fresh PKI takes its keys from the cache, two of one process share none, a re-issue makes a new key', async () => {
    const a = await fresh();
    const b = await fresh();
    const ka = keys(a.pki);
    const kb = keys(b.pki);
    // Every credential its own key (the gp's `tls` is its `tlsServer`), and none shared between the two networks.
    assert.equal(ka.size, keyFiles(a.pki).length - 1);
    assert.equal([...ka].filter((k) => kb.has(k)).length, 0);
    // Each key is in the cache, where the next process's fresh PKI takes it.
    const cached = new Set(
      readdirSync(cache).map((f) =>
        createPrivateKey(readFileSync(join(cache, f), 'utf8')).export({ format: 'pem', type: 'pkcs8' }),
      ),
    );
    for (const k of [...ka, ...kb]) assert.ok(cached.has(k));
    // A revoked credential is issued again with a key of its own, not a cached one.
    await revokeNetworkCertificate(a.dir, 'gp', 'as4');
    const again = await ensureNetworkPki(a.dir, gp);
    const renewed = readFileSync(again.organisations.gp!.as4.key, 'utf8');
    assert.ok(!ka.has(renewed) && !cached.has(renewed));
    assert.equal(readdirSync(cache).length, cached.size);
  });
});
