import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import {
  type CertificateAuthority,
  createCertificateAuthority,
  createOcspResponse,
  issueCertificate,
  issueCrl,
  type OcspAnswer,
  RevocationChecker,
  type RevokedEntry,
} from '../src/index.ts';

const isCode = (code: string, pattern?: RegExp) => (err: unknown) =>
  err instanceof EhmiError && err.code === code && (!pattern || pattern.test(err.message));

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A CA's publication point: serves its current CRL and answers OCSP, counting requests. */
class Publisher {
  crl: Buffer = Buffer.alloc(0);
  ocsp: (serial: string) => OcspAnswer = () => ({ status: 'good' });
  crlRequests = 0;
  ocspRequests = 0;
  readonly server: Server;
  base = '';

  constructor(readonly ca: CertificateAuthority) {
    this.server = createServer(async (req, res) => {
      if (req.url === '/root.crl') {
        this.crlRequests++;
        res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(this.crl);
        return;
      }
      if (req.url === '/ocsp' && req.method === 'POST') {
        this.ocspRequests++;
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const body = await createOcspResponse({
          request: Buffer.concat(chunks),
          issuer: ca.certificate,
          signer: ca,
          status: (serial) => this.ocsp(serial),
          nextUpdate: new Date(Date.now() + HOUR),
        });
        res.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(body);
        return;
      }
      res.writeHead(404).end();
    });
  }

  async start(): Promise<void> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.base = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  async publish(
    revoked: RevokedEntry[],
    options: { nextUpdate?: Date; crlNumber?: number } = {},
  ): Promise<void> {
    this.crl = (
      await issueCrl(this.ca, {
        revoked,
        thisUpdate: new Date(Date.now() - MINUTE),
        nextUpdate: options.nextUpdate ?? new Date(Date.now() + 24 * HOUR),
        ...(options.crlNumber ? { crlNumber: options.crlNumber } : {}),
      })
    ).der;
  }
}

describe('RevocationChecker', () => {
  let ca: CertificateAuthority;
  let publisher: Publisher;

  before(async () => {
    ca = await createCertificateAuthority({ subject: 'CN=Revocation Root, O=EHMI, C=DK' });
    publisher = new Publisher(ca);
    await publisher.start();
  });
  after(() => publisher.server.close());

  const leaf = (options: { crl?: string; ocsp?: string } = {}) =>
    issueCertificate(ca, {
      subject: 'CN=ap.example',
      purposes: ['as4'],
      ...(options.crl ? { crlDistributionPoint: options.crl } : {}),
      ...(options.ocsp ? { ocspResponder: options.ocsp } : {}),
    });

  it('passes a good certificate, answers from cache after revocation until the refresh interval, then refuses it', async () => {
    const ap = await leaf({ crl: `${publisher.base}/root.crl` });
    await publisher.publish([], { crlNumber: 1 });
    let now = Date.now();
    const checker = new RevocationChecker({ refreshMs: 10 * MINUTE, now: () => now });
    const fetchesBefore = publisher.crlRequests;
    await checker.check(ap.certificate, ca.certificate);
    assert.equal(publisher.crlRequests, fetchesBefore + 1);

    const revokedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
    await publisher.publish(
      [{ serialNumber: ap.certificate.serialNumber, revokedAt, reason: 'keyCompromise' }],
      {
        crlNumber: 2,
      },
    );
    now += 9 * MINUTE;
    await checker.check(ap.certificate, ca.certificate);
    assert.equal(publisher.crlRequests, fetchesBefore + 1, 'answered from the cache');

    now += 2 * MINUTE;
    await assert.rejects(checker.check(ap.certificate, ca.certificate), (err: unknown) => {
      assert.ok(
        isCode('EHMI_CERTIFICATE_REVOKED', /"CN=ap\.example" .* was revoked at .* \(keyCompromise\)/)(err),
      );
      const details = (err as EhmiError).details;
      assert.equal(details.revoked, true);
      assert.equal(details.serialNumber, ap.certificate.serialNumber);
      assert.equal(details.revokedAt, revokedAt.toISOString());
      assert.equal(details.reason, 'keyCompromise');
      return true;
    });
    assert.equal(publisher.crlRequests, fetchesBefore + 2);
  });

  it('refetches at the CRL nextUpdate when that comes before the refresh interval', async () => {
    const ap = await leaf({ crl: `${publisher.base}/root.crl` });
    await publisher.publish([], { nextUpdate: new Date(Date.now() + 2 * MINUTE) });
    let now = Date.now();
    const checker = new RevocationChecker({ refreshMs: HOUR, now: () => now });
    await checker.check(ap.certificate, ca.certificate);
    const fetches = publisher.crlRequests;
    await publisher.publish([]);
    now += 3 * MINUTE;
    await checker.check(ap.certificate, ca.certificate);
    assert.equal(publisher.crlRequests, fetches + 1);
  });

  it('fails closed when the CRL URL is unreachable', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const url = `http://127.0.0.1:${(closed.address() as { port: number }).port}/root.crl`;
    closed.close();
    await once(closed, 'close');
    const ap = await leaf({ crl: url });
    const checker = new RevocationChecker({ timeoutMs: 2000 });
    await assert.rejects(checker.check(ap.certificate, ca.certificate), (err: unknown) => {
      assert.ok(
        isCode('EHMI_CERTIFICATE_UNTRUSTED', /cannot be established: the CRL .* cannot be fetched/)(err),
      );
      assert.equal((err as EhmiError).details.revocation, 'unavailable');
      return true;
    });
  });

  it('fails closed on an HTTP error and on a CRL larger than the limit', async () => {
    const missing = await leaf({ crl: `${publisher.base}/missing.crl` });
    await assert.rejects(
      new RevocationChecker().check(missing.certificate, ca.certificate),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /HTTP 404/),
    );
    const ap = await leaf({ crl: `${publisher.base}/root.crl` });
    await publisher.publish([]);
    await assert.rejects(
      new RevocationChecker({ maxBytes: 100 }).check(ap.certificate, ca.certificate),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /larger than 100 bytes/),
    );
  });

  it('refuses a CRL signed by another CA', async () => {
    const other = await createCertificateAuthority({ subject: 'CN=Revocation Root, O=EHMI, C=DK' });
    const ap = await leaf({ crl: `${publisher.base}/root.crl` });
    publisher.crl = (await issueCrl(other, { revoked: [], nextUpdate: new Date(Date.now() + HOUR) })).der;
    await assert.rejects(
      new RevocationChecker().check(ap.certificate, ca.certificate),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /signature of the CRL .* does not verify/),
    );
  });

  it('uses a cached CRL for at most the grace past its refresh when a refetch fails, though its nextUpdate is later', async () => {
    const ap = await leaf({ crl: `${publisher.base}/root.crl` });
    await publisher.publish([], { nextUpdate: new Date(Date.now() + HOUR) });
    let now = Date.now();
    const checker = new RevocationChecker({ refreshMs: 10 * MINUTE, graceMs: MINUTE, now: () => now });
    await checker.check(ap.certificate, ca.certificate);
    publisher.crl = Buffer.from('not a CRL');
    now += 10 * MINUTE + 30_000;
    await checker.check(ap.certificate, ca.certificate);
    // Whoever keeps the CRL from us does not keep a revoked certificate working until the nextUpdate an hour away.
    now += MINUTE;
    await assert.rejects(
      checker.check(ap.certificate, ca.certificate),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /not a readable/),
    );
  });

  it('refuses a CRL fetched past its nextUpdate', async () => {
    const ap = await leaf({ crl: `${publisher.base}/root.crl` });
    await publisher.publish([], { nextUpdate: new Date(Date.now() + MINUTE) });
    const checker = new RevocationChecker({ graceMs: MINUTE, now: () => Date.now() + 5 * MINUTE });
    await assert.rejects(
      checker.check(ap.certificate, ca.certificate),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /stale/),
    );
  });

  it('shares one fetch among concurrent checks of the same CRL', async () => {
    const ap = await leaf({ crl: `${publisher.base}/root.crl` });
    await publisher.publish([]);
    const checker = new RevocationChecker();
    const before = publisher.crlRequests;
    await Promise.all(Array.from({ length: 5 }, () => checker.check(ap.certificate, ca.certificate)));
    assert.equal(publisher.crlRequests, before + 1);
  });

  it('refuses to check against a CA that did not issue the certificate', async () => {
    const other = await createCertificateAuthority({ subject: 'CN=Other Root' });
    const ap = await leaf({ crl: `${publisher.base}/root.crl` });
    await assert.rejects(
      new RevocationChecker().check(ap.certificate, other.certificate),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /was not issued by "CN=Other Root"/),
    );
  });

  it('passes a certificate without revocation information unless it is required', async () => {
    const bare = await leaf();
    await new RevocationChecker().check(bare.certificate, ca.certificate);
    await assert.rejects(
      new RevocationChecker({ requireRevocationInfo: true }).check(bare.certificate, ca.certificate),
      isCode('EHMI_CERTIFICATE_UNTRUSTED', /neither an OCSP responder nor a CRL/),
    );
  });

  it('asks OCSP first when the certificate names a responder, and caches its answer', async () => {
    const ap = await leaf({ crl: `${publisher.base}/root.crl`, ocsp: `${publisher.base}/ocsp` });
    await publisher.publish([]);
    publisher.ocsp = () => ({
      status: 'revoked',
      revokedAt: new Date('2026-02-01T00:00:00Z'),
      reason: 'superseded',
    });
    let now = Date.now();
    const checker = new RevocationChecker({ refreshMs: 10 * MINUTE, now: () => now });
    const crlBefore = publisher.crlRequests;
    await assert.rejects(
      checker.check(ap.certificate, ca.certificate),
      (err: unknown) =>
        isCode('EHMI_CERTIFICATE_REVOKED', /superseded/)(err) && (err as EhmiError).details.revoked === true,
    );
    assert.equal(publisher.crlRequests, crlBefore, 'the CRL was not needed');
    publisher.ocsp = () => ({ status: 'good' });
    const ocspBefore = publisher.ocspRequests;
    now += 5 * MINUTE;
    await assert.rejects(checker.check(ap.certificate, ca.certificate));
    assert.equal(publisher.ocspRequests, ocspBefore, 'answered from the cache');
    now += 6 * MINUTE;
    await checker.check(ap.certificate, ca.certificate);
  });

  it('falls back to the CRL when the OCSP responder cannot be reached', async () => {
    const ap = await leaf({ crl: `${publisher.base}/root.crl`, ocsp: `${publisher.base}/no-ocsp-here` });
    await publisher.publish([{ serialNumber: ap.certificate.serialNumber, revokedAt: new Date() }]);
    await assert.rejects(
      new RevocationChecker().check(ap.certificate, ca.certificate),
      (err: unknown) =>
        isCode('EHMI_CERTIFICATE_REVOKED', /revoked/)(err) && (err as EhmiError).details.revoked === true,
    );
  });
});
