import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Credential, createCertificateAuthority, issueCrl } from '@ehmi/pki';
import type { AccessPoint } from '../../src/ap/index.ts';
import type { ConfigInput } from '../../src/role-list.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import {
  type ApCredentials,
  bytes,
  createPki,
  DOCUMENT_TYPE,
  GLN_A,
  GLN_B,
  issueApCredentials,
  PROCESS,
  RecordingBackend,
  startAp,
  type TestPki,
  waitFor,
} from './helpers.ts';

const A = `0088:${GLN_A}`;
const B = `0088:${GLN_B}`;
const envelope = (n: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><StandardBusinessDocument xmlns="http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"><n>${n}</n></StandardBusinessDocument>`;

/** A plain node:http server on a free loopback port that records every request and answers with `answer`. */
async function plainServer(answer: { status: number; contentType: string; body: () => Buffer | string }) {
  const requests: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => {
      res.writeHead(answer.status, { 'content-type': answer.contentType });
      res.end(answer.body());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

for (const engine of engines()) {
  describe(`access point identity (${engine.name})`, { skip: engine.skip }, () => {
    let dir: string;
    let pki: TestPki;
    let credsA: ApCredentials;
    let credsB: ApCredentials;
    const cleanups: (() => Promise<void>)[] = [];

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ehmi-ap-identity-'));
      pki = await createPki(dir);
      credsA = await issueApCredentials(pki, 'a');
      credsB = await issueApCredentials(pki, 'b');
    });
    after(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    });

    async function openStoreFor(): Promise<TestStore> {
      const s = await engine.open();
      cleanups.push(() => s.cleanup());
      return s;
    }

    type Extra = { ap?: ConfigInput['ap']; node?: Omit<ConfigInput, 'ap'>; pki?: TestPki };
    /** An access point for `gln` with `creds` on a fresh store, closed when the suite ends. */
    async function start(gln: string, creds: ApCredentials, extra: Extra = {}) {
      const store = await openStoreFor();
      const backend = new RecordingBackend();
      const ap = await startAp({
        store: store.store,
        dataDir: store.dataDir,
        pki: extra.pki ?? pki,
        gln,
        creds,
        backend,
        ...(extra.ap ? { ap: extra.ap } : {}),
        ...(extra.node ? { node: extra.node } : {}),
      });
      cleanups.push(() => ap.close());
      return { ap, store, backend };
    }

    /** A's static discovery map: B at `url`, published with the certificate in `certificate` (default B's). */
    const sendTo = (url: string, certificate = credsB.files.signingCert): ConfigInput['ap'] => ({
      discovery: { static: { [B]: { url, certificate } } },
    });

    async function submit(a: AccessPoint, content: string) {
      return a.gateway.submit({
        submissionId: randomUUID(),
        sender: A,
        receiver: B,
        documentType: DOCUMENT_TYPE,
        process: PROCESS,
        envelope: bytes(content),
      });
    }

    /** The outcome A's MSH gets for `submissionId`, once A has nothing left to do (no retry waits). */
    async function outcomeOf(a: AccessPoint, backend: RecordingBackend, submissionId: string) {
      const outcome = await waitFor('outcome', () =>
        backend.outcomes.find((o) => o.submissionId === submissionId),
      );
      assert.deepEqual(await a.idle({ drained: true }), { next: undefined }, 'no retry waits');
      return outcome;
    }

    async function outboundRow(store: TestStore, submissionId: string) {
      return store.store.db
        .selectFrom('ap_outbound')
        .selectAll()
        .where('submission_id', '=', submissionId)
        .executeTakeFirstOrThrow();
    }

    /** B's `ehmi_ap_received_total` lines (`result` → count). */
    async function receivedCounts(b: AccessPoint): Promise<Record<string, number>> {
      // The counters as /metrics shows them (to the operator: metrics-access.ts).
      const text = await b.app.metrics.metrics();
      const counts: Record<string, number> = {};
      for (const m of text.matchAll(/^ehmi_ap_received_total\{result="([^"]+)"[^}]*\} (\d+)$/gm)) {
        counts[m[1]!] = Number(m[2]);
      }
      return counts;
    }

    /** B, receiving, with nothing delivered and no message answered, after it has done everything it had to. */
    async function assertNothingReached(b: { ap: AccessPoint; backend: RecordingBackend; store: TestStore }) {
      assert.deepEqual(await b.ap.idle({ drained: true }), { next: undefined });
      assert.equal(b.backend.calls.length, 0, 'nothing delivered to B’s MSH');
      assert.deepEqual(await receivedCounts(b.ap), {}, 'B’s AS4 endpoint answered no message');
      const rows = await b.store.store.db.selectFrom('ap_received').select('message_id').execute();
      assert.equal(rows.length, 0);
    }

    it('control: A → B signed with A’s own AS4 key is delivered once', async () => {
      const b = await start(GLN_B, credsB);
      const a = await start(GLN_A, credsA, { ap: sendTo(b.ap.as4Url) });
      const content = envelope('control');
      const accepted = await submit(a.ap, content);
      const outcome = await outcomeOf(a.ap, a.backend, accepted.submissionId);
      assert.equal(outcome.status, 'sent', outcome.reason);
      assert.equal(outcome.ebmsCode, undefined);
      const got = await waitFor('delivery', () => b.backend.delivered.get(accepted.as4MessageId));
      assert.equal(got.bytes?.toString('utf8'), content);
      assert.equal(got.sender, A);
      await b.ap.idle({ drained: true });
      assert.equal(b.backend.calls.length, 1);
      assert.deepEqual(await receivedCounts(b.ap), { receipt: 1 });
    });

    it('a message claiming to come from A but signed with another organisation’s valid AP key: EBMS:0101 naming signer and sender, nothing delivered, final at A', async () => {
      const credsH = await issueApCredentials(pki, 'h');
      const b = await start(GLN_B, credsB);
      // An access point that says it is A (originalSender = A's participant) but holds h's AS4 key.
      const a = await start(GLN_A, credsH, { ap: sendTo(b.ap.as4Url) });
      const accepted = await submit(a.ap, envelope('impostor'));
      const outcome = await outcomeOf(a.ap, a.backend, accepted.submissionId);
      assert.equal(outcome.status, 'failed');
      assert.equal(outcome.ebmsCode, 'EBMS:0101');
      assert.match(outcome.reason ?? '', /the receiver answered EBMS:0101/);
      assert.match(outcome.reason ?? '', new RegExp(`claims to come from ${A}`));
      assert.match(outcome.reason ?? '', /signed with "CN=ap\.h, O=h, C=DK"/);
      assert.match(outcome.reason ?? '', new RegExp(`serial ${credsH.signing.certificate.serialNumber}`));
      assert.equal((await outboundRow(a.store, accepted.submissionId)).attempts, 1, 'not retried');
      assert.deepEqual(await b.ap.idle({ drained: true }), { next: undefined });
      assert.equal(b.backend.calls.length, 0);
      assert.deepEqual(await receivedCounts(b.ap), { 'EBMS:0101': 1 });
    });

    it('a message signed with A’s TLS client certificate (EKU clientAuth only) is refused for its purpose: EBMS:0101, nothing delivered', async () => {
      const tlsOnly = await issueApCredentials(pki, 'a-tls-client', { purposes: ['tls-client'] });
      const b = await start(GLN_B, credsB);
      const a = await start(GLN_A, tlsOnly, { ap: sendTo(b.ap.as4Url) });
      const accepted = await submit(a.ap, envelope('tls-signed'));
      const outcome = await outcomeOf(a.ap, a.backend, accepted.submissionId);
      assert.equal(outcome.status, 'failed');
      assert.equal(outcome.ebmsCode, 'EBMS:0101');
      assert.match(outcome.reason ?? '', /the receiver answered EBMS:0101/);
      assert.match(
        outcome.reason ?? '',
        /sender's signing certificate "CN=ap\.a-tls-client[^"]*" cannot serve as as4/,
      );
      assert.match(outcome.reason ?? '', /lists only TLS usages/);
      assert.equal((await outboundRow(a.store, accepted.submissionId)).attempts, 1, 'not retried');
      assert.deepEqual(await b.ap.idle({ drained: true }), { next: undefined });
      assert.equal(b.backend.calls.length, 0);
      assert.deepEqual(await receivedCounts(b.ap), { 'EBMS:0101': 1 });
    });

    it('an http:// endpoint from discovery: refused at once, nothing posted; with insecure: true it is attempted', async () => {
      const server = await plainServer({ status: 503, contentType: 'text/plain', body: () => 'down' });
      cleanups.push(server.close);
      const endpoint = `${server.url}/as4`;

      const a = await start(GLN_A, credsA, { ap: sendTo(endpoint) });
      const accepted = await submit(a.ap, envelope('plain-http'));
      const outcome = await outcomeOf(a.ap, a.backend, accepted.submissionId);
      assert.equal(outcome.status, 'failed');
      assert.equal(outcome.ebmsCode, 'EBMS:0004');
      assert.match(outcome.reason ?? '', new RegExp(`endpoint published for ${B} is refused`));
      assert.match(outcome.reason ?? '', /its address http:\/\/127\.0\.0\.1:\d+\/as4 is not https/);
      const row = await outboundRow(a.store, accepted.submissionId);
      assert.equal(row.attempts, 0);
      assert.equal(row.endpoint_url, null);
      assert.equal(server.requests.length, 0, 'the http endpoint saw no request');

      // The development switch: the same endpoint is attempted (one attempt, so the failure is final at once).
      const dev = await start(GLN_A, credsA, {
        node: { insecure: true },
        ap: { ...sendTo(endpoint), send: { maxAttempts: 1 } },
      });
      const tried = await submit(dev.ap, envelope('plain-http-dev'));
      const devOutcome = await outcomeOf(dev.ap, dev.backend, tried.submissionId);
      assert.equal(devOutcome.status, 'failed');
      assert.equal(devOutcome.ebmsCode, 'EBMS:0301');
      assert.match(devOutcome.reason ?? '', /HTTP 503 without an AS4 signal/);
      // A small message goes as one buffer, with its length: not chunked part by part.
      const sent = server.requests.at(-1)!;
      assert.equal(sent.headers['transfer-encoding'], undefined);
      assert.match(String(sent.headers['content-length']), /^[1-9][0-9]*$/);
      assert.equal(server.requests.length, 1, 'the http endpoint got the message');
      assert.equal(server.requests[0]?.method, 'POST');
      assert.equal(server.requests[0]?.url, '/as4');
      assert.match(String(server.requests[0]?.headers['content-type']), /^multipart\/related/);
      assert.equal((await outboundRow(dev.store, tried.submissionId)).endpoint_url, endpoint);
    });

    it('B’s real URL published with a certificate from a CA nobody trusts: refused at once, B receives no request', async () => {
      const foreign = await issueApCredentials(pki, 'b-foreign', { ca: pki.other, purposes: ['as4'] });
      const b = await start(GLN_B, credsB);
      const a = await start(GLN_A, credsA, { ap: sendTo(b.ap.as4Url, foreign.files.signingCert) });
      const accepted = await submit(a.ap, envelope('foreign-certificate'));
      const outcome = await outcomeOf(a.ap, a.backend, accepted.submissionId);
      assert.equal(outcome.status, 'failed');
      assert.equal(outcome.ebmsCode, 'EBMS:0004');
      assert.match(outcome.reason ?? '', new RegExp(`endpoint published for ${B} is refused`));
      assert.match(outcome.reason ?? '', /does not chain to a trust anchor/);
      assert.equal((await outboundRow(a.store, accepted.submissionId)).attempts, 0);
      await assertNothingReached(b);
    });

    it('B’s real URL published with a self-signed certificate: refused at once, B receives no request', async () => {
      const selfSigned = await createCertificateAuthority({ subject: 'CN=ap.b, O=b, C=DK' });
      const file = join(dir, 'b-self-signed.pem');
      await writeFile(file, selfSigned.certificatePem);
      const b = await start(GLN_B, credsB);
      const a = await start(GLN_A, credsA, { ap: sendTo(b.ap.as4Url, file) });
      const accepted = await submit(a.ap, envelope('self-signed'));
      const outcome = await outcomeOf(a.ap, a.backend, accepted.submissionId);
      assert.equal(outcome.status, 'failed');
      assert.equal(outcome.ebmsCode, 'EBMS:0004');
      assert.match(outcome.reason ?? '', new RegExp(`endpoint published for ${B} is refused`));
      assert.match(outcome.reason ?? '', /does not chain to a trust anchor/);
      await assertNothingReached(b);
    });

    it('B’s real URL published with a TLS-server-only certificate under the trusted root: refused for its purpose', async () => {
      const tlsServer = await issueApCredentials(pki, 'b-tls-server', { purposes: ['tls-server'] });
      const b = await start(GLN_B, credsB);
      const a = await start(GLN_A, credsA, { ap: sendTo(b.ap.as4Url, tlsServer.files.signingCert) });
      const accepted = await submit(a.ap, envelope('tls-server-certificate'));
      const outcome = await outcomeOf(a.ap, a.backend, accepted.submissionId);
      assert.equal(outcome.status, 'failed');
      assert.equal(outcome.ebmsCode, 'EBMS:0004');
      assert.match(outcome.reason ?? '', new RegExp(`endpoint published for ${B} is refused`));
      assert.match(outcome.reason ?? '', /"CN=ap\.b-tls-server[^"]*" cannot serve as as4/);
      assert.match(outcome.reason ?? '', /lists only TLS usages/);
      assert.equal((await outboundRow(a.store, accepted.submissionId)).attempts, 0);
      await assertNothingReached(b);
    });

    it('revocation by CRL: a revoked sender is refused by B (EBMS:0101), a revoked receiver is not sent to; each after the checker fetched the new CRL', async () => {
      // A PKI of its own whose AS4 certificates name the CRL this server publishes.
      await mkdir(join(dir, 'crl'));
      const crlPki = await createPki(join(dir, 'crl'));
      let crl = await issueCrl(crlPki.root, {
        revoked: [],
        thisUpdate: new Date(Date.now() - 60_000),
        nextUpdate: new Date(Date.now() + 86_400_000),
        crlNumber: 1,
      });
      const server = await plainServer({
        status: 200,
        contentType: 'application/pkix-crl',
        body: () => crl.der,
      });
      cleanups.push(server.close);
      const crlUrl = `${server.url}/root.crl`;
      const fetches = () => server.requests.filter((r) => r.method === 'GET' && r.url === '/root.crl').length;
      const publish = async (revoked: Credential[], crlNumber: number) => {
        crl = await issueCrl(crlPki.root, {
          revoked: revoked.map((c) => ({
            serialNumber: c.certificate.serialNumber,
            revokedAt: new Date(Date.now() - 1000),
            reason: 'keyCompromise' as const,
          })),
          thisUpdate: new Date(Date.now() - 60_000),
          nextUpdate: new Date(Date.now() + 86_400_000),
          crlNumber,
        });
      };
      const a7 = await issueApCredentials(crlPki, 'a', { purposes: ['as4'], crlDistributionPoint: crlUrl });
      const b7 = await issueApCredentials(crlPki, 'b', { purposes: ['as4'], crlDistributionPoint: crlUrl });
      // refreshMs 1: a CRL is used for one millisecond, so every check after that fetches it again (and the test
      // sees that it did by the server's request count).
      const node = { revocation: { refreshMs: 1 } };
      const b = await start(GLN_B, b7, { pki: crlPki, node });
      const a = await start(GLN_A, a7, {
        pki: crlPki,
        node,
        ap: { discovery: { static: { [B]: { url: b.ap.as4Url, certificate: b7.files.signingCert } } } },
      });
      const counts = () => receivedCounts(b.ap);

      // Nothing revoked: sent and delivered; A asked about B's certificate, B about A's.
      const first = await submit(a.ap, envelope('before-revocation'));
      const sent = await outcomeOf(a.ap, a.backend, first.submissionId);
      assert.equal(sent.status, 'sent', sent.reason);
      await waitFor('delivery', () => b.backend.delivered.get(first.as4MessageId));
      assert.ok(fetches() >= 2, `CRL fetched ${fetches()} times`);

      // A's certificate revoked: A (checking B) sends, B (checking A) refuses with EBMS:0101.
      await publish([a7.signing], 2);
      let before = fetches();
      const second = await submit(a.ap, envelope('sender-revoked'));
      const refused = await outcomeOf(a.ap, a.backend, second.submissionId);
      assert.ok(fetches() >= before + 2, 'A and B fetched the new CRL');
      assert.equal(refused.status, 'failed');
      assert.equal(refused.ebmsCode, 'EBMS:0101');
      assert.match(refused.reason ?? '', /the receiver answered EBMS:0101/);
      assert.match(
        refused.reason ?? '',
        new RegExp(
          `sender's signing certificate: the certificate "CN=ap\\.a, O=a, C=DK" \\(serial ${a7.signing.certificate.serialNumber}\\) was revoked`,
        ),
      );
      assert.equal((await outboundRow(a.store, second.submissionId)).attempts, 1, 'not retried');
      assert.deepEqual(await b.ap.idle({ drained: true }), { next: undefined });
      assert.equal(b.backend.calls.length, 1, 'only the first message reached B’s MSH');
      assert.deepEqual(await counts(), { receipt: 1, 'EBMS:0101': 1 });

      // B's certificate revoked too: A does not send to B at all.
      await publish([a7.signing, b7.signing], 3);
      before = fetches();
      const third = await submit(a.ap, envelope('receiver-revoked'));
      const failed = await outcomeOf(a.ap, a.backend, third.submissionId);
      assert.ok(fetches() > before, 'A fetched the new CRL');
      assert.equal(failed.status, 'failed');
      assert.equal(failed.ebmsCode, 'EBMS:0004');
      assert.match(failed.reason ?? '', new RegExp(`endpoint published for ${B} is refused`));
      assert.match(
        failed.reason ?? '',
        new RegExp(
          `the certificate "CN=ap\\.b, O=b, C=DK" \\(serial ${b7.signing.certificate.serialNumber}\\) was revoked`,
        ),
      );
      assert.equal((await outboundRow(a.store, third.submissionId)).attempts, 0, 'nothing posted');
      assert.deepEqual(await b.ap.idle({ drained: true }), { next: undefined });
      assert.equal(b.backend.calls.length, 1);
      assert.deepEqual(await counts(), { receipt: 1, 'EBMS:0101': 1 }, 'B’s endpoint got no new request');
    });
  });
}
