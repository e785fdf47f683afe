import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import {
  type CertificateAuthority,
  type Credential,
  createCertificateAuthority,
  createOcspRequest,
  createOcspResponse,
  issueCertificate,
  type OcspAnswer,
  RevocationChecker,
  readOcspResponse,
} from '../src/index.ts';

const isCode = (code: string, pattern?: RegExp) => (err: unknown) =>
  err instanceof EhmiError && err.code === code && (!pattern || pattern.test(err.message));

const HOUR = 3_600_000;
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

async function setup(): Promise<{ ca: CertificateAuthority; leaf: Credential }> {
  const ca = await createCertificateAuthority({ subject: 'CN=OCSP Root, O=EHMI, C=DK' });
  const leaf = await issueCertificate(ca, { subject: 'CN=ap', purposes: ['as4'] });
  return { ca, leaf };
}

async function answer(
  ca: CertificateAuthority,
  leaf: Credential,
  status: OcspAnswer,
  options: { signer?: Credential; nonce?: boolean; nextUpdate?: Date } = {},
) {
  const request = createOcspRequest(leaf.certificate, ca.certificate, { nonce: options.nonce ?? false });
  const der = await createOcspResponse({
    request: request.der,
    issuer: ca.certificate,
    signer: options.signer ?? ca,
    status: () => status,
    nextUpdate: options.nextUpdate ?? new Date(Date.now() + HOUR),
  });
  return { der, request };
}

describe('OCSP requests and responses', () => {
  it('reads a good status signed by the issuer', async () => {
    const { ca, leaf } = await setup();
    const { der, request } = await answer(ca, leaf, { status: 'good' }, { nonce: true });
    const status = readOcspResponse(der, {
      cert: leaf.certificate,
      issuer: ca.certificate,
      nonce: request.nonce!,
    });
    assert.equal(status.status, 'good');
    assert.ok(status.nextUpdate);
  });

  it('reads a revoked status with its time and reason', async () => {
    const { ca, leaf } = await setup();
    const revokedAt = new Date('2026-03-01T10:00:00Z');
    const { der } = await answer(ca, leaf, { status: 'revoked', revokedAt, reason: 'keyCompromise' });
    const status = readOcspResponse(der, { cert: leaf.certificate, issuer: ca.certificate });
    assert.equal(status.status, 'revoked');
    assert.deepEqual(status.revokedAt, revokedAt);
    assert.equal(status.reason, 'keyCompromise');
  });

  it('reads an unknown status', async () => {
    const { ca, leaf } = await setup();
    const { der } = await answer(ca, leaf, { status: 'unknown' });
    assert.equal(readOcspResponse(der, { cert: leaf.certificate, issuer: ca.certificate }).status, 'unknown');
  });

  it('accepts a delegated responder the issuer gave EKU OCSPSigning', async () => {
    const { ca, leaf } = await setup();
    const responder = await issueCertificate(ca, {
      subject: 'CN=not a responder',
      purposes: ['smp-signing'],
    });
    const delegate = await issueCertificate(ca, { subject: 'CN=OCSP Responder', purposes: ['ocsp-signing'] });
    const { der } = await answer(ca, leaf, { status: 'good' }, { signer: delegate });
    assert.equal(readOcspResponse(der, { cert: leaf.certificate, issuer: ca.certificate }).status, 'good');
    const { der: refused } = await answer(ca, leaf, { status: 'good' }, { signer: responder });
    assert.throws(
      () => readOcspResponse(refused, { cert: leaf.certificate, issuer: ca.certificate }),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /OCSPSigning/),
    );
  });

  it('refuses a response signed by another CA', async () => {
    const { ca, leaf } = await setup();
    const other = await createCertificateAuthority({ subject: 'CN=OCSP Root, O=EHMI, C=DK' });
    const request = createOcspRequest(leaf.certificate, ca.certificate);
    const der = await createOcspResponse({
      request: request.der,
      issuer: ca.certificate,
      signer: other,
      status: () => ({ status: 'good' }),
    });
    assert.throws(
      () => readOcspResponse(der, { cert: leaf.certificate, issuer: ca.certificate }),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /not signed/),
    );
  });

  it('refuses an answer for another certificate', async () => {
    const { ca, leaf } = await setup();
    const sibling = await issueCertificate(ca, { subject: 'CN=sibling', purposes: ['as4'] });
    const { der } = await answer(ca, sibling, { status: 'good' });
    assert.throws(
      () => readOcspResponse(der, { cert: leaf.certificate, issuer: ca.certificate }),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /does not answer for serial/),
    );
  });

  it('refuses a response that does not echo the nonce, and a stale one', async () => {
    const { ca, leaf } = await setup();
    const { der } = await answer(ca, leaf, { status: 'good' }, { nonce: true });
    assert.throws(
      () =>
        readOcspResponse(der, {
          cert: leaf.certificate,
          issuer: ca.certificate,
          nonce: new Uint8Array(16).fill(7),
        }),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /nonce/),
    );
    const { der: old } = await answer(
      ca,
      leaf,
      { status: 'good' },
      { nextUpdate: new Date(Date.now() - HOUR) },
    );
    assert.throws(
      () => readOcspResponse(old, { cert: leaf.certificate, issuer: ca.certificate }),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /stale/),
    );
  });

  it('refuses a response that is not OCSP', async () => {
    const { ca, leaf } = await setup();
    assert.throws(
      () => readOcspResponse(Buffer.from('<html>'), { cert: leaf.certificate, issuer: ca.certificate }),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /not readable/),
    );
  });

  it('asks an openssl ocsp responder through RevocationChecker: good, revoked and unknown', {
    skip: !hasOpenssl && 'openssl is not installed',
  }, async () => {
    const port = await freePort();
    const ca = await createCertificateAuthority({ subject: 'CN=OpenSSL OCSP Root, O=EHMI, C=DK' });
    const url = `http://127.0.0.1:${port}/`;
    const issue = (cn: string) =>
      issueCertificate(ca, { subject: `CN=${cn}`, purposes: ['as4'], ocspResponder: url });
    const [good, revoked, unknown] = [await issue('good'), await issue('revoked'), await issue('unknown')];
    const dir = mkdtempSync(join(tmpdir(), 'ehmi-pki-ocsp-'));
    const line = (flag: string, cert: Credential, revokedAt = '') =>
      `${flag}\t301231235959Z\t${revokedAt}\t${cert.certificate.serialNumber}\tunknown\t/CN=${cert.certificate.subject.replace(/^CN=/, '')}\n`;
    writeFileSync(
      join(dir, 'index.txt'),
      line('V', good) + line('R', revoked, '260101000000Z,keyCompromise'),
    );
    writeFileSync(join(dir, 'ca.pem'), ca.certificatePem);
    writeFileSync(join(dir, 'ca.key'), ca.privateKeyPem);
    const responder = spawn(
      'openssl',
      [
        'ocsp',
        '-index',
        'index.txt',
        '-port',
        String(port),
        '-rsigner',
        'ca.pem',
        '-rkey',
        'ca.key',
        '-CA',
        'ca.pem',
        '-nmin',
        '5',
      ],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    try {
      await waitFor(responder.stderr, /waiting for OCSP client connections/);
      const checker = new RevocationChecker({ ocspNonce: true });
      await checker.check(good.certificate, ca.certificate);
      await assert.rejects(
        checker.check(revoked.certificate, ca.certificate),
        (err: unknown) =>
          isCode('EHMI_CERTIFICATE_REVOKED', /revoked at 2026-01-01T00:00:00\.000Z \(keyCompromise\)/)(err) &&
          (err as EhmiError).details.revoked === true,
      );
      await assert.rejects(
        checker.check(unknown.certificate, ca.certificate),
        isCode('EHMI_CERTIFICATE_UNTRUSTED', /status unknown/),
      );
    } finally {
      responder.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** Resolves when the child has printed `pattern`; keeps reading after, so the child never writes to a closed pipe. */
function waitFor(stream: NodeJS.ReadableStream | null, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    stream?.on('data', (chunk) => {
      seen += String(chunk);
      if (pattern.test(seen)) resolve();
    });
    stream?.on('end', () => reject(new Error(`the child ended before printing ${pattern}: ${seen}`)));
  });
}
