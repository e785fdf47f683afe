import { EhmiError } from '@ehmi/errors';
import type { OutboundOutcome } from '../contract.ts';
import { QUEUES } from '../path.ts';
import type { Job } from '../store/index.ts';
import { addEvents, type Db, type MshCore, STATUS_FROM } from './core.ts';

export interface DispatchPayload {
  submissionId: string;
}

/** An event of a submission is recorded once, however often the job or the AP repeats itself. */
async function hasEvent(trx: Db, messageId: string, code: string, detail: string): Promise<boolean> {
  const row = await trx
    .selectFrom('msh_events')
    .select('id')
    .where('message_id', '=', messageId)
    .where('code', '=', code)
    .where('detail', '=', detail)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * The `msh.dispatch` job: hand one envelope to the access point (ehmi-core §1.2 step 2 → 3). The AP's submit is
 * idempotent on the submission id, so a job repeated after a crash hands it over once. Events 02.2 (msh sent) and
 * 03.1 (ap received) carry the time just before the hand-over, so they sort before the AP's 03.2.
 */
export async function dispatchJob(core: MshCore, job: Job<DispatchPayload>): Promise<void> {
  const sub = await core.store.db
    .selectFrom('msh_submissions')
    .selectAll()
    .where('id', '=', job.payload.submissionId)
    .executeTakeFirst();
  if (!sub || sub.status === 'held') return;
  const at = core.now();
  let as4MessageId: string;
  try {
    const accepted = await core.accessPoint.submit({
      submissionId: sub.id,
      sender: sub.sender,
      receiver: sub.receiver,
      documentType: sub.document_type,
      process: sub.process,
      envelope: {
        size: sub.envelope_size,
        open: () => core.store.blobs.open({ hash: sub.envelope_hash, size: sub.envelope_size }),
      },
      ...(sub.message_id ? { trackingIdentifier: sub.message_id } : {}),
    });
    as4MessageId = accepted.as4MessageId;
  } catch (err) {
    const permanent = err instanceof EhmiError && !err.transient && err.code !== 'EHMI_INTERNAL';
    if (!permanent && job.attempt < job.maxAttempts) throw err;
    // The AP refused it for good (an unknown receiver, bad metadata) or it never took it: the message failed.
    const reason = `the access point did not take the envelope: ${err instanceof Error ? err.message : String(err)}`;
    core.logger.warn({ err, submissionId: sub.id }, 'dispatch failed for good');
    await core.store.transaction(async (trx) => {
      await trx
        .updateTable('msh_submissions')
        .set({ status: 'failed', reason, updated_at: core.now() })
        .where('id', '=', sub.id)
        .execute();
      if (sub.message_id && sub.purpose === 'message') {
        await addEvents(trx, sub.message_id, [
          {
            code: '02.2',
            station: 'msh',
            outcome: 'failure',
            time: at,
            detail: `envelope ${sub.id}: ${reason}`,
          },
        ]);
        await trx
          .updateTable('msh_messages')
          .set({ status: 'failed', failure_reason: reason, failure_ebms: null, updated_at: core.now() })
          .where('id', '=', sub.message_id)
          .where('envelope_id', '=', sub.id)
          .where('status', 'in', STATUS_FROM.failed)
          .execute();
      }
    });
    return;
  }
  await core.store.transaction(async (trx) => {
    await trx
      .updateTable('msh_submissions')
      .set({ status: 'submitted', as4_message_id: as4MessageId, updated_at: core.now() })
      .where('id', '=', sub.id)
      .where('status', '=', 'queued')
      .execute();
    await trx
      .updateTable('msh_submissions')
      .set({ as4_message_id: as4MessageId })
      .where('id', '=', sub.id)
      .where('as4_message_id', 'is', null)
      .execute();
    const detail = `envelope ${sub.id}`;
    if (
      sub.message_id &&
      sub.purpose === 'message' &&
      !(await hasEvent(trx, sub.message_id, '02.2', detail))
    ) {
      await addEvents(trx, sub.message_id, [
        { code: '02.2', station: 'msh', time: at, detail },
        { code: '03.1', station: 'ap', time: at, detail: `AS4 MessageId ${as4MessageId}` },
      ]);
    }
  });
}

/**
 * `MshBackend.outcome`: what the AP made of a submission (eDelivery AS4 1.15 §3.3 reception awareness). `sent` →
 * status sent + event 03.2 (and a held archive copy goes out); `failed` → status failed with the ebMS code and
 * reason. Idempotent: a repeated outcome changes nothing.
 */
export async function recordOutcome(core: MshCore, outcome: OutboundOutcome): Promise<void> {
  let released = false;
  await core.store.transaction(async (trx) => {
    const sub = await trx
      .selectFrom('msh_submissions')
      .selectAll()
      .where('id', '=', outcome.submissionId)
      .executeTakeFirst();
    if (!sub) {
      core.logger.warn({ submissionId: outcome.submissionId }, 'outcome for an unknown submission ignored');
      return;
    }
    if (sub.status === 'sent' || sub.status === 'failed') return;
    const now = core.now();
    await trx
      .updateTable('msh_submissions')
      .set({
        status: outcome.status,
        as4_message_id: outcome.as4MessageId,
        ebms_code: outcome.ebmsCode ?? null,
        reason: outcome.reason ?? null,
        updated_at: now,
      })
      .where('id', '=', sub.id)
      .execute();
    if (!sub.message_id) return;
    if (sub.purpose === 'archive') {
      core.logger.info({ messageId: sub.message_id, status: outcome.status }, 'archive copy outcome');
      return;
    }
    const failure = outcome.status === 'failed';
    const detail = failure
      ? `envelope ${sub.id}: ${outcome.ebmsCode ?? 'EBMS'} ${outcome.reason ?? 'failed'}`
      : `envelope ${sub.id}${outcome.endpointUrl ? ` to ${outcome.endpointUrl}` : ''}`;
    await addEvents(trx, sub.message_id, [
      {
        code: '03.2',
        station: 'ap',
        outcome: failure ? 'failure' : 'success',
        time: Math.max(outcome.at, 0),
        detail,
      },
    ]);
    if (failure) {
      await trx
        .updateTable('msh_messages')
        .set({
          status: 'failed',
          failure_reason: outcome.reason ?? 'the access point could not deliver the message',
          failure_ebms: outcome.ebmsCode ?? null,
          updated_at: now,
        })
        .where('id', '=', sub.message_id)
        .where('envelope_id', '=', sub.id)
        .where('status', 'in', STATUS_FROM.failed)
        .execute();
      return;
    }
    await trx
      .updateTable('msh_messages')
      .set({ status: 'sent', updated_at: now })
      .where('id', '=', sub.message_id)
      .where('envelope_id', '=', sub.id)
      .where('status', 'in', STATUS_FROM.sent)
      .execute();
    // The copy for the archive goes once the message itself was sent (ehmi-core §1.1, governance 2026).
    const held = await trx
      .selectFrom('msh_submissions')
      .select('id')
      .where('message_id', '=', sub.message_id)
      .where('purpose', '=', 'archive')
      .where('status', '=', 'held')
      .execute();
    for (const h of held) {
      await trx
        .updateTable('msh_submissions')
        .set({ status: 'queued', updated_at: now })
        .where('id', '=', h.id)
        .execute();
      await core.queue.enqueue(trx, { queue: QUEUES.dispatch, payload: { submissionId: h.id } });
      released = true;
    }
  });
  if (released) core.wake();
}
