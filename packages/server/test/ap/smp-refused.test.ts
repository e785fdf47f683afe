import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SmpClient } from '@ehmi/smp';
import { smpDiscovery } from '../../src/ap/discovery-config.ts';
import type { AccessPoint } from '../../src/ap/index.ts';
import { SmpAdminClient } from '../../src/eer/smp-admin-client.ts';
import type { SmpRole } from '../../src/smp/index.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { RECEIVER, type SmpTestPki, smpTestPki, startSmp, TOKEN } from '../smp/helpers.ts';
import {
  type ApCredentials,
  bytes,
  createPki,
  DOCUMENT_TYPE,
  GLN_A,
  issueApCredentials,
  RecordingBackend,
  startAp,
  type TestPki,
  waitFor,
} from './helpers.ts';

const A = `0088:${GLN_A}`;
// The receiver needs a GLN with a valid check digit: the SMP refuses others (GLN_B is not one).
const B = RECEIVER;
const GLN_B = RECEIVER.slice('0088:'.length);
const SDN = 'urn:ehmi:sdn-emergence';
const envelope = (n: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><StandardBusinessDocument xmlns="http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"><n>${n}</n></StandardBusinessDocument>`;

// Bad input from the registers: an SMP response whose signature or certificate does not verify is refused by the client
// with a clear error, and the access point does not send (eDelivery AS4 1.15 §1.5.4 Dynamic Sender).
for (const engine of engines()) {
  describe(`access point refuses unverifiable SMP answers (${engine.name})`, { skip: engine.skip }, () => {
    let dir: string;
    let pki: TestPki;
    let smpPki: SmpTestPki;
    let credsA: ApCredentials;
    let credsB: ApCredentials;
    let b: AccessPoint;
    let backendB: RecordingBackend;
    const cleanups: (() => Promise<void>)[] = [];

    async function openStoreFor(): Promise<TestStore> {
      const s = await engine.open();
      cleanups.push(() => s.cleanup());
      return s;
    }

    /** An SMP publishing B's real AP (so a trusted answer would be delivered), signing with `signing`. */
    async function smpFor(signing: { cert: string; key: string }): Promise<SmpRole> {
      const s = await openStoreFor();
      const smp = await startSmp(s.store, smpPki, { signing });
      cleanups.push(() => smp.close());
      const admin = new SmpAdminClient({ baseUrl: smp.url, token: TOKEN });
      await admin.publishServiceGroup(B);
      await admin.publishServiceMetadata({
        participant: B,
        documentType: DOCUMENT_TYPE,
        process: SDN,
        endpointUrl: b.as4Url,
        certificatePem: credsB.signing.certificatePem,
      });
      return smp;
    }

    /** Sender A discovering through `smpUrl`, trusting only the SMP test root. */
    async function senderVia(smpUrl: string) {
      const store = await openStoreFor();
      const backend = new RecordingBackend();
      const client = new SmpClient({ smpUrl, trustAnchors: [smpPki.root.certificate], cacheTtlMs: 0 });
      const a = await startAp({
        store: store.store,
        dataDir: store.dataDir,
        pki,
        gln: GLN_A,
        creds: credsA,
        backend,
        discovery: smpDiscovery(client),
      });
      cleanups.push(() => a.close());
      const accepted = await a.gateway.submit({
        submissionId: randomUUID(),
        sender: A,
        receiver: B,
        documentType: DOCUMENT_TYPE,
        process: 'sdn-emergence',
        envelope: bytes(envelope('smp check')),
        trackingIdentifier: 'track-smp',
      });
      const outcome = await waitFor('outcome', () =>
        backend.outcomes.find((o) => o.as4MessageId === accepted.as4MessageId),
      );
      const row = await store.store.db
        .selectFrom('ap_outbound')
        .selectAll()
        .where('as4_message_id', '=', accepted.as4MessageId)
        .executeTakeFirstOrThrow();
      return { a, accepted, outcome, row };
    }

    async function assertNothingSent(r: Awaited<ReturnType<typeof senderVia>>, reason: RegExp) {
      assert.equal(r.outcome.status, 'failed');
      assert.match(r.outcome.reason ?? '', reason);
      assert.equal(r.row.status, 'failed');
      assert.equal(r.row.attempts, 0, 'no transmission was attempted');
      assert.equal(r.row.endpoint_url, null);
      // Nothing left to run on either side, and B has not got it.
      assert.deepEqual(await r.a.idle({ drained: true }), { next: undefined });
      assert.deepEqual(await b.idle({ drained: true }), { next: undefined });
      assert.equal(backendB.delivered.has(r.accepted.as4MessageId), false);
    }

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ehmi-ap-smp-'));
      pki = await createPki(dir);
      smpPki = await smpTestPki();
      credsA = await issueApCredentials(pki, 'a');
      credsB = await issueApCredentials(pki, 'b');
      const storeB = await openStoreFor();
      backendB = new RecordingBackend();
      b = await startAp({
        store: storeB.store,
        dataDir: storeB.dataDir,
        pki,
        gln: GLN_B,
        creds: credsB,
        backend: backendB,
      });
      cleanups.push(() => b.close());
    });
    after(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    });

    it('control: an SMP signing with a certificate from the trusted root leads to delivery', async () => {
      const smp = await smpFor({ cert: join(smpPki.dir, 'smp.pem'), key: join(smpPki.dir, 'smp.key') });
      const r = await senderVia(smp.url);
      assert.equal(r.outcome.status, 'sent', r.outcome.reason);
      await waitFor('delivery', () => backendB.delivered.get(r.accepted.as4MessageId));
      // The MSH's question before it accepts (gateway.checkReceiver), answered by the same discovery.
      assert.deepEqual(await r.a.gateway.checkReceiver(B, DOCUMENT_TYPE, SDN), {
        registered: true,
        endpointUrl: b.as4Url,
      });
      const other = await r.a.gateway.checkReceiver(B, 'urn:test:not-published', SDN);
      assert.equal(other.registered, false);
      assert.match(other.registered ? '' : other.reason, /not-published/);
    });

    it('an SMP signing with a key not from the trusted root: failed, EHMI_SMP_CERTIFICATE_UNTRUSTED, nothing sent', async () => {
      const rogue = await smpFor({ cert: join(smpPki.dir, 'rogue.pem'), key: join(smpPki.dir, 'rogue.key') });
      const r = await senderVia(rogue.url);
      await assertNothingSent(
        r,
        /discovery of 0088:5790000121526: the SMP certificate .*Rogue CA.* does not chain to a trust anchor/,
      );
      // A refused answer is no answer: checkReceiver throws rather than say "not registered".
      await assert.rejects(r.a.gateway.checkReceiver(B, DOCUMENT_TYPE, SDN), {
        code: 'EHMI_SMP_CERTIFICATE_UNTRUSTED',
      });
    });

    it('an SMP answer changed after signing: failed, EHMI_SMP_SIGNATURE_INVALID, nothing sent', async () => {
      const smp = await smpFor({ cert: join(smpPki.dir, 'smp.pem'), key: join(smpPki.dir, 'smp.key') });
      // A man in the middle rewrites the signed endpoint URL (to B's own URL spelled differently, so that a
      // client that skipped the signature check would still reach B and deliver).
      const changed = b.as4Url.replace('127.0.0.1', 'localhost');
      const proxy: Server = createServer(async (req, res) => {
        const upstream = await fetch(`${smp.url}${req.url}`);
        const text = (await upstream.text()).replaceAll(`>${b.as4Url}<`, `>${changed}<`);
        res.writeHead(upstream.status, {
          'content-type': upstream.headers.get('content-type') ?? 'text/xml',
        });
        res.end(text);
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
      const r = await senderVia(`http://127.0.0.1:${(proxy.address() as { port: number }).port}`);
      await assertNothingSent(
        r,
        /discovery of 0088:5790000121526: the digest of the signed document does not match/,
      );
    });
  });
}
