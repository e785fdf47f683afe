import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  createMessage,
  type LifecycleStep,
  type TransitionInput,
  transition,
} from '../../src/msh/lifecycle.ts';
import type { MshStore, MshTables } from '../../src/msh/tables.ts';
import { type WebhookEmitter, webhookEmitter } from '../../src/msh/webhooks/events.ts';
import { JobQueue, storeView } from '../../src/store/index.ts';
import { engines, type TestStore } from '../helpers/engines.ts';

const T0 = Date.parse('2026-12-06T10:00:00Z');

for (const engine of engines()) {
  describe(`a sent message's lifecycle (${engine.name})`, { skip: engine.skip }, () => {
    let test: TestStore;
    let store: MshStore;
    let webhooks: WebhookEmitter;

    before(async () => {
      test = await engine.open();
      store = storeView<MshTables>(test.store);
      const queue = new JobQueue(test.store, {
        leaseMs: 30_000,
        maxAttempts: 3,
        backoffBaseMs: 10,
        backoffMaxMs: 10,
      });
      webhooks = webhookEmitter({ queue, maxAttempts: 3, now: () => T0, base: () => 'https://msh.test' });
    });
    after(async () => {
      await test?.cleanup();
    });

    /** A new accepted message whose latest envelope is `envelopeId`. */
    async function message(envelopeId = randomUUID()): Promise<{ id: string; envelopeId: string }> {
      const id = randomUUID();
      await store.transaction((trx) =>
        createMessage(
          trx,
          {
            id,
            kind: 'fhir',
            status: 'accepted',
            needs_action: null,
            message_header_id: randomUUID(),
            bundle_id: randomUUID(),
            submit_key: null,
            envelope_id: envelopeId,
            envelope_hash: 'h',
            envelope_size: 1,
            type: 'homecareobservation-message',
            sender: '0088:5790000000005',
            receiver: '0088:5790000000012',
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
          { detail: 'submitted', time: T0 },
        ),
      );
      return { id, envelopeId };
    }

    function step(
      m: { id: string; envelopeId?: string },
      name: LifecycleStep,
      input: Partial<TransitionInput> = {},
    ): Promise<boolean> {
      return store.transaction((trx) =>
        transition(trx, m, name, { detail: `envelope ${m.envelopeId}`, time: T0 + 1, webhooks, ...input }),
      );
    }

    async function state(id: string) {
      const row = await store.db
        .selectFrom('msh_messages')
        .select(['status', 'needs_action'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      const events = await store.db
        .selectFrom('msh_events')
        .select(['code', 'outcome'])
        .where('message_id', '=', id)
        .orderBy('time')
        .orderBy('code')
        .execute();
      return { ...row, events: events.map((e) => `${e.code} ${e.outcome}`) };
    }

    it('creates a message accepted with its 01.1 event', async () => {
      const m = await message();
      assert.deepEqual(await state(m.id), {
        status: 'accepted',
        needs_action: null,
        events: ['01.1 success'],
      });
    });

    it('moves forward only: a late AP outcome after the receipt is on the timeline and leaves the status', async () => {
      const m = await message();
      assert.equal(await step(m, 'envelopeReceipt'), true);
      await step(m, 'sentOverAs4');
      assert.deepEqual(await state(m.id), {
        status: 'receipted',
        needs_action: null,
        events: ['01.1 success', '03.2 success', '10.1 success'],
      });
    });

    it('fails a message only for its latest envelope (a resend replaced an older one)', async () => {
      const m = await message();
      await step({ id: m.id, envelopeId: randomUUID() }, 'sentOverAs4', { outcome: 'failure' });
      assert.equal((await state(m.id)).status, 'accepted');
      await step(m, 'sentOverAs4', { outcome: 'failure' });
      assert.equal((await state(m.id)).status, 'failed');
    });

    it('records an EnvelopeReceipt once per envelope', async () => {
      const m = await message();
      assert.equal(await step(m, 'envelopeReceipt'), true);
      assert.equal(await step(m, 'envelopeReceipt', { outcome: 'failure' }), false);
      assert.deepEqual(await state(m.id), {
        status: 'receipted',
        needs_action: null,
        events: ['01.1 success', '10.1 success'],
      });
    });

    it('takes the first acknowledgement, also after a failure, and refuses a second', async () => {
      const m = await message();
      await step(m, 'sentOverAs4', { outcome: 'failure' });
      const ack = { detail: 'ok', set: { ack_code: 'ok', ack_at: T0 + 2 } };
      assert.equal(await step(m, 'acknowledgement', ack), true);
      assert.equal(await step(m, 'acknowledgement', { ...ack, outcome: 'failure' }), false);
      assert.deepEqual(await state(m.id), {
        status: 'acknowledged',
        needs_action: null,
        events: ['01.1 success', '03.2 failure', '15.1 success'],
      });
    });

    it('marks a missing receipt once, and a receipt clears the mark', async () => {
      const m = await message();
      const missing = { outcome: 'failure' as const, detail: 'no EnvelopeReceipt' };
      assert.equal(await step(m, 'receiptMissing', missing), true);
      assert.equal(await step(m, 'receiptMissing', missing), false);
      assert.equal((await state(m.id)).needs_action, 'missing-receipt');
      await step(m, 'envelopeReceipt', { time: T0 + 2 });
      assert.deepEqual(await state(m.id), {
        status: 'receipted',
        needs_action: null,
        events: ['01.1 success', '10.1 failure', '10.1 success'],
      });
    });

    it('a move to failed and an acknowledgement that took effect queue their webhook events with the step', async () => {
      await store.db
        .insertInto('msh_webhooks')
        .values({
          id: randomUUID(),
          url: 'https://eua.test/hook',
          events: JSON.stringify(['message.acknowledged', 'message.failed']),
          description: null,
          secret: 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
          created_by: null,
          created_at: T0,
          disabled_at: null,
          disabled_reason: null,
        })
        .execute();
      const events = async (id: string) =>
        (await store.db.selectFrom('msh_webhook_deliveries').select(['event_type', 'body']).execute())
          .filter((d) => (JSON.parse(d.body) as { data: { id: string } }).data.id === id)
          .map((d) => d.event_type);
      const m = await message();
      await step(m, 'sentOverAs4');
      assert.deepEqual(await events(m.id), []);
      await step(m, 'envelopeReceipt', { outcome: 'failure' });
      assert.deepEqual(await events(m.id), ['message.failed']);
      // The fatal-error acknowledgement is both.
      await step(m, 'acknowledgement', {
        outcome: 'failure',
        detail: 'fatal',
        set: { ack_code: 'fatal-error' },
      });
      assert.deepEqual((await events(m.id)).sort(), [
        'message.acknowledged',
        'message.failed',
        'message.failed',
      ]);
      // A second acknowledgement changes nothing, and queues nothing.
      await step(m, 'acknowledgement', { detail: 'ok', set: { ack_code: 'ok' } });
      assert.equal((await events(m.id)).length, 3);
      const [body] = await store.db.selectFrom('msh_webhook_deliveries').select('body').execute();
      const payload = JSON.parse(body!.body) as { timestamp: string; data: Record<string, unknown> };
      assert.equal(payload.data.url, `https://msh.test/messages/${m.id}`);
      assert.equal(payload.timestamp, new Date(T0 + 1).toISOString());
      // A caller that would fail a message without the MSH's webhooks is a bug, and fails (the step rolls back).
      const other = await message();
      await assert.rejects(
        store.transaction((trx) =>
          transition(trx, other, 'handedOver', {
            outcome: 'failure',
            detail: `envelope ${other.envelopeId}`,
            time: T0,
            firstForEnvelope: true,
          }),
        ),
        /needs the MSH's webhooks/,
      );
      assert.equal((await state(other.id)).status, 'accepted');
    });

    it('refuses to resend an acknowledged message and writes nothing', async () => {
      const m = await message();
      await step(m, 'acknowledgement', { detail: 'ok', set: { ack_code: 'ok' } });
      assert.equal(await step(m, 'resent', { detail: 'resend 1', resends: 0 }), false);
      assert.deepEqual((await state(m.id)).events, ['01.1 success', '15.1 success']);
    });
  });
}
