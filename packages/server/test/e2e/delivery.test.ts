// Two nodes of the local network on loopback over HTTPS (generated PKI, real databases): municipality's EUA sends
// a prøvesvar to gp's EUA through both MSHs and access points (the local network's end-to-end tests).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import {
  type ApProxy,
  as4MessageId,
  engines,
  eventually,
  inbox,
  makePair,
  type Pair,
  reaches,
  routeThrough,
  startApProxy,
  status,
  submit,
} from './helpers.ts';

for (const engine of engines()) {
  describe(`end to end on ${engine.name}: municipality → gp over AS4`, { skip: engine.skip }, () => {
    let pair: Pair;
    let proxy: ApProxy;

    before(async () => {
      pair = await makePair(engine);
      // municipality reaches gp's AP through a proxy the tamper test uses; it forwards everything otherwise.
      proxy = await startApProxy(pair, 'gp');
      routeThrough(pair, 'municipality', 'gp', proxy);
      await Promise.all([pair.start('municipality'), pair.start('gp')]);
    });
    after(async () => {
      await pair?.cleanup();
      await proxy?.close();
    });

    it('a prøvesvar reaches the inbox; the AS4 receipt and the EnvelopeReceipt come back (receipted); $acknowledge → acknowledged', async () => {
      const sent = await submit(pair);
      assert.equal(sent.status, 202);
      const receipted = await reaches(pair, 'municipality', sent.body.id, 'receipted');
      // The MSH and its AP share the store: the MSH took the send's outcome in the commit that ended the send, so no
      // outcome job was queued on either node (the envelope, and the EnvelopeReceipt back), and the row notes it.
      for (const node of ['municipality', 'gp'] as const) {
        const db = pair.nodes[node]!.store.db;
        // gp's send of the EnvelopeReceipt ends once municipality's AP receipt is back: it may end a little later.
        await eventually(`the sends of ${node} told to its MSH`, async () => {
          const rows = await db.selectFrom('ap_outbound').select(['status', 'outcome_at']).execute();
          return rows.length > 0 && rows.every((r) => r.status === 'sent' && r.outcome_at !== null)
            ? true
            : undefined;
        });
        const jobs = await db.selectFrom('jobs').select('id').where('queue', '=', 'ap.outcome').execute();
        assert.deepEqual(jobs, [], `no ap.outcome job on ${node}`);
        // Nor a dispatch job: the AP took each envelope in the transaction that added it (the message, and the
        // EnvelopeReceipt back), and each submission is recorded handed over with the AS4 MessageId the AP gave it.
        const dispatches = await db
          .selectFrom('jobs')
          .select('id')
          .where('queue', '=', 'msh.dispatch')
          .execute();
        assert.deepEqual(dispatches, [], `no msh.dispatch job on ${node}`);
        const subs = await db.selectFrom('msh_submissions').select(['id', 'as4_message_id']).execute();
        const outbound = await db
          .selectFrom('ap_outbound')
          .select(['submission_id', 'as4_message_id'])
          .execute();
        assert.ok(subs.length > 0, `submissions on ${node}`);
        for (const sub of subs) {
          const row = outbound.find((o) => o.submission_id === sub.id);
          assert.equal(sub.as4_message_id, row?.as4_message_id, `submission ${sub.id} on ${node}`);
        }
      }
      // The receiving MSH took the message in its AP's reception commit: no hand-over job on gp, the row delivered.
      const gpDb = pair.nodes.gp!.store.db;
      assert.deepEqual(
        await gpDb.selectFrom('jobs').select('id').where('queue', '=', 'ap.deliver').execute(),
        [],
        'no ap.deliver job on gp',
      );
      assert.deepEqual(
        (await gpDb.selectFrom('ap_received').select('status').execute()).map((r) => r.status),
        ['delivered'],
      );
      const codes = receipted.events.map((e) => e.code);
      assert.ok(codes.includes('10.1'), `EnvelopeReceipt event in ${codes.join(' ')}`);
      assert.ok(
        receipted.events.some((e) => e.station === 'ap' && e.outcome === 'success'),
        'an AP event',
      );
      const items = await inbox(pair, 'gp');
      const item = items.find((i) => i.messageHeaderId === sent.body.messageHeaderId);
      assert.ok(item, 'the inbox lists it');
      assert.equal(item.type, 'homecareobservation-message');
      assert.equal(item.sender, '0088:5790000123117');
      assert.equal(item.bundleId, sent.body.bundleId);
      // The message itself, as FHIR JSON
      const got = await pair.client.call('gp', 'GET', `/inbox/${item.id}`);
      assert.equal(got.status, 200);
      assert.equal((got.json as { id: string }).id, sent.body.bundleId);
      // The receiving EUA acknowledges; the acknowledgement travels back.
      const ack = await pair.client.call('gp', 'POST', `/inbox/${item.id}/$acknowledge`, {
        bytes: JSON.stringify({ code: 'ok' }),
        contentType: 'application/json',
      });
      assert.equal(ack.status, 202, ack.text);
      const acked = await reaches(pair, 'municipality', sent.body.id, 'acknowledged');
      assert.equal(acked.acknowledgement?.code, 'ok');
      assert.ok(
        acked.events.some((e) => e.code === '15.1'),
        'the acknowledgement is in the timeline',
      );
    });

    it('the same message submitted twice is accepted once and delivered once', async () => {
      const first = await submit(pair);
      const second = await submit(pair, 'municipality', 'gp', first.bytes);
      assert.equal(second.status, 200, 'an identical resubmission answers 200 with the earlier object');
      assert.equal(second.body.id, first.body.id);
      await reaches(pair, 'municipality', first.body.id, 'receipted');
      // The MSH refuses the same MessageHeader.id with another Bundle.id (that is a resend: POST …/$resend).
      const bundle = JSON.parse(first.bytes.toString('utf8'));
      bundle.id = crypto.randomUUID();
      const other = await pair.client.call('municipality', 'POST', '/messages', {
        bytes: JSON.stringify(bundle),
        contentType: 'application/fhir+json',
      });
      assert.equal(other.status, 409, other.text);
      // A MedCom resend (new envelope, new Bundle.id, same MessageHeader.id) reaches the receiver, which delivers
      // it no second time (MR8.R) and answers with the same EnvelopeReceipt.
      const resent = await pair.client.call('municipality', 'POST', `/messages/${first.body.id}/$resend`);
      assert.equal(resent.status, 202, resent.text);
      // The message was receipted before the resend: wait for the receiver's EnvelopeReceipt of the new envelope.
      const envelope = `envelope ${(resent.json as { envelopeId: string }).envelopeId}`;
      await eventually('the EnvelopeReceipt of the resend', async () =>
        (await status(pair, 'municipality', first.body.id)).events.find(
          (e) => e.code === '10.1' && e.outcome === 'success' && e.detail?.startsWith(envelope),
        ),
      );
      const items = (await inbox(pair, 'gp')).filter((i) => i.messageHeaderId === first.body.messageHeaderId);
      assert.equal(items.length, 1, 'MedCom MR8.R: one MessageHeader.id is delivered once');
    });

    it('the receiver is down for a while; the message arrives once it is up', async () => {
      await pair.stop('gp');
      const sent = await submit(pair);
      // Reception awareness keeps retrying with the same MessageId (eDelivery AS4 1.15 §3.3); nothing fails meanwhile.
      const { envelopeId } = await status(pair, 'municipality', sent.body.id);
      const outbound = await eventually('three attempts to reach gp', async () => {
        const row = await pair.nodes
          .municipality!.store.db.selectFrom('ap_outbound')
          .select(['attempts', 'status'])
          .where('submission_id', '=', envelopeId)
          .executeTakeFirst();
        return row && row.attempts >= 3 ? row : undefined;
      });
      assert.equal(outbound.status, 'pending');
      const waiting = await status(pair, 'municipality', sent.body.id);
      assert.equal(waiting.status, 'accepted');
      await pair.start('gp');
      await reaches(pair, 'municipality', sent.body.id, 'receipted');
      const items = (await inbox(pair, 'gp')).filter((i) => i.messageHeaderId === sent.body.messageHeaderId);
      assert.equal(items.length, 1);
    });

    it('a tampered AS4 message is refused with EBMS:0101 FailedAuthentication and nothing is delivered', async () => {
      proxy.mode = 'refuse';
      proxy.seen.length = 0;
      const before = (await inbox(pair, 'gp')).length;
      const sent = await submit(pair);
      const captured = await eventually('the AS4 message reaches the proxy', async () => proxy.seen[0]);
      const gpAs4 = `${pair.plan.organisations[1]!.urls.ap}/as4`;
      const post = async (body: Buffer) => {
        const r = await request(gpAs4, {
          method: 'POST',
          headers: { 'content-type': captured.contentType },
          body,
          dispatcher: new (await import('undici')).Agent({
            connect: { ca: (await import('node:fs')).readFileSync(pair.plan.pki.trustAnchor, 'utf8') },
          }),
        });
        return { status: r.statusCode, text: await r.body.text() };
      };
      const text = captured.body.toString('latin1');
      // 1. a signed header value changed (eb:Timestamp): the signature's digest no longer matches
      const header = text.replace(
        /(Timestamp>[^<]*?)(\d)(Z?<)/,
        (_m, a: string, d: string, c: string) => `${a}${(Number(d) + 1) % 10}${c}`,
      );
      assert.ok(header !== text, 'the Timestamp was changed');
      const r1 = await post(Buffer.from(header, 'latin1'));
      assert.ok(r1.status >= 400, `status ${r1.status}`);
      assert.match(r1.text, /EBMS:0101/, r1.text);
      // 2. one byte of the encrypted payload flipped: the attachment digest no longer matches
      const attachment = Buffer.from(captured.body);
      const boundary = /boundary="?([^";]+)"?/.exec(captured.contentType)![1]!;
      const parts = [
        ...text.matchAll(new RegExp(`--${boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'g')),
      ];
      const lastPart = parts[parts.length - 2]!.index!;
      const bodyStart = text.indexOf('\r\n\r\n', lastPart) + 4;
      attachment[bodyStart + 20] = attachment[bodyStart + 20]! ^ 0xff;
      const r2 = await post(attachment);
      assert.ok(r2.status >= 400, `status ${r2.status}`);
      assert.match(r2.text, /EBMS:010[12]/, r2.text);
      assert.deepEqual(await pair.nodes.gp!.accessPoint!.idle({ drained: true }), { next: undefined });
      assert.equal((await inbox(pair, 'gp')).length, before, 'nothing delivered');
      // The real message, retried with its own MessageId, still arrives once.
      proxy.mode = 'forward';
      await reaches(pair, 'municipality', sent.body.id, 'receipted');
      const ids = new Set(proxy.seen.map(as4MessageId));
      assert.equal(ids.size, 1, 'every attempt carried the same AS4 MessageId');
      assert.equal((await inbox(pair, 'gp')).length, before + 1);
    });
  });
}
