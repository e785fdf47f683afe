import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import { createCertificateAuthority, issueCertificate, issueCrl, readCrl } from '../src/index.ts';

const isCode = (code: string, pattern?: RegExp) => (err: unknown) =>
  err instanceof EhmiError && err.code === code && (!pattern || pattern.test(err.message));

const HOUR = 3_600_000;
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

describe('issueCrl and readCrl', () => {
  it('lists a revoked serial with its date and reason, and not a good one', async () => {
    const ca = await createCertificateAuthority({ subject: 'CN=Root, O=EHMI, C=DK' });
    const bad = await issueCertificate(ca, { subject: 'CN=bad', purposes: ['as4'] });
    const good = await issueCertificate(ca, { subject: 'CN=good', purposes: ['as4'] });
    const revokedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - HOUR);
    const crl = await issueCrl(ca, {
      revoked: [{ serialNumber: bad.certificate.serialNumber, revokedAt, reason: 'keyCompromise' }],
      nextUpdate: new Date(Date.now() + HOUR),
      crlNumber: 42,
    });
    for (const input of [crl.der, crl.pem]) {
      const read = readCrl(input, ca.certificate);
      assert.equal(read.crlNumber, 42);
      assert.equal(read.entries.length, 1);
      assert.deepEqual(read.revoked(bad.certificate.serialNumber)?.revokedAt, revokedAt);
      assert.equal(read.revoked(bad.certificate.serialNumber)?.reason, 'keyCompromise');
      assert.equal(read.revoked(good.certificate.serialNumber), undefined);
    }
    assert.match(crl.pem, /^-----BEGIN X509 CRL-----\n/);
  });

  it('reads a CRL signed with RSA-PSS, P-256 and Ed25519', async () => {
    for (const keyType of ['rsa-pss-2048', 'p-256', 'ed25519'] as const) {
      const ca = await createCertificateAuthority({ subject: `CN=${keyType} Root`, keyType });
      const crl = await issueCrl(ca, { revoked: [], nextUpdate: new Date(Date.now() + HOUR) });
      assert.equal(readCrl(crl.der, ca.certificate).entries.length, 0, keyType);
    }
  });

  it('refuses a CRL signed by another CA under the same name', async () => {
    const ca = await createCertificateAuthority({ subject: 'CN=Root' });
    const impostor = await createCertificateAuthority({ subject: 'CN=Root' });
    const crl = await issueCrl(impostor, { revoked: [], nextUpdate: new Date(Date.now() + HOUR) });
    assert.throws(() => readCrl(crl.der, ca.certificate), isCode('EHMI_CERTIFICATE_UNTRUSTED', /signature/));
  });

  it('refuses a CRL issued under another name', async () => {
    const ca = await createCertificateAuthority({ subject: 'CN=Root' });
    const other = await createCertificateAuthority({ subject: 'CN=Other Root' });
    const crl = await issueCrl(other, { revoked: [], nextUpdate: new Date(Date.now() + HOUR) });
    assert.throws(
      () => readCrl(crl.der, ca.certificate),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /issued by "CN=Other Root"/),
    );
  });

  it('refuses a CRL past its nextUpdate beyond the grace, and one not yet valid', async () => {
    const ca = await createCertificateAuthority({ subject: 'CN=Root' });
    const thisUpdate = new Date('2026-01-01T00:00:00Z');
    const nextUpdate = new Date('2026-01-02T00:00:00Z');
    const crl = await issueCrl(ca, { revoked: [], thisUpdate, nextUpdate });
    readCrl(crl.der, ca.certificate, { at: new Date('2026-01-01T12:00:00Z') });
    readCrl(crl.der, ca.certificate, { at: new Date('2026-01-02T00:04:00Z'), graceMs: 5 * 60_000 });
    assert.throws(
      () => readCrl(crl.der, ca.certificate, { at: new Date('2026-01-02T00:06:00Z'), graceMs: 5 * 60_000 }),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /stale/),
    );
    assert.throws(
      () => readCrl(crl.der, ca.certificate, { at: new Date('2025-12-31T23:00:00Z') }),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /not yet valid/),
    );
  });

  it('refuses bytes that are not a CRL, with the code the caller asks for', async () => {
    const ca = await createCertificateAuthority({ subject: 'CN=Root' });
    assert.throws(
      () =>
        readCrl(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]), ca.certificate, {
          errorCode: 'EHMI_SMP_CERTIFICATE_UNTRUSTED',
        }),
      isCode('EHMI_SMP_CERTIFICATE_UNTRUSTED', /not a readable X\.509 CRL/),
    );
  });

  it('refuses a CRL signed by a CA certificate without cRLSign', async () => {
    const root = await createCertificateAuthority({ subject: 'CN=Root' });
    // An end-entity key signing a CRL under its own name: its KeyUsage does not allow cRLSign.
    const ee = await issueCertificate(root, { subject: 'CN=ee', purposes: ['smp-signing'] });
    const crl = await issueCrl(ee, { revoked: [], nextUpdate: new Date(Date.now() + HOUR) });
    assert.throws(() => readCrl(crl.der, ee.certificate), isCode('EHMI_CERTIFICATE_UNTRUSTED', /cRLSign/));
  });

  it('issues CRLs that OpenSSL verifies and applies', {
    skip: !hasOpenssl && 'openssl is not installed',
  }, async () => {
    const ca = await createCertificateAuthority({ subject: 'CN=Root, O=EHMI, C=DK' });
    const bad = await issueCertificate(ca, { subject: 'CN=bad', purposes: ['as4'] });
    const good = await issueCertificate(ca, { subject: 'CN=good', purposes: ['as4'] });
    const crl = await issueCrl(ca, {
      revoked: [
        {
          serialNumber: bad.certificate.serialNumber,
          revokedAt: new Date(Date.now() - HOUR),
          reason: 'superseded',
        },
      ],
      nextUpdate: new Date(Date.now() + HOUR),
    });
    const dir = mkdtempSync(join(tmpdir(), 'ehmi-pki-crl-'));
    try {
      const file = (name: string, data: string | Buffer) => {
        writeFileSync(join(dir, name), data);
        return join(dir, name);
      };
      const root = file('root.pem', ca.certificatePem);
      const der = file('crl.der', crl.der);
      const pem = file('crl.pem', crl.pem);
      const check = spawnSync('openssl', ['crl', '-inform', 'DER', '-in', der, '-CAfile', root, '-noout'], {
        encoding: 'utf8',
      });
      assert.equal(check.status, 0, check.stderr);
      assert.match(check.stderr + check.stdout, /verify OK/);
      const verify = (cert: string) =>
        spawnSync('openssl', ['verify', '-crl_check', '-CRLfile', pem, '-CAfile', root, cert], {
          encoding: 'utf8',
        });
      const ok = verify(file('good.pem', good.certificatePem));
      assert.equal(ok.status, 0, ok.stderr);
      const refused = verify(file('bad.pem', bad.certificatePem));
      assert.notEqual(refused.status, 0);
      assert.match(refused.stdout + refused.stderr, /certificate revoked/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
