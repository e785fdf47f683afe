// `ehmi evidence` against a running local network after `ehmi send`, then `ehmi as4 verify` on what it wrote; on the
// same network, `ehmi send --payload` of other standards end to end, and `ehmi ping` (the AS4 test service).
import assert from 'node:assert/strict';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NetworkClient, type RunningNetwork, readNetworkManifest, startNetwork } from '@ehmi/network';
import { parse, payloadOf, scopeValue } from '@ehmi/sbdh';
import pg from 'pg';
import pino from 'pino';
import { engines, eventually, freePortBase } from '../../server/test/e2e/helpers.ts';
import { FIXTURES, runEhmi } from './helpers.ts';

for (const engine of engines())
  describe(`ehmi evidence (${engine.name})`, { skip: engine.skip }, () => {
    let dir: string;
    let net: RunningNetwork | undefined;
    const schema = `evidence_${randomBytes(4).toString('hex')}`;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ehmi-cli-evidence-'));
    });
    /** The network of this file, started once by the first test that needs it. */
    async function start(): Promise<RunningNetwork> {
      net ??= await startNetwork({
        dataDir: dir,
        portBase: await freePortBase(),
        logger: pino({ level: 'silent' }),
        ...(engine.databaseUrl ? { databaseUrl: engine.databaseUrl, base: { database: { schema } } } : {}),
      });
      return net;
    }
    after(async () => {
      await net?.close();
      await rm(dir, { recursive: true, force: true });
      if (engine.databaseUrl) {
        const c = new pg.Client({ connectionString: engine.databaseUrl });
        await c.connect();
        for (const org of ['municipality', 'gp', 'hospital', 'central', 'archive'])
          await c.query(`DROP SCHEMA IF EXISTS "${schema}_${org}" CASCADE`);
        await c.end();
      }
    });

    it("writes the receiver's kept SOAP part and the sender's kept receipt; both verify, a tampered copy does not", {
      timeout: 180_000,
    }, async () => {
      await start();
      // Each organisation's AP token is in its secrets file, readable by its owner only.
      assert.equal(statSync(join(dir, 'gp', 'secrets.json')).mode & 0o777, 0o600);
      const sent = await runEhmi([
        'send',
        'homecareobservation',
        '--from',
        'municipality',
        '--to',
        'gp',
        '--data',
        dir,
      ]);
      assert.equal(sent.code, 0, sent.stderr);
      const id = sent.stdout.trimEnd().split('\n').pop()!;
      // `ehmi track` names the AS4 MessageId once the message is sent (the sender's AP then holds the receipt).
      const as4Id = await eventually('ehmi track shows the message sent', async () => {
        const t = await runEhmi(['track', id, '--json', '--data', dir]);
        assert.equal(t.code, 0, t.stderr);
        const j = JSON.parse(t.stdout) as { status: string; as4MessageIds?: string[] };
        return ['sent', 'receipted', 'acknowledged'].includes(j.status) ? j.as4MessageIds?.[0] : undefined;
      });
      const human = await runEhmi(['track', id, '--data', dir]);
      assert.ok(human.stdout.includes(`AS4 MessageId: ${as4Id}`), human.stdout);

      const out = join(dir, 'evidence');
      const gp = await runEhmi(['evidence', 'gp', as4Id, '--out', out, '--data', dir]);
      assert.equal(gp.code, 0, gp.stderr);
      const soapFile = join(out, `${as4Id}.user-message.xml`);
      const soapPem = join(out, `${as4Id}.user-message.pem`);
      assert.ok(gp.stdout.includes(soapFile), gp.stdout);
      assert.ok(gp.stdout.includes(soapPem), gp.stdout);
      const municipality = await runEhmi(['evidence', 'municipality', as4Id, '--out', out, '--data', dir]);
      assert.equal(municipality.code, 0, municipality.stderr);
      const receiptFile = join(out, `${as4Id}.receipt.xml`);
      const receiptPem = join(out, `${as4Id}.receipt.pem`);
      assert.ok(municipality.stdout.includes(receiptFile), municipality.stdout);

      // The kept certificates are the signers': municipality's AP signed the message, gp's AP the receipt.
      const manifest = readNetworkManifest(dir);
      const as4Cert = (org: string) =>
        new X509Certificate(
          readFileSync(manifest.organisations.find((o) => o.name === org)!.certificates.as4.cert),
        );
      assert.ok(new X509Certificate(readFileSync(soapPem)).raw.equals(as4Cert('municipality').raw));
      assert.ok(new X509Certificate(readFileSync(receiptPem)).raw.equals(as4Cert('gp').raw));

      const message = await runEhmi(['as4', 'verify', soapFile, '--cert', soapPem]);
      assert.equal(message.code, 0, message.stdout + message.stderr);
      assert.match(message.stdout, /^valid$/m);
      assert.match(message.stdout, /^ok +#\S+ \(Messaging\)$/m);
      assert.match(message.stdout, /^not kept +cid:\S+ \(signed digest, attachment not kept\)$/m);
      const receipt = await runEhmi(['as4', 'verify', receiptFile, '--cert', receiptPem]);
      assert.equal(receipt.code, 0, receipt.stdout + receipt.stderr);
      assert.match(receipt.stdout, /\(Receipt\)/);

      // One byte changed inside eb:Messaging (the MessageId's first character).
      const bytes = readFileSync(soapFile);
      const at = bytes.indexOf(`:MessageId>${as4Id}`) + ':MessageId>'.length;
      assert.ok(at > ':MessageId>'.length);
      bytes[at] = bytes[at] === 0x61 ? 0x62 : 0x61;
      const tampered = join(out, 'tampered.xml');
      writeFileSync(tampered, bytes);
      const bad = await runEhmi(['as4', 'verify', tampered, '--cert', soapPem]);
      assert.equal(bad.code, 1, bad.stdout + bad.stderr);
      assert.match(bad.stdout, /^invalid: EBMS:0101/m);

      // Written files are never overwritten; an unknown id is not found; an unknown organisation is a usage error.
      const again = await runEhmi(['evidence', 'gp', as4Id, '--out', out, '--data', dir]);
      assert.equal(again.code, 2, again.stderr);
      const none = await runEhmi(['evidence', 'gp', 'nope@nowhere', '--data', dir]);
      assert.equal(none.code, 1, none.stderr);
      assert.match(none.stderr, /keeps no evidence for AS4 message nope@nowhere/);
      assert.equal((await runEhmi(['evidence', 'nobody', as4Id, '--data', dir])).code, 2);
    });

    it('ehmi send --payload carries an EDIFACT, an OIOXML and a CDA document to the inbox byte for byte, with their DOCUMENTID, PROCESSID and Standard; ehmi inbox --get saves each', {
      timeout: 180_000,
    }, async () => {
      const running = await start();
      const payloads = [
        {
          file: join(FIXTURES, 'payloads/edifact/medrpt-r0131k-synthetic.edi'),
          documentType: 'urn:dk:healthcare:medcom:messaging:edifact:medrpt:rpt01:r0131k',
          kind: [] as string[],
          standard: 'rpt01',
          mimeType: 'application/edifact',
        },
        {
          file: join(FIXTURES, 'payloads/oioxml/xrpt01-xr0131k-synthetic.xml'),
          documentType: 'urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medrpt:xrpt01:xr0131k',
          kind: [] as string[],
          standard: 'xrpt01',
          mimeType: 'application/xml',
        },
        {
          // HL7's CDA R2 sample: the code system names no CDA document type; it travels as binary document transport.
          file: join(FIXTURES, 'payloads/cda/cda.xml'),
          documentType: 'urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medbin:xbin01:xb0131x',
          kind: ['--kind', 'cda'],
          standard: 'xbin01',
          mimeType: 'application/xml',
        },
      ];
      const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
      const out = join(dir, 'payloads-received');
      await mkdir(out, { recursive: true });
      const gpStore = running.nodes.gp!.store;
      for (const p of payloads) {
        const sent = readFileSync(p.file);
        assert.ok(sent.length > 500, `fixture ${p.file}`);
        const r = await runEhmi([
          'send',
          '--from',
          'municipality',
          '--to',
          'gp',
          '--payload',
          p.file,
          '--document-type',
          p.documentType,
          ...p.kind,
          // The ehmiSBDH needs PATIENTID: the reports' patient (MedCom's test CPR).
          '--patient',
          '0101010227',
          '--data',
          dir,
        ]);
        assert.equal(r.code, 0, r.stderr);
        const messageId = /MESSAGEIDENTIFIER (\S+)/.exec(r.stdout)?.[1];
        assert.ok(messageId, r.stdout);
        const item = await eventually(`${p.standard} in gp's inbox`, async () => {
          const list = await runEhmi(['inbox', 'gp', '--json', '--data', dir]);
          assert.equal(list.code, 0, list.stderr);
          return (
            JSON.parse(list.stdout) as {
              id: string;
              messageHeaderId: string;
              type: string;
              mimeType: string;
            }[]
          ).find((i) => i.messageHeaderId === messageId);
        });
        assert.equal(item.type, p.standard);
        assert.equal(item.mimeType, p.mimeType);
        const saved = join(out, `${p.standard}.bin`);
        const got = await runEhmi(['inbox', 'gp', '--get', item.id, '--out', saved, '--data', dir]);
        assert.equal(got.code, 0, got.stderr);
        // GET /inbox/{id} answers with the payload's own media type.
        assert.ok(got.stdout.includes(`octets (${p.mimeType})`), got.stdout);
        assert.equal(
          sha(readFileSync(saved)),
          sha(sent),
          `${p.file}: the receiver's octets are the sender's`,
        );
        // The envelope as the receiving MSH holds it: the ehmiSBDH Standard, DOCUMENTID and PROCESSID.
        const row = await gpStore.db
          .selectFrom('msh_inbox' as never)
          .select(['envelope_hash' as never])
          .where('id' as never, '=', item.id as never)
          .executeTakeFirstOrThrow();
        const envelope = parse(await gpStore.blobs.read((row as { envelope_hash: string }).envelope_hash));
        assert.equal(scopeValue(envelope, 'DOCUMENTID'), p.documentType);
        assert.equal(scopeValue(envelope, 'PROCESSID'), 'urn:ehmi:sdn-emergence');
        assert.equal(envelope.documentIdentification.standard, p.standard);
        assert.equal(sha(payloadOf(envelope)), sha(sent));
      }

      // A document type outside EHMI's code system is refused by the sending MSH, naming the code system.
      const unknown = await runEhmi([
        'send',
        '--from',
        'municipality',
        '--to',
        'gp',
        '--payload',
        payloads[0]!.file,
        '--document-type',
        'urn:dk:medcom:edifact:MEDRPT',
        '--data',
        dir,
      ]);
      assert.equal(unknown.code, 1, unknown.stderr);
      assert.match(unknown.stderr, /HTTP 422/);
      assert.match(unknown.stderr, /not a message definition of CodeSystem .*ehmi-message-definition-uri/);
    });

    it('ehmi ping: the test service is receipted by the partner AP and delivered to no one; the round trip is recorded as its last ping', {
      timeout: 180_000,
    }, async (t) => {
      const running = await start();
      const gpStore = running.nodes.gp!.store;
      const inboxBefore = await gpStore.db
        .selectFrom('msh_inbox' as never)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      const r = await runEhmi(['ping', 'gp', '--from', 'municipality', '--json', '--data', dir]);
      assert.equal(r.code, 0, r.stderr);
      const p = JSON.parse(r.stdout) as {
        receiver: string;
        as4MessageId: string;
        roundTripMs: number;
        receiptTime: string;
        endpointUrl: string;
      };
      const manifest = readNetworkManifest(dir);
      const gp = manifest.organisations.find((o) => o.name === 'gp')!;
      assert.equal(p.receiver, `0088:${gp.gln}`);
      assert.ok(Number.isInteger(p.roundTripMs) && p.roundTripMs >= 0, r.stdout);
      t.diagnostic(
        `round trip ${p.roundTripMs} ms (the first ping of gp; its AP connection may be open already)`,
      );
      assert.ok(Number.isFinite(Date.parse(p.receiptTime)), r.stdout);
      assert.equal(new URL(p.endpointUrl).origin, new URL(gp.ap).origin);
      // The receiving AP verified, receipted and recorded it as a test message; nothing went to its MSH.
      const received = await gpStore.db
        .selectFrom('ap_received' as never)
        .select(['status' as never, 'document_type' as never])
        .where('message_id' as never, '=', p.as4MessageId as never)
        .executeTakeFirstOrThrow();
      assert.deepEqual(received, {
        status: 'test',
        document_type: 'http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/test',
      });
      const deliveries = await gpStore.db
        .selectFrom('jobs' as never)
        .select('id' as never)
        .where('queue' as never, '=', 'ap.deliver' as never)
        .where('payload' as never, 'like', `%${p.as4MessageId}%` as never)
        .execute();
      assert.deepEqual(deliveries, []);
      const inboxAfter = await gpStore.db
        .selectFrom('msh_inbox' as never)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      assert.equal(Number(inboxAfter.n), Number(inboxBefore.n));
      // The sender keeps it as gp's last successful ping (GET /pings), and its receipt as evidence.
      const client = NetworkClient.open(dir);
      try {
        const pings = await client.call('municipality', 'GET', '/pings');
        assert.equal(pings.status, 200, pings.text);
        const last = (
          pings.json as { receiver: string; lastOk?: { roundTripMs: number; as4MessageId: string } }[]
        ).find((x) => x.receiver === p.receiver);
        assert.equal(last?.lastOk?.as4MessageId, p.as4MessageId);
        assert.equal(last?.lastOk?.roundTripMs, p.roundTripMs);
        // The network's operator reads it too (as the console does); an organisation's own token pings only from its MSH.
        const operator = await client.callAsOperator('municipality', 'GET', '/pings');
        assert.equal(operator.status, 200, operator.text);
        const refused = await client.callAsOperator('municipality', 'POST', `/ping?receiver=0088:${gp.gln}`);
        assert.equal(refused.status, 403, refused.text);
        // A participant the register does not serve: 404 naming it, and its failed attempt is recorded.
        const nobody = '0088:5790000000098';
        const missing = await client.call('municipality', 'POST', `/ping?receiver=${nobody}`);
        assert.equal(missing.status, 404, missing.text);
        assert.match(missing.text, /5790000000098/);
        const after = await client.call('municipality', 'GET', '/pings');
        const failed = (after.json as { receiver: string; lastOk?: unknown; lastError?: string }[]).find(
          (x) => x.receiver === nobody,
        );
        assert.equal(failed?.lastOk, undefined);
        assert.match(failed?.lastError ?? '', /5790000000098/);
      } finally {
        await client.close();
      }
      const evidence = await runEhmi([
        'evidence',
        'municipality',
        p.as4MessageId,
        '--out',
        join(dir, 'ping-evidence'),
        '--data',
        dir,
      ]);
      assert.equal(evidence.code, 0, evidence.stderr);
      const human = await runEhmi(['ping', 'gp', '--data', dir]);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /^gp's access point answered \S+'s ping: round trip \d+ ms, receipt \S+$/m);
      // An organisation that is not in the network is a usage error.
      assert.equal((await runEhmi(['ping', 'nobody', '--data', dir])).code, 2);
    });

    it('without a running network: exit 4', async () => {
      const empty = await mkdtemp(join(tmpdir(), 'ehmi-cli-evidence-none-'));
      try {
        const r = await runEhmi(['evidence', 'gp', 'x@y', '--data', empty]);
        assert.equal(r.code, 4, r.stderr);
      } finally {
        await rm(empty, { recursive: true, force: true });
      }
    });
  });
