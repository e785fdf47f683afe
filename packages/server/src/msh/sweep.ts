import { QUEUES } from '../path.ts';
import type { MshCore } from './core.ts';
import { missingReceiptFacts, parseFacts } from './delivery-status.ts';
import { LIFECYCLE, transition } from './lifecycle.ts';

const DAY_MS = 86_400_000;

export interface SweepResult {
  missingReceipt: number;
  missingAcknowledgement: number;
  purgedInbox: number;
  purgedMessages: number;
}

/**
 * The periodic sweep: receipt and acknowledgement deadlines, then retention. `now` is a parameter so tests can
 * look into the future instead of waiting.
 */
export async function sweep(
  core: MshCore,
  now = core.now(),
  options: { retention?: boolean } = {},
): Promise<SweepResult> {
  const result: SweepResult = {
    missingReceipt: 0,
    missingAcknowledgement: 0,
    purgedInbox: 0,
    purgedMessages: 0,
  };
  const db = core.store.db;

  // ehmi-core §2.4/§6.1: no EnvelopeReceipt by ExpectedResponseDateTime → visible, needs action.
  const late = await db
    .selectFrom('msh_messages')
    .select(['id', 'envelope_id'])
    .where('status', 'in', LIFECYCLE.receiptMissing.failure.from)
    .where('receipt_due', '<=', now)
    .where('needs_action', 'is', null)
    .limit(1000)
    .execute();
  for (const m of late) {
    await core.store.transaction(async (trx) => {
      const kept = core.eds.enabled
        ? parseFacts(
            (
              await trx
                .selectFrom('msh_submissions')
                .select('eds_facts')
                .where('id', '=', m.envelope_id)
                .executeTakeFirst()
            )?.eds_facts,
          )
        : null;
      const marked = await transition(trx, m, 'receiptMissing', {
        outcome: 'failure',
        detail: `no EnvelopeReceipt for envelope ${m.envelope_id} by its ExpectedResponseDateTime`,
        time: now,
        report: { eds: core.eds, facts: kept && missingReceiptFacts(kept) },
      });
      if (marked) result.missingReceipt++;
    });
  }

  // MedCom 020 §1.1 / KR6.S: no acknowledgement within 30 minutes marks the message for resending (explicitly).
  const unacknowledged = await db
    .selectFrom('msh_messages')
    .select(['id'])
    .where('kind', '=', 'fhir')
    .where('status', 'in', LIFECYCLE.acknowledgementMissing.failure.from)
    .where('ack_due', '<=', now)
    .where('ack_code', 'is', null)
    .where((eb) => eb.or([eb('needs_action', 'is', null), eb('needs_action', '=', 'missing-receipt')]))
    .limit(1000)
    .execute();
  for (const m of unacknowledged) {
    await core.store.transaction(async (trx) => {
      const marked = await transition(trx, m, 'acknowledgementMissing', {
        outcome: 'failure',
        detail: `no acknowledgement within ${Math.round(core.config.acknowledgementTimeoutMs / 60_000)} minutes: marked for resending`,
        time: now,
      });
      if (marked) result.missingAcknowledgement++;
    });
  }

  if (result.missingReceipt > 0) core.eds.wake();
  if (options.retention !== false) await retention(core, now, result);
  return result;
}

/**
 * Retention (msh.retentionDays): removed or acknowledged inbox items with their duplicate keys (the cache lives
 * exactly as long as the item it guards, never shorter), finished sent messages with their timeline and
 * submissions, then the MSH's blobs that no row names any more (also those of rolled-back transactions).
 */
async function retention(core: MshCore, now: number, result: SweepResult): Promise<void> {
  const db = core.store.db;
  const cutoff = now - core.config.retentionDays * DAY_MS;

  const items = await db
    .selectFrom('msh_inbox')
    .select('id')
    .where((eb) => eb.or([eb('removed_at', '<', cutoff), eb('acknowledged_at', '<', cutoff)]))
    .limit(1000)
    .execute();
  for (const item of items) {
    await core.store.transaction(async (trx) => {
      await trx.deleteFrom('msh_dedup').where('inbox_id', '=', item.id).execute();
      await trx.deleteFrom('msh_inbox').where('id', '=', item.id).execute();
    });
    result.purgedInbox++;
  }

  const messages = await db
    .selectFrom('msh_messages')
    .select('id')
    .where('status', 'in', ['acknowledged', 'failed', 'receipted'])
    .where('updated_at', '<', cutoff)
    .where((eb) => eb.or([eb('kind', '<>', 'fhir'), eb('status', '<>', 'receipted')]))
    .limit(1000)
    .execute();
  for (const m of messages) {
    await core.store.transaction(async (trx) => {
      await trx.deleteFrom('msh_events').where('message_id', '=', m.id).execute();
      await trx.deleteFrom('msh_submissions').where('message_id', '=', m.id).execute();
      await trx.deleteFrom('msh_messages').where('id', '=', m.id).execute();
    });
    result.purgedMessages++;
  }
  // EnvelopeReceipts the MSH sent, and the record of what the AP delivered.
  await db
    .deleteFrom('msh_submissions')
    .where('message_id', 'is', null)
    .where('status', 'in', ['sent', 'failed'])
    .where('updated_at', '<', cutoff)
    .execute();
  // This role's finished outbox jobs (done and dead alike: dead ones are what an operator investigates).
  await core.queue.purgeFinished(cutoff, { queue: QUEUES.dispatch });
  // Webhook deliveries not tried since the cutoff (delivered, on the failure list, or abandoned), and their jobs.
  await db
    .deleteFrom('msh_webhook_deliveries')
    .where((eb) => eb(eb.fn.coalesce('last_attempt_at', 'created_at'), '<', cutoff))
    .execute();
  await core.queue.purgeFinished(cutoff, { queue: QUEUES.webhook });
  await db
    .deleteFrom('msh_received')
    .where('received_at', '<', cutoff)
    .where((eb) =>
      eb.or([eb('inbox_id', 'is', null), eb('inbox_id', 'not in', eb.selectFrom('msh_inbox').select('id'))]),
    )
    .execute();
}
