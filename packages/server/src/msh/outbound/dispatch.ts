import { EhmiError } from '@ehmi/errors';
import { type Alongside, alongside, type OutboundOutcome, runAlongside } from '../../contract.ts';
import type { Job, JobContext } from '../../store/index.ts';
import type { MshCore } from '../core.ts';
import { parseFacts } from '../delivery-status.ts';
import { type DispatchPayload, queueDispatch } from '../envelopes.ts';
import { transition } from '../lifecycle.ts';
import {
  failSubmission,
  findSubmission,
  finishSubmission,
  markSubmitted,
  releaseHeld,
} from '../repository.ts';
import type { MshSubmissionsTable } from '../tables.ts';

/**
 * The `msh.dispatch` job: hand one envelope to the access point (ehmi-core §1.2 step 2 → 3). The AP's submit is
 * idempotent on the submission id, so a job repeated after a crash hands it over once. Events 02.2 (msh sent) and
 * 03.1 (ap received) carry the time just before the hand-over, so they sort before the AP's 03.2.
 */
export async function dispatchJob(
  core: MshCore,
  job: Job<DispatchPayload>,
  context?: Pick<JobContext, 'complete'>,
): Promise<void> {
  // The row its transaction just wrote, handed with the job (its first try, in this process), or read.
  const sub =
    (job.local as MshSubmissionsTable | undefined) ??
    (await findSubmission(core.store.db, job.payload.submissionId));
  if (!sub || sub.status === 'held') return;
  const at = core.now();
  const tracked =
    sub.message_id && sub.purpose === 'message' ? { id: sub.message_id, envelopeId: sub.id } : null;
  const facts = parseFacts(sub.eds_facts);
  const report = { eds: core.eds, facts };
  let as4MessageId: string;
  // The MSH's record of the hand-over (and the job's completion) commits with the AP's, when they share the store.
  const handedOver = async (trx: Parameters<typeof markSubmitted>[0], as4Id: string): Promise<void> => {
    // Moved from queued: no 02.2 of this envelope committed before (each one moves it out of queued with it).
    const first = await markSubmitted(trx, sub.id, as4Id, core.now());
    await context?.complete(trx);
    // The archive copy is no step of the message's lifecycle; its own delivery's 02.2 goes to EDS (ehmi-core §1.3).
    if (sub.purpose === 'archive' && first && facts) {
      await core.eds.report(trx, { station: 'MSH', side: 'origin', subtype: 'msg-sent', facts, at });
    }
    if (
      tracked &&
      (await transition(trx, tracked, 'handedOver', {
        detail: `envelope ${sub.id}`,
        time: at,
        report,
        webhooks: core.webhooks,
        ...(first ? { firstForEnvelope: true as const } : {}),
      }))
    ) {
      await transition(trx, tracked, 'takenOver', { detail: `AS4 MessageId ${as4Id}`, time: at });
    }
  };
  const part = alongside(core.store.db, (trx, accepted: { as4MessageId: string }) =>
    handedOver(trx as never, accepted.as4MessageId),
  );
  try {
    const accepted = await core.accessPoint.submit(
      {
        submissionId: sub.id,
        sender: sub.sender,
        receiver: sub.receiver,
        documentType: sub.document_type,
        process: sub.process,
        envelope: {
          size: sub.envelope_size,
          hash: sub.envelope_hash,
          open: () => core.store.blobs.open({ hash: sub.envelope_hash, size: sub.envelope_size }),
        },
        ...(sub.message_id ? { trackingIdentifier: sub.message_id } : {}),
        // The AP reports its steps with the envelope's facts, without parsing it again.
        ...(facts ? { eds: facts } : {}),
      },
      part,
    );
    as4MessageId = accepted.as4MessageId;
  } catch (err) {
    const permanent = err instanceof EhmiError && !err.transient && err.code !== 'EHMI_INTERNAL';
    if (!permanent && job.attempt < job.maxAttempts) throw err;
    // The AP refused it for good (an unknown receiver, bad metadata) or it never took it: the message failed.
    const reason = `the access point did not take the envelope: ${err instanceof Error ? err.message : String(err)}`;
    core.logger.warn({ err, submissionId: sub.id }, 'dispatch failed for good');
    await core.store.transaction(async (trx) => {
      await failSubmission(trx, sub.id, reason, core.now());
      await context?.complete(trx);
      if (tracked) {
        await transition(trx, tracked, 'handedOver', {
          outcome: 'failure',
          detail: `envelope ${sub.id}: ${reason}`,
          time: at,
          now: core.now(),
          set: { failure_reason: reason, failure_ebms: null },
          report,
          webhooks: core.webhooks,
        });
      }
    });
    return;
  }
  if (part.committed()) return;
  await core.store.transaction((trx) => handedOver(trx, as4MessageId));
}

/**
 * `MshBackend.outcome`: what the AP made of a submission (eDelivery AS4 1.15 §3.3 reception awareness). `sent` →
 * status sent + event 03.2 (and a held archive copy goes out); `failed` → status failed with the ebMS code and
 * reason. Idempotent: a repeated outcome changes nothing.
 */
export async function recordOutcome(
  core: MshCore,
  outcome: OutboundOutcome,
  part?: Alongside,
): Promise<void> {
  let released = false;
  await core.store.transaction(async (trx) => {
    await runAlongside(part, core.store.db, trx, undefined);
    const now = core.now();
    const sub = await finishSubmission(trx, outcome, now);
    if (!sub) {
      // Final before (a repeated outcome: nothing changes), or unknown.
      if (!(await findSubmission(trx, outcome.submissionId))) {
        core.logger.warn({ submissionId: outcome.submissionId }, 'outcome for an unknown submission ignored');
      }
      return;
    }
    if (!sub.message_id) return;
    if (sub.purpose === 'archive') {
      core.logger.info({ messageId: sub.message_id, status: outcome.status }, 'archive copy outcome');
      return;
    }
    const message = { id: sub.message_id, envelopeId: sub.id };
    const time = Math.max(outcome.at, 0);
    if (outcome.status === 'failed') {
      await transition(trx, message, 'sentOverAs4', {
        outcome: 'failure',
        detail: `envelope ${sub.id}: ${outcome.ebmsCode ?? 'EBMS'} ${outcome.reason ?? 'failed'}`,
        time,
        now,
        set: {
          failure_reason: outcome.reason ?? 'the access point could not deliver the message',
          failure_ebms: outcome.ebmsCode ?? null,
        },
        webhooks: core.webhooks,
      });
      return;
    }
    await transition(trx, message, 'sentOverAs4', {
      detail: `envelope ${sub.id}${outcome.endpointUrl ? ` to ${outcome.endpointUrl}` : ''}`,
      time,
      now,
      webhooks: core.webhooks,
    });
    // The copy for the archive goes once the message itself was sent (ehmi-core §1.1, governance 2026).
    for (const id of await releaseHeld(trx, sub.message_id, now)) {
      await queueDispatch(core, trx, id);
      released = true;
    }
  });
  if (released) core.wake();
}
