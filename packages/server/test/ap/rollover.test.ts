import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SmpClient } from '@ehmi/smp';
import { staticDiscovery } from '../../src/ap/discovery.ts';
import { smpDiscovery } from '../../src/ap/discovery-config.ts';
import type { AccessPoint } from '../../src/ap/index.ts';
import type { ReceiverDiscovery } from '../../src/contract.ts';
import { SmpAdminClient } from '../../src/eer/smp-admin-client.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { OTHER, RECEIVER, SDN, type SmpTestPki, smpTestPki, startSmp, TOKEN } from '../smp/helpers.ts';
import {
  type ApCredentials,
  bytes,
  createPki,
  DOCUMENT_TYPE,
  issueApCredentials,
  RecordingBackend,
  runToEnd,
  startAp,
  TestClock,
  type TestPki,
  waitFor,
} from './helpers.ts';

// The SMP refuses GLNs without a valid check digit: the two parties are the SMP tests' participants.
const A = OTHER;
const B = RECEIVER;
const gln = (participant: string) => participant.slice('0088:'.length);
const envelope = (n: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><StandardBusinessDocument xmlns="http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"><n>${n}</n></StandardBusinessDocument>`;

/** An SMP client with a long cache (answers go stale) that notes every request it makes, by participant. */
function countingDiscovery(smpUrl: string, smpPki: SmpTestPki) {
  const requests: string[] = [];
  const client = new SmpClient({
    smpUrl,
    trustAnchors: [smpPki.root.certificate],
    cacheTtlMs: 600_000,
    fetch: (input, init) => {
      requests.push(decodeURIComponent(String(input instanceof Request ? input.url : input)));
      return fetch(input, init);
    },
  });
  const about = (participant: string) => requests.filter((u) => u.includes(gln(participant))).length;
  return { discovery: smpDiscovery(client), about };
}

// AS4 certificate rollover as an overlap (docs/operations.md "Rolling over the AS4 certificate"): a receiver that
// rolled over still decrypts what senders with a stale SMP answer encrypt to its old certificate, and a receiver
// whose cached answer names a sender's old certificate asks the SMP once more before it refuses the new signature.
for (const engine of engines()) {
  describe(`AS4 certificate rollover (${engine.name})`, { skip: engine.skip }, () => {
    let dir: string;
    let pki: TestPki;
    let smpPki: SmpTestPki;
    let admin: SmpAdminClient;
    let smpUrl: string;
    const clock = new TestClock();
    /** A's AS4 certificate before and after its rollover, B's before and after, one of nobody's. */
    let a1: ApCredentials;
    let a2: ApCredentials;
    let b1: ApCredentials;
    let b2: ApCredentials;
    let b: AccessPoint;
    let backendB: RecordingBackend;
    let atB: ReturnType<typeof countingDiscovery>;
    const cleanups: (() => Promise<void>)[] = [];

    async function openStore(): Promise<TestStore> {
      const s = await engine.open();
      cleanups.push(() => s.cleanup());
      return s;
    }

    async function publish(participant: string, url: string, creds: ApCredentials) {
      await admin.publishServiceMetadata({
        participant,
        documentType: DOCUMENT_TYPE,
        process: SDN,
        endpointUrl: url,
        certificatePem: creds.signing.certificatePem,
      });
    }

    /** An access point of A's participant signing with `creds`, discovering through `discovery`. */
    async function startA(creds: ApCredentials, discovery: ReceiverDiscovery, previous?: ApCredentials) {
      const s = await openStore();
      const backend = new RecordingBackend();
      const ap = await startAp({
        store: s.store,
        dataDir: s.dataDir,
        pki,
        gln: gln(A),
        creds,
        backend,
        discovery,
        now: clock.now,
        ...(previous
          ? {
              ap: {
                previousEncryption: [{ cert: previous.files.signingCert, key: previous.files.signingKey }],
              },
            }
          : {}),
      });
      cleanups.push(() => ap.close());
      return { ap, backend, store: s.store };
    }

    async function send(sender: { ap: AccessPoint; backend: RecordingBackend }, n: string) {
      const accepted = await sender.ap.gateway.submit({
        submissionId: randomUUID(),
        sender: A,
        receiver: B,
        documentType: DOCUMENT_TYPE,
        process: 'sdn-emergence',
        envelope: bytes(envelope(n)),
        trackingIdentifier: `track-${n}`,
      });
      await runToEnd(sender.ap, clock);
      return waitFor('outcome', () =>
        sender.backend.outcomes.find((o) => o.as4MessageId === accepted.as4MessageId),
      );
    }

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ehmi-ap-rollover-'));
      pki = await createPki(dir);
      smpPki = await smpTestPki();
      [a1, a2, b1, b2] = (await Promise.all(
        ['a1', 'a2', 'b1', 'b2'].map((name) => issueApCredentials(pki, name)),
      )) as [ApCredentials, ApCredentials, ApCredentials, ApCredentials];
      const smpStore = await openStore();
      const smp = await startSmp(smpStore.store, smpPki);
      cleanups.push(() => smp.close());
      smpUrl = smp.url;
      admin = new SmpAdminClient({ baseUrl: smp.url, token: TOKEN });
      await admin.publishServiceGroup(A);
      await admin.publishServiceGroup(B);
      // B has rolled over already: it signs with b2 and still decrypts with b1, which the SMP publishes for now.
      const s = await openStore();
      backendB = new RecordingBackend();
      atB = countingDiscovery(smpUrl, smpPki);
      b = await startAp({
        store: s.store,
        dataDir: s.dataDir,
        pki,
        gln: gln(B),
        creds: b2,
        backend: backendB,
        discovery: atB.discovery,
        now: clock.now,
        ap: { previousEncryption: [{ cert: b1.files.signingCert, key: b1.files.signingKey }] },
      });
      cleanups.push(() => b.close());
      await publish(B, b.as4Url, b1);
      await publish(A, 'https://a.invalid/as4', a1);
    });
    after(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    });

    it('a sender whose cached answer names the old certificate is delivered to: the old key decrypts, the new receipt signer is looked up again', async () => {
      const atA = countingDiscovery(smpUrl, smpPki);
      const a = await startA(a1, atA.discovery);
      // A's answer for B is cached now (b1); then B publishes its new certificate.
      assert.equal((await a.ap.gateway.checkReceiver(B, DOCUMENT_TYPE, 'sdn-emergence')).registered, true);
      await publish(B, b.as4Url, b2);
      const before = atA.about(B);
      const outcome = await send(a, 'stale-answer');
      assert.equal(outcome.status, 'sent', outcome.reason);
      await waitFor('delivery', () => backendB.delivered.get(outcome.as4MessageId));
      // Encrypted to b1 and decrypted with B's previous key at the first attempt (not refused with EBMS:0102 and
      // sent again); the receipt signed with b2 was accepted after one lookup past the cache.
      const row = await a.store.db
        .selectFrom('ap_outbound')
        .select(['attempts', 'last_error'])
        .where('as4_message_id', '=', outcome.as4MessageId)
        .executeTakeFirstOrThrow();
      assert.deepEqual(row, { attempts: 1, last_error: null });
      assert.ok(atA.about(B) > before, 'A asked the SMP again about B');
      const twice = atA.about(B);
      const second = await send(a, 'fresh-answer');
      assert.equal(second.status, 'sent', second.reason);
      assert.equal(atA.about(B), twice, 'the fresh answer is cached: no further lookup');
    });

    it('a sender that rolled over is accepted after one lookup past the receiver cache, and then from the cache', async () => {
      // B's cache holds a1 for A (the first test's messages); A now signs with a2 and publishes it.
      const a = await startA(a2, countingDiscovery(smpUrl, smpPki).discovery, a1);
      await publish(A, 'https://a.invalid/as4', a2);
      const before = atB.about(A);
      const outcome = await send(a, 'new-signer');
      assert.equal(outcome.status, 'sent', outcome.reason);
      await waitFor('delivery', () => backendB.delivered.get(outcome.as4MessageId));
      assert.ok(atB.about(A) > before, 'B asked the SMP again about A');
      const once = atB.about(A);
      const second = await send(a, 'new-signer-again');
      assert.equal(second.status, 'sent', second.reason);
      assert.equal(atB.about(A), once, 'no further lookup: the fresh answer is cached');
    });

    it('a signer the SMP publishes for nobody is refused after one lookup; a second forgery within the interval asks nothing', async () => {
      // Past the interval of the previous test's lookup of A.
      clock.advance(61_000);
      const forger = await issueApCredentials(pki, 'forger');
      const toB = staticDiscovery({
        [B]: {
          url: b.as4Url,
          certificate: b2.files.signingCert,
          transportProfile: 'bdxr-transport-ebms3-as4-v1p0',
        },
      });
      const c = await startA(forger, toB);
      const before = atB.about(A);
      const first = await send(c, 'forged-1');
      assert.equal(first.status, 'failed');
      assert.equal(first.ebmsCode, 'EBMS:0101');
      assert.match(first.reason ?? '', /not an access point certificate the register publishes/);
      const after1 = atB.about(A);
      assert.ok(after1 > before, 'the first forgery made B ask the SMP once more');
      const second = await send(c, 'forged-2');
      assert.equal(second.status, 'failed');
      assert.equal(second.ebmsCode, 'EBMS:0101');
      assert.equal(atB.about(A), after1, 'the second forgery within the interval made no SMP request');
      assert.equal(backendB.delivered.has(first.as4MessageId), false);
      assert.equal(backendB.delivered.has(second.as4MessageId), false);
    });

    it('an EncryptedKey naming a certificate B holds no key for: EBMS:0102 as before', async () => {
      const unknown = await issueApCredentials(pki, 'b3');
      const toB = staticDiscovery({
        [B]: {
          url: b.as4Url,
          certificate: unknown.files.signingCert,
          transportProfile: 'bdxr-transport-ebms3-as4-v1p0',
        },
      });
      const a = await startA(a2, toB);
      const outcome = await send(a, 'unknown-key');
      assert.equal(outcome.status, 'failed');
      assert.equal(outcome.ebmsCode, 'EBMS:0102');
      assert.match(outcome.reason ?? '', /not addressed to our certificate/);
      assert.equal(backendB.delivered.has(outcome.as4MessageId), false);
    });

    it('a receiver that no longer holds the old key answers EBMS:0102; the sender looks it up again and sends again to the new certificate', async () => {
      // Another instance of B's participant that kept no previous key, published at first with the old certificate.
      const s = await openStore();
      const backend = new RecordingBackend();
      const bare = await startAp({
        store: s.store,
        dataDir: s.dataDir,
        pki,
        gln: gln(B),
        creds: b2,
        backend,
        discovery: countingDiscovery(smpUrl, smpPki).discovery,
        now: clock.now,
      });
      cleanups.push(() => bare.close());
      await publish(B, bare.as4Url, b1);
      const a = await startA(a2, countingDiscovery(smpUrl, smpPki).discovery, a1);
      assert.equal((await a.ap.gateway.checkReceiver(B, DOCUMENT_TYPE, 'sdn-emergence')).registered, true);
      await publish(B, bare.as4Url, b2);
      const outcome = await send(a, 'no-previous-key');
      assert.equal(outcome.status, 'sent', outcome.reason);
      await waitFor('delivery', () => backend.delivered.get(outcome.as4MessageId));
      const row = await a.store.db
        .selectFrom('ap_outbound')
        .select(['attempts'])
        .where('as4_message_id', '=', outcome.as4MessageId)
        .executeTakeFirstOrThrow();
      // The first attempt, encrypted to b1, was refused (EBMS:0102); the second, to b2, was receipted.
      assert.equal(row.attempts, 2);
    });
  });
}
