import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { EhmiError } from '@ehmi/errors';
import { classifyReceivedMessage } from '@ehmi/fhir';
import {
  correlateReceipt,
  type EhmiEnvelope,
  type MedComMessageFacts,
  type ParsedEnvelope,
  parse,
  parseReceipt,
  payloadOf,
  RECEIPT_STANDARD,
  type ReceiptExceptionCategory,
  readMessageFacts,
  receiptEnvelope,
  scopeValue,
  serializeEnvelope,
} from '@ehmi/sbdh';
import type { InboundEnvelope } from '../contract.ts';
import { addEvents, type Db, inboxItem, type MshCore, putBlob, STATUS_FROM } from './core.ts';
import { validateEnvelope } from './envelope-check.ts';
import { formatOfMime, readFhir } from './fhir-body.ts';
import { acknowledgementAgain, addSubmission, type BuiltEnvelope } from './outbound.ts';

const FHIR_ACK = 'acknowledgement-message';

/** Rolls a delivery transaction back: the AS4 MessageId was taken meanwhile (another instance, a repeated call). */
class AlreadyReceived extends Error {}
/** Rolls a delivery transaction back: a duplicate key was inserted meanwhile; classify again. */
class DuplicateRace extends Error {}

async function readAll(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buf.byteLength;
    if (size > limit) {
      stream.destroy();
      throw new EhmiError(
        'EHMI_TOO_LARGE',
        `the envelope is larger than ${limit} bytes (msh.maxInboundEnvelopeBytes)`,
      );
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** Insert the AS4 MessageId of this delivery in its transaction; false when it was there already. */
async function claimReceived(
  trx: Db,
  inbound: InboundEnvelope,
  outcome: string,
  inboxId: string | null,
  detail: string | null,
  now: number,
): Promise<boolean> {
  const r = await trx
    .insertInto('msh_received')
    .values({ as4_message_id: inbound.as4MessageId, outcome, inbox_id: inboxId, detail, received_at: now })
    .onConflict((oc) => oc.column('as4_message_id').doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
}

function built(envelope: EhmiEnvelope): BuiltEnvelope {
  return { xml: serializeEnvelope(envelope), envelope };
}

/**
 * `MshBackend.deliver` (ehmi-core §1.2 step 5): read and validate the envelope, then one of
 * - an EnvelopeReceipt → correlate it with the envelope it answers (status receipted or failed);
 * - a MedCom acknowledgement → correlate it with the acknowledged message (status acknowledged or failed), and
 *   answer its envelope with an EnvelopeReceipt (it is never acknowledged itself, KR2.R);
 * - a clinical message → duplicate check, inbox, EnvelopeReceipt, all in one transaction; SSE after the commit.
 * An illegible envelope is answered with a ReceiptException when its sender can be named. Idempotent on the AS4
 * MessageId: the AP may deliver again after a crash.
 */
export async function deliver(core: MshCore, inbound: InboundEnvelope): Promise<void> {
  const done = await core.store.db
    .selectFrom('msh_received')
    .select('as4_message_id')
    .where('as4_message_id', '=', inbound.as4MessageId)
    .executeTakeFirst();
  if (done) return;
  let bytes: Buffer;
  try {
    bytes = await readAll(inbound.envelope.open(), core.config.maxInboundEnvelopeBytes);
  } catch (err) {
    if (err instanceof EhmiError && err.code === 'EHMI_TOO_LARGE') return ignore(core, inbound, err.message);
    throw err;
  }
  let parsed: ParsedEnvelope | undefined;
  try {
    parsed = parse(bytes, 'the received envelope');
  } catch {
    // Read again below by validate(), which says what is wrong.
  }
  // ehmiSBDH IG: "An ehmiSBDH EnvelopeReceipt is never acknowledged": read leniently, never answered.
  if (parsed?.documentIdentification.standard === RECEIPT_STANDARD)
    return receiveReceipt(core, inbound, bytes);

  const check = await validateEnvelope(bytes, 'the received envelope');
  const env = parsed ?? check.envelope;
  if (!check.valid) {
    const first = check.errors[0];
    const reason = first ? `${first.element}: ${first.message}` : 'the envelope is not a valid ehmiSBDH';
    // "Legible means that it has passed structure/schema validity check" (ehmiSBDH EnvelopeReceipt).
    return answerException(core, inbound, env, 'Syntax', `the envelope is not legible: ${reason}`);
  }
  if (!env) return ignore(core, inbound, 'no envelope');
  if (inbound.sender && env.sender.value.toLowerCase() !== inbound.sender.toLowerCase()) {
    core.logger.warn(
      { as4MessageId: inbound.as4MessageId, sbdh: env.sender.value, as4: inbound.sender },
      'the SBDH Sender differs from the AS4 originalSender',
    );
  }
  if (env.receiver.value.toLowerCase() !== core.party.toLowerCase()) {
    return answerException(
      core,
      inbound,
      env,
      'Authorization',
      `the envelope is addressed to ${env.receiver.value}, not to ${core.party}`,
    );
  }

  const format = formatOfMime(env.binaryContent.mimeType);
  if (!format) {
    // OIOXML, EDIFACT, CDA (EUA API 2): delivered as they are, keyed on the envelope's MESSAGEIDENTIFIER.
    const mh = scopeValue(env, 'MESSAGEIDENTIFIER');
    const bundle = scopeValue(env, 'MESSAGEENVELOPEIDENTIFIER');
    return receiveMessage(core, inbound, bytes, env, {
      ...(mh ? { mh } : {}),
      ...(bundle ? { bundle } : {}),
      type: env.documentIdentification.standard,
    });
  }
  let resource: Record<string, unknown>;
  let facts: MedComMessageFacts;
  try {
    resource = readFhir(payloadOf(env), format);
    facts = readMessageFacts(resource);
  } catch (err) {
    return answerException(
      core,
      inbound,
      env,
      'Syntax',
      `the payload is not a readable MedCom message: ${(err as Error).message}`,
    );
  }
  if (facts.eventCode === FHIR_ACK) return receiveAcknowledgement(core, inbound, env, facts);
  return receiveMessage(core, inbound, bytes, env, {
    mh: facts.messageHeaderId,
    bundle: facts.bundleId,
    type: facts.eventCode,
    resource,
  });
}

/** Nobody can be told (no legible envelope): logged, and remembered so a repeated delivery is not read again. */
async function ignore(core: MshCore, inbound: InboundEnvelope, why: string): Promise<void> {
  core.logger.warn(
    { as4MessageId: inbound.as4MessageId, sender: inbound.sender, why },
    'received envelope ignored',
  );
  await core.store.transaction(async (trx) => {
    await claimReceived(trx, inbound, 'ignored', null, why.slice(0, 2000), core.now());
  });
}

/** A ReceiptException to the envelope's sender ("This exception MUST terminate the Business Transaction"). */
async function answerException(
  core: MshCore,
  inbound: InboundEnvelope,
  env: EhmiEnvelope | undefined,
  category: ReceiptExceptionCategory,
  reason: string,
): Promise<void> {
  let receipt: BuiltEnvelope;
  try {
    if (!env) throw new Error('no envelope');
    receipt = built(receiptEnvelope(env, { kind: 'exception', category, reason }));
  } catch {
    return ignore(core, inbound, reason);
  }
  core.logger.warn(
    { as4MessageId: inbound.as4MessageId, sender: env?.sender.value, reason },
    'ReceiptException sent',
  );
  const blob = await putBlob(core, receipt.xml);
  await core.store.transaction(async (trx) => {
    if (!(await claimReceived(trx, inbound, 'exception', null, reason.slice(0, 2000), core.now()))) return;
    await addSubmission(core, trx, receipt, blob, 'receipt', null);
  });
  core.wake();
}

interface MessageKeys {
  mh?: string;
  bundle?: string;
  type: string;
  resource?: Record<string, unknown>;
}

/**
 * A clinical message. Duplicate cache (ehmi-core §6.1; MedCom 043; MR8.R) on the SBDH InstanceIdentifier, the
 * MessageHeader.id and the Bundle.id, scoped by the sending party, as unique keys: on one PostgreSQL two instances
 * cannot both deliver a message.
 */
async function receiveMessage(
  core: MshCore,
  inbound: InboundEnvelope,
  bytes: Buffer,
  env: EhmiEnvelope,
  info: MessageKeys,
): Promise<void> {
  const sender = env.sender.value.toLowerCase();
  const keys = {
    env: `env:${sender}|${env.documentIdentification.instanceIdentifier}`,
    ...(info.mh ? { mh: `mh:${sender}|${info.mh}` } : {}),
    ...(info.bundle ? { bundle: `bundle:${sender}|${info.bundle}` } : {}),
  };
  const all = Object.values(keys);
  for (let attempt = 0; attempt < 5; attempt++) {
    const existing = await core.store.db
      .selectFrom('msh_dedup')
      .selectAll()
      .where('key', 'in', all)
      .execute();
    const seen = new Map(existing.map((r) => [r.key, r.inbox_id]));
    if (seen.size === 0) {
      const result = await deliverNew(core, inbound, bytes, env, info, all);
      if (result === 'race') continue;
      return;
    }
    const byHeader = keys.mh ? seen.get(keys.mh) : undefined;
    const byEnvelope = seen.get(keys.env);
    const kind = classifyReceivedMessage({
      bundleIdSeen: keys.bundle ? seen.has(keys.bundle) : false,
      messageHeaderIdSeen: byHeader !== undefined,
    });
    // MR8.R: the same MessageHeader.id is a duplicate, whatever its envelope ('duplicate' or 'resent').
    if (byHeader) return deliverDuplicate(core, inbound, env, info, byHeader, kind);
    if (byEnvelope && !keys.mh) return deliverDuplicate(core, inbound, env, info, byEnvelope, 'duplicate');
    if (byEnvelope) {
      return answerException(
        core,
        inbound,
        env,
        'Sequence',
        `EnvelopeIdentifier ${env.documentIdentification.instanceIdentifier} was used before for another message (ehmiSBDH: EnvelopeIdentifier values SHALL never be reused)`,
      );
    }
    return answerException(
      core,
      inbound,
      env,
      'Sequence',
      `Bundle.id ${info.bundle} was used before with another MessageHeader.id (MedCom 043: a Bundle.id is never reused)`,
    );
  }
  throw new EhmiError('EHMI_UNAVAILABLE', 'the duplicate cache kept changing; deliver again');
}

async function deliverNew(
  core: MshCore,
  inbound: InboundEnvelope,
  bytes: Buffer,
  env: EhmiEnvelope,
  info: MessageKeys,
  keys: string[],
): Promise<'done' | 'race'> {
  // ehmi-core §6.1: "Receiver MSH SHALL always return a positive EnvelopeReceipt for a normal message".
  const receipt = built(receiptEnvelope(env, { kind: 'acknowledgement' }));
  const receiptBlob = await putBlob(core, receipt.xml);
  const envBlob = await putBlob(core, bytes);
  const now = core.now();
  const id = randomUUID();
  const row = {
    id,
    as4_message_id: inbound.as4MessageId,
    envelope_id: env.documentIdentification.instanceIdentifier,
    message_header_id: info.mh ?? null,
    bundle_id: info.bundle ?? null,
    type: info.type,
    sender: env.sender.value,
    receiver: env.receiver.value,
    mime_type: env.binaryContent.mimeType,
    envelope_hash: envBlob.hash,
    envelope_size: envBlob.size,
    received_at: now,
    removed_at: null,
    receipt_message_id:
      scopeValue(receipt.envelope, 'MESSAGEIDENTIFIER') ??
      receipt.envelope.documentIdentification.instanceIdentifier,
    ack_message_id: null,
    ack_hash: null,
    ack_code: null,
    acknowledged_at: null,
  };
  try {
    await core.store.transaction(async (trx) => {
      if (!(await claimReceived(trx, inbound, 'inbox', id, null, now))) throw new AlreadyReceived();
      for (const key of keys) {
        const r = await trx
          .insertInto('msh_dedup')
          .values({ key, inbox_id: id, created_at: now })
          .onConflict((oc) => oc.column('key').doNothing())
          .executeTakeFirst();
        if (Number(r.numInsertedOrUpdatedRows ?? 0) !== 1) throw new DuplicateRace();
      }
      await trx.insertInto('msh_inbox').values(row).execute();
      await addSubmission(core, trx, receipt, receiptBlob, 'receipt', null);
    });
  } catch (err) {
    if (err instanceof AlreadyReceived) return 'done';
    if (err instanceof DuplicateRace) return 'race';
    throw err;
  }
  core.wake();
  core.logger.info(
    { inboxId: id, messageHeaderId: info.mh, sender: row.sender },
    'message delivered to the inbox',
  );
  core.hub.publish({ id, receivedAt: now, json: inboxItem(row) });
  return 'done';
}

/**
 * A duplicate (MR8.R; 020 §1.2 #2): not shown, logged, answered with the same EnvelopeReceipt content (the first
 * receipt's MESSAGEIDENTIFIER, for this envelope) and, when the EUA acknowledged the original, the stored
 * acknowledgement again with a new Bundle.id and timestamp.
 */
async function deliverDuplicate(
  core: MshCore,
  inbound: InboundEnvelope,
  env: EhmiEnvelope,
  info: MessageKeys,
  inboxId: string,
  kind: string,
): Promise<void> {
  const item = await core.store.db
    .selectFrom('msh_inbox')
    .selectAll()
    .where('id', '=', inboxId)
    .executeTakeFirst();
  const receipt = built(
    receiptEnvelope(
      env,
      { kind: 'acknowledgement' },
      item ? { messageIdentifier: item.receipt_message_id } : {},
    ),
  );
  const receiptBlob = await putBlob(core, receipt.xml);
  const ack =
    item?.ack_hash && item.ack_message_id && info.resource
      ? await acknowledgementAgain(core, item.ack_hash, info.resource, env)
      : undefined;
  const now = core.now();
  await core.store.transaction(async (trx) => {
    const detail = `duplicate (${kind}) of inbox item ${inboxId}, envelope ${env.documentIdentification.instanceIdentifier}`;
    if (!(await claimReceived(trx, inbound, 'duplicate', inboxId, detail, now))) return;
    await addSubmission(core, trx, receipt, receiptBlob, 'receipt', null);
    if (ack && item?.ack_message_id) {
      await addEvents(trx, item.ack_message_id, [
        {
          code: '02.1',
          station: 'msh',
          time: now,
          detail: `acknowledgement sent again for a duplicate: envelope ${ack.built.envelope.documentIdentification.instanceIdentifier}`,
        },
      ]);
      await addSubmission(core, trx, ack.built, ack.blob, 'message', item.ack_message_id);
    }
  });
  core.wake();
  // "Never show duplicates, SHALL log them" (ehmi-core §6.1).
  core.logger.info(
    { inboxId, messageHeaderId: info.mh, envelopeId: env.documentIdentification.instanceIdentifier, kind },
    'duplicate message not delivered again (MR8.R)',
  );
}

/** An EnvelopeReceipt: correlate it with the envelope it answers (ORIGINAL* scopes, Response correlation). */
async function receiveReceipt(core: MshCore, inbound: InboundEnvelope, bytes: Buffer): Promise<void> {
  let receipt: ReturnType<typeof parseReceipt>;
  try {
    receipt = parseReceipt(bytes);
  } catch (err) {
    return ignore(core, inbound, `unreadable EnvelopeReceipt: ${(err as Error).message}`);
  }
  const originalId =
    receipt.original.envelopeIdentifier ?? receipt.original.requestingDocumentInstanceIdentifier;
  const sub = originalId
    ? await core.store.db
        .selectFrom('msh_submissions')
        .selectAll()
        .where('id', '=', originalId)
        .executeTakeFirst()
    : undefined;
  if (!sub)
    return ignore(core, inbound, `EnvelopeReceipt for an unknown envelope ${originalId ?? '(none named)'}`);
  const original = parse(await core.store.blobs.read(sub.envelope_hash));
  const correlation = correlateReceipt(receipt, original);
  if (!correlation.matches) {
    return ignore(
      core,
      inbound,
      `EnvelopeReceipt does not answer envelope ${sub.id}: ${correlation.mismatches.join('; ')}`,
    );
  }
  const now = core.now();
  await core.store.transaction(async (trx) => {
    if (!(await claimReceived(trx, inbound, 'receipt', null, `answers envelope ${sub.id}`, now))) return;
    if (!sub.message_id || sub.purpose !== 'message') return;
    const detail = `envelope ${sub.id}`;
    const earlier = await trx
      .selectFrom('msh_events')
      .select('id')
      .where('message_id', '=', sub.message_id)
      .where('code', '=', '10.1')
      .where('detail', 'like', `${detail}%`)
      .executeTakeFirst();
    if (earlier) {
      // "The sender likewise ignores duplicate receipts and logs" (ehmi-core §6.1).
      core.logger.info(
        { messageId: sub.message_id, envelopeId: sub.id },
        'duplicate EnvelopeReceipt ignored',
      );
      return;
    }
    if (receipt.kind === 'ReceiptAcknowledgement') {
      await addEvents(trx, sub.message_id, [{ code: '10.1', station: 'msh', time: now, detail }]);
      await trx
        .updateTable('msh_messages')
        .set({ status: 'receipted', updated_at: now })
        .where('id', '=', sub.message_id)
        .where('status', 'in', STATUS_FROM.receipted)
        .execute();
      await trx
        .updateTable('msh_messages')
        .set({ receipt_due: null })
        .where('id', '=', sub.message_id)
        .where('envelope_id', '=', sub.id)
        .execute();
      await trx
        .updateTable('msh_messages')
        .set({ needs_action: null })
        .where('id', '=', sub.message_id)
        .where('needs_action', '=', 'missing-receipt')
        .execute();
      return;
    }
    const ex = receipt.exception;
    const reason = `ReceiptException${ex ? ` (${ex.category}): ${ex.reason}` : ''}`;
    await addEvents(trx, sub.message_id, [
      { code: '10.1', station: 'msh', outcome: 'failure', time: now, detail: `${detail}: ${reason}` },
    ]);
    await trx
      .updateTable('msh_messages')
      .set({
        status: 'failed',
        failure_reason: reason,
        failure_ebms: null,
        receipt_due: null,
        updated_at: now,
      })
      .where('id', '=', sub.message_id)
      .where('envelope_id', '=', sub.id)
      .where('status', 'in', STATUS_FROM.failed)
      .execute();
  });
}

function operationOutcomeText(bundle: unknown): string | undefined {
  const entries = (bundle as { entry?: { resource?: Record<string, unknown> }[] }).entry ?? [];
  const oo = entries.map((e) => e.resource).find((r) => r?.resourceType === 'OperationOutcome');
  const issue = (oo?.issue as { details?: { text?: string }; diagnostics?: string }[] | undefined)?.[0];
  return issue?.details?.text ?? issue?.diagnostics;
}

/**
 * A MedCom acknowledgement: `MessageHeader.response.identifier` names the acknowledged MessageHeader.id. The first
 * one counts (a duplicate acknowledgement is ignored, 020 §1.2 #2); `fatal-error` fails the message. Its envelope
 * gets an EnvelopeReceipt like any other; the acknowledgement itself is never acknowledged (KR2.R).
 */
async function receiveAcknowledgement(
  core: MshCore,
  inbound: InboundEnvelope,
  env: EhmiEnvelope,
  facts: MedComMessageFacts,
): Promise<void> {
  const receipt = built(receiptEnvelope(env, { kind: 'acknowledgement' }));
  const receiptBlob = await putBlob(core, receipt.xml);
  const code = facts.responseCode ?? 'ok';
  const msg = facts.responseIdentifier
    ? await core.store.db
        .selectFrom('msh_messages')
        .selectAll()
        .where('message_header_id', '=', facts.responseIdentifier)
        .where('kind', '=', 'fhir')
        .where('receiver', '=', env.sender.value)
        .executeTakeFirst()
    : undefined;
  const now = core.now();
  await core.store.transaction(async (trx) => {
    const detail = `acknowledgement ${facts.messageHeaderId} of ${facts.responseIdentifier ?? '(none)'}`;
    if (!(await claimReceived(trx, inbound, 'acknowledgement', null, detail, now))) return;
    await addSubmission(core, trx, receipt, receiptBlob, 'receipt', null);
    if (!msg) {
      core.logger.warn(
        { responseIdentifier: facts.responseIdentifier },
        'acknowledgement of an unknown message',
      );
      return;
    }
    const fatal = code === 'fatal-error';
    const updated = await trx
      .updateTable('msh_messages')
      .set({
        ack_code: code,
        ack_at: now,
        ack_due: null,
        needs_action: null,
        status: fatal ? 'failed' : 'acknowledged',
        ...(fatal
          ? {
              failure_reason: `fatal-error acknowledgement${operationOutcomeText(facts.bundle) ? `: ${operationOutcomeText(facts.bundle)}` : ''}`,
              failure_ebms: null,
            }
          : {}),
        updated_at: now,
      })
      .where('id', '=', msg.id)
      .where('ack_code', 'is', null)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) {
      core.logger.info({ messageId: msg.id }, 'duplicate acknowledgement ignored (MedCom 020 §1.2 #2)');
      return;
    }
    await addEvents(trx, msg.id, [
      {
        code: '15.1',
        station: 'msh',
        outcome: fatal ? 'failure' : 'success',
        time: now,
        detail: `${code}: ${detail}`,
      },
    ]);
  });
  core.wake();
}
