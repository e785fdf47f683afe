import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { shippedValidator } from '@ehmi/fhir';
import { createCertificateAuthority, issueCertificate } from '@ehmi/pki';
import { EDS, parse, payloadEnvelope, readDeliveryStatus } from '@ehmi/sbdh';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createDeliveryStatus, type DeliveryStatusService } from '../../src/delivery-status/index.ts';
import { reportHandler } from '../../src/delivery-status/sender.ts';
import { createMessage } from '../../src/msh/lifecycle.ts';
import type { MshTables } from '../../src/msh/tables.ts';
import { QUEUES } from '../../src/path.ts';
import { loadConfig } from '../../src/role-list.ts';
import { type Job, storeView } from '../../src/store/index.ts';
import { engines, type TestStore } from '../helpers/engines.ts';
import { FIXTURES } from '../helpers/fixtures.ts';
import { type EdsDouble, startEdsDouble } from './eds-double.ts';

const T0 = Date.parse('2026-12-06T10:00:00Z');
const ORG = { name: 'municipality', gln: '5790000121526', sor: '1144561000016002' };
const logger = pino({ level: 'silent' });
// The MedCom example prøvesvar envelope (fixtures/SOURCES-ehmi-core.md): its sender is ORG's GLN.
const ENVELOPE = parse(readFileSync(join(FIXTURES, 'ehmi-sbdh/examples/ehmiSBDH_9a6ff822_HCO_full.xml')));

for (const engine of engines()) {
  describe(`EDS reporting through the eds.report queue (${engine.name})`, { skip: engine.skip }, () => {
    let test: TestStore;
    let double: EdsDouble;
    let tls: { ca: string[]; client: { key: string; cert: string } };
    const services: DeliveryStatusService[] = [];

    before(async () => {
      test = await engine.open();
      const root = await createCertificateAuthority({ subject: 'CN=EDS test root' });
      const server = await issueCertificate(root, {
        subject: 'CN=eds.test',
        purposes: ['tls-server'],
        ipAddresses: ['127.0.0.1'],
      });
      double = await startEdsDouble({ key: server.privateKeyPem, cert: server.certificatePem });
      tls = { ca: [root.certificatePem], client: { key: server.privateKeyPem, cert: server.certificatePem } };
    });
    after(async () => {
      for (const s of services) await s.close();
      await double?.close();
      await test?.cleanup();
    });

    function service(deliveryStatus: Record<string, unknown> = {}, node: Record<string, unknown> = {}) {
      const config = loadConfig({
        env: {},
        overrides: {
          insecure: true,
          organisation: ORG,
          queue: { pollIntervalMs: 20 },
          deliveryStatus: { url: double.url, backoffBaseMs: 20, backoffMaxMs: 100, ...deliveryStatus },
          ...node,
        },
      });
      const s = createDeliveryStatus(config, { store: test.store, logger, tls });
      services.push(s);
      return s;
    }

    async function jobs() {
      return test.store.db
        .selectFrom('jobs')
        .selectAll()
        .where('queue', '=', QUEUES.edsReport)
        .orderBy('created_at')
        .execute();
    }

    async function clear() {
      // The services of earlier tests stop first: their workers would otherwise take this test's jobs.
      for (const s of services.splice(0)) await s.close();
      await test.store.db.deleteFrom('jobs').where('queue', '=', QUEUES.edsReport).execute();
      double.stored.length = 0;
      for (const k of Object.keys(double.answered)) delete double.answered[Number(k)];
      double.mode = 'up';
    }

    /** A new message created by the MSH's lifecycle with its 01.1 report, in a transaction that may roll back. */
    async function submitted(s: DeliveryStatusService, fail?: Error) {
      const facts = s.reporter.factsOf(ENVELOPE);
      const id = randomUUID();
      await storeView<MshTables>(test.store).transaction(async (trx) => {
        await createMessage(
          trx,
          {
            id,
            kind: 'fhir',
            status: 'accepted',
            needs_action: null,
            message_header_id: facts.messageId,
            bundle_id: facts.messageEnvelopeId ?? null,
            submit_key: null,
            envelope_id: facts.transportEnvelopeId!,
            envelope_hash: 'h',
            envelope_size: 1,
            type: facts.messageType,
            sender: ENVELOPE.sender.value,
            receiver: ENVELOPE.receiver.value,
            document_type: 'd',
            process: 'p',
            resends: 0,
            ack_code: null,
            ack_at: null,
            failure_reason: null,
            failure_ebms: null,
            receipt_due: T0,
            ack_due: T0,
            inbox_id: null,
            patient_cpr: null,
            created_at: T0,
            updated_at: T0,
            ack_eds_facts: null,
            ack_taken_at: null,
          },
          { detail: 'submitted', time: T0, report: { eds: s.reporter, facts } },
        );
        if (fail) throw fail;
      });
      return id;
    }

    it("queues a step's report in the step's transaction: a rolled-back step reports nothing", async () => {
      await clear();
      const s = service();
      await assert.rejects(submitted(s, new Error('crash before commit')), /crash before commit/);
      assert.equal((await jobs()).length, 0, 'no report of a step that did not happen');
      const events = await test.store.db.selectFrom('msh_events').selectAll().execute();
      assert.equal(events.length, 0);

      const id = await submitted(s);
      const [job] = await jobs();
      assert.ok(job, 'the committed step has its report');
      assert.equal(job.status, 'ready');
      const { reports } = JSON.parse(job.payload) as {
        reports: { code: string; event: Record<string, unknown> }[];
      };
      assert.equal(reports.length, 1);
      const { code, event } = reports[0]!;
      assert.equal(code, '01.1');
      const view = readDeliveryStatus(event);
      assert.equal(view?.step?.code, '01.1');
      assert.equal(view?.sourceType, 'EUA-MSH');
      assert.equal(view?.deviceId, `${ORG.sor}-EUA`);
      assert.equal(view?.sender.name, ORG.name, "our organisation's name is on its side");
      assert.equal(view?.receiver.name, undefined, "the other party's name is not guessed");
      assert.deepEqual(
        shippedValidator()
          .issues(event)
          .filter((i) => i.severity === 'error'),
        [],
      );
      const timeline = await test.store.db
        .selectFrom('msh_events')
        .select('code')
        .where('message_id', '=', id)
        .execute();
      assert.deepEqual(
        timeline.map((e) => e.code),
        ['01.1'],
      );
    });

    it('POSTs each report; a repeated job stores one copy (EDS answers 200 to identical content)', async () => {
      await clear();
      const s = service();
      const registry = new Registry();
      s.registerMetrics(registry);
      const facts = s.reporter.factsOf(ENVELOPE);
      const step = { station: 'AP', side: 'origin', subtype: 'msg-received', facts, at: T0 } as const;
      await test.store.transaction((trx) => s.reporter.report(trx, step));
      // The same job again, as after a crash between the POST and the job's completion.
      await test.store.transaction((trx) => s.reporter.report(trx, step));
      s.start();
      await s.idle({ drained: true });
      assert.equal(double.stored.length, 1);
      assert.equal(readDeliveryStatus(double.stored[0]!)?.step?.code, '03.1');
      assert.equal(double.answered[201], 1);
      assert.equal(double.answered[200], 1);
      assert.deepEqual(
        (await jobs()).map((j) => j.status),
        ['done', 'done'],
      );
      const metric = await registry.getSingleMetric('ehmi_eds_reports_total')!.get();
      assert.equal(metric.values.find((v) => v.labels.result === 'reported')?.value, 2);
    });

    it('keeps every report while EDS is down, retrying without limit, and delivers them all when it is back', async () => {
      await clear();
      double.mode = 'down';
      const s = service();
      const facts = s.reporter.factsOf(ENVELOPE);
      await test.store.transaction(async (trx) => {
        for (const subtype of ['msg-received', 'msg-sent'] as const) {
          await s.reporter.report(trx, { station: 'MSH', side: 'origin', subtype, facts, at: T0 });
        }
        await s.reporter.report(trx, { station: 'AP', side: 'origin', subtype: 'msg-sent', facts, at: T0 });
      });
      s.start();
      // Several refusals of each: retried, nothing stored, nothing dead.
      await double.until((d) => (d.answered[503] ?? 0) >= 9);
      assert.equal(double.stored.length, 0);
      const waiting = await jobs();
      assert.ok(
        waiting.every((j) => j.status !== 'dead' && j.status !== 'done'),
        JSON.stringify(waiting.map((j) => j.status)),
      );
      assert.ok(waiting.every((j) => j.max_attempts >= 1_000_000));
      double.mode = 'up';
      await s.idle({ drained: true });
      assert.deepEqual(double.stored.map((e) => readDeliveryStatus(e)?.step?.code).sort(), [
        '02.1',
        '02.2',
        '03.2',
      ]);
    });

    it('dead-letters an event EDS refuses (422), logs its OperationOutcome and counts it', async () => {
      await clear();
      const lines: string[] = [];
      const s = createDeliveryStatus(
        loadConfig({
          env: {},
          overrides: {
            insecure: true,
            organisation: ORG,
            queue: { pollIntervalMs: 20 },
            deliveryStatus: { url: double.url },
          },
        }),
        {
          store: test.store,
          logger: pino({ level: 'error' }, { write: (l: string) => lines.push(l) }),
          tls,
        },
      );
      services.push(s);
      const registry = new Registry();
      s.registerMetrics(registry);
      const queue = new (await import('../../src/store/index.ts')).JobQueue(test.store, {
        leaseMs: 10_000,
        maxAttempts: 5,
        backoffBaseMs: 10,
        backoffMaxMs: 10,
      });
      // An event off its profile: a fault of ours, which no retry mends.
      const id = await queue.enqueue(test.store.db, {
        queue: QUEUES.edsReport,
        payload: { code: '01.1', event: { resourceType: 'AuditEvent', recorded: 'now' } },
        maxAttempts: 1_000_000,
      });
      s.start();
      await s.idle({ drained: true });
      const job = await queue.get(id);
      assert.equal(job?.status, 'dead');
      assert.equal(job?.attempts, 1);
      assert.equal(double.answered[422], 1);
      assert.ok(
        lines.some((l) => /OperationOutcome/.test(l) && /dead-lettered/.test(l)),
        lines.join('\n'),
      );
      const metric = await registry.getSingleMetric('ehmi_eds_reports_total')!.get();
      assert.equal(metric.values.find((v) => v.labels.result === 'dead')?.value, 1);
    });

    it("the reports of one transaction's steps are one job, written as it commits", async () => {
      await clear();
      const s = service();
      const facts = s.reporter.factsOf(ENVELOPE);
      // A time of its own: the double remembers the events of earlier tests and answers them 200.
      const step = { station: 'MSH', side: 'origin', facts, at: T0 + 7 } as const;
      await assert.rejects(
        test.store.transaction(async (trx) => {
          await s.reporter.report(trx, { ...step, subtype: 'msg-received' });
          throw new Error('rolled back');
        }),
        /rolled back/,
      );
      assert.equal((await jobs()).length, 0, 'no job of a transaction that rolled back');
      await test.store.transaction(async (trx) => {
        await s.reporter.report(trx, { ...step, subtype: 'msg-received' });
        await s.reporter.report(trx, { ...step, subtype: 'msg-sent' });
        const inside = await trx
          .selectFrom('jobs')
          .select('id')
          .where('queue', '=', QUEUES.edsReport)
          .execute();
        assert.equal(inside.length, 0, 'the job is written when the transaction ends');
      });
      const [job, ...more] = await jobs();
      assert.equal(more.length, 0);
      const { reports } = JSON.parse(job!.payload) as { reports: { code: string }[] };
      assert.deepEqual(
        reports.map((r) => r.code),
        ['02.1', '02.2'],
      );
      // On the plain handle (no transaction of the store's) each report is its own job at once.
      await s.reporter.report(test.store.db, { ...step, subtype: 'msg-received' });
      assert.equal((await jobs()).length, 2);
      s.start();
      await s.idle({ drained: true });
      assert.equal(double.stored.length, 2, 'each event once');
      assert.deepEqual(
        (await jobs()).map((j) => j.status),
        ['done', 'done'],
      );
    });

    it('a 401 drops the cached token and the report is tried again', async () => {
      await clear();
      double.mode = 'unauthorized';
      let forgotten = 0;
      const counted: string[] = [];
      const { plainFetch } = await import('../../src/delivery-status/sender.ts');
      const { Agent } = await import('undici');
      const agent = new Agent({ connect: { ca: tls.ca } });
      const handler = reportHandler({
        url: double.url,
        fetch: plainFetch(agent),
        timeoutMs: 5000,
        logger,
        count: (r) => counted.push(r),
        forgetToken: () => forgotten++,
      });
      const s = service();
      const { event } = s.reporter.event({
        station: 'MSH',
        side: 'origin',
        subtype: 'msg-received',
        facts: s.reporter.factsOf(ENVELOPE),
        at: T0,
      });
      const job = { id: 'j', payload: { code: '02.1', event } } as Job<{
        code: string;
        event: Record<string, unknown>;
      }>;
      const signal = new AbortController().signal;
      await assert.rejects(handler(job, { signal }), /EDS answered 401/);
      assert.equal(forgotten, 1);
      double.mode = 'up';
      await handler(job, { signal });
      assert.deepEqual(counted, ['retried', 'reported']);
      await agent.close();
    });

    it('a payload that names no patient reports with the Basic profile; without its receiver SOR, not at all', async () => {
      await clear();
      const s = service();
      const payload = (receiverSor?: string) =>
        payloadEnvelope('<letter/>', {
          kind: 'oioxml',
          sender: ORG.gln,
          receiver: '5790000201389',
          standard: 'XDIS91',
          typeVersion: '1.0',
          documentId: 'urn:dk:medcom:xdis91',
          processId: 'urn:dk:medcom:process',
          senderSor: ORG.sor,
          messageIdentifier: randomUUID(),
          ...(receiverSor ? { receiverSor } : {}),
        });
      const step = { station: 'MSH', side: 'origin', subtype: 'msg-received', at: T0 } as const;
      const { code, event } = s.reporter.event({
        ...step,
        facts: s.reporter.factsOf(payload('52581000016005')),
      });
      assert.equal(code, '02.1');
      assert.deepEqual((event.meta as { profile: string[] }).profile, [EDS.basicProfile]);
      assert.deepEqual(
        shippedValidator()
          .issues(event)
          .filter((i) => i.severity === 'error'),
        [],
      );
      // EDS names both parties by SOR code: an event without the receiver's would only be refused.
      await test.store.transaction((trx) =>
        s.reporter.report(trx, { ...step, facts: s.reporter.factsOf(payload()) }),
      );
      assert.equal((await jobs()).length, 0);
    });

    it('fails closed: a URL without authorization needs insecure; with authorization it needs a client id and tls', () => {
      const config = (o: Record<string, unknown>) =>
        loadConfig({ env: {}, overrides: { organisation: ORG, ...o } });
      assert.throws(
        () =>
          createDeliveryStatus(config({ deliveryStatus: { url: double.url } }), {
            store: test.store,
            logger,
            tls,
          }),
        /authorization.*insecure: true/s,
      );
      const authorization = { issuer: 'https://auth.test' };
      assert.throws(
        () =>
          createDeliveryStatus(config({ authorization, deliveryStatus: { url: double.url } }), {
            store: test.store,
            logger,
            tls,
          }),
        /deliveryStatus.clientId/,
      );
      assert.throws(
        () =>
          createDeliveryStatus(
            config({ authorization, deliveryStatus: { url: double.url, clientId: 'municipality-eua' } }),
            { store: test.store, logger },
          ),
        /needs tls/,
      );
      assert.throws(
        () =>
          createDeliveryStatus(
            config({ insecure: false, authorization, deliveryStatus: { url: 'http://eds.test' } }),
            {
              store: test.store,
              logger,
              tls,
            },
          ),
        /must be https/,
      );
      // Without a URL: nothing is reported, and the node says so once.
      const lines: string[] = [];
      const off = createDeliveryStatus(config({}), {
        store: test.store,
        logger: pino({ level: 'info' }, { write: (l: string) => lines.push(l) }),
      });
      assert.equal(off.reporter.enabled, false);
      assert.equal(lines.filter((l) => /reports no steps to EHMI Delivery Status/.test(l)).length, 1);
    });
  });
}
