// The pilot end to end, on one local network per engine (SQLite; PostgreSQL when DATABASE_URL is set): the
// municipality finds the patient's GP through EAS and sends it a prøvesvar; it is validated, discovered through DNS
// and the SMP, sent by AS4 signed and encrypted with access tokens on every API, receipted (AS4 receipt and
// EnvelopeReceipt), delivered to the GP's inbox and acknowledged with a MedCom acknowledgement that travels back; a
// copy lands in the document archive with its DocumentReference, found by CPR; EDS holds the whole timeline, the
// copy's own steps naming the message (ehmiOrigMessage); the audit logs hold every access.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readDeliveryStatus } from '@ehmi/sbdh';
import pg from 'pg';
import pino from 'pino';
import { Agent, fetch } from 'undici';
import {
  type ManifestOrganisation,
  NetworkClient,
  type RunningNetwork,
  startNetwork,
} from '../../network/src/index.ts';
import { SAMPLE_PATIENT_CPR, sampleHomeCareObservation } from '../../network/src/sample.ts';
import { engines, eventually, FAST, freePortBase } from '../../server/test/e2e/helpers.ts';
import { runEhmi } from './helpers.ts';

const logger = pino({ level: 'silent' });
const CPR_SYSTEM = 'urn:oid:1.2.208.176.1.2';
/** How long a step may take on a loaded machine before the test gives up (patience, never asserted on). */
const PATIENCE = 180_000;
type Json = Record<string, unknown>;
type Credential = { cert: string; key: string };
type Sent = {
  id: string;
  status: string;
  messageHeaderId: string;
  bundleId: string;
  events: { code: string; detail?: string; outcome: string }[];
  acknowledgement: { code: string } | null;
};
type Item = { id: string; bundleId: string };

for (const engine of engines()) {
  describe(`the pilot end to end (${engine.name})`, { skip: engine.skip }, () => {
    let dataDir: string;
    let net: RunningNetwork;
    let client: NetworkClient;
    let ca: string;
    let municipality: ManifestOrganisation;
    let gp: ManifestOrganisation;
    const prefix = `pilot_${Math.random().toString(16).slice(2, 8)}`;
    const agents: Agent[] = [];
    const agent = (tls: Credential) => {
      const a = new Agent({ connect: { ca, cert: readFileSync(tls.cert), key: readFileSync(tls.key) } });
      agents.push(a);
      return a;
    };
    /** What the pilot did, for the checks after it. */
    const pilot = {} as { sent: Sent; item: Item; documentId: string; gpFound: string };

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'ehmi-pilot-'));
      net = await startNetwork({
        dataDir,
        portBase: await freePortBase(),
        logger,
        base: { ...FAST, database: { schema: prefix } },
        ...(engine.databaseUrl ? { databaseUrl: engine.databaseUrl } : {}),
      });
      client = NetworkClient.open(dataDir);
      ca = readFileSync(net.manifest.trustAnchor, 'utf8');
      municipality = net.manifest.organisations.find((o) => o.role === 'municipality')!;
      gp = net.manifest.organisations.find((o) => o.role === 'gp')!;
    });
    after(async () => {
      for (const a of agents) await a.close();
      await client?.close();
      await net?.close();
      if (engine.databaseUrl) {
        const c = new pg.Client({ connectionString: engine.databaseUrl });
        await c.connect();
        for (const n of ['municipality', 'gp', 'hospital', 'central', 'archive'])
          await c.query(`DROP SCHEMA IF EXISTS "${prefix}_${n}" CASCADE`);
        await c.end();
      }
      await rm(dataDir, { recursive: true, force: true });
    });

    it('runs the pilot: EAS, send, AS4, receipts, inbox, acknowledgement, and the copy in the archive', async () => {
      // The archive is a participant of its own, on its own node, listed in network.json.
      assert.ok(net.archive, 'the archive node runs');
      assert.equal(net.manifest.services.archive, net.plan.archive!.urls.archive);
      assert.equal(net.archive.store.engine, engine.databaseUrl ? 'postgres' : 'sqlite');
      // 1. The municipality's EUA finds the patient's GP through EAS (a token with eas/patient-gp.r).
      const eas = net.manifest.services.eas!;
      const tokenRes = await fetch(`${net.manifest.services.auth}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: municipality.clientId,
          scope: 'eas/patient-gp.r',
          resource: eas,
        }).toString(),
        dispatcher: agent(municipality.tls),
      });
      assert.equal(tokenRes.status, 200);
      const easToken = String(((await tokenRes.json()) as Json).access_token);
      const lookup = await fetch(`${eas}/Organization/$getReceivingOrganizationByPatientId`, {
        method: 'POST',
        dispatcher: agent(municipality.tls),
        headers: {
          authorization: `Bearer ${easToken}`,
          'content-type': 'application/fhir+json',
          accept: 'application/fhir+json',
        },
        body: JSON.stringify({
          resourceType: 'Parameters',
          parameter: [
            {
              name: 'easCorePatient',
              resource: {
                resourceType: 'Patient',
                identifier: [{ system: CPR_SYSTEM, value: SAMPLE_PATIENT_CPR }],
              },
            },
          ],
        }),
      });
      const found = await lookup.text();
      assert.equal(lookup.status, 200, found);
      const to = net.manifest.organisations.find((o) => found.includes(o.gln) && o.role === 'gp');
      assert.ok(to, `EAS names the GP practice: ${found.slice(0, 300)}`);
      pilot.gpFound = to.name;

      // 2. The prøvesvar, submitted with the municipality's token: validated and accepted.
      const message = JSON.stringify(sampleHomeCareObservation(municipality, to));
      const res = await client.call('municipality', 'POST', '/messages', {
        bytes: message,
        contentType: 'application/fhir+json',
      });
      assert.equal(res.status, 202, res.text);
      const accepted = res.json as Sent;

      // 3. Delivered to the GP's inbox.
      pilot.item = await eventually(
        'the prøvesvar in the gp’s inbox',
        async () => {
          const inbox = await client.call('gp', 'GET', '/inbox');
          return (inbox.json as Item[]).find((i) => i.bundleId === accepted.bundleId);
        },
        PATIENCE,
      );
      // 4. Receipted by the GP's MSH (EnvelopeReceipt), then acknowledged by the GP: the acknowledgement travels back.
      await eventually(
        'the EnvelopeReceipt at the municipality',
        async () => {
          const m = (await client.call('municipality', 'GET', `/messages/${accepted.id}`)).json as Sent;
          return m.status === 'receipted' ? m : undefined;
        },
        PATIENCE,
      );
      const ack = await client.call('gp', 'POST', `/inbox/${pilot.item.id}/$acknowledge`, {
        bytes: '{"code":"ok"}',
        contentType: 'application/json',
      });
      assert.ok(ack.status === 200 || ack.status === 202, ack.text);
      pilot.sent = await eventually(
        'the acknowledgement at the municipality',
        async () => {
          const m = (await client.call('municipality', 'GET', `/messages/${accepted.id}`)).json as Sent;
          return m.status === 'acknowledged' ? m : undefined;
        },
        PATIENCE,
      );
      assert.equal(pilot.sent.acknowledgement?.code, 'ok');

      // 5. The copy in the archive, found by CPR (patient:identifier), with its DocumentReference: the archive
      // took it, so it conforms to MedCom's XDS HomeCareObservation DocumentReference profile (it refuses others).
      const documents = await eventually(
        'the copy in the archive',
        async () => {
          const docs = await client.searchArchive([
            ['patient:identifier', `${CPR_SYSTEM}|${SAMPLE_PATIENT_CPR}`],
          ]);
          return docs.length > 0 ? docs : undefined;
        },
        PATIENCE,
      );
      assert.equal(documents.length, 1);
      const docRef = documents[0]!;
      assert.equal((docRef.masterIdentifier as Json).value, `urn:uuid:${pilot.sent.messageHeaderId}`);
      assert.deepEqual((docRef.meta as Json).profile, [
        'https://medcomfhir.dk/ig/xdsdocuments/StructureDefinition/homecare-observation-documentreference',
      ]);
      pilot.documentId = String(docRef.id);
    });

    it('sent the message by AS4, signed and encrypted, to the endpoint the SMP published (found through DNS)', async () => {
      assert.ok(pilot.sent, 'the pilot ran');
      // No static map anywhere: the access points discover through the network's DNS server and the SMP.
      for (const o of [...net.plan.organisations, net.plan.archive!]) {
        assert.ok(o.config.ap.discovery.smp, `${o.spec.name} discovers through the SMP`);
        assert.deepEqual(o.config.ap.discovery.static, {});
      }
      const sent = pilot.sent.events.find((e) => e.code === '03.2' && e.outcome === 'success');
      assert.match(sent?.detail ?? '', new RegExp(`to ${gp.ap}`));
      // The GP's AP keeps the signed SOAP part it received (its evidence), the municipality's the signed AS4 receipt.
      const inbound = await net.nodes
        .gp!.store.db.selectFrom('ap_evidence' as never)
        .selectAll()
        .where('kind' as never, '=', 'user-message' as never)
        .execute();
      const soap = (
        inbound as unknown as { content: string; counterpart: string; signer_subject: string }[]
      ).find((e) => e.counterpart === `0088:${municipality.gln}`);
      assert.ok(soap, 'the GP’s AP keeps the message’s signed SOAP part');
      const xml = Buffer.from(soap.content, 'base64').toString('utf8');
      assert.match(xml, /<(\w+:)?Signature[\s>]/);
      assert.match(xml, /EncryptedKey/);
      assert.match(soap.signer_subject, /municipality/);
      const receipts = await net.nodes
        .municipality!.store.db.selectFrom('ap_evidence' as never)
        .selectAll()
        .where('kind' as never, '=', 'receipt' as never)
        .execute();
      assert.ok(
        (receipts as unknown as { counterpart: string }[]).some((r) => r.counterpart === `0088:${gp.gln}`),
        'the municipality keeps the GP AP’s signed receipt',
      );
    });

    it('asks for an access token on every API: the MSH and the archive refuse a call without one', async () => {
      for (const url of [
        `${municipality.msh}/messages`,
        `${net.manifest.services.archive}/DocumentReference`,
      ]) {
        const res = await fetch(url, { dispatcher: agent(municipality.tls) });
        assert.equal(res.status, 401, url);
        await res.body?.cancel();
      }
    });

    it('ehmi archive search finds the copy by CPR', async () => {
      assert.ok(pilot.documentId, 'the pilot ran');
      const json = await runEhmi([
        'archive',
        'search',
        '--patient',
        SAMPLE_PATIENT_CPR,
        '--json',
        '--data',
        dataDir,
      ]);
      assert.equal(json.code, 0, json.stderr);
      assert.deepEqual(
        (JSON.parse(json.stdout) as Json[]).map((d) => d.id),
        [pilot.documentId],
      );
      const text = await runEhmi(['archive', 'search', '--patient', SAMPLE_PATIENT_CPR, '--data', dataDir]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, new RegExp(`HCOMsg .*${SAMPLE_PATIENT_CPR}.*${pilot.documentId}`));
      assert.match(text.stdout, /^1 document$/m);
      const none = await runEhmi(['archive', 'search', '--patient', '0101010101', '--data', dataDir]);
      assert.match(none.stdout, /^no documents$/m);
      const bad = await runEhmi(['archive', 'search', '--patient', '12', '--data', dataDir]);
      assert.equal(bad.code, 2, bad.stderr);
    });

    it('serves the archived document itself, as the organisations’ systems read it', async () => {
      assert.ok(pilot.documentId, 'the pilot ran');
      const binary = await client.readArchive(`/Binary/${pilot.documentId}`, 'gp');
      assert.equal(binary.status, 200, binary.text);
      const bundle = JSON.parse(Buffer.from(String((binary.json as Json).data), 'base64').toString()) as Json;
      assert.equal(bundle.id, pilot.item.bundleId);
      const asGp = await client.searchArchive([['patient:identifier', SAMPLE_PATIENT_CPR]], 'gp');
      assert.deepEqual(
        asGp.map((d) => d.id),
        [pilot.documentId],
      );
    });

    it('EDS holds the whole timeline, and the copy’s own steps naming the message (ehmiOrigMessage)', async () => {
      assert.ok(pilot.sent, 'the pilot ran');
      const id = pilot.sent.messageHeaderId;
      const expected = ['01.1', '02.1', '02.2', '03.1', '03.2', '04.1', '04.2', '05.1', '10.1', '15.1'];
      const views = await eventually(
        'the message’s steps in EDS',
        async () => {
          const v = (await client.searchEds([['message-id', id]]))
            .map((e) => readDeliveryStatus(e))
            .filter((e) => e !== undefined);
          const answers = (await client.searchEds([['orig-message-id', id]]))
            .map((e) => readDeliveryStatus(e))
            .filter((e) => e !== undefined);
          const codes = new Set([...v, ...answers].map((e) => e.step?.code));
          const copy = answers.filter((e) => e.flow === 'message');
          const copyCodes = new Set(copy.map((e) => e.step?.code));
          return expected.every((c) => codes.has(c)) &&
            ['02.2', '03.1', '03.2', '04.1', '04.2', '05.1'].every((c) => copyCodes.has(c))
            ? { message: v, copy }
            : undefined;
        },
        PATIENCE,
      );
      // The copy is a delivery of its own, to the archive: its own id, the message as its original.
      for (const e of views.copy) {
        assert.notEqual(e.messageId, id);
        assert.equal(e.originalMessageId, id);
        assert.equal(e.receiver.gln, net.plan.archive!.spec.gln);
        assert.equal(e.outcome, 'success');
      }
      // The message's own events name no archive step.
      assert.ok(views.message.every((e) => e.receiver.gln === gp.gln || e.sender.gln === gp.gln));
    });

    it('the audit logs hold every access: the archive’s search by CPR (for MinLog) and read, the MSHs’ calls', async () => {
      assert.ok(pilot.documentId, 'the pilot ran');
      const archiveNode = net.plan.archive!.urls.node;
      const records = await eventually(
        'the archive’s audit records',
        async () => {
          const res = await client.audit(
            archiveNode,
            new URLSearchParams({ patient: `${CPR_SYSTEM}|${SAMPLE_PATIENT_CPR}`, _count: '100' }),
          );
          assert.equal(res.status, 200, res.text);
          const events = ((res.json as { entry?: { resource: Json }[] }).entry ?? []).map((e) => e.resource);
          const text = JSON.stringify(events);
          return text.includes('search-type') && text.includes(`Binary/${pilot.documentId}`)
            ? events
            : undefined;
        },
        PATIENCE,
      );
      assert.ok(
        records.some((r) => JSON.stringify(r.purposeOfEvent ?? '').includes('person-lookup')),
        'the search by CPR is flagged for MinLog',
      );
      // The MSHs' calls about the patient: the municipality's submission and reads, the gp's inbox and acknowledgement.
      for (const o of [municipality, gp]) {
        const calls = await eventually(
          `${o.name}'s audit records of the patient`,
          async () => {
            const res = await client.audit(
              o.node!,
              new URLSearchParams({ patient: `${CPR_SYSTEM}|${SAMPLE_PATIENT_CPR}`, _count: '100' }),
            );
            assert.equal(res.status, 200, res.text);
            const entries = (res.json as { entry?: unknown[] }).entry ?? [];
            return entries.length > 0 ? entries : undefined;
          },
          PATIENCE,
        );
        assert.ok(calls.length > 0);
      }
    });
  });
}
