// The sending node's reception of EnvelopeReceipts over real access points (municipality → gp, SQLite or
// PostgreSQL): the receiver's own EnvelopeReceipt is taken in the sending AP's reception commit, and one sent by
// another organisation with its own valid AS4 certificate, naming our message, is ignored as before. What the
// reception's savepoint must leave behind when the receipt's part is rolled back (its AS4 MessageId noted meanwhile),
// and what a duplicate or a negative EnvelopeReceipt taken in the commit comes to, are checked by their outcomes.
import assert from 'node:assert/strict';
import { createPrivateKey, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parse, RECEIPT_DOCUMENT_ID, receiptEnvelope } from '@ehmi/sbdh';
import pino from 'pino';
import { Agent, request } from 'undici';
import { buildOutboundMessage } from '../../src/ap/message.ts';
import type { InboundEnvelope } from '../../src/contract.ts';
import { builtEnvelope } from '../../src/msh/envelopes.ts';
import { receiptFor } from '../../src/msh/inbound/receipts.ts';
import { type EdsDouble, startEdsDouble } from '../eds-report/eds-double.ts';
import {
  type ApProxy,
  as4MessageId,
  engines,
  eventually,
  makePair,
  type Pair,
  reaches,
  routeThrough,
  startApProxy,
  status,
  submit,
} from './helpers.ts';

for (const engine of engines()) {
  describe(`end to end on ${engine.name}: the sender's EnvelopeReceipts`, { skip: engine.skip }, () => {
    let pair: Pair;
    let proxy: ApProxy;
    let eds: EdsDouble;
    /** What the nodes logged at info and above (their messages and fields), to count a log line. */
    const logged: { msg: string; org?: string; messageId?: string }[] = [];
    const participant = (org: string) =>
      `0088:${pair.plan.organisations.find((o) => o.spec.name === org)!.spec.gln}`;

    before(async () => {
      // The hospital is planned (its certificates issued and published) but not started: the third party.
      const logger = pino(
        { level: 'info' },
        { write: (line: string) => void logged.push(JSON.parse(line) as (typeof logged)[number]) },
      );
      pair = await makePair(engine, undefined, 3, logger);
      // Every station reports its steps to an EDS stand-in (the central node's TLS certificate).
      const central = pair.plan.pki.central.tlsServer;
      eds = await startEdsDouble({
        key: readFileSync(central.key, 'utf8'),
        cert: readFileSync(central.cert, 'utf8'),
      });
      for (const o of pair.plan.organisations) o.config.deliveryStatus.url = eds.url;
      proxy = await startApProxy(pair, 'gp');
      routeThrough(pair, 'municipality', 'gp', proxy);
      await Promise.all([pair.start('municipality'), pair.start('gp')]);
      // municipality's EUA hears of every event (its deliveries are counted; the URL answers nothing).
      await pair.nodes
        .municipality!.store.db.insertInto('msh_webhooks')
        .values({
          id: randomUUID(),
          url: 'https://127.0.0.1:9/hook',
          events: JSON.stringify(['inbox.received', 'message.acknowledged', 'message.failed']),
          description: null,
          secret: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
          created_by: null,
          created_at: Date.now(),
          disabled_at: null,
          disabled_reason: null,
        })
        .execute();
    });
    after(async () => {
      await pair?.cleanup();
      await proxy?.close();
      await eds?.close();
    });

    const deliverJobs = (org: string) =>
      pair.nodes[org]!.store.db.selectFrom('jobs')
        .select('status')
        .where('queue', '=', 'ap.deliver')
        .execute();

    /** An AS4 message carrying `xml` to municipality's AP, signed by `from`'s AP with its own key; AS4-receipted. */
    const postAs4 = async (
      from: string,
      xml: string,
      process: string,
      messageId = `${randomUUID()}@${from}.test.ehmi`,
    ): Promise<string> => {
      const pki = pair.plan.pki.organisations;
      const msg = await buildOutboundMessage({
        messageId,
        timestamp: new Date(),
        sender: participant(from),
        receiver: participant('municipality'),
        process,
        documentType: RECEIPT_DOCUMENT_ID,
        serviceType: 'dk-medcom-messaging',
        payload: { size: Buffer.byteLength(xml), open: () => Readable.from([Buffer.from(xml)]) },
        signing: {
          privateKey: createPrivateKey(readFileSync(pki[from]!.as4.key)),
          chain: [new X509Certificate(readFileSync(pki[from]!.as4.cert))],
        },
        recipientCertificate: new X509Certificate(readFileSync(pki.municipality!.as4.cert)),
      });
      const agent = new Agent({ connect: { ca: readFileSync(pair.plan.pki.trustAnchor, 'utf8') } });
      try {
        const url = `${pair.plan.organisations.find((o) => o.spec.name === 'municipality')!.urls.ap}/as4`;
        const res = await request(url, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': msg.contentType },
          body: msg.body,
        });
        // The AS4 message is authentic (its sender's AP signed it): receipted at the AS4 level.
        assert.equal(res.statusCode, 200);
        assert.match(await res.body.text(), /<(?:\w+:)?Receipt[\s>]/);
      } finally {
        await agent.close();
      }
      return messageId;
    };

    /** The EDS reports municipality queued, by code (each `eds.report` job holds one commit's reports). */
    const edsCodes = async (): Promise<Map<string, number>> => {
      const jobs = await pair.nodes
        .municipality!.store.db.selectFrom('jobs')
        .select('payload')
        .where('queue', '=', 'eds.report')
        .execute();
      const counts = new Map<string, number>();
      for (const j of jobs) {
        const payload = (typeof j.payload === 'string' ? JSON.parse(j.payload) : j.payload) as {
          reports: { code: string }[];
        };
        for (const r of payload.reports) counts.set(r.code, (counts.get(r.code) ?? 0) + 1);
      }
      return counts;
    };
    const edsAdded = async (before: Map<string, number>, code: string) =>
      ((await edsCodes()).get(code) ?? 0) - (before.get(code) ?? 0);

    /** Webhook deliveries municipality queued for an event (its EUA subscribed to every event in `before`). */
    const webhooks = async (type: string) =>
      (
        await pair.nodes
          .municipality!.store.db.selectFrom('msh_webhook_deliveries')
          .select('id')
          .where('event_type', '=', type)
          .execute()
      ).length;

    /** The submit → EnvelopeReceipt metric's count on municipality (first receipts only). */
    const receiptsObserved = async (): Promise<number> => {
      const metric = pair.nodes.municipality!.msh!.app.metrics.getSingleMetric('ehmi_msh_receipt_seconds')!;
      const values = (await metric.get()).values as { metricName?: string; value: number }[];
      return values.find((v) => v.metricName === 'ehmi_msh_receipt_seconds_count')?.value ?? 0;
    };

    /** Municipality's envelope of a sent message, its AP's row, and the bytes of the envelope. */
    const sentEnvelope = async (messageId: string) => {
      const db = pair.nodes.municipality!.store.db;
      const sub = await db
        .selectFrom('msh_submissions')
        .selectAll()
        .where('message_id', '=', messageId)
        .where('purpose', '=', 'message')
        .executeTakeFirstOrThrow();
      const outbound = await db
        .selectFrom('ap_outbound')
        .selectAll()
        .where('submission_id', '=', sub.id)
        .executeTakeFirstOrThrow();
      return {
        sub,
        outbound,
        original: parse(await pair.nodes.municipality!.store.blobs.read(sub.envelope_hash)),
      };
    };

    it('the receiver’s EnvelopeReceipt is taken in the sending AP’s reception commit: receipted, no hand-over job', async () => {
      const sent = await submit(pair);
      await reaches(pair, 'municipality', sent.body.id, 'receipted');
      const db = pair.nodes.municipality!.store.db;
      const received = await db.selectFrom('ap_received').select(['status', 'document_type']).execute();
      assert.ok(received.length > 0);
      for (const r of received) {
        assert.equal(r.document_type, RECEIPT_DOCUMENT_ID);
        assert.equal(r.status, 'delivered');
      }
      assert.deepEqual(await deliverJobs('municipality'), [], 'no ap.deliver job on municipality');
      const outcomes = await db.selectFrom('msh_received').select('outcome').execute();
      assert.deepEqual(
        outcomes.map((o) => o.outcome),
        received.map(() => 'receipt'),
      );
    });

    it('an EnvelopeReceipt from another organisation’s valid AS4 certificate naming our message is ignored; the receiver’s own receipts it', async () => {
      const municipality = pair.nodes.municipality!.store.db;
      // gp does not get the message for now: only the forged receipt can answer it.
      proxy.mode = 'refuse';
      const before = proxy.seen.length;
      const jobsBefore = (await deliverJobs('municipality')).length;
      const sent = await submit(pair);
      const seen = await eventually('the message tried at gp', async () => {
        const p = proxy.seen.slice(before).find((x) => as4MessageId(x) !== undefined);
        return p ? as4MessageId(p) : undefined;
      });
      const outbound = await municipality
        .selectFrom('ap_outbound')
        .selectAll()
        .where('as4_message_id', '=', seen)
        .executeTakeFirstOrThrow();
      const sub = await municipality
        .selectFrom('msh_submissions')
        .selectAll()
        .where('id', '=', outbound.submission_id)
        .executeTakeFirstOrThrow();
      assert.equal(sub.message_id, sent.body.id);
      // The EnvelopeReceipt gp would send, word for word, but sent by the hospital's AP with its own key.
      const original = parse(await pair.nodes.municipality!.store.blobs.read(sub.envelope_hash));
      const forged = receiptFor(original).xml;
      const hospital = participant('hospital');
      await postAs4('hospital', forged, outbound.process);
      const ignored = await eventually('the forged receipt ignored', async () => {
        const row = await municipality
          .selectFrom('msh_received')
          .selectAll()
          .where('detail', 'like', `%comes from ${hospital}, not from its receiver ${participant('gp')}%`)
          .executeTakeFirst();
        return row;
      });
      assert.equal(ignored.outcome, 'ignored');
      assert.equal(ignored.inbox_id, null);
      // Left to the hand-over job, which ignored it as ever: the reception delivered by the job, the message not receipted.
      await eventually('the hand-over job done', async () => {
        const jobs = await deliverJobs('municipality');
        return jobs.length === jobsBefore + 1 && jobs.every((j) => j.status === 'done') ? true : undefined;
      });
      const s = await status(pair, 'municipality', sent.body.id);
      assert.notEqual(s.status, 'receipted');
      assert.ok(!s.events.some((e) => e.code === '10.1'), 'no step 10.1');
      // gp gets the message now; its own receipt is taken (in the reception, no second job).
      proxy.mode = 'forward';
      await reaches(pair, 'municipality', sent.body.id, 'receipted');
      assert.equal((await deliverJobs('municipality')).length, jobsBefore + 1, 'no hand-over job for it');
    });
    /** gp's EnvelopeReceipt for municipality's envelope `envelopeId`, as gp sent it. */
    const gpReceipt = async (envelopeId: string): Promise<string> => {
      const gp = pair.nodes.gp!;
      for (const r of await gp.store.db
        .selectFrom('msh_submissions')
        .select('envelope_hash')
        .where('purpose', '=', 'receipt')
        .execute()) {
        const text = (await gp.store.blobs.read(r.envelope_hash)).toString('utf8');
        if (text.includes(envelopeId)) return text;
      }
      throw new Error(`gp's EnvelopeReceipt for ${envelopeId} not found`);
    };

    /** Municipality's records of an AS4 message it received: the MSH's note, the AP's row. */
    const received = async (as4Id: string) => {
      const db = pair.nodes.municipality!.store.db;
      const noted = await db
        .selectFrom('msh_received')
        .selectAll()
        .where('as4_message_id', '=', as4Id)
        .execute();
      const ap = await db
        .selectFrom('ap_received')
        .select('status')
        .where('message_id', '=', as4Id)
        .executeTakeFirst();
      return { noted, ap: ap?.status };
    };

    it('an EnvelopeReceipt whose AS4 MessageId the MSH noted between its preparation and the reception’s commit: its part rolled back, the job finds it delivered; receipted once', async () => {
      const backend = pair.nodes.municipality!.msh!.backend;
      const prepare = backend.prepareDelivery!;
      const raced: string[] = [];
      // Another delivery of the same AS4 message (another instance, a repeated call) commits after the reception
      // prepared the receipt and before its commit: the commit's `take` finds the AS4 MessageId taken.
      backend.prepareDelivery = async (inbound: InboundEnvelope) => {
        const prepared = await prepare(inbound);
        if (prepared && raced.length === 0 && inbound.documentType === RECEIPT_DOCUMENT_ID) {
          raced.push(inbound.as4MessageId);
          await backend.deliver(inbound);
        }
        return prepared;
      };
      const reports = await edsCodes();
      const observed = await receiptsObserved();
      const jobsBefore = (await deliverJobs('municipality')).length;
      let sent: Awaited<ReturnType<typeof submit>>;
      try {
        sent = await submit(pair);
        await reaches(pair, 'municipality', sent.body.id, 'receipted');
        // The reception committed with the hand-over job (its own part rolled back), which found it delivered.
        await eventually('the hand-over job done', async () => {
          const jobs = await deliverJobs('municipality');
          return jobs.length === jobsBefore + 1 && jobs.every((j) => j.status === 'done') ? true : undefined;
        });
      } finally {
        backend.prepareDelivery = prepare;
      }
      assert.equal(raced.length, 1, 'the receipt was prepared, and delivered before the commit');
      const r = await received(raced[0]!);
      assert.deepEqual(
        r.noted.map((n) => n.outcome),
        ['receipt'],
      );
      assert.equal(r.ap, 'delivered');
      const s = await status(pair, 'municipality', sent.body.id);
      assert.equal(s.status, 'receipted');
      assert.equal(s.events.filter((e) => e.code === '10.1').length, 1, 'one step 10.1');
      // Reported once each: received by the AP (09.1), handed to the MSH (09.2, by the job), receipted (10.1).
      assert.equal(await edsAdded(reports, '09.1'), 1);
      assert.equal(await edsAdded(reports, '09.2'), 1);
      assert.equal(await edsAdded(reports, '10.1'), 1);
      assert.equal((await receiptsObserved()) - observed, 1, 'the receipt time observed once');
    });

    it('the same EnvelopeReceipt again in another AS4 message: noted in the reception’s commit; one 10.1, the message unchanged, no webhook', async () => {
      const sent = await submit(pair);
      await reaches(pair, 'municipality', sent.body.id, 'receipted');
      const { sub, outbound } = await sentEnvelope(sent.body.id);
      const xml = await gpReceipt(sub.id);
      // Its first reception's reports are queued in the commit that receipted it (before `receipted` shows).
      const first = await status(pair, 'municipality', sent.body.id);
      const reports = await edsCodes();
      const observed = await receiptsObserved();
      const hooks = await webhooks('message.failed');
      const jobsBefore = (await deliverJobs('municipality')).length;
      const again = await postAs4('gp', xml, outbound.process);
      const r = await eventually('the second noted', async () => {
        const x = await received(again);
        return x.noted.length > 0 ? x : undefined;
      });
      assert.deepEqual(
        r.noted.map((n) => n.outcome),
        ['receipt'],
      );
      // Taken in the reception's commit: delivered, no hand-over job.
      assert.equal(r.ap, 'delivered');
      assert.equal((await deliverJobs('municipality')).length, jobsBefore);
      const s = await status(pair, 'municipality', sent.body.id);
      assert.equal(s.status, 'receipted');
      assert.deepEqual(s.events, first.events, 'the message unchanged by the second');
      assert.equal(s.events.filter((e) => e.code === '10.1').length, 1);
      // The second AS4 message is reported by the AP (09.1, 09.2); no second 10.1 (msg-received-and-finalized).
      assert.equal(await edsAdded(reports, '09.1'), 1);
      assert.equal(await edsAdded(reports, '09.2'), 1);
      assert.equal(await edsAdded(reports, '10.1'), 0);
      assert.equal(await webhooks('message.failed'), hooks, 'no webhook');
      assert.equal(await receiptsObserved(), observed, 'no second receipt time');
    });

    it('a ReceiptException taken in the reception’s commit: the message failed, message.failed once, no receipt time observed', async () => {
      // gp does not get the message: only the ReceiptException, sent as gp, answers it.
      proxy.mode = 'refuse';
      try {
        const before = proxy.seen.length;
        const sent = await submit(pair);
        await eventually('the message tried at gp', async () =>
          proxy.seen.slice(before).some((x) => as4MessageId(x) !== undefined) ? true : undefined,
        );
        const { outbound, original } = await sentEnvelope(sent.body.id);
        const xml = builtEnvelope(
          receiptEnvelope(original, { kind: 'exception', category: 'Syntax', reason: 'refused by the test' }),
        ).xml;
        const reports = await edsCodes();
        const observed = await receiptsObserved();
        const hooks = await webhooks('message.failed');
        const jobsBefore = (await deliverJobs('municipality')).length;
        const id = await postAs4('gp', xml, outbound.process);
        const s = await reaches(pair, 'municipality', sent.body.id, 'failed');
        assert.match(s.failure?.reason ?? '', /ReceiptException \(Syntax\): refused by the test/);
        assert.equal(s.events.filter((e) => e.code === '10.1').length, 1);
        const r = await received(id);
        assert.deepEqual(
          r.noted.map((n) => n.outcome),
          ['receipt'],
        );
        assert.equal(r.ap, 'delivered');
        assert.equal((await deliverJobs('municipality')).length, jobsBefore, 'no hand-over job');
        assert.equal((await webhooks('message.failed')) - hooks, 1, 'message.failed once');
        assert.equal(await edsAdded(reports, '10.1'), 1);
        assert.equal(await receiptsObserved(), observed, 'no receipt time for a ReceiptException');
      } finally {
        proxy.mode = 'forward';
      }
    });
    it('a duplicate EnvelopeReceipt whose part of the reception is rolled back after the MSH took it: noted once by the job, logged once', async () => {
      const sent = await submit(pair);
      await reaches(pair, 'municipality', sent.body.id, 'receipted');
      const { sub, outbound } = await sentEnvelope(sent.body.id);
      const xml = await gpReceipt(sub.id);
      const backend = pair.nodes.municipality!.msh!.backend;
      const prepare = backend.prepareDelivery!;
      const again = `${randomUUID()}@gp.test.ehmi`;
      const failed: string[] = [];
      // The reception's part fails after the MSH's take (its savepoint rolled back): the job delivers it.
      backend.prepareDelivery = async (inbound: InboundEnvelope) => {
        const prepared = await prepare(inbound);
        if (!prepared || inbound.as4MessageId !== again) return prepared;
        failed.push(inbound.as4MessageId);
        return {
          async take(trx) {
            await prepared.take(trx);
            throw new Error('the reception’s part failed after the MSH’s');
          },
        };
      };
      const first = await status(pair, 'municipality', sent.body.id);
      const jobsBefore = (await deliverJobs('municipality')).length;
      try {
        await postAs4('gp', xml, outbound.process, again);
        await eventually('the hand-over job done', async () => {
          const jobs = await deliverJobs('municipality');
          return jobs.length === jobsBefore + 1 && jobs.every((j) => j.status === 'done') ? true : undefined;
        });
      } finally {
        backend.prepareDelivery = prepare;
      }
      assert.deepEqual(failed, [again]);
      const r = await received(again);
      assert.deepEqual(
        r.noted.map((n) => n.outcome),
        ['receipt'],
      );
      assert.equal(r.ap, 'delivered');
      assert.deepEqual((await status(pair, 'municipality', sent.body.id)).events, first.events);
      // "The sender likewise ignores duplicate receipts and logs" (ehmi-core §6.1): once, for what committed.
      assert.equal(
        logged.filter((l) => l.msg === 'duplicate EnvelopeReceipt ignored' && l.messageId === sent.body.id)
          .length,
        1,
      );
    });
  });
}
