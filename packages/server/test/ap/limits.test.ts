import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import { request } from 'undici';
import { type AccessPoint, buildOutboundMessage } from '../../src/ap/index.ts';
import type { ByteSource } from '../../src/contract.ts';
import type { ConfigInput } from '../../src/role-list.ts';
import { diskFull, type StorageArea } from '../../src/store/index.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import {
  type ApCredentials,
  bytes,
  collect,
  createPki,
  DOCUMENT_TYPE,
  ebmsCodeIn,
  GLN_A,
  GLN_B,
  issueApCredentials,
  PROCESS,
  post,
  RecordingBackend,
  startAp,
  startApPair,
  type TestPki,
  testClient,
  waitFor,
} from './helpers.ts';

const A = `0088:${GLN_A}`;
const B = `0088:${GLN_B}`;
const sqlite = engines()[0]!;

/** Bounded under attack, whole under faults: the AP's limits across connections and its storage failures. */
describe('access point: bounded resources and storage faults', () => {
  let dir: string;
  let pki: TestPki;
  let credsA: ApCredentials;
  let credsB: ApCredentials;
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ehmi-ap-limits-'));
    pki = await createPki(dir);
    credsA = await issueApCredentials(pki, 'a');
    credsB = await issueApCredentials(pki, 'b');
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  async function openStore(): Promise<TestStore> {
    const s = await sqlite.open();
    cleanups.push(() => s.cleanup());
    return s;
  }

  async function receiver(extra: { ap?: ConfigInput['ap']; node?: Omit<ConfigInput, 'ap'> } = {}) {
    const store = await openStore();
    const backend = new RecordingBackend();
    const b = await startAp({
      store: store.store,
      dataDir: store.dataDir,
      pki,
      gln: GLN_B,
      creds: credsB,
      backend,
      ...extra,
    });
    cleanups.push(() => b.close());
    const client = testClient(pki, credsA);
    cleanups.push(() => client.close());
    return { b, store, backend, client };
  }

  /** A signed and encrypted message from A to B, as A would send it. */
  async function message(
    payload: ByteSource = bytes(`<StandardBusinessDocument>${randomUUID()}</StandardBusinessDocument>`),
  ) {
    const messageId = `${randomUUID()}@test.ehmi`;
    const built = await buildOutboundMessage({
      messageId,
      timestamp: new Date(),
      sender: A,
      receiver: B,
      process: PROCESS,
      documentType: DOCUMENT_TYPE,
      serviceType: 'dk-medcom-messaging',
      payload,
      signing: { privateKey: credsA.signing.privateKey, chain: [credsA.signing.certificate] },
      recipientCertificate: credsB.signing.certificate,
    });
    return { messageId, contentType: built.contentType, body: await collect(built.body) };
  }

  /** A TLS connection to the AP with A's client certificate, and what it has received. */
  async function rawConnection(ap: AccessPoint): Promise<{ socket: TLSSocket; received: () => string }> {
    const url = new URL(ap.as4Url);
    const socket = connect({
      host: url.hostname,
      port: Number(url.port),
      ca: [pki.root.certificatePem],
      cert: credsA.tls.certificatePem,
      key: credsA.tls.privateKeyPem,
    });
    await once(socket, 'secureConnect');
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
    });
    socket.on('error', () => {});
    return { socket, received: () => text };
  }

  function head(ap: AccessPoint, contentType: string, length: number): string {
    const url = new URL(ap.as4Url);
    return `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: ${contentType}\r\nContent-Length: ${length}\r\n\r\n`;
  }

  async function gauge(ap: AccessPoint, name: string, labels: Record<string, string> = {}): Promise<number> {
    const metric = await ap.app.metrics.getSingleMetric(name)?.get();
    const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
    return value?.value ?? 0;
  }

  it('a stalled body is cut after the idle timeout, and its slot is free again', async () => {
    const { b, client } = await receiver({
      ap: { receive: { maxConcurrent: 1 } },
      node: { http: { idleTimeoutMs: 300, bodyRateWindowMs: 60_000 } },
    });
    const m = await message();
    const { socket } = await rawConnection(b);
    const closed = once(socket, 'close');
    // The headers and half the body, then nothing.
    socket.write(head(b, m.contentType, m.body.length));
    socket.write(m.body.subarray(0, m.body.length >> 1));
    await waitFor(
      'the upload in progress',
      async () => (await gauge(b, 'ehmi_ap_receiving')) === 1 || undefined,
    );
    await closed;
    await waitFor('the slot released', async () => (await gauge(b, 'ehmi_ap_receiving')) === 0 || undefined);
    const r = await post(client, b.as4Url, m.contentType, m.body);
    assert.equal(r.status, 200, r.body);
  });

  it('a body below the minimum rate is cut (408)', async () => {
    const { b } = await receiver({
      node: { http: { idleTimeoutMs: 60_000, bodyRateWindowMs: 200, minBodyBytesPerWindow: 4096 } },
    });
    const m = await message();
    const { socket, received } = await rawConnection(b);
    const closed = once(socket, 'close');
    socket.write(head(b, m.contentType, m.body.length));
    let i = 0;
    const timer = setInterval(() => socket.write(m.body.subarray(i, ++i)), 20);
    await closed;
    clearInterval(timer);
    assert.match(received(), /^HTTP\/1\.1 408/);
  });

  it('beyond ap.receive.maxConcurrent uploads: 503 with Retry-After and EBMS:0004, the upload unread', async () => {
    const { b, client } = await receiver({ ap: { receive: { maxConcurrent: 2, retryAfterSeconds: 7 } } });
    const m = await message();
    const stalled = await Promise.all([rawConnection(b), rawConnection(b)]);
    for (const { socket } of stalled) {
      socket.write(head(b, m.contentType, m.body.length));
      socket.write(m.body.subarray(0, 100));
    }
    await waitFor(
      'two uploads in progress',
      async () => (await gauge(b, 'ehmi_ap_receiving')) === 2 || undefined,
    );
    const res = await request(b.as4Url, {
      method: 'POST',
      dispatcher: client,
      headers: { 'content-type': m.contentType },
      body: m.body,
    });
    const text = await res.body.text();
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['retry-after'], '7');
    assert.equal(ebmsCodeIn(text), 'EBMS:0004');
    assert.match(text, /EHMI_UNAVAILABLE/);
    for (const { socket } of stalled) socket.destroy();
    await waitFor('the slots released', async () => (await gauge(b, 'ehmi_ap_receiving')) === 0 || undefined);
    assert.equal((await post(client, b.as4Url, m.contentType, m.body)).status, 200);
  });

  it('an oversized SOAP root part is refused (503, EBMS:0004) when the envelope pool is spent, before it is all sent', async () => {
    const { b } = await receiver({ ap: { receive: { maxBufferedEnvelopeBytes: 256 * 1024 } } });
    const boundary = 'b-oversized';
    const length = 3 * 1024 * 1024;
    const { socket, received } = await rawConnection(b);
    socket.write(head(b, `multipart/related; boundary="${boundary}"; type="application/soap+xml"`, length));
    socket.write(
      `--${boundary}\r\nContent-Type: application/soap+xml\r\nContent-ID: <root>\r\n\r\n<S:Envelope>`,
    );
    // 1 MiB of the 3 MiB announced, then the client waits: the answer must come without the rest.
    socket.write(Buffer.alloc(1024 * 1024, 0x20));
    while (!received().includes('</S12:Envelope>')) await once(socket, 'data');
    assert.match(received(), /^HTTP\/1\.1 503/);
    assert.match(received(), /[Rr]etry-[Aa]fter: 30/);
    assert.equal(ebmsCodeIn(received()), 'EBMS:0004');
    assert.equal(await gauge(b, 'ehmi_ap_receive_pool_bytes', { pool: 'envelopes' }), 0, 'released');
    socket.destroy();
  });

  it('a signed gzip bomb stops with EBMS:0303 having written less than its bound, and its files are removed', async () => {
    const { b, client, store } = await receiver({
      ap: { limits: { maxDecompressionRatio: 10, decompressionRatioFreeBytes: 1024 * 1024 } },
    });
    const written: Record<string, number> = {};
    store.store.blobs.faults = {
      beforeWrite(area: StorageArea, _path: string, octets: number) {
        written[area] = (written[area] ?? 0) + octets;
      },
    };
    // 64 MiB of zeros: gzip makes about 64 KB of it.
    const zeros = Buffer.alloc(1024 * 1024);
    const bomb: ByteSource = {
      size: 64 * zeros.length,
      open: () => Readable.from(Array.from({ length: 64 }, () => zeros)),
    };
    const m = await message(bomb);
    assert.ok(m.body.length < 200 * 1024, `${m.body.length} octets on the wire`);
    const r = await post(client, b.as4Url, m.contentType, m.body);
    assert.equal(ebmsCodeIn(r.body), 'EBMS:0303');
    assert.equal(r.status, 400);
    // The received part (about the wire size; decrypted as read, no plaintext copy), and at most the bound of
    // decompressed octets, written into the blob store's temporary folder and never placed.
    const bound = Math.max(1024 * 1024, 10 * m.body.length);
    assert.ok((written.temp ?? 0) <= m.body.length + 1024, `${written.temp} octets written to temp`);
    assert.ok((written.blobs ?? 0) <= bound, `${written.blobs} octets written to the blob store`);
    assert.deepEqual(
      await readdir(join(store.dataDir, 'blobs', 'tmp')),
      [],
      'the decompressed octets are removed',
    );
    await assertNoFilesLeft(store.dataDir);
  });

  it('a large part whose last octet (its AES-GCM tag) was changed is EBMS:0102: nothing stored, its files removed', async () => {
    const { b, client, store, backend } = await receiver();
    // 4 MiB that gzip cannot make smaller: decrypted, digested and stored while the body still arrives.
    const random = randomBytes(4 * 1024 * 1024);
    const m = await message({ size: random.length, open: () => Readable.from([random]) });
    const body = Buffer.from(m.body);
    // The part's last octet is the one before the CRLF of the closing delimiter.
    const close = body.lastIndexOf(Buffer.from('\r\n--'));
    body[close - 1]! ^= 0x01;
    const r = await post(client, b.as4Url, m.contentType, body);
    assert.equal(ebmsCodeIn(r.body), 'EBMS:0102');
    assert.equal(r.status, 400);
    assert.match(r.body, /GCM tag/);
    assert.deepEqual(await b.idle({ drained: true }), { next: undefined });
    assert.equal(backend.calls.length, 0);
    assert.equal((await store.store.db.selectFrom('ap_received').selectAll().execute()).length, 0);
    assert.equal((await store.store.db.selectFrom('blobs').selectAll().execute()).length, 0);
    assert.deepEqual(await readdir(join(store.dataDir, 'blobs', 'tmp')), [], 'the plaintext is removed');
    await assertNoFilesLeft(store.dataDir);
  });

  it('a disk that fails while receiving (temporary files, then the blob store) is EBMS:0004 with a 5xx; the sender retries and the message arrives once', async () => {
    const storeA = await openStore();
    const storeB = await openStore();
    const { a, b, backendA, backendB } = await startApPair({
      pki,
      a: { store: storeA.store, dataDir: storeA.dataDir, creds: credsA },
      b: { store: storeB.store, dataDir: storeB.dataDir, creds: credsB },
      aAp: { send: { maxAttempts: 20, backoffBaseMs: 50, backoffMaxMs: 100 } },
    });
    cleanups.push(() => a.close());
    cleanups.push(async () => b?.close());
    // The first attempt finds the temporary files failing mid-stream, the second the blob store; then space returns.
    const failing: StorageArea[] = ['temp', 'blobs'];
    const failed: StorageArea[] = [];
    storeB.store.blobs.faults = {
      beforeWrite(area: StorageArea) {
        if (area === failing[0]) {
          failed.push(failing.shift()!);
          throw diskFull();
        }
      },
    };
    const accepted = await a.gateway.submit({
      submissionId: randomUUID(),
      sender: A,
      receiver: B,
      documentType: DOCUMENT_TYPE,
      process: PROCESS,
      // Octets that do not compress, so the received part outgrows memory (ap.receive.maxPartBytesInMemory) and is
      // written to a temporary file.
      envelope: bytes(
        `<StandardBusinessDocument>${randomBytes(300_000).toString('base64')}</StandardBusinessDocument>`,
      ),
    });
    const outcome = await waitFor('the outcome', () => backendA.outcomes[0]);
    assert.equal(outcome.status, 'sent', JSON.stringify(outcome));
    assert.deepEqual(failed, ['temp', 'blobs']);
    const row = await storeA.store.db.selectFrom('ap_outbound').selectAll().executeTakeFirstOrThrow();
    assert.equal(row.attempts, 3);
    await b!.idle({ drained: true });
    assert.equal(backendB.calls.length, 1);
    assert.ok(backendB.delivered.get(accepted.as4MessageId));
  });

  it('a small message is received without a temporary file: a temporary area that fails does not stop it', async () => {
    const storeA = await openStore();
    const storeB = await openStore();
    const { a, b, backendA, backendB } = await startApPair({
      pki,
      a: { store: storeA.store, dataDir: storeA.dataDir, creds: credsA },
      b: { store: storeB.store, dataDir: storeB.dataDir, creds: credsB },
    });
    cleanups.push(() => a.close());
    cleanups.push(async () => b?.close());
    const written: Record<string, number> = {};
    storeB.store.blobs.faults = {
      beforeWrite(area: StorageArea, _path: string, octets: number) {
        written[area] = (written[area] ?? 0) + octets;
        if (area === 'temp') throw diskFull();
      },
    };
    const accepted = await a.gateway.submit({
      submissionId: randomUUID(),
      sender: A,
      receiver: B,
      documentType: DOCUMENT_TYPE,
      process: PROCESS,
      envelope: bytes(
        `<StandardBusinessDocument>${randomBytes(6_000).toString('base64')}</StandardBusinessDocument>`,
      ),
    });
    const outcome = await waitFor('the outcome', () => backendA.outcomes[0]);
    assert.equal(outcome.status, 'sent', JSON.stringify(outcome));
    assert.equal(written.temp, undefined, 'no temporary file written');
    assert.ok((written.blobs ?? 0) > 8_000, 'the payload written once, into the blob store');
    await b!.idle({ drained: true });
    assert.ok(backendB.delivered.get(accepted.as4MessageId));
    assert.equal(
      await gauge(b!, 'ehmi_ap_receive_pool_bytes', { pool: 'parts' }),
      0,
      'the memory is given back',
    );
  });

  it('/health is 503 when the data folder cannot be written, 200 when it can', async () => {
    const { b, store } = await receiver();
    const health = async () => {
      const res = await request(`${b.url}/health`, { dispatcher: testClient(pki, credsA) });
      return { status: res.statusCode, body: (await res.body.json()) as { reason?: string } };
    };
    // Not a directory where the probe writes: a real failure of the file system, whoever runs the test.
    const tmp = join(store.dataDir, 'blobs', 'tmp');
    await rename(tmp, `${tmp}.away`);
    await writeFile(tmp, 'not a folder');
    const down = await health();
    assert.equal(down.status, 503);
    assert.match(down.body.reason ?? '', /data folder/);
    await rm(tmp);
    await rename(`${tmp}.away`, tmp);
    // A fresh store (its probe not cached) on the same folder answers 200.
    const { b: b2 } = await receiver();
    const res = await request(`${b2.url}/health`, { dispatcher: testClient(pki, credsA) });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
  });

  it('the temporary folder: what a dead instance left is removed at start, a live instance’s folder is left alone', async () => {
    const store = await openStore();
    const root = join(store.dataDir, 'tmp', 'as4');
    const folder = async (name: string, owner: object | undefined) => {
      await mkdir(join(root, name), { recursive: true });
      if (owner) await writeFile(join(root, name, 'owner.json'), JSON.stringify(owner));
      await writeFile(join(root, name, 'part-1'), 'decrypted plaintext');
    };
    const { hostname } = await import('node:os');
    // A process that has ended: its pid is free.
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['-e', '0']);
    await once(child, 'exit');
    await folder('dead', { host: hostname(), pid: child.pid, startedAt: 0 });
    await folder('live', { host: hostname(), pid: process.ppid, startedAt: 0 });
    await folder('elsewhere', { host: 'another-host.invalid', pid: 1, startedAt: 0 });
    const backend = new RecordingBackend();
    const b = await startAp({
      store: store.store,
      dataDir: store.dataDir,
      pki,
      gln: GLN_B,
      creds: credsB,
      backend,
    });
    const left = (await readdir(root)).sort();
    assert.ok(!left.includes('dead'), 'the dead instance’s files are removed');
    assert.ok(left.includes('live') && left.includes('elsewhere'), left.join(', '));
    assert.equal(left.length, 3, 'and the new instance has its own');
    await b.close();
    assert.deepEqual((await readdir(root)).sort(), ['elsewhere', 'live'], 'its own folder goes at close');
  });
});

/** No blob file stored, and no file of a message left in the AP's instance folders (each keeps its owner.json). */
async function assertNoFilesLeft(dataDir: string): Promise<void> {
  const stored = await readdir(join(dataDir, 'blobs', 'sha256'), { recursive: true, withFileTypes: true });
  assert.deepEqual(
    stored.filter((e) => e.isFile()).map((e) => e.name),
    [],
    'nothing stored',
  );
  const tmp = join(dataDir, 'tmp', 'as4');
  for (const instance of await readdir(tmp)) {
    assert.deepEqual(await readdir(join(tmp, instance)), ['owner.json'], 'the message’s files are removed');
  }
}
