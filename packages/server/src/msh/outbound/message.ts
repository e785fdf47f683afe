import { randomUUID } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import { validateBuilt } from '@ehmi/sbdh';
import { type Db, type MshCore, noteMshBlob, writeBlob } from '../core.ts';
import { factsNow } from '../delivery-status.ts';
import { validateEnvelope } from '../envelope-check.ts';
import { addSubmission, type BuiltEnvelope, envelopeIdOf, routing } from '../envelopes.ts';
import { createMessage, transition } from '../lifecycle.ts';
import type { MshMessagesTable } from '../tables.ts';

/** What differs between a MedCom message, a payload and an acknowledgement when the MSH starts to track one. */
export interface NewMessage {
  kind: MshMessagesTable['kind'];
  built: BuiltEnvelope;
  messageHeaderId: string | null;
  bundleId: string | null;
  type: string;
  /** The CPR of the patient the message is about (`msh_messages.patient_cpr`); null when it names none. */
  patientCpr: string | null;
  submitKey?: string;
  /** Whether a MedCom acknowledgement is expected (a deadline is set for it). */
  expectsAcknowledgement: boolean;
  inboxId?: string;
}

/** The `msh_messages` row of a newly submitted message; its envelope blob is filled in by commitMessage. */
export function newMessage(core: MshCore, m: NewMessage): MshMessagesTable {
  const now = core.now();
  return {
    id: randomUUID(),
    kind: m.kind,
    status: 'accepted',
    needs_action: null,
    message_header_id: m.messageHeaderId,
    bundle_id: m.bundleId,
    submit_key: m.submitKey ?? null,
    envelope_id: envelopeIdOf(m.built.envelope),
    envelope_hash: '',
    envelope_size: 0,
    type: m.type,
    ...routing(m.built.envelope),
    resends: 0,
    ack_code: null,
    ack_at: null,
    failure_reason: null,
    failure_ebms: null,
    receipt_due: now + core.config.receiptTimeoutMs,
    ack_due: m.expectsAcknowledgement ? now + core.config.acknowledgementTimeoutMs : null,
    inbox_id: m.inboxId ?? null,
    patient_cpr: m.patientCpr,
    created_at: now,
    updated_at: now,
    ack_eds_facts: null,
    ack_taken_at: null,
  };
}

/**
 * Store the envelope(s), then commit the message row, its events 01.1 and 02.1 and its submission(s) in one
 * transaction (after `first`, which may refuse by throwing), and wake the dispatch worker.
 */
export async function commitMessage(
  core: MshCore,
  row: MshMessagesTable,
  built: BuiltEnvelope,
  options: { submitted: string; archive?: BuiltEnvelope; first?: (trx: Db) => Promise<void> },
): Promise<void> {
  // Files only: noted in the transaction below, with the rows that name them.
  const blob = await writeBlob(core, built.xml);
  row.envelope_hash = blob.hash;
  row.envelope_size = blob.size;
  const archive = options.archive;
  const archiveBlob = archive ? await writeBlob(core, archive.xml) : undefined;
  const time = row.created_at;
  // 01.1 (11.1 for an acknowledgement) and 02.1 (12.1), reported with the message in one commit.
  const report = { eds: core.eds, facts: factsNow(core, built.envelope) };
  await core.store.transaction(async (trx) => {
    await noteMshBlob(core, trx, blob, built.xml);
    if (archive && archiveBlob) await noteMshBlob(core, trx, archiveBlob, archive.xml);
    await options.first?.(trx);
    await createMessage(trx, row, { detail: options.submitted, time, report });
    await transition(trx, row, 'wrapped', { detail: `envelope ${row.envelope_id}`, time, report });
    await addSubmission(core, trx, built, blob, 'message', row.id);
    // Governance (ehmi-core §1.1): the archive copy goes after the message was sent; held until then.
    if (archive && archiveBlob) await addSubmission(core, trx, archive, archiveBlob, 'archive', row.id, true);
  });
  core.wake();
}

/**
 * ehmiSBDH XSD + IG rules on an envelope we built; a failure is the submitted content's fault (422). Checked on its
 * model when that is plainly valid (`validateBuilt`: the same result, without parsing the text just written), else
 * on its text.
 */
export async function checkEnvelope(built: BuiltEnvelope): Promise<void> {
  const result =
    validateBuilt(built.envelope) ?? (await validateEnvelope(built.xml, 'the ehmiSBDH envelope'));
  if (!result.valid) {
    const first = result.errors[0]!;
    throw new EhmiError(
      'EHMI_VALIDATION_FAILED',
      `the ehmiSBDH envelope is invalid: ${first.element}: ${first.message}`,
      {
        expression: [first.element],
        details: { errors: result.errors },
      },
    );
  }
}
