// The sending node's reception of EnvelopeReceipts over real access points (municipality → gp, SQLite or
// PostgreSQL): the receiver's own EnvelopeReceipt is taken in the sending AP's reception commit, and one sent by
// another organisation with its own valid AS4 certificate, naming our message, is ignored as before.
import assert from 'node:assert/strict';
import { createPrivateKey, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parse, RECEIPT_DOCUMENT_ID } from '@ehmi/sbdh';
import { Agent, request } from 'undici';
import { buildOutboundMessage } from '../../src/ap/message.ts';
import { receiptFor } from '../../src/msh/inbound/receipts.ts';
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
    const participant = (org: string) =>
      `0088:${pair.plan.organisations.find((o) => o.spec.name === org)!.spec.gln}`;

    before(async () => {
      // The hospital is planned (its certificates issued and published) but not started: the third party.
      pair = await makePair(engine, undefined, 3);
      proxy = await startApProxy(pair, 'gp');
      routeThrough(pair, 'municipality', 'gp', proxy);
      await Promise.all([pair.start('municipality'), pair.start('gp')]);
    });
    after(async () => {
      await pair?.cleanup();
      await proxy?.close();
    });

    const deliverJobs = (org: string) =>
      pair.nodes[org]!.store.db.selectFrom('jobs')
        .select('status')
        .where('queue', '=', 'ap.deliver')
        .execute();

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
      const pki = pair.plan.pki.organisations;
      const hospital = participant('hospital');
      const msg = await buildOutboundMessage({
        messageId: `${randomUUID()}@forged.ehmi`,
        timestamp: new Date(),
        sender: hospital,
        receiver: participant('municipality'),
        process: outbound.process,
        documentType: RECEIPT_DOCUMENT_ID,
        serviceType: 'dk-medcom-messaging',
        payload: { size: Buffer.byteLength(forged), open: () => Readable.from([Buffer.from(forged)]) },
        signing: {
          privateKey: createPrivateKey(readFileSync(pki.hospital!.as4.key)),
          chain: [new X509Certificate(readFileSync(pki.hospital!.as4.cert))],
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
        // The AS4 message is authentic (the hospital's AP signed it as the hospital): receipted at the AS4 level.
        assert.equal(res.statusCode, 200);
        assert.match(await res.body.text(), /<(?:\w+:)?Receipt[\s>]/);
      } finally {
        await agent.close();
      }
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
  });
}
