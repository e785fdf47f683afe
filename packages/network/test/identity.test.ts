// Who is asking, on one running network: the signer of an AS4 UserMessage must be an access point certificate the
// SMP publishes for its originalSender (meant for AS4, not revoked), a sender checks a discovered endpoint before
// it sends (https, chains to the root, meant for AS4, not revoked), and a revoked AS4 certificate is refused within
// one CRL refresh. The AS4 messages of the first cases are built and posted by the test itself.
import assert from 'node:assert/strict';
import { createPrivateKey, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parseEnvelope, parseMessaging, verifyEnvelope } from '@ehmi/as4';
import { createCertificateAuthority } from '@ehmi/pki';
import { scopeValue, wrapMessage } from '@ehmi/sbdh';
import { buildOutboundMessage } from '@ehmi/server';
import pg from 'pg';
import pino from 'pino';
import { Agent, request } from 'undici';
import { SmpAdminClient } from '../../server/src/eer/smp-admin-client.ts';
import { eventually, FAST, freePortBase, Stop } from '../../server/test/e2e/helpers.ts';
import {
  EER_CLIENT_ID,
  fetchWithToken,
  isValidGln,
  type ManifestOrganisation,
  NetworkClient,
  type RunningNetwork,
  revokeNetworkCertificate,
  sampleHomeCareObservation,
  startNetwork,
} from '../src/index.ts';

const logger = pino({ level: (process.env.EHMI_TEST_LOG_LEVEL as 'warn') ?? 'silent' });
const databaseUrl = process.env.DATABASE_URL;

interface InboxItem {
  id: string;
  bundleId: string;
  messageHeaderId: string;
  sender: string;
}

interface SentMessage {
  id: string;
  status: string;
  messageHeaderId: string;
  failure: { reason: string; ebmsCode?: string } | null;
}

interface As4Answer {
  status: number;
  contentType: string;
  body: string;
  receipt: boolean;
  errors: { errorCode: string; text: string }[];
  document: ReturnType<typeof parseEnvelope>['document'];
}

/** A GLN (13 digits, GS1 check digit) that no organisation of the network has. */
function freshGln(): string {
  for (;;) {
    const body = `579${String(randomBytes(5).readUIntBE(0, 5) % 1_000_000_000).padStart(9, '0')}`;
    for (let d = 0; d < 10; d++) if (isValidGln(`${body}${d}`)) return `${body}${d}`;
  }
}

/** A recording stand-in for an access point: every TCP connection and every HTTP request it sees. */
async function recordingServer(): Promise<{
  server: Server;
  port: number;
  connections: number;
  requests: { method: string; url: string }[];
}> {
  const seen = { connections: 0, requests: [] as { method: string; url: string }[] };
  const server = createServer((req: IncomingMessage, res) => {
    seen.requests.push({ method: req.method ?? '', url: req.url ?? '' });
    req.resume();
    res.writeHead(500).end();
  });
  server.on('connection', () => {
    seen.connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    get connections() {
      return seen.connections;
    },
    requests: seen.requests,
  };
}

describe('identity: the signer is the sender, discovery is checked, revocation is enforced', {
  timeout: 600_000,
}, () => {
  let dataDir: string;
  let net: RunningNetwork;
  let client: NetworkClient;
  let municipality: ManifestOrganisation;
  let gp: ManifestOrganisation;
  let hospital: ManifestOrganisation;
  let ca: string;
  /** MessageHeader.ids of every message that must never reach the gp's inbox. */
  const refused: string[] = [];
  const schemaPrefix = `ident_${randomBytes(4).toString('hex')}`;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ehmi-net-identity-'));
    net = await startNetwork({
      dataDir,
      portBase: await freePortBase(),
      logger,
      ...(databaseUrl ? { databaseUrl } : {}),
      base: { ...FAST, ...(databaseUrl ? { database: { schema: schemaPrefix } } : {}) },
    });
    client = NetworkClient.open(dataDir);
    municipality = client.organisation('municipality');
    gp = client.organisation('gp');
    hospital = client.organisation('hospital');
    ca = readFileSync(client.manifest.trustAnchor, 'utf8');
  });

  after(async () => {
    await client?.close();
    await net?.close();
    if (databaseUrl && net) {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      try {
        for (const config of [net.plan.central.config, ...net.plan.organisations.map((o) => o.config)])
          await c.query(`DROP SCHEMA IF EXISTS "${config.database.schema}" CASCADE`);
      } finally {
        await c.end();
      }
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const participant = (o: { gln: string }) => `0088:${o.gln}`;

  async function inbox(org: string): Promise<InboxItem[]> {
    const res = await client.call(org, 'GET', '/inbox');
    assert.equal(res.status, 200, res.text);
    return res.json as InboxItem[];
  }

  async function sentMessage(id: string): Promise<SentMessage> {
    const res = await client.call('municipality', 'GET', `/messages/${encodeURIComponent(id)}`);
    assert.equal(res.status, 200, res.text);
    return res.json as SentMessage;
  }

  /** Submit a prøvesvar at the municipality's MSH (what `ehmi send` does); `bytes` replaces the sample. */
  async function submit(bytes?: Buffer): Promise<{ id: string; messageHeaderId: string }> {
    const b = bytes ?? Buffer.from(JSON.stringify(sampleHomeCareObservation(municipality, gp)));
    const res = await client.call('municipality', 'POST', '/messages', {
      bytes: b,
      contentType: 'application/fhir+json',
    });
    assert.equal(res.status, 202, res.text);
    return res.json as { id: string; messageHeaderId: string };
  }

  /** Whether the message went to the receiver: `sent`, or past it (its EnvelopeReceipt may come back at once). */
  const wentThrough = (m: SentMessage) => ['sent', 'receipted', 'acknowledged'].includes(m.status);

  /** Wait for a submitted message to go through ({@link wentThrough}) or fail. */
  function settled(id: string, timeoutMs = 30_000): Promise<SentMessage> {
    return eventually(
      `message ${id} sent or failed`,
      async () => {
        const m = await sentMessage(id);
        return wentThrough(m) || m.status === 'failed' ? m : undefined;
      },
      timeoutMs,
    );
  }

  /** An ehmiSBDH envelope around a fresh sample prøvesvar from the municipality to the gp, as the MSH wraps it. */
  async function envelope() {
    const bundle = Buffer.from(JSON.stringify(sampleHomeCareObservation(municipality, gp)));
    const wrapped = await wrapMessage(bundle);
    return {
      xml: Buffer.from(wrapped.xml, 'utf8'),
      messageHeaderId: wrapped.facts.messageHeaderId,
      documentType: scopeValue(wrapped.envelope, 'DOCUMENTID')!,
      process: scopeValue(wrapped.envelope, 'PROCESSID')!,
    };
  }

  /**
   * Build an AS4 UserMessage from the municipality to the gp with `buildOutboundMessage`, signed with the given
   * certificate and key files, encrypted to the gp's AS4 certificate, and POST it to the gp's AP over mutual TLS
   * with the municipality's TLS client certificate.
   */
  async function postAs4(
    signer: { cert: string; key: string },
    env: Awaited<ReturnType<typeof envelope>>,
    messageId: string,
    timestamp: Date,
  ): Promise<As4Answer> {
    const message = await buildOutboundMessage({
      messageId,
      timestamp,
      sender: participant(municipality),
      receiver: participant(gp),
      process: env.process,
      documentType: env.documentType,
      payload: { size: env.xml.length, open: () => Readable.from([env.xml]) },
      signing: {
        privateKey: createPrivateKey(readFileSync(signer.key)),
        chain: [new X509Certificate(readFileSync(signer.cert))],
      },
      recipientCertificate: new X509Certificate(readFileSync(gp.certificates.as4.cert)),
    });
    const agent = new Agent({
      connect: {
        ca,
        cert: readFileSync(municipality.certificates.tlsClient.cert),
        key: readFileSync(municipality.certificates.tlsClient.key),
      },
    });
    try {
      const res = await request(gp.ap, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': message.contentType },
        body: message.body,
      });
      const body = await res.body.text();
      const contentType = String(res.headers['content-type'] ?? '');
      const env2 = parseEnvelope(body);
      const messaging = parseMessaging(env2.messaging);
      assert.equal(messaging.kind, 'signal', `the answer is not a signal: ${body}`);
      const signals = messaging.kind === 'signal' ? messaging.signalMessages : [];
      return {
        status: res.statusCode,
        contentType,
        body,
        receipt: signals.some((s) => s.receipt),
        errors: signals.flatMap((s) =>
          s.errors.map((e) => ({
            errorCode: String(e.errorCode),
            text: [e.shortDescription, e.description, e.errorDetail].filter(Boolean).join(': '),
          })),
        ),
        document: env2.document,
      };
    } finally {
      await agent.close();
    }
  }

  it('a message the test builds, signed with the municipality AS4 key, gets a signed receipt and reaches the gp inbox once', async () => {
    const env = await envelope();
    const messageId = `${randomUUID()}@identity.test`;
    const timestamp = new Date();
    const answer = await postAs4(municipality.certificates.as4, env, messageId, timestamp);
    assert.equal(answer.status, 200, answer.body);
    assert.match(answer.contentType, /^application\/soap\+xml/);
    assert.ok(answer.receipt, `no Receipt signal: ${answer.body}`);
    assert.deepEqual(answer.errors, []);
    // Signed by the gp's access point, with the AS4 certificate the SMP publishes for it.
    const gpAs4 = new X509Certificate(readFileSync(gp.certificates.as4.cert));
    const verified = await verifyEnvelope(answer.document, [], {
      trust: (chain) => chain[0]?.raw.equals(gpAs4.raw) === true,
    });
    assert.ok(verified.certificate.raw.equals(gpAs4.raw));

    const item = await eventually('the message in the gp inbox', async () =>
      (await inbox('gp')).find((i) => i.messageHeaderId === env.messageHeaderId),
    );
    assert.equal(item.sender, participant(municipality));
    // The same AS4 message again (same MessageId): the receipt again, nothing delivered again.
    const again = await postAs4(municipality.certificates.as4, env, messageId, timestamp);
    assert.equal(again.status, 200, again.body);
    assert.ok(again.receipt, again.body);
    assert.equal((await inbox('gp')).filter((i) => i.messageHeaderId === env.messageHeaderId).length, 1);
  });

  it('claiming to come from the municipality but signed with the hospital TLS client certificate: EBMS:0101, nothing in the inbox', async (t) => {
    const before = await inbox('gp');
    const env = await envelope();
    refused.push(env.messageHeaderId);
    const answer = await postAs4(
      hospital.certificates.tlsClient,
      env,
      `${randomUUID()}@identity.test`,
      new Date(),
    );
    assert.equal(answer.receipt, false, answer.body);
    assert.equal(answer.errors[0]?.errorCode, 'EBMS:0101', answer.body);
    assert.match(answer.errors[0]!.text, /FailedAuthentication/);
    // Refused as a certificate not meant for AS4, naming it.
    const tlsClient = new X509Certificate(readFileSync(hospital.certificates.tlsClient.cert));
    const cn = tlsClient.subject.split('\n').find((l) => l.startsWith('CN='))!;
    assert.ok(answer.errors[0]!.text.includes(cn), answer.errors[0]!.text);
    assert.match(answer.errors[0]!.text, /as4/);
    t.diagnostic(`HTTP ${answer.status}: ${answer.errors[0]!.text}`);
    assert.notEqual(answer.status, 200);
    // The refusal came before anything was committed: nothing can be delivered later.
    const now = await inbox('gp');
    assert.deepEqual(
      now.map((i) => i.id),
      before.map((i) => i.id),
    );
  });

  it('claiming to come from the municipality but signed with the hospital AS4 key: EBMS:0101 naming the signer, nothing in the inbox', async (t) => {
    const before = await inbox('gp');
    const env = await envelope();
    refused.push(env.messageHeaderId);
    const hospitalAs4 = new X509Certificate(readFileSync(hospital.certificates.as4.cert));
    const answer = await postAs4(hospital.certificates.as4, env, `${randomUUID()}@identity.test`, new Date());
    assert.equal(answer.receipt, false, answer.body);
    assert.equal(answer.errors[0]?.errorCode, 'EBMS:0101', answer.body);
    const text = answer.errors[0]!.text;
    t.diagnostic(`HTTP ${answer.status}: ${text}`);
    assert.ok(text.includes(`claims to come from ${participant(municipality)}`), text);
    // The signer by its subject (organisation and common name) and serial number.
    for (const rdn of hospitalAs4.subject.split('\n').filter((l) => /^(O|CN)=/.test(l)))
      assert.ok(text.includes(rdn), `${rdn} not in: ${text}`);
    assert.ok(text.includes(hospitalAs4.serialNumber), text);
    const now = await inbox('gp');
    assert.deepEqual(
      now.map((i) => i.id),
      before.map((i) => i.id),
    );
  });

  // The municipality AP's SMP client keeps a lookup for `ap.discovery.smp.cacheTtlMs` (60 s in start.ts). Changing
  // the gp's own metadata would be hidden by, and would then hide, cached lookups of the gp (the revocation case
  // below needs the gp's real endpoint), so each discovery case publishes a participant the cache has never seen:
  // a prøvesvar for the gp practice, addressed to a new GLN.
  describe('a discovered endpoint is checked before anything is sent to it', () => {
    let smp: SmpAdminClient;
    let recorder: Awaited<ReturnType<typeof recordingServer>>;
    const published: string[] = [];

    let publisher: ReturnType<typeof fetchWithToken>;

    before(async () => {
      // The SMP's admin API takes access tokens with smp/publication.write: the central node's EER client's.
      const central = net.plan.pki.central.tlsClient;
      publisher = fetchWithToken({
        authUrl: net.plan.central.urls.auth,
        caPem: readFileSync(net.plan.pki.trustAnchor, 'utf8'),
        tls: central,
        clientId: EER_CLIENT_ID,
        scope: 'smp/publication.write',
        resource: net.plan.central.urls.smpAdmin,
      });
      smp = new SmpAdminClient({ baseUrl: net.plan.central.urls.smpAdmin, fetch: publisher.fetch });
      recorder = await recordingServer();
    });

    after(async () => {
      for (const p of published) await smp.removeServiceGroup(p).catch(() => {});
      if (recorder) await new Promise<void>((resolve) => recorder.server.close(() => resolve()));
      await publisher?.close();
    });

    /** A new participant published for the prøvesvar's document type at `endpointUrl` with `certificatePem`. */
    async function publishNew(endpointUrl: string, certificatePem: string): Promise<string> {
      const gln = freshGln();
      const env = await envelope();
      const p = `0088:${gln}`;
      await smp.publishServiceGroup(p);
      published.push(p);
      await smp.publishServiceMetadata({
        participant: p,
        documentType: env.documentType,
        process: env.process,
        endpointUrl,
        certificatePem,
      });
      return gln;
    }

    /** The sample prøvesvar from the municipality to the gp practice, addressed to `gln` instead. */
    function addressedTo(gln: string): Buffer {
      const text = JSON.stringify(sampleHomeCareObservation(municipality, gp)).split(gp.gln).join(gln);
      return Buffer.from(text);
    }

    it('an http:// endpoint: the send fails saying it is not https, and the endpoint sees nothing', async (t) => {
      const url = `http://127.0.0.1:${recorder.port}/as4`;
      const gln = await publishNew(url, readFileSync(gp.certificates.as4.cert, 'utf8'));
      const sent = await submit(addressedTo(gln));
      const m = await settled(sent.id);
      assert.equal(m.status, 'failed', JSON.stringify(m));
      t.diagnostic(`${m.failure?.ebmsCode}: ${m.failure?.reason}`);
      assert.match(m.failure?.reason ?? '', /not https/, JSON.stringify(m.failure));
      assert.ok(m.failure!.reason.includes(url), m.failure!.reason);
      assert.equal(recorder.connections, 0);
      assert.deepEqual(recorder.requests, []);
    });

    it('an https endpoint with a self-signed certificate: the send fails naming the trust problem, and the endpoint sees nothing', async (t) => {
      const rogue = await createCertificateAuthority({ subject: 'CN=Rogue Access Point, O=Nobody, C=DK' });
      const url = `https://127.0.0.1:${recorder.port}/as4`;
      const gln = await publishNew(url, rogue.certificatePem);
      const sent = await submit(addressedTo(gln));
      const m = await settled(sent.id);
      assert.equal(m.status, 'failed', JSON.stringify(m));
      const reason = m.failure?.reason ?? '';
      t.diagnostic(`${m.failure?.ebmsCode}: ${reason}`);
      assert.match(reason, /refused/, reason);
      assert.match(reason, /trust|chain|self-signed|issuer/i, reason);
      assert.equal(recorder.connections, 0);
      assert.deepEqual(recorder.requests, []);
    });
  });

  it('after `ehmi pki revoke gp --purpose as4`, a message to the gp fails within one CRL refresh naming the revocation, and nothing reaches the inbox', async (t) => {
    // Before: a message to the gp goes through (the gp's real endpoint is untouched by the cases above).
    const first = await submit();
    const m = await settled(first.id);
    assert.ok(wentThrough(m), JSON.stringify(m));
    await eventually('the first message in the gp inbox', async () =>
      (await inbox('gp')).find((i) => i.messageHeaderId === first.messageHeaderId),
    );

    const revoked = await revokeNetworkCertificate(dataDir, 'gp', 'as4');
    assert.equal(revoked.already, false);
    const revokedAt = Date.now();
    // Until the municipality's AP fetched the new CRL (every 10 s) a message still goes through; poll with fresh
    // messages until one fails.
    const failed = await eventually(
      'a message to the gp refused for the revoked certificate',
      async () => {
        const sent = await submit();
        const m = await settled(sent.id);
        if (wentThrough(m)) return undefined;
        if (!/revok/i.test(m.failure?.reason ?? '')) throw new Stop(`failed otherwise: ${JSON.stringify(m)}`);
        return m;
      },
      60_000,
      500,
    );
    const elapsed = Date.now() - revokedAt;
    t.diagnostic(`refused ${elapsed} ms after the revocation: ${failed.failure!.reason}`);
    assert.ok(elapsed < 60_000);
    assert.match(failed.failure!.reason, /revok/i);
    refused.push(failed.messageHeaderId);
    // A message sent now fails at once too (the CRL is current), and nothing of the refused ones ever arrived.
    const next = await submit();
    const n = await settled(next.id);
    assert.equal(n.status, 'failed', JSON.stringify(n));
    assert.match(n.failure!.reason, /revok/i);
    refused.push(next.messageHeaderId);
    const items = await inbox('gp');
    for (const id of refused) assert.equal(items.filter((i) => i.messageHeaderId === id).length, 0, id);
  });
});
