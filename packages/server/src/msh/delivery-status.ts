import { type EdsMessageFacts, type EhmiEnvelope, RECEIPT_STANDARD, RECEIPT_TYPE_VERSION } from '@ehmi/sbdh';
import type { Selectable } from 'kysely';
import type { Db, MshCore } from './core.ts';
import type { MshInboxTable, MshMessagesTable } from './tables.ts';

/**
 * The MSH's part of EHMI Delivery Status that is not a step of a sent message's lifecycle (lifecycle.ts reports
 * those): the facts kept per envelope, and the EUA's steps on the receiving side (06.1) and on the sending side
 * once the acknowledgement arrived (16.1).
 */

/** The facts of an envelope to keep with it, or null when the node reports to no EDS. */
export function factsKept(core: MshCore, envelope: EhmiEnvelope): EdsMessageFacts | null {
  return core.eds.enabled ? core.eds.factsOf(envelope) : null;
}

/** The facts of an envelope for a step reported now, or null when the node reports to no EDS. */
export function factsNow(core: MshCore, envelope: EhmiEnvelope | undefined): EdsMessageFacts | null {
  if (!core.eds.enabled || !envelope) return null;
  try {
    return core.eds.factsOf(envelope);
  } catch {
    return null;
  }
}

/** Kept facts read back (null: none kept). */
export function parseFacts(json: string | null | undefined): EdsMessageFacts | null {
  return json ? (JSON.parse(json) as EdsMessageFacts) : null;
}

/**
 * The EnvelopeReceipt that did not come, for its 10.1 failure: the receipt flow of the envelope, from its receiver
 * back to us, named by the envelope it should answer (no receipt exists to take an id from).
 */
export function missingReceiptFacts(envelope: EdsMessageFacts): EdsMessageFacts {
  return {
    messageId: envelope.transportEnvelopeId ?? envelope.messageId,
    messageType: RECEIPT_STANDARD,
    messageVersion: RECEIPT_TYPE_VERSION,
    sender: envelope.receiver,
    receiver: envelope.sender,
    original: {
      messageId: envelope.messageId,
      messageType: envelope.messageType,
      messageVersion: envelope.messageVersion,
      messageEnvelopeId: envelope.messageEnvelopeId,
      transportEnvelopeId: envelope.transportEnvelopeId,
    },
  };
}

/**
 * The receiving EUA took an inbox item (its first read of the content, or its acknowledgement): step 06.1, once per
 * item, in the caller's transaction (the acknowledgement's) or one of its own.
 */
export async function takeInboxItem(
  core: MshCore,
  item: Pick<Selectable<MshInboxTable>, 'id' | 'eds_facts' | 'eua_taken_at'>,
  trx?: Db,
): Promise<void> {
  const facts = parseFacts(item.eds_facts);
  if (!core.eds.enabled || !facts || item.eua_taken_at !== null) return;
  const take = async (db: Db) => {
    const now = core.now();
    const taken = await db
      .updateTable('msh_inbox')
      .set({ eua_taken_at: now })
      .where('id', '=', item.id)
      .where('eua_taken_at', 'is', null)
      .executeTakeFirst();
    if (Number(taken.numUpdatedRows) !== 1) return;
    await core.eds.report(db, {
      station: 'EUA',
      side: 'destination',
      subtype: 'msg-received-and-finalized',
      facts,
      at: now,
    });
  };
  if (trx) return take(trx);
  await core.store.transaction(take);
  core.eds.wake();
}

/**
 * The original sender's EUA took the acknowledgement: its first read of the message (`GET /messages/{id}`, which
 * shows the acknowledgement) after the acknowledgement arrived. Step 16.1, once per message.
 */
export async function takeAcknowledgement(
  core: MshCore,
  row: Pick<Selectable<MshMessagesTable>, 'id' | 'ack_code' | 'ack_eds_facts' | 'ack_taken_at'>,
): Promise<void> {
  const facts = parseFacts(row.ack_eds_facts);
  if (!core.eds.enabled || !facts || row.ack_code === null || row.ack_taken_at !== null) return;
  await core.store.transaction(async (trx) => {
    const now = core.now();
    const taken = await trx
      .updateTable('msh_messages')
      .set({ ack_taken_at: now })
      .where('id', '=', row.id)
      .where('ack_taken_at', 'is', null)
      .executeTakeFirst();
    if (Number(taken.numUpdatedRows) !== 1) return;
    await core.eds.report(trx, {
      station: 'EUA',
      side: 'destination',
      subtype: 'msg-received-and-finalized',
      facts,
      at: now,
    });
  });
  core.eds.wake();
}
