import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  addTimestamp,
  buildUserMessage,
  compressAttachment,
  EBMS_URI,
  encryptAttachments,
  type MessagePartReference,
  parseEnvelope,
  parseMessaging,
  signEnvelope,
  verifyReceipt,
  writeAs4Message,
} from '@ehmi/as4';
import { EhmiError } from '@ehmi/errors';
import { type Credential, issueCertificate } from '@ehmi/pki';
import { Agent } from 'undici';
import { type AccessPoint, buildOutboundMessage } from '../../src/ap/index.ts';
import { PARTICIPANT_SCHEME, sendingPMode } from '../../src/ap/message.ts';
import {
  type Alongside,
  type ByteSource,
  type DiscoveredEndpoint,
  type InboundEnvelope,
  type OutboundOutcome,
  type PreparedDelivery,
  type ReceiverDiscovery,
  runAlongside,
} from '../../src/contract.ts';
import type { ConfigInput } from '../../src/role-list.ts';
import { type NodeTables, openNodeStore } from '../../src/role-list.ts';
import type { Store } from '../../src/store/index.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import {
  type ApCredentials,
  bytes,
  collect,
  createPki,
  DOCUMENT_TYPE,
  ebmsCodeIn,
  freePort,
  GLN_A,
  GLN_B,
  issueApCredentials,
  PROCESS,
  post,
  RecordingBackend,
  runToEnd,
  startAp,
  startApPair,
  TestClock,
  type TestPki,
  testClient,
  waitFor,
} from './helpers.ts';

const A = `0088:${GLN_A}`;
const B = `0088:${GLN_B}`;
const envelope = (n: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><StandardBusinessDocument xmlns="http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"><n>${n}</n></StandardBusinessDocument>`;

for (const engine of engines()) {
  describe(`access point (${engine.name})`, { skip: engine.skip }, () => {
    let dir: string;
    let pki: TestPki;
    let credsA: ApCredentials;
    let credsB: ApCredentials;
    const cleanups: (() => Promise<void>)[] = [];

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ehmi-ap-'));
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

    type Where = { store: Store<NodeTables>; dataDir: string };
    type Extra = { ap?: ConfigInput['ap']; discovery?: ReceiverDiscovery; now?: () => number };
    /** An access point of this suite (A sends, B receives), closed when the suite ends. */
    async function start(gln: string, at: Where, backend: RecordingBackend, extra: Extra = {}) {
      const ap = await startAp({
        ...at,
        pki,
        gln,
        creds: gln === GLN_A ? credsA : credsB,
        backend,
        ...extra,
      });
      cleanups.push(() => ap.close());
      return ap;
    }
    const startA = (at: Where, backend: RecordingBackend, extra?: Extra) => start(GLN_A, at, backend, extra);
    const startB = (at: Where, backend: RecordingBackend, extra?: Extra) => start(GLN_B, at, backend, extra);
    /** A's static discovery map: `participant` (default B) at `url`, with B's certificate. */
    const sendTo = (url: string, participant = B): ConfigInput['ap'] => ({
      discovery: { static: { [participant]: { url, certificate: credsB.files.signingCert } } },
    });

    /** Receiver B, then sender A whose static discovery map points at B (or at `bUrl`). */
    async function pair(
      options: { bUrl?: string; aSend?: Record<string, number>; startB?: boolean; now?: () => number } = {},
    ) {
      const storeA = await openStoreFor();
      const storeB = await openStoreFor();
      const started = await startApPair({
        pki,
        a: { store: storeA.store, dataDir: storeA.dataDir, creds: credsA },
        b: { store: storeB.store, dataDir: storeB.dataDir, creds: credsB },
        ...(options.bUrl ? { bUrl: options.bUrl } : {}),
        ...(options.startB === false ? { startB: false } : {}),
        ...(options.aSend ? { aAp: { send: options.aSend } } : {}),
        ...(options.now ? { now: options.now } : {}),
      });
      const { a, b } = started;
      if (b) cleanups.push(() => b.close());
      cleanups.push(() => a.close());
      return { ...started, storeA, storeB };
    }

    async function submit(
      a: AccessPoint,
      content: ByteSource,
      extra: { receiver?: string; submissionId?: string } = {},
    ) {
      return a.gateway.submit({
        submissionId: extra.submissionId ?? randomUUID(),
        sender: A,
        receiver: extra.receiver ?? B,
        documentType: DOCUMENT_TYPE,
        process: PROCESS,
        envelope: content,
        trackingIdentifier: 'track-1',
      });
    }

    /** An AS4 message as A would send it to B, for posting by hand (and tampering). */
    async function message(
      options: {
        signing?: Credential;
        receiver?: string;
        payload?: ByteSource;
        process?: string;
        documentType?: string;
        serviceType?: string | undefined;
      } = {},
    ) {
      const messageId = `${randomUUID()}@test.ehmi`;
      const signing = options.signing ?? credsA.signing;
      const built = await buildOutboundMessage({
        messageId,
        timestamp: new Date(),
        sender: A,
        receiver: options.receiver ?? B,
        process: options.process ?? PROCESS,
        documentType: options.documentType ?? DOCUMENT_TYPE,
        ...('serviceType' in options
          ? options.serviceType
            ? { serviceType: options.serviceType }
            : {}
          : { serviceType: 'dk-medcom-messaging' }),
        payload: options.payload ?? bytes(envelope(messageId)),
        signing: { privateKey: signing.privateKey, chain: [signing.certificate] },
        recipientCertificate: credsB.signing.certificate,
      });
      return {
        messageId,
        contentType: built.contentType,
        body: await collect(built.body),
        references: built.references,
      };
    }

    /**
     * An AS4 message as A would send it, but with a signed wsu:Timestamp (as some access points add): Created at
     * `created`, Expires 300 s later.
     */
    async function timestamped(created: number) {
      const messageId = `${randomUUID()}@test.ehmi`;
      const pmode = sendingPMode({
        sender: A,
        receiver: B,
        process: PROCESS,
        documentType: DOCUMENT_TYPE,
        serviceType: 'dk-medcom-messaging',
      });
      const payload = Buffer.from(envelope(messageId));
      const contentId = `payload-${randomUUID()}@test`;
      const { attachment, partProperties } = compressAttachment(
        {
          contentId,
          headers: { 'content-type': 'application/xml' },
          open: () => Readable.from([payload]),
          size: payload.length,
        },
        { mimeType: 'application/xml' },
      );
      const built = buildUserMessage(
        {
          messageId,
          messageProperties: [
            { name: 'originalSender', value: A, type: PARTICIPANT_SCHEME },
            { name: 'finalRecipient', value: B, type: PARTICIPANT_SCHEME },
          ],
          payloadInfo: [{ href: `cid:${contentId}`, partProperties }],
        },
        pmode,
      );
      addTimestamp(built.document, { clock: () => new Date(created), ttlSeconds: 300 });
      const signed = await signEnvelope(built.document, [attachment], {
        privateKey: credsA.signing.privateKey,
        certificate: [credsA.signing.certificate],
        tokenReference: 'BinarySecurityToken',
        bstValueType: 'X509PKIPathv1',
      });
      const encrypted = await encryptAttachments(built.document, [attachment], {
        recipientCertificate: credsB.signing.certificate,
      });
      const written = writeAs4Message(built.document, encrypted.attachments);
      return {
        messageId,
        contentType: written.contentType,
        body: await collect(written.body),
        references: signed.references.map(({ uri, transforms, digestMethod, digestValue }) => ({
          uri,
          transforms,
          digestMethod,
          digestValue,
        })),
      };
    }

    async function receiverOnly() {
      const store = await openStoreFor();
      const backend = new RecordingBackend();
      const b = await startB(store, backend);
      const client = testClient(pki, credsA);
      cleanups.push(() => client.close());
      return { b, store, backend, client };
    }

    it('an MSH on the AP’s store is told the outcome in the commit that ends the send; one that fails then gets it by the outcome job', async () => {
      /** A recording MSH on A's own store: it commits the AP's part with its record, as the real MSH does. */
      class SharingBackend extends RecordingBackend {
        failures = 0;
        constructor(readonly store: Store<NodeTables>) {
          super();
        }
        sharesStore(db: unknown): boolean {
          return db === this.store.db;
        }
        override async outcome(outcome: OutboundOutcome, part?: Alongside): Promise<void> {
          await this.store.transaction(async (trx) => {
            await runAlongside(part, this.store.db, trx, undefined);
            if (this.failures > 0) {
              this.failures--;
              throw new Error('the MSH cannot take it now (test)');
            }
          });
          this.outcomes.push(outcome);
        }
      }
      const storeB = await openStoreFor();
      const b = await startB(storeB, new RecordingBackend());
      const storeA = await openStoreFor();
      const backendA = new SharingBackend(storeA.store);
      const a = await startA(storeA, backendA, { ap: sendTo(b.as4Url) });
      const outcomeJobs = () =>
        storeA.store.db.selectFrom('jobs').select(['status']).where('queue', '=', 'ap.outcome').execute();
      const first = await submit(a, bytes(envelope('told in the send’s commit')));
      const told = await waitFor('outcome', () => backendA.outcomes[0]);
      assert.deepEqual([told.as4MessageId, told.status], [first.as4MessageId, 'sent']);
      const row = await storeA.store.db
        .selectFrom('ap_outbound')
        .selectAll()
        .where('submission_id', '=', first.submissionId)
        .executeTakeFirstOrThrow();
      assert.equal(row.status, 'sent');
      assert.notEqual(row.outcome_at, null, 'noted told, in the same commit');
      assert.notEqual(row.receipt, null);
      assert.deepEqual(await outcomeJobs(), [], 'no outcome job');
      // The MSH fails once: the send's end commits on its own with the outcome job, which tells it after.
      backendA.failures = 1;
      const second = await submit(a, bytes(envelope('told by the job')));
      const later = await waitFor('second outcome', () => backendA.outcomes[1]);
      assert.deepEqual([later.as4MessageId, later.status], [second.as4MessageId, 'sent']);
      await a.idle({ drained: true });
      assert.deepEqual(await outcomeJobs(), [{ status: 'done' }]);
      assert.equal(backendA.outcomes.length, 2, 'each outcome told once');
    });

    it('an MSH on the receiving AP’s store takes a message in the reception’s commit; one that fails there gets it by the hand-over job', async () => {
      /** A recording MSH on B's own store that takes what it is given in the AP's commit, writing a marker row there. */
      class TakingBackend extends RecordingBackend {
        readonly taken: string[] = [];
        failures = 0;
        constructor(readonly store: Store<NodeTables>) {
          super();
        }
        sharesStore(db: unknown): boolean {
          return db === this.store.db;
        }
        async prepareDelivery(inbound: InboundEnvelope): Promise<PreparedDelivery> {
          const marker = `sha256:marker-${inbound.as4MessageId}`;
          return {
            take: async (trx) => {
              await trx.insertInto('blobs').values({ hash: marker, size: 0, created_at: 0 }).execute();
              if (this.failures > 0) {
                this.failures--;
                throw new Error('the MSH cannot take it now (test)');
              }
              this.taken.push(inbound.as4MessageId);
            },
          };
        }
      }
      const storeB = await openStoreFor();
      const backendB = new TakingBackend(storeB.store);
      const b = await startB(storeB, backendB);
      const storeA = await openStoreFor();
      const a = await startA(storeA, new RecordingBackend(), { ap: sendTo(b.as4Url) });
      const received = (id: string) =>
        storeB.store.db
          .selectFrom('ap_received')
          .select(['status', 'delivered_at'])
          .where('message_id', '=', id)
          .executeTakeFirst();
      const marker = (id: string) =>
        storeB.store.db
          .selectFrom('blobs')
          .select('hash')
          .where('hash', '=', `sha256:marker-${id}`)
          .execute();
      const deliverJobs = () =>
        storeB.store.db.selectFrom('jobs').select(['status']).where('queue', '=', 'ap.deliver').execute();
      const sentRow = async (id: string) => {
        const row = await waitFor('sent', async () => {
          const r = await storeA.store.db
            .selectFrom('ap_outbound')
            .selectAll()
            .where('as4_message_id', '=', id)
            .executeTakeFirst();
          return r?.status === 'sent' ? r : undefined;
        });
        return row;
      };
      const first = await submit(a, bytes(envelope('taken in the reception')));
      // The AS4 receipt comes back once B committed: by then the MSH has it, the row is delivered, no job.
      assert.match((await sentRow(first.as4MessageId)).receipt ?? '', /Receipt/);
      assert.deepEqual(backendB.taken, [first.as4MessageId]);
      assert.equal((await received(first.as4MessageId))?.status, 'delivered');
      assert.equal(
        (await marker(first.as4MessageId)).length,
        1,
        'the MSH’s write committed with the reception',
      );
      assert.deepEqual(await deliverJobs(), [], 'no hand-over job');
      assert.equal(backendB.calls.length, 0, 'deliver not called');
      // The MSH fails in the commit: its part is rolled back, the reception commits and is receipted as ever, and the
      // hand-over job delivers the message.
      backendB.failures = 1;
      const second = await submit(a, bytes(envelope('handed over by the job')));
      assert.match((await sentRow(second.as4MessageId)).receipt ?? '', /Receipt/);
      const got = await waitFor('delivery by the job', () => backendB.delivered.get(second.as4MessageId));
      assert.equal(got.bytes?.toString('utf8'), envelope('handed over by the job'));
      await waitFor('delivered row', async () =>
        (await received(second.as4MessageId))?.status === 'delivered' ? true : undefined,
      );
      assert.deepEqual(await marker(second.as4MessageId), [], 'the MSH’s part rolled back');
      assert.deepEqual(backendB.taken, [first.as4MessageId]);
      await b.idle({ drained: true });
      assert.deepEqual(await deliverJobs(), [{ status: 'done' }]);
      assert.equal(backendB.calls.length, 1, 'delivered once');
    });

    it('a message goes A→B: B’s MSH gets the exact envelope bytes, A’s MSH gets outcome sent (sync signed receipt)', async () => {
      const { a, backendA, backendB, storeA, storeB } = await pair();
      const content = envelope('hello');
      const accepted = await submit(a, bytes(content), { submissionId: 'sub-1' });
      // Idempotent on submissionId: the same AS4 MessageId, nothing queued twice.
      assert.deepEqual(await submit(a, bytes(content), { submissionId: 'sub-1' }), accepted);
      const outcome = await waitFor('outcome', () =>
        backendA.outcomes.find((o) => o.submissionId === 'sub-1'),
      );
      assert.equal(outcome.status, 'sent');
      assert.equal(outcome.as4MessageId, accepted.as4MessageId);
      const got = await waitFor('delivery', () => backendB.delivered.get(accepted.as4MessageId));
      assert.equal(got.bytes?.toString('utf8'), content);
      assert.equal(got.sender, A);
      assert.equal(got.receiver, B);
      assert.equal(got.process, PROCESS);
      assert.equal(got.documentType, DOCUMENT_TYPE);
      const rowA = await storeA.store.db.selectFrom('ap_outbound').selectAll().executeTakeFirstOrThrow();
      assert.equal(rowA.status, 'sent');
      assert.equal(rowA.attempts, 1);
      assert.match(rowA.receipt ?? '', /Receipt/);
      await waitFor('delivered row', async () => {
        const row = await storeB.store.db.selectFrom('ap_received').selectAll().executeTakeFirst();
        return row?.status === 'delivered' ? row : undefined;
      });
      assert.equal(backendB.calls.length, 1);
      assert.equal(backendA.outcomes.length, 1);
    });

    it('a small envelope of the AP’s store whose row lost its content: submit fails at once (no wait on the store), nothing is queued; an intact one goes', {
      // Reading the store inside the AP's own transaction waited for ever on SQLite (one connection): a hang fails here.
      timeout: 20_000,
    }, async () => {
      const { a, backendA, storeA } = await pair();
      const blobs = storeA.store.blobs;
      /** The envelope as the MSH hands it over: a blob of the shared store, named by hash, opened from the store. */
      const stored = async (content: string): Promise<ByteSource> => {
        const ref = await blobs.put(content);
        assert.ok(blobs.inRow(ref.size), 'a small blob, kept in its row');
        return { ...ref, open: () => blobs.open(ref) };
      };
      const lost = await stored(envelope('its row lost its content'));
      await storeA.store.db
        .updateTable('blobs')
        .set({ content: null })
        .where('hash', '=', lost.hash!)
        .execute();
      await assert.rejects(
        submit(a, lost, { submissionId: 'lost' }),
        (err: unknown) => err instanceof EhmiError && err.code === 'EHMI_BLOB_NOT_FOUND',
      );
      assert.deepEqual(await storeA.store.db.selectFrom('ap_outbound').select('submission_id').execute(), []);
      assert.deepEqual(await storeA.store.db.selectFrom('jobs').select('queue').execute(), []);
      const intact = await stored(envelope('intact'));
      const accepted = await submit(a, intact, { submissionId: 'intact' });
      const outcome = await waitFor('outcome', () =>
        backendA.outcomes.find((o) => o.submissionId === 'intact'),
      );
      assert.deepEqual([outcome.as4MessageId, outcome.status], [accepted.as4MessageId, 'sent']);
      assert.equal(backendA.outcomes.length, 1);
    });

    it('reception awareness: the receiver is down for a while; retries back off exponentially (on the AP’s clock) and the message arrives with the same MessageId once it is up', async () => {
      const port = await freePort();
      const url = `https://127.0.0.1:${port}/as4`;
      const clock = new TestClock();
      const { a, storeA, storeB, backendA, backendB } = await pair({
        bUrl: url,
        startB: false,
        aSend: { maxAttempts: 50, backoffBaseMs: 60_000, backoffMaxMs: 600_000 },
        now: clock.now,
      });
      const accepted = await submit(a, bytes(envelope('later')));
      const attempts = async () =>
        (await storeA.store.db.selectFrom('ap_outbound').select('attempts').executeTakeFirstOrThrow())
          .attempts;
      let next: number | undefined;
      for (let attempt = 1; attempt <= 3; attempt++) {
        if (next !== undefined) clock.set(next);
        // The attempt failed; the retry waits out its back-off: base · 2^(attempt−1), ±10% jitter.
        ({ next } = await a.idle());
        assert.equal(await attempts(), attempt);
        assert.ok(next !== undefined, 'a retry waits');
        const backoff = next - clock.now();
        const expected = 60_000 * 2 ** (attempt - 1);
        assert.ok(backoff >= expected * 0.9 && backoff <= expected * 1.1, `back-off ${backoff} ms`);
        clock.set(next - 1);
        assert.deepEqual(await a.idle(), { next }, 'not retried before its back-off');
        assert.equal(await attempts(), attempt);
      }
      assert.equal(backendA.outcomes.length, 0);
      await startB(storeB, backendB, { ap: { port } });
      clock.set(next!);
      await runToEnd(a, clock);
      const outcome = backendA.outcomes[0];
      assert.equal(outcome?.status, 'sent');
      assert.equal(outcome.as4MessageId, accepted.as4MessageId);
      assert.equal(await attempts(), 4);
      const got = await waitFor('delivery', () => backendB.delivered.get(accepted.as4MessageId));
      assert.equal(got.bytes?.toString('utf8'), envelope('later'));
      assert.equal(backendB.calls.length, 1);
    });

    it('duplicate detection (AS4 1.15 §3.3): the same message posted twice is delivered once; both responses carry the same receipt', async () => {
      const { b, backend, client, store } = await receiverOnly();
      const m = await message();
      const first = await post(client, b.as4Url, m.contentType, m.body);
      const second = await post(client, b.as4Url, m.contentType, m.body);
      assert.equal(first.status, 200);
      assert.equal(second.status, 200);
      assert.equal(second.body, first.body);
      // The receipt is signed by B and acknowledges what A signed.
      await verifyReceipt(
        first.body,
        { messageId: m.messageId, references: m.references },
        { trust: () => true },
      );
      // Two at once: one commits, the other gets its receipt.
      const n = await message();
      const [x, y] = await Promise.all([
        post(client, b.as4Url, n.contentType, n.body),
        post(client, b.as4Url, n.contentType, n.body),
      ]);
      assert.equal(x.status, 200);
      assert.equal(x.body, y.body);
      assert.deepEqual(await b.idle({ drained: true }), { next: undefined });
      assert.equal(backend.delivered.size, 2);
      assert.equal(backend.calls.length, 2);
      const rows = await store.store.db.selectFrom('ap_received').select('message_id').execute();
      assert.equal(rows.length, 2);
      // The counters as /metrics shows them (to the operator: metrics-access.ts).
      const metrics = await b.app.metrics.metrics();
      assert.match(metrics, /ehmi_ap_received_total\{result="duplicate",service="ap"\} 2/);
      assert.match(metrics, /ehmi_ap_received_total\{result="receipt",service="ap"\} 2/);
    });

    it('a receipt lost on the way back: the retry gets the first receipt, which matches the first attempt (NRI)', async () => {
      const storeB = await openStoreFor();
      const backendB = new RecordingBackend();
      const b = await startB(storeB, backendB);
      // A TCP proxy that, on the first connection, lets the request through and cuts the line when the answer comes.
      const bPort = Number(new URL(b.url).port);
      let connections = 0;
      const proxy = createNetServer((client) => {
        const first = connections++ === 0;
        const upstream = connect(bPort, '127.0.0.1');
        let sent = 0;
        client.on('data', (d: Buffer) => {
          sent += d.length;
          upstream.write(d);
        });
        upstream.on('data', (d: Buffer) => {
          if (first && sent > 40_000) {
            client.destroy();
            upstream.destroy();
          } else client.write(d);
        });
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.end());
        upstream.on('close', () => client.end());
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => new Promise((resolve) => proxy.close(() => resolve())));
      const proxyPort = (proxy.address() as { port: number }).port;
      const storeA = await openStoreFor();
      const backendA = new RecordingBackend();
      const a = await startA(storeA, backendA, { ap: sendTo(`https://127.0.0.1:${proxyPort}/as4`) });
      // Incompressible, so the request is well past the proxy's threshold.
      const accepted = await submit(a, bytes(randomBytes(60_000).toString('base64')));
      const outcome = await waitFor('outcome', () => backendA.outcomes[0]);
      assert.equal(outcome.status, 'sent', outcome.reason);
      const row = await storeA.store.db.selectFrom('ap_outbound').selectAll().executeTakeFirstOrThrow();
      assert.equal(row.attempts, 2);
      // The stored receipt acknowledges the first transmission, not the second.
      const [firstRefs, secondRefs] = JSON.parse(row.sent_references) as MessagePartReference[][];
      const { signal } = await verifyReceipt(
        row.receipt!,
        { messageId: accepted.as4MessageId, references: firstRefs! },
        { trust: () => true },
      );
      assert.equal(signal.messageInfo.refToMessageId, accepted.as4MessageId);
      await assert.rejects(
        verifyReceipt(
          row.receipt!,
          { messageId: accepted.as4MessageId, references: secondRefs! },
          { trust: () => true },
        ),
        { ebmsCode: 'EBMS:0302' },
      );
      await b.idle({ drained: true });
      assert.ok(backendB.delivered.get(accepted.as4MessageId));
      assert.equal(backendB.calls.length, 1);
    });

    it('messages to the same access point share one kept-alive TLS connection: one handshake, not one per message', async () => {
      const storeB = await openStoreFor();
      const backendB = new RecordingBackend();
      const b = await startB(storeB, backendB);
      // Each TCP connection through this proxy is one TLS handshake with B.
      const bPort = Number(new URL(b.url).port);
      let connections = 0;
      const proxy = createNetServer((client) => {
        connections++;
        const upstream = connect(bPort, '127.0.0.1');
        client.pipe(upstream).pipe(client);
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => new Promise((resolve) => proxy.close(() => resolve())));
      const proxyPort = (proxy.address() as { port: number }).port;
      const storeA = await openStoreFor();
      const backendA = new RecordingBackend();
      const a = await startA(storeA, backendA, { ap: sendTo(`https://127.0.0.1:${proxyPort}/as4`) });
      for (let i = 1; i <= 5; i++) {
        await submit(a, bytes(envelope(`kept-alive ${i}`)));
        const outcome = await waitFor(`outcome ${i}`, () => backendA.outcomes[i - 1]);
        assert.equal(outcome.status, 'sent', outcome.reason);
      }
      assert.equal(connections, 1);
    });

    it('duplicate detection is shared by two instances on one database: concurrent posts deliver once', async () => {
      const first = await receiverOnly();
      const store2 = await openNodeStore({ ...first.store.connection, poolSize: 4 });
      cleanups.push(() => store2.close());
      const backend2 = new RecordingBackend();
      const b2 = await startB({ store: store2, dataDir: first.store.dataDir }, backend2);
      for (let i = 0; i < 3; i++) {
        const m = await message();
        const [x, y] = await Promise.all([
          post(first.client, first.b.as4Url, m.contentType, m.body),
          post(first.client, b2.as4Url, m.contentType, m.body),
        ]);
        assert.equal(x.status, 200, x.body);
        assert.equal(y.status, 200, y.body);
        assert.equal(x.body, y.body);
      }
      await Promise.all([first.b.idle({ drained: true }), b2.idle({ drained: true })]);
      assert.equal(first.backend.delivered.size + backend2.delivered.size, 3);
      assert.equal(first.backend.calls.length + backend2.calls.length, 3);
    });

    it('EBMS:0101 for a payload changed after signing; EBMS:0102 for a changed ciphertext byte; nothing delivered', async () => {
      const { b, backend, client, store } = await receiverOnly();
      // Random text that gzips to more than the 64 KiB a compressed part is kept at: signing reads the payload first,
      // and the MIME body is gzipped from a second read (a smaller part is gzipped once, and this cannot happen).
      const filler = randomBytes(96 * 1024).toString('base64');
      const original = Buffer.from(envelope(`original ${filler}`));
      let opened = 0;
      const m = await message({
        payload: {
          open: () =>
            Readable.from([opened++ === 0 ? original : Buffer.from(envelope(`tampered ${filler}`))]),
        },
      });
      assert.equal(opened, 2);
      const r1 = await post(client, b.as4Url, m.contentType, m.body);
      assert.equal(r1.status, 400);
      assert.equal(ebmsCodeIn(r1.body), 'EBMS:0101');
      assert.match(r1.body, new RegExp(`refToMessageInError="${m.messageId}"`));

      const n = await message();
      const body = Buffer.from(n.body);
      const partStart = body.indexOf('Content-ID: <payload-');
      const dataStart = body.indexOf('\r\n\r\n', partStart) + 4;
      body[dataStart + 40] = body[dataStart + 40]! ^ 0x01;
      const r2 = await post(client, b.as4Url, n.contentType, body);
      assert.equal(ebmsCodeIn(r2.body), 'EBMS:0102');
      assert.doesNotMatch(r2.body, /Receipt/);
      assert.deepEqual(await b.idle({ drained: true }), { next: undefined });
      assert.equal(backend.calls.length, 0);
      assert.equal((await store.store.db.selectFrom('ap_received').select('message_id').execute()).length, 0);
    });

    it('a commit that fails (database gone) is answered with an error naming the message, never a receipt', async () => {
      const { b, client, store } = await receiverOnly();
      const m = await message();
      await store.store.close();
      const r = await post(client, b.as4Url, m.contentType, m.body);
      assert.ok(r.status >= 500, String(r.status));
      assert.equal(ebmsCodeIn(r.body), 'EBMS:0004');
      assert.match(r.body, new RegExp(`refToMessageInError="${m.messageId}"`));
      assert.doesNotMatch(r.body, /Receipt/);
    });

    it('the AS4 limits apply to /as4, not the server body limit: over ap.limits.maxTotalBytes → 413 EBMS:0004', async () => {
      const store = await openStoreFor();
      const backend = new RecordingBackend();
      const b = await startB(store, backend, { ap: { limits: { maxTotalBytes: 64 * 1024 } } });
      const client = testClient(pki, credsA);
      cleanups.push(() => client.close());
      const small = await message();
      assert.equal((await post(client, b.as4Url, small.contentType, small.body)).status, 200);
      const big = await message({ payload: bytes(randomBytes(80 * 1024).toString('base64')) });
      assert.ok(big.body.length > 64 * 1024);
      const r = await post(client, b.as4Url, big.contentType, big.body);
      assert.equal(r.status, 413);
      assert.equal(ebmsCodeIn(r.body), 'EBMS:0004');
      assert.match(r.body, /EHMI_TOO_LARGE/);
      assert.deepEqual(await b.idle({ drained: true }), { next: undefined });
      assert.equal(backend.delivered.size, 1);
      assert.equal(backend.calls.length, 1);
    });

    it('ap.requireClientCertificate: a peer without a client certificate chaining to tls.ca is refused in TLS', async () => {
      const { b } = await receiverOnly();
      const m = await message();
      const anonymous = new Agent({ connect: { ca: [pki.root.certificatePem] } });
      cleanups.push(() => anonymous.close());
      await assert.rejects(post(anonymous, b.as4Url, m.contentType, m.body));
      const stranger = await issueCertificate(pki.other, {
        subject: 'CN=stranger.localhost',
        purposes: ['tls-client'],
      });
      const strangerAgent = new Agent({
        connect: {
          ca: [pki.root.certificatePem],
          cert: stranger.certificatePem,
          key: stranger.privateKeyPem,
        },
      });
      cleanups.push(() => strangerAgent.close());
      await assert.rejects(post(strangerAgent, b.as4Url, m.contentType, m.body));
    });

    it('the receiver checks a signed wsu:Timestamp on its own clock (expired → EBMS:0101) and dates its receipt by it', async () => {
      const store = await openStoreFor();
      const backend = new RecordingBackend();
      const clock = new TestClock();
      const b = await startB(store, backend, { now: clock.now });
      const client = testClient(pki, credsA);
      cleanups.push(() => client.close());
      const created = clock.now();
      const m = await timestamped(created);
      // Expires is Created + 300 s, and 300 s of clock skew are tolerated: expired from Created + 600 s on.
      clock.set(created + 600_000);
      const late = await post(client, b.as4Url, m.contentType, m.body);
      assert.equal(late.status, 400);
      assert.equal(ebmsCodeIn(late.body), 'EBMS:0101');
      assert.match(late.body, /expired/);
      clock.set(created + 599_999);
      const inTime = await post(client, b.as4Url, m.contentType, m.body);
      assert.equal(inTime.status, 200, inTime.body);
      const { signal } = await verifyReceipt(
        inTime.body,
        { messageId: m.messageId, references: m.references },
        { trust: () => true },
      );
      assert.equal(new Date(signal.messageInfo.timestamp).getTime(), created + 599_999);
      await runToEnd(b, clock);
      assert.equal(backend.calls.length, 1);
      const row = await store.store.db.selectFrom('ap_received').selectAll().executeTakeFirstOrThrow();
      assert.equal(row.received_at, created + 599_999);
      assert.equal(row.delivered_at, created + 599_999);
    });

    it('EBMS:0101 when eb:Messaging was changed after signing', async () => {
      const { b, backend, client } = await receiverOnly();
      const m = await message();
      // originalSender changed: the signed eb:Messaging no longer matches its digest.
      const tampered = Buffer.from(
        m.body.toString('latin1').replace(`>${A}</eb:Property>`, '>0088:5790000000099</eb:Property>'),
        'latin1',
      );
      assert.notDeepEqual(tampered, m.body);
      const r = await post(client, b.as4Url, m.contentType, tampered);
      assert.equal(ebmsCodeIn(r.body), 'EBMS:0101');
      assert.match(r.body, /digest|[Ss]ignature/);
      assert.deepEqual(await b.idle({ drained: true }), { next: undefined });
      assert.equal(backend.calls.length, 0);
    });

    it('EBMS:0101 when the sender’s signing certificate comes from another CA', async () => {
      const { b, backend, client } = await receiverOnly();
      const stranger = await issueApCredentials(pki, 'stranger', { ca: pki.other });
      const m = await message({ signing: stranger.signing });
      const r = await post(client, b.as4Url, m.contentType, m.body);
      assert.equal(r.status, 400);
      assert.equal(ebmsCodeIn(r.body), 'EBMS:0101');
      assert.match(r.body, /does not chain to a trust anchor/);
      assert.deepEqual(await b.idle({ drained: true }), { next: undefined });
      assert.equal(backend.calls.length, 0);
    });

    it('EBMS:0010 when the message is for another participant; at the sender that is final at once', async () => {
      const { b, backend, client } = await receiverOnly();
      const m = await message({ receiver: '0088:5790000000099' });
      const r = await post(client, b.as4Url, m.contentType, m.body);
      assert.equal(ebmsCodeIn(r.body), 'EBMS:0010');
      assert.match(r.body, /5790000000099/);
      // Through a sending AP: the error is permanent, no retries.
      const storeA = await openStoreFor();
      const backendA = new RecordingBackend();
      const a = await startA(storeA, backendA, { ap: sendTo(b.as4Url, '0088:5790000000099') });
      await submit(a, bytes(envelope('misaddressed')), { receiver: '0088:5790000000099' });
      const outcome = await waitFor('outcome', () => backendA.outcomes[0]);
      assert.equal(outcome.status, 'failed');
      assert.equal(outcome.ebmsCode, 'EBMS:0010');
      const row = await storeA.store.db.selectFrom('ap_outbound').selectAll().executeTakeFirstOrThrow();
      assert.equal(row.attempts, 1);
      assert.equal(backend.calls.length, 0);
    });

    it('the AS4 test service is receipted and never delivered (eDelivery AS4 1.15 §2.2.3.2)', async () => {
      const { b, backend, client, store } = await receiverOnly();
      const m = await message({
        process: EBMS_URI.testService,
        documentType: EBMS_URI.testAction,
        serviceType: undefined,
      });
      const r = await post(client, b.as4Url, m.contentType, m.body);
      assert.equal(r.status, 200);
      const { signal } = await verifyReceipt(
        r.body,
        { messageId: m.messageId, references: m.references },
        { trust: () => true },
      );
      assert.equal(signal.messageInfo.refToMessageId, m.messageId);
      assert.deepEqual(await b.idle({ drained: true }), { next: undefined });
      assert.equal(backend.calls.length, 0);
      const row = await store.store.db.selectFrom('ap_received').selectAll().executeTakeFirstOrThrow();
      assert.equal(row.status, 'test');
      assert.equal(
        await store.store.db
          .selectFrom('jobs')
          .select('id')
          .where('queue', '=', 'ap.deliver')
          .executeTakeFirst(),
        undefined,
      );
    });

    it('EBMS:0301 MissingReceipt after maxAttempts against a dead endpoint (MissingReceiptNotifyProducer)', async () => {
      const port = await freePort();
      const clock = new TestClock();
      const { a, backendA, storeA } = await pair({
        bUrl: `https://127.0.0.1:${port}/as4`,
        startB: false,
        aSend: { maxAttempts: 3, backoffBaseMs: 60_000, backoffMaxMs: 600_000 },
        now: clock.now,
      });
      const accepted = await submit(a, bytes(envelope('nobody home')));
      await runToEnd(a, clock);
      const outcome = backendA.outcomes[0]!;
      assert.equal(backendA.outcomes.length, 1);
      assert.equal(outcome.status, 'failed');
      assert.equal(outcome.ebmsCode, 'EBMS:0301');
      assert.equal(outcome.as4MessageId, accepted.as4MessageId);
      assert.match(outcome.reason ?? '', /3 attempts/);
      const row = await storeA.store.db.selectFrom('ap_outbound').selectAll().executeTakeFirstOrThrow();
      assert.equal(row.attempts, 3);
      assert.equal(JSON.parse(row.sent_references).length, 3);
    });

    it('discovery: not registered fails at once; a failed lookup is retried', async () => {
      const { b, backend } = await receiverOnly();
      let failures = 2;
      const discovery: ReceiverDiscovery = {
        // A only sends here: no one's messages are checked against it.
        accessPointCertificates: async () => [],
        async lookup(participant): Promise<DiscoveredEndpoint> {
          if (participant !== B)
            throw new EhmiError('EHMI_SMP_NOT_REGISTERED', `${participant} is not registered`);
          if (failures-- > 0) throw new EhmiError('EHMI_SMP_LOOKUP_FAILED', 'SMP down (test)');
          return {
            endpointUrl: b.as4Url,
            certificate: credsB.signing.certificate,
            transportProfile: 'bdxr-transport-ebms3-as4-v1p0',
          };
        },
      };
      const storeA = await openStoreFor();
      const backendA = new RecordingBackend();
      const clock = new TestClock();
      const a = await startA(storeA, backendA, { discovery, now: clock.now });
      const unknown = await submit(a, bytes(envelope('x')), { receiver: '0088:5790000000099' });
      const known = await submit(a, bytes(envelope('y')));
      await runToEnd(a, clock);
      assert.equal(failures, -1, 'two failed lookups, then one that answered');
      const o1 = backendA.outcomes.find((o) => o.as4MessageId === unknown.as4MessageId);
      assert.equal(o1?.status, 'failed');
      assert.match(o1.reason ?? '', /not registered/);
      const o2 = backendA.outcomes.find((o) => o.as4MessageId === known.as4MessageId);
      assert.equal(o2?.status, 'sent');
      const row = await storeA.store.db
        .selectFrom('ap_outbound')
        .selectAll()
        .where('as4_message_id', '=', known.as4MessageId)
        .executeTakeFirstOrThrow();
      assert.equal(row.attempts, 1); // the two failed lookups came before any transmission
      await waitFor('delivery', () => backend.delivered.get(known.as4MessageId));
    });

    it('closing the sending AP aborts a send in flight; after the restart the message goes out', {
      timeout: 60_000,
    }, async () => {
      // A peer that accepts the connection and never answers: the attempt hangs until its 120 s timeout.
      const sockets = new Set<import('node:net').Socket>();
      const silent = createNetServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => {});
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      cleanups.push(async () => {
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      });
      const silentUrl = `https://127.0.0.1:${(silent.address() as { port: number }).port}/as4`;
      const { a, storeA, b, backendB } = await pair({ bUrl: silentUrl });
      const accepted = await submit(a, bytes(envelope('in flight')));
      await waitFor('connection', () => (sockets.size > 0 ? true : undefined));
      await a.close(); // would wait for the hanging attempt without the abort
      const row = await storeA.store.db.selectFrom('ap_outbound').selectAll().executeTakeFirstOrThrow();
      assert.equal(row.status, 'pending');
      const backendA2 = new RecordingBackend();
      await startA(storeA, backendA2, { ap: sendTo(b!.as4Url) });
      const outcome = await waitFor('outcome', () => backendA2.outcomes[0]);
      assert.equal(outcome.status, 'sent');
      await waitFor('delivery', () => backendB.delivered.get(accepted.as4MessageId));
    });

    it('a restart of the receiving AP between commit and delivery still delivers exactly once', async () => {
      const { a, b, storeB, backendA, backendB } = await pair();
      backendB.unavailable = true;
      const accepted = await submit(a, bytes(envelope('restart')));
      await waitFor('sent', () => backendA.outcomes[0]);
      const row = await storeB.store.db.selectFrom('ap_received').selectAll().executeTakeFirstOrThrow();
      assert.equal(row.status, 'received');
      await b!.close();
      const backend2 = new RecordingBackend();
      const clock = new TestClock();
      const b2 = await startB(storeB, backend2, { now: clock.now });
      await runToEnd(b2, clock);
      const got = backend2.delivered.get(accepted.as4MessageId);
      assert.equal(got?.bytes?.toString('utf8'), envelope('restart'));
      assert.equal(backend2.calls.length, 1);
      assert.equal(backendB.calls.length, 0);
    });

    it('signals posted to /as4 are logged and answered; a PullRequest gets EBMS:0006', async () => {
      const { b, client } = await receiverOnly();
      const m = await message();
      const r = await post(client, b.as4Url, m.contentType, m.body);
      // The receipt itself, pushed back as if it were an asynchronous receipt.
      const echoed = await post(client, b.as4Url, 'application/soap+xml; charset=UTF-8', Buffer.from(r.body));
      assert.equal(echoed.status, 200);
      const pull = `<?xml version="1.0"?><S12:Envelope xmlns:S12="http://www.w3.org/2003/05/soap-envelope" xmlns:eb="http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/"><S12:Header><eb:Messaging S12:mustUnderstand="true"><eb:SignalMessage><eb:MessageInfo><eb:Timestamp>2026-01-01T00:00:00Z</eb:Timestamp><eb:MessageId>pull-1@test</eb:MessageId></eb:MessageInfo><eb:PullRequest mpc="${EBMS_URI.defaultMpc}"/></eb:SignalMessage></eb:Messaging></S12:Header><S12:Body/></S12:Envelope>`;
      const p = await post(client, b.as4Url, 'application/soap+xml', Buffer.from(pull));
      assert.equal(ebmsCodeIn(p.body), 'EBMS:0006');
      const junk = await post(client, b.as4Url, 'text/plain', Buffer.from('hello'));
      assert.ok(junk.status >= 400);
      assert.ok(ebmsCodeIn(junk.body));
      const env = parseEnvelope(junk.body);
      assert.equal(parseMessaging(env.messaging).kind, 'signal');
    });

    it('a pending message whose send job died (worker lost on its last attempt) is failed with EBMS:0301 by the sweep', async () => {
      const { a, storeA, backendA } = await pair({
        bUrl: 'https://127.0.0.1:9/as4',
        startB: false,
        aSend: { maxAttempts: 1 },
      });
      const accepted = await submit(a, bytes(envelope('orphan')));
      // Then put it back as if the worker had died holding the job on its last attempt: the claim dead-letters the
      // job and the row stays pending.
      await waitFor('first outcome', () => backendA.outcomes[0]);
      // The outcome job ends after the MSH has the outcome (it notes outcome_at, then is done): let it end first.
      await a.idle({ drained: true });
      const db = storeA.store.db;
      await db
        .updateTable('ap_outbound')
        .set({ status: 'pending', finished_at: null, outcome_at: null })
        .execute();
      await db.updateTable('jobs').set({ status: 'dead' }).where('queue', '=', 'ap.send').execute();
      backendA.outcomes.length = 0;
      assert.equal((await a.sweep()).orphans, 1);
      const outcome = await waitFor('outcome', () => backendA.outcomes[0]);
      assert.equal(outcome.as4MessageId, accepted.as4MessageId);
      assert.equal(outcome.status, 'failed');
      assert.equal(outcome.ebmsCode, 'EBMS:0301');
      assert.equal((await a.sweep()).orphans, 0);
    });

    it('retention purges delivered duplicate-cache rows and finished outbound rows, never an undelivered one', async () => {
      const clock = new TestClock();
      const { a, b, storeB, backendA, backendB } = await pair({ now: clock.now });
      const first = await submit(a, bytes(envelope('old')));
      // Sent, its outcome taken by A's MSH, and delivered to B's.
      assert.deepEqual(await a.idle({ drained: true }), { next: undefined });
      assert.deepEqual(await b!.idle({ drained: true }), { next: undefined });
      assert.equal(backendA.outcomes[0]?.status, 'sent');
      assert.ok(backendB.delivered.get(first.as4MessageId));
      backendB.unavailable = true;
      const second = await submit(a, bytes(envelope('waiting')));
      // B committed the second message (its receipt came back to A) but cannot hand it over.
      assert.deepEqual(await a.idle({ drained: true }), { next: undefined });
      assert.equal(backendA.outcomes[1]?.status, 'sent');
      assert.equal(backendB.delivered.has(second.as4MessageId), false);
      assert.deepEqual(await b!.sweep(), { received: 0, outbound: 0, orphans: 0 });
      // ap.duplicateRetentionDays and ap.outboundRetentionDays (30 by default) later, on the APs' clock.
      clock.advance(30 * 86_400_000);
      assert.deepEqual(await b!.sweep(), { received: 0, outbound: 0, orphans: 0 }, 'not before');
      clock.advance(1);
      const swept = await b!.sweep();
      assert.equal(swept.received, 1);
      const left = await storeB.store.db.selectFrom('ap_received').select('message_id').execute();
      assert.deepEqual(
        left.map((r) => r.message_id),
        [second.as4MessageId],
      );
      assert.equal((await a.sweep()).outbound, 2);
    });
  });
}
