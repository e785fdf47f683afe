import assert from 'node:assert/strict';
import { randomUUID, X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkAs4Message, parseEnvelope, verifyEnvelope } from '@ehmi/as4';
import { type Agent, request } from 'undici';
import { type AccessPoint, buildOutboundMessage } from '../../src/ap/index.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import {
  type ApCredentials,
  bytes,
  collect,
  createPki,
  DOCUMENT_TYPE,
  GLN_A,
  GLN_B,
  issueApCredentials,
  PROCESS,
  post,
  RecordingBackend,
  startAp,
  TestClock,
  type TestPki,
  testClient,
} from './helpers.ts';

const A = `0088:${GLN_A}`;
const B = `0088:${GLN_B}`;
const TOKEN_A = 'evidence-token-of-a-0123456789';
const TOKEN_B = 'evidence-token-of-b-0123456789';
const DAY = 86_400_000;
const envelope = (n: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><StandardBusinessDocument xmlns="http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"><n>${n}</n></StandardBusinessDocument>`;

for (const engine of engines()) {
  describe(`access point evidence (${engine.name})`, { skip: engine.skip }, () => {
    let dir: string;
    let pki: TestPki;
    let credsA: ApCredentials;
    let credsB: ApCredentials;
    let client: Agent;
    const cleanups: (() => Promise<void>)[] = [];

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ehmi-ap-evidence-'));
      pki = await createPki(dir);
      credsA = await issueApCredentials(pki, 'a');
      credsB = await issueApCredentials(pki, 'b');
      client = testClient(pki, credsA);
      cleanups.push(() => client.close());
    });
    after(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    });

    async function openStore(): Promise<TestStore> {
      const s = await engine.open();
      cleanups.push(() => s.cleanup());
      return s;
    }

    /** Receiver B and sender A, each with its evidence API token (`tokens: false`: B has none). */
    async function pair(options: { now?: () => number; tokenB?: boolean } = {}) {
      const storeA = await openStore();
      const storeB = await openStore();
      const backendA = new RecordingBackend();
      const backendB = new RecordingBackend();
      const now = options.now ? { now: options.now } : {};
      const b = await startAp({
        store: storeB.store,
        dataDir: storeB.dataDir,
        pki,
        gln: GLN_B,
        creds: credsB,
        backend: backendB,
        ...now,
        ...(options.tokenB === false ? {} : { ap: { adminToken: TOKEN_B } }),
      });
      cleanups.push(() => b.close());
      const a = await startAp({
        store: storeA.store,
        dataDir: storeA.dataDir,
        pki,
        gln: GLN_A,
        creds: credsA,
        backend: backendA,
        ...now,
        ap: {
          adminToken: TOKEN_A,
          discovery: { static: { [B]: { url: b.as4Url, certificate: credsB.files.signingCert } } },
        },
      });
      cleanups.push(() => a.close());
      return { a, b, storeA, storeB, backendA, backendB };
    }

    async function send(a: AccessPoint, b: AccessPoint, n = 'one') {
      const accepted = await a.gateway.submit({
        submissionId: randomUUID(),
        sender: A,
        receiver: B,
        documentType: DOCUMENT_TYPE,
        process: PROCESS,
        envelope: bytes(envelope(n)),
      });
      assert.deepEqual(await a.idle({ drained: true }), { next: undefined });
      assert.deepEqual(await b.idle({ drained: true }), { next: undefined });
      return accepted.as4MessageId;
    }

    async function get(ap: AccessPoint, path: string, token?: string) {
      const res = await request(`${ap.url}${path}`, {
        dispatcher: client,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
      const body = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), body };
    }

    it("B keeps A's signed SOAP part and A keeps B's receipt, each verifying against its signer's certificate", async () => {
      const { a, b, backendA } = await pair();
      const id = await send(a, b);
      assert.equal(backendA.outcomes[0]?.status, 'sent');
      const path = `/evidence/${encodeURIComponent(id)}`;

      const listB = await get(b, path, TOKEN_B);
      assert.equal(listB.status, 200);
      const itemsB = JSON.parse(listB.body.toString('utf8')) as {
        messageId: string;
        items: { kind: string; direction: string; counterpart: string; signer: { serialNumber: string } }[];
      };
      assert.equal(itemsB.messageId, id);
      assert.deepEqual(
        itemsB.items.map((i) => [i.kind, i.direction, i.counterpart, i.signer.serialNumber]),
        [['user-message', 'inbound', A, credsA.signing.certificate.serialNumber]],
      );
      const soap = await get(b, `${path}/user-message`, TOKEN_B);
      assert.equal(soap.status, 200);
      assert.match(soap.contentType, /^application\/soap\+xml/);
      // The SOAP part alone: its signature verifies on these octets against A's certificate, the payload's signed
      // digest stays unchecked.
      const env = parseEnvelope(soap.body);
      const verified = await verifyEnvelope(env.document, [], {
        trust: (chain) => chain[0]!.raw.equals(credsA.signing.certificate.raw),
        detachedAttachments: true,
        timestampWindow: false,
      });
      assert.deepEqual(verified.references.map((r) => [r.target, r.digestVerified]).sort(), [
        ['Body', true],
        ['Messaging', true],
        ['attachment', false],
      ]);
      const checked = await checkAs4Message(soap.body, { certificate: credsA.signing.certificate });
      assert.equal(checked.valid, true, checked.reason);
      assert.equal(checked.notKept?.length, 1);
      const pemB = await get(b, `${path}/user-message/certificate`, TOKEN_B);
      assert.equal(pemB.status, 200);
      assert.match(pemB.contentType, /^application\/pem-certificate-chain/);
      assert.ok(new X509Certificate(pemB.body).raw.equals(credsA.signing.certificate.raw));

      const receipt = await get(a, `${path}/receipt`, TOKEN_A);
      assert.equal(receipt.status, 200);
      const r = await checkAs4Message(receipt.body, { certificate: credsB.signing.certificate });
      assert.equal(r.valid, true, r.reason);
      assert.equal(r.kind, 'Receipt');
      const pemA = await get(a, `${path}/receipt/certificate`, TOKEN_A);
      assert.ok(new X509Certificate(pemA.body).raw.equals(credsB.signing.certificate.raw));
      // Each AP keeps only its own side.
      assert.equal((await get(a, `${path}/user-message`, TOKEN_A)).status, 404);
      assert.equal((await get(b, `${path}/receipt`, TOKEN_B)).status, 404);
    });

    it('a duplicate adds no evidence', async () => {
      const { b, storeB } = await pair();
      const messageId = `${randomUUID()}@test.ehmi`;
      const built = await buildOutboundMessage({
        messageId,
        timestamp: new Date(),
        sender: A,
        receiver: B,
        process: PROCESS,
        documentType: DOCUMENT_TYPE,
        serviceType: 'dk-medcom-messaging',
        payload: bytes(envelope(messageId)),
        signing: { privateKey: credsA.signing.privateKey, chain: [credsA.signing.certificate] },
        recipientCertificate: credsB.signing.certificate,
      });
      const body = await collect(built.body);
      const first = await post(client, b.as4Url, built.contentType, body);
      const second = await post(client, b.as4Url, built.contentType, body);
      assert.equal(first.status, 200);
      assert.equal(second.body, first.body);
      const rows = await storeB.store.db.selectFrom('ap_evidence').select(['message_id', 'kind']).execute();
      assert.deepEqual(rows, [{ message_id: messageId, kind: 'user-message' }]);
    });

    it('the evidence API needs the bearer token: 401 without it or with another, 200 with it', async () => {
      const { a, b } = await pair();
      const id = await send(a, b);
      const path = `/evidence/${encodeURIComponent(id)}`;
      assert.equal((await get(b, path)).status, 401);
      assert.equal((await get(b, path, TOKEN_A)).status, 401);
      assert.equal((await get(b, `${path}/user-message`)).status, 401);
      assert.equal((await get(b, `${path}/user-message/certificate`)).status, 401);
      assert.equal((await get(b, path, TOKEN_B)).status, 200);
      assert.equal((await get(b, '/evidence/nothing-here', TOKEN_B)).status, 404);
      assert.equal((await get(b, `${path}/other-kind`, TOKEN_B)).status, 400);
      const doc = JSON.parse((await get(b, '/openapi.json')).body.toString('utf8')) as {
        paths: Record<string, unknown>;
      };
      assert.ok(doc.paths['/evidence/{messageId}/{kind}/certificate']);
    });

    it('without ap.adminToken the evidence API refuses every request', async () => {
      const { a, b } = await pair({ tokenB: false });
      const id = await send(a, b);
      assert.equal((await get(b, `/evidence/${encodeURIComponent(id)}`, TOKEN_B)).status, 401);
      assert.equal((await get(b, `/evidence/${encodeURIComponent(id)}`)).status, 401);
    });

    it('retention removes evidence older than ap.evidenceRetentionDays', async () => {
      const clock = new TestClock();
      const { a, b, storeA, storeB } = await pair({ now: clock.now });
      await send(a, b);
      const count = async (s: TestStore) =>
        (await s.store.db.selectFrom('ap_evidence').select('message_id').execute()).length;
      assert.equal(await count(storeA), 1);
      assert.equal(await count(storeB), 1);
      clock.advance(3650 * DAY);
      await a.sweep();
      await b.sweep();
      assert.equal(await count(storeA), 1, 'not before');
      assert.equal(await count(storeB), 1, 'not before');
      await a.sweep(clock.now() + 1);
      await b.sweep(clock.now() + 1);
      assert.equal(await count(storeA), 0);
      assert.equal(await count(storeB), 0);
    });

    it('refuses to start with ap.evidenceRetentionDays shorter than ap.duplicateRetentionDays', async () => {
      const s = await openStore();
      await assert.rejects(
        startAp({
          store: s.store,
          dataDir: s.dataDir,
          pki,
          gln: GLN_B,
          creds: credsB,
          backend: new RecordingBackend(),
          ap: { evidenceRetentionDays: 10, duplicateRetentionDays: 30 },
        }),
        /ap\.evidenceRetentionDays/,
      );
    });
  });
}
