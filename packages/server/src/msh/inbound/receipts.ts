import {
  correlateReceipt,
  type EhmiEnvelope,
  type ParsedEnvelope,
  parse,
  type ReceiptExceptionCategory,
  readReceipt,
  receiptEnvelope,
  receiptKeysOf,
} from '@ehmi/sbdh';
import { type Alongside, type InboundEnvelope, runAlongside } from '../../contract.ts';
import { sbdhHeaderOf } from '../../delivery-status/header.ts';
import { type Db, type MshCore, putBlob } from '../core.ts';
import { factsNow } from '../delivery-status.ts';
import { addSubmission, type BuiltEnvelope, builtEnvelope, receiptKeysOfRow } from '../envelopes.ts';
import { transition } from '../lifecycle.ts';
import { claimReceived, clearReceiptDue, findSubmission } from '../repository.ts';

/**
 * The positive EnvelopeReceipt for a legible envelope (ehmi-core §6.1: "Receiver MSH SHALL always return a positive
 * EnvelopeReceipt for a normal message"); for a duplicate, with the first receipt's MESSAGEIDENTIFIER.
 */
export function receiptFor(env: EhmiEnvelope, messageIdentifier?: string): BuiltEnvelope {
  return builtEnvelope(
    receiptEnvelope(env, { kind: 'acknowledgement' }, messageIdentifier ? { messageIdentifier } : {}),
  );
}

/** Nobody can be told (no legible envelope): logged, and remembered so a repeated delivery is not read again. */
export async function ignore(core: MshCore, inbound: InboundEnvelope, why: string): Promise<void> {
  core.logger.warn(
    { as4MessageId: inbound.as4MessageId, sender: inbound.sender, why },
    'received envelope ignored',
  );
  await core.store.transaction(async (trx) => {
    await claimReceived(trx, inbound.as4MessageId, 'ignored', null, why.slice(0, 2000), core.now());
  });
}

/** A ReceiptException to the envelope's sender ("This exception MUST terminate the Business Transaction"). */
export async function answerException(
  core: MshCore,
  inbound: InboundEnvelope,
  env: EhmiEnvelope | undefined,
  category: ReceiptExceptionCategory,
  reason: string,
): Promise<void> {
  let receipt: BuiltEnvelope;
  try {
    if (!env) throw new Error('no envelope');
    receipt = builtEnvelope(receiptEnvelope(env, { kind: 'exception', category, reason }));
  } catch {
    return ignore(core, inbound, reason);
  }
  core.logger.warn(
    { as4MessageId: inbound.as4MessageId, sender: env?.sender.value, reason },
    'ReceiptException sent',
  );
  const blob = await putBlob(core, receipt.xml);
  const facts = factsNow(core, env);
  const receiptFacts = factsNow(core, receipt.envelope);
  await core.store.transaction(async (trx) => {
    const detail = reason.slice(0, 2000);
    const now = core.now();
    if (!(await claimReceived(trx, inbound.as4MessageId, 'exception', null, detail, now))) return;
    await addSubmission(core, trx, receipt, blob, 'receipt', null);
    // Received and refused (05.1 failure); the ReceiptException created and sent says so (07.1 failure).
    if (facts) {
      await core.eds.report(trx, {
        station: 'MSH',
        side: 'destination',
        subtype: 'msg-received',
        facts,
        outcome: 'failure',
        at: now,
      });
    }
    if (receiptFacts) {
      await core.eds.report(trx, {
        station: 'MSH',
        side: 'origin',
        subtype: 'msg-created-and-sent',
        facts: receiptFacts,
        outcome: 'failure',
        at: now,
      });
    }
  });
  core.wake();
}

/**
 * An EnvelopeReceipt for an envelope we sent: correlate it with that envelope (ORIGINAL* scopes, Response
 * correlation), then step 10.1 of its message: receipted, or failed on a ReceiptException. Never answered
 * (ehmiSBDH IG: "An ehmiSBDH EnvelopeReceipt is never acknowledged").
 */
export async function receiveReceipt(
  core: MshCore,
  inbound: InboundEnvelope,
  envelope: ParsedEnvelope,
  part?: Alongside,
): Promise<void> {
  const staged = await stageReceipt(core, inbound, envelope);
  if (staged.kind === 'ignore') return ignore(core, inbound, staged.why);
  await core.store.transaction(async (trx) => {
    // The access point's record of the hand-over, in this same commit.
    await runAlongside(part, core.store.db, trx, undefined);
    await staged.take(trx);
  });
  staged.after();
}

/**
 * An EnvelopeReceipt read and checked against the envelope it answers (nothing written): either ignored (`why`), or
 * ready to be taken in a transaction. `take` resolves false when the AS4 MessageId was taken already (nothing
 * written then); `after` is for once the transaction committed.
 */
export type StagedReceipt =
  | { kind: 'ignore'; why: string }
  | { kind: 'take'; take(trx: Db): Promise<boolean>; after(): void };

/** What `receiveReceipt` reads and checks before its transaction: also the receiving AP's commit's preparation. */
export async function stageReceipt(
  core: MshCore,
  inbound: InboundEnvelope,
  envelope: ParsedEnvelope,
): Promise<StagedReceipt> {
  const ignored = (why: string): StagedReceipt => ({ kind: 'ignore', why });
  let receipt: ReturnType<typeof readReceipt>;
  try {
    receipt = readReceipt(envelope);
  } catch (err) {
    return ignored(`unreadable EnvelopeReceipt: ${(err as Error).message}`);
  }
  const originalId =
    receipt.original.envelopeIdentifier ?? receipt.original.requestingDocumentInstanceIdentifier;
  const sub = originalId ? await findSubmission(core.store.db, originalId) : undefined;
  if (!sub) return ignored(`EnvelopeReceipt for an unknown envelope ${originalId ?? '(none named)'}`);
  // What the receipt is checked against: the keys kept when the envelope was submitted; for a row from before they
  // were kept, the original's header (its payload is not parsed).
  const original = receiptKeysOfRow(sub) ?? receiptKeysOf(await originalHeader(core, sub.envelope_hash));
  // Only the party the envelope went to may receipt it: the sender its access point authenticated is that party.
  if (original.receiver.toLowerCase() !== inbound.sender.toLowerCase()) {
    return ignored(
      `EnvelopeReceipt for envelope ${sub.id} comes from ${inbound.sender}, not from its receiver ${original.receiver}`,
    );
  }
  const correlation = correlateReceipt(receipt, original);
  if (!correlation.matches) {
    return ignored(
      `EnvelopeReceipt does not answer envelope ${sub.id}: ${correlation.mismatches.join('; ')}`,
    );
  }
  const now = core.now();
  const report = { eds: core.eds, facts: factsNow(core, receipt.envelope) };
  let receipted = false;
  let duplicate = false;
  return {
    kind: 'take',
    async take(trx) {
      const detail = `envelope ${sub.id}`;
      if (!(await claimReceived(trx, inbound.as4MessageId, 'receipt', null, `answers ${detail}`, now)))
        return false;
      if (!sub.message_id || sub.purpose !== 'message') return true;
      const message = { id: sub.message_id, envelopeId: sub.id };
      let recorded: boolean;
      if (receipt.kind === 'ReceiptAcknowledgement') {
        recorded = await transition(trx, message, 'envelopeReceipt', {
          detail,
          time: now,
          report,
          webhooks: core.webhooks,
        });
        if (recorded) await clearReceiptDue(trx, sub.message_id, sub.id);
        receipted = recorded;
      } else {
        const ex = receipt.exception;
        const reason = `ReceiptException${ex ? ` (${ex.category}): ${ex.reason}` : ''}`;
        recorded = await transition(trx, message, 'envelopeReceipt', {
          outcome: 'failure',
          detail: `${detail}: ${reason}`,
          time: now,
          set: { failure_reason: reason, failure_ebms: null, receipt_due: null },
          report,
          webhooks: core.webhooks,
        });
      }
      duplicate = !recorded;
      return true;
    },
    after() {
      // Once committed: the envelope's submit → EnvelopeReceipt time (its first receipt only).
      if (receipted) core.observeReceipt?.(Math.max(0, now - sub.created_at) / 1000);
      // "The sender likewise ignores duplicate receipts and logs" (ehmi-core §6.1): once, for the take that committed
      // (one rolled back with the AP's savepoint is taken again by the hand-over job).
      if (duplicate) {
        core.logger.info(
          { messageId: sub.message_id, envelopeId: sub.id },
          'duplicate EnvelopeReceipt ignored',
        );
      }
    },
  };
}

/** The header of an envelope we sent, read from its blob. */
async function originalHeader(core: MshCore, hash: string): Promise<EhmiEnvelope> {
  const bytes = await core.store.blobs.read(hash);
  return sbdhHeaderOf(bytes.toString('utf8')) ?? parse(bytes);
}
