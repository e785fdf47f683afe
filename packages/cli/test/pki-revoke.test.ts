import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type RunningNetwork, readNetworkManifest, startNetwork } from '@ehmi/network';
import { readCrl } from '@ehmi/pki';
import pino from 'pino';
import { request } from 'undici';
import { freePortBase } from '../../server/test/e2e/helpers.ts';
import { runEhmi } from './helpers.ts';

const openssl = spawnSync('openssl', ['version']).status === 0;

describe('ehmi pki revoke', () => {
  let dir: string;
  let base: number;
  let net: RunningNetwork | undefined;
  const logger = pino({ level: 'silent' });
  const start = async () => {
    net = await startNetwork({ dataDir: dir, portBase: base, logger });
    return net;
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ehmi-cli-revoke-'));
    base = await freePortBase();
  });
  after(async () => {
    await net?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("puts gp's AS4 certificate on the CRL served at services.crl at once; a restart issues gp a new one", {
    timeout: 180_000,
  }, async () => {
    await start();
    const manifest = readNetworkManifest(dir);
    const crlUrl = manifest.services.crl!;
    assert.equal(crlUrl, `http://127.0.0.1:${base + 8}/root-ca.crl`);
    const gp = manifest.organisations.find((o) => o.name === 'gp')!;
    const root = new X509Certificate(readFileSync(manifest.trustAnchor));
    const as4 = new X509Certificate(readFileSync(gp.certificates.as4.cert));
    const fetchCrl = async () => {
      const res = await request(crlUrl);
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'application/pkix-crl');
      return Buffer.from(await res.body.arrayBuffer());
    };
    assert.equal(readCrl(await fetchCrl(), root).revoked(as4.serialNumber), undefined);

    const run = await runEhmi(['pki', 'revoke', 'gp', '--purpose', 'as4', '--data', dir]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^revoked: gp as4 certificate C=DK, O=Skødstrup Lægepraksis, .*NTRDK-30466519/m);
    assert.match(run.stdout, new RegExp(`^serial ${as4.serialNumber} \\(keyCompromise, `, 'm'));
    assert.ok(run.stdout.includes(`CRL ${crlUrl} `), run.stdout);

    const der = await fetchCrl();
    const entry = readCrl(der, root).revoked(as4.serialNumber);
    assert.equal(entry?.reason, 'keyCompromise');
    if (openssl) {
      const file = join(dir, 'fetched.crl');
      writeFileSync(file, der);
      const text = spawnSync('openssl', ['crl', '-inform', 'DER', '-in', file, '-noout', '-text'], {
        encoding: 'utf8',
      });
      assert.equal(text.status, 0, text.stderr);
      assert.match(text.stdout, new RegExp(`Serial Number: 0*${as4.serialNumber}`, 'i'));
      assert.match(text.stdout, /Key Compromise/);
      assert.match(text.stdout, /Issuer: .*CN\s*=\s*EHMI Local Network Root CA/);
    }

    await net!.close();
    net = undefined;
    await start();
    const renewed = readNetworkManifest(dir).organisations.find((o) => o.name === 'gp')!;
    const fresh = new X509Certificate(readFileSync(renewed.certificates.as4.cert));
    assert.notEqual(fresh.serialNumber, as4.serialNumber);
    const crl = readCrl(await fetchCrl(), root);
    assert.ok(crl.revoked(as4.serialNumber));
    assert.equal(crl.revoked(fresh.serialNumber), undefined);
  });

  it('refuses a purpose the organisation has no certificate for with exit code 2', async () => {
    const run = await runEhmi(['pki', 'revoke', 'gp', '--purpose', 'smp-signing', '--data', dir]);
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /^ehmi: gp has no smp-signing certificate: an organisation has as4, tls-server, tls-client/,
    );
    const central = await runEhmi(['pki', 'revoke', 'central', '--purpose', 'as4', '--data', dir]);
    assert.equal(central.code, 2);
    assert.match(central.stderr, /central has no as4 certificate/);
  });

  it('refuses an unknown organisation, purpose or reason, and a missing --purpose, with exit code 2', async () => {
    const unknown = await runEhmi(['pki', 'revoke', 'pharmacy', '--purpose', 'as4', '--data', dir]);
    assert.equal(unknown.code, 2);
    assert.match(
      unknown.stderr,
      /unknown organisation "pharmacy" \(known: archive, console, gp, hospital, maintainer, municipality, operator, central\)/,
    );
    const purpose = await runEhmi(['pki', 'revoke', 'gp', '--purpose', 'signing', '--data', dir]);
    assert.equal(purpose.code, 2);
    assert.match(purpose.stderr, /--purpose expects as4, tls-server, tls-client, smp-signing/);
    const reason = await runEhmi([
      'pki',
      'revoke',
      'gp',
      '--purpose',
      'as4',
      '--reason',
      'bored',
      '--data',
      dir,
    ]);
    assert.equal(reason.code, 2);
    assert.match(reason.stderr, /--reason expects keyCompromise/);
    const missing = await runEhmi(['pki', 'revoke', 'gp', '--data', dir]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--purpose/);
  });

  it('in a folder without a network says how to start one (exit code 4)', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'ehmi-cli-revoke-empty-'));
    try {
      const run = await runEhmi(['pki', 'revoke', 'gp', '--purpose', 'as4', '--data', empty]);
      assert.equal(run.code, 4);
      assert.match(run.stderr, /ehmi up --data/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
