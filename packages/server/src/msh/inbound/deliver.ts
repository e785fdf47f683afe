import { randomUUID } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import {
  type EhmiEnvelope,
  type LoadedEnvelope,
  loadPlainEnvelope,
  type MedComMessageFacts,
  type ParsedEnvelope,
  parsedEnvelope,
  payloadOf,
  RECEIPT_STANDARD,
  readMessageFacts,
  scopeValue,
} from '@ehmi/sbdh';
import { type Alongside, type InboundEnvelope, type PreparedDelivery, runAlongside } from '../../contract.ts';
import { readLimited } from '../../http/read-limited.ts';
import { type AnyDb, afterCommit, insertRow } from '../../store/index.ts';
import { inboxItem, type MshCore, noteMshBlob, patientCprOf, writeBlob } from '../core.ts';
import { factsNow } from '../delivery-status.ts';
import { validateEnvelope } from '../envelope-check.ts';
import { addSubmission, envelopeIdOf } from '../envelopes.ts';
import { formatOfMime, readFhir } from '../fhir-body.ts';
import { claimReceived, noteDuplicateKeys, wasReceived } from '../repository.ts';
import { inboxReceivedData } from '../webhooks/events.ts';
import { receiveAcknowledgement } from './acknowledgements.ts';
import { checkDuplicate, deliverDuplicate, type MessageKeys } from './duplicates.ts';
import { answerException, ignore, receiptFor, receiveReceipt, stageReceipt } from './receipts.ts';

const FHIR_ACK = 'acknowledgement-message';

/** Rolls a delivery transaction back: the AS4 MessageId was taken meanwhile (another instance, a repeated call). */
class AlreadyReceived extends Error {}
/** Rolls a delivery transaction back: a duplicate key was inserted meanwhile; classify again. */
class DuplicateRace extends Error {}

const tooLarge = (limit: number) =>
  `the envelope is larger than ${limit} bytes (msh.maxInboundEnvelopeBytes)`;

/**
 * `MshBackend.deliver` (ehmi-core §1.2 step 5): read and validate the envelope, then one of
 * - an EnvelopeReceipt → correlate it with the envelope it answers (receipts.ts);
 * - a MedCom acknowledgement → correlate it with the acknowledged message, and answer its envelope with an
 *   EnvelopeReceipt (acknowledgements.ts);
 * - a clinical message → duplicate check (duplicates.ts), inbox, EnvelopeReceipt, all in one transaction; SSE after
 *   the commit.
 * An illegible envelope is answered with a ReceiptException when its sender can be named. Idempotent on the AS4
 * MessageId: the AP may deliver again after a crash.
 */
export async function deliver(core: MshCore, inbound: InboundEnvelope, part?: Alongside): Promise<void> {
  const p = await plan(core, inbound);
  if (p.kind === 'other') return p.run();
  if (p.kind === 'receipt') return receiveReceipt(core, inbound, p.envelope, part);
  return receiveMessage(core, inbound, p, part);
}

/**
 * `MshBackend.prepareDelivery`: a new clinical message, or an EnvelopeReceipt that answers an envelope we sent,
 * prepared to be taken in the receiving AP's commit on this store (read and checked as `deliver` does, blobs put,
 * rows built; nothing the commit depends on written). Anything else (an acknowledgement, a duplicate, a refusal, a
 * receipt `receiveReceipt` ignores, one delivered already) is undefined: the AP's hand-over job delivers it.
 */
export async function prepareDelivery(
  core: MshCore,
  inbound: InboundEnvelope,
): Promise<PreparedDelivery | undefined> {
  const p = await plan(core, inbound);
  if (p.kind === 'other') return undefined;
  const staged =
    p.kind === 'receipt'
      ? await prepareReceipt(core, inbound, p.envelope)
      : await prepareNew(core, inbound, p);
  if (!staged) return undefined;
  return {
    async take(trx) {
      await staged.take(trx);
      if (!afterCommit(trx, staged.after)) staged.after();
    },
  };
}

/** A new message's take for the AP's commit; undefined for a duplicate or a refusal (the job's). */
async function prepareNew(
  core: MshCore,
  inbound: InboundEnvelope,
  read: ReadMessage,
): Promise<{ take(trx: AnyDb): Promise<void>; after(): void } | undefined> {
  const verdict = await checkDuplicate(core, read.env, read.info);
  if (verdict.kind !== 'new') return undefined;
  return stageNew(core, { ...read, inbound, keys: verdict.keys }, true);
}

/**
 * An EnvelopeReceipt's take for the AP's commit; undefined when `receiveReceipt` would ignore it (the job ignores
 * it as before). Its AS4 MessageId taken meanwhile throws, and the job finds it delivered.
 */
async function prepareReceipt(
  core: MshCore,
  inbound: InboundEnvelope,
  envelope: ParsedEnvelope,
): Promise<{ take(trx: AnyDb): Promise<void>; after(): void } | undefined> {
  const staged = await stageReceipt(core, inbound, envelope);
  if (staged.kind === 'ignore') return undefined;
  return {
    async take(trx) {
      if (!(await staged.take(trx))) throw new AlreadyReceived();
    },
    after: staged.after,
  };
}

/** A clinical message as `plan` read it: its envelope's octets and model, its keys, its patient. */
interface ReadMessage {
  bytes: Buffer;
  env: EhmiEnvelope;
  info: MessageKeys;
  patientCpr: string | null;
}

/** A new message as `deliverNew` and `stageNew` take it: read, received by `inbound`, new under `keys`. */
interface NewMessage extends ReadMessage {
  inbound: InboundEnvelope;
  /** Its duplicate keys (`checkDuplicate`'s verdict). */
  keys: string[];
}

/**
 * What a delivery comes to: a message for the inbox (new or a duplicate), an EnvelopeReceipt for an envelope we
 * sent, or anything else, to run.
 */
type Plan =
  | ({ kind: 'message' } & ReadMessage)
  | { kind: 'receipt'; envelope: ParsedEnvelope }
  | { kind: 'other'; run: () => Promise<void> };

const done = async (): Promise<void> => {};

/** Read and check the envelope (nothing written): what `deliver` does with it. */
async function plan(core: MshCore, inbound: InboundEnvelope): Promise<Plan> {
  const other = (run: () => Promise<void>): Plan => ({ kind: 'other', run });
  if (await wasReceived(core.store.db, inbound.as4MessageId)) return other(done);
  const limit = core.config.maxInboundEnvelopeBytes;
  // Its size known (a blob of the AP's store): an envelope over the limit is not read into memory first.
  if (inbound.envelope.size !== undefined && inbound.envelope.size > limit)
    return other(() => ignore(core, inbound, tooLarge(limit)));
  // Read and parsed by the AP of this process already (its EDS facts): taken as they are.
  const read = inbound.read && inbound.read.bytes.byteLength <= limit ? inbound.read : undefined;
  let bytes: Buffer;
  try {
    bytes =
      read?.bytes ??
      (await readLimited(inbound.envelope.open(), limit, {
        tooLarge: () => new EhmiError('EHMI_TOO_LARGE', tooLarge(limit)),
      }));
  } catch (err) {
    if (err instanceof EhmiError && err.code === 'EHMI_TOO_LARGE') {
      const reason = err.message;
      return other(() => ignore(core, inbound, reason));
    }
    throw err;
  }
  // Read once: the envelope, its validation and a receipt's reading share this document.
  let loaded: LoadedEnvelope | undefined;
  let parsed: ParsedEnvelope | undefined;
  try {
    loaded = read?.loaded ?? loadPlainEnvelope(bytes, 'the received envelope');
    parsed = parsedEnvelope(loaded);
  } catch {
    // Read again below by validate(), which says what is wrong.
  }
  // ehmiSBDH IG: "An ehmiSBDH EnvelopeReceipt is never acknowledged": read leniently, never answered.
  if (parsed?.documentIdentification.standard === RECEIPT_STANDARD)
    return { kind: 'receipt', envelope: parsed };

  const check = await validateEnvelope(bytes, 'the received envelope', loaded);
  const env = parsed ?? check.envelope;
  if (!check.valid) {
    const first = check.errors[0];
    const reason = first ? `${first.element}: ${first.message}` : 'the envelope is not a valid ehmiSBDH';
    // "Legible means that it has passed structure/schema validity check" (ehmiSBDH EnvelopeReceipt).
    return other(() =>
      answerException(core, inbound, env, 'Syntax', `the envelope is not legible: ${reason}`),
    );
  }
  if (!env) return other(() => ignore(core, inbound, 'no envelope'));
  // The access point bound the AS4 originalSender to the certificate that signed the message (the register's);
  // the envelope's Sender is who the message claims to come from, and must be that same participant.
  if (env.sender.value.toLowerCase() !== inbound.sender.toLowerCase()) {
    return other(() =>
      answerException(
        core,
        inbound,
        env,
        'Authorization',
        `the envelope's Sender ${env.sender.value} is not ${inbound.sender}, the sender its access point authenticated`,
      ),
    );
  }
  if (env.receiver.value.toLowerCase() !== core.party.toLowerCase()) {
    return other(() =>
      answerException(
        core,
        inbound,
        env,
        'Authorization',
        `the envelope is addressed to ${env.receiver.value}, not to ${core.party}`,
      ),
    );
  }

  const format = formatOfMime(env.binaryContent.mimeType);
  if (!format) {
    // OIOXML, EDIFACT, CDA (EUA API 2): delivered as they are, keyed on the envelope's MESSAGEIDENTIFIER. Their
    // patient is the envelope's PATIENTID, the sender's word, not read from the payload: none is noted.
    const mh = scopeValue(env, 'MESSAGEIDENTIFIER');
    const bundle = scopeValue(env, 'MESSAGEENVELOPEIDENTIFIER');
    return {
      kind: 'message',
      bytes,
      env,
      info: {
        ...(mh ? { mh } : {}),
        ...(bundle ? { bundle } : {}),
        type: env.documentIdentification.standard,
      },
      patientCpr: null,
    };
  }
  let resource: Record<string, unknown>;
  let facts: MedComMessageFacts;
  try {
    resource = readFhir(payloadOf(env), format);
    facts = readMessageFacts(resource);
  } catch (err) {
    return other(() =>
      answerException(
        core,
        inbound,
        env,
        'Syntax',
        `the payload is not a readable MedCom message: ${(err as Error).message}`,
      ),
    );
  }
  if (facts.eventCode === FHIR_ACK) return other(() => receiveAcknowledgement(core, inbound, env, facts));
  return {
    kind: 'message',
    bytes,
    env,
    info: { mh: facts.messageHeaderId, bundle: facts.bundleId, type: facts.eventCode, resource },
    patientCpr: patientCprOf(facts),
  };
}

/** A clinical message: new → the inbox; a duplicate → answered as the first was; a reused key → ReceiptException. */
async function receiveMessage(
  core: MshCore,
  inbound: InboundEnvelope,
  read: ReadMessage,
  part?: Alongside,
): Promise<void> {
  const { env, info } = read;
  for (let attempt = 0; attempt < 5; attempt++) {
    const verdict = await checkDuplicate(core, env, info);
    if (verdict.kind === 'new') {
      if ((await deliverNew(core, { ...read, inbound, keys: verdict.keys }, part)) === 'race') continue;
      return;
    }
    if (verdict.kind === 'duplicate') {
      return deliverDuplicate(core, inbound, env, info, verdict.inboxId, verdict.classification);
    }
    return answerException(core, inbound, env, 'Sequence', verdict.reason);
  }
  throw new EhmiError('EHMI_UNAVAILABLE', 'the duplicate cache kept changing; deliver again');
}

/** Into the inbox, with its duplicate keys and its EnvelopeReceipt, in one transaction. */
async function deliverNew(core: MshCore, m: NewMessage, part?: Alongside): Promise<'done' | 'race'> {
  const staged = await stageNew(core, m);
  try {
    await core.store.transaction(async (trx) => {
      // The access point's record of the hand-over, in this same commit.
      await runAlongside(part, core.store.db, trx, undefined);
      await staged.take(trx);
    });
  } catch (err) {
    if (err instanceof AlreadyReceived) return 'done';
    if (err instanceof DuplicateRace) return 'race';
    throw err;
  }
  staged.after();
  return 'done';
}

/**
 * A new message's inbox item made ready: its EnvelopeReceipt built, its blobs put (files or rows, before the
 * transaction that names them), its row. `take` writes it in a transaction (throws {@link AlreadyReceived} or
 * {@link DuplicateRace} when another delivery came first); `after` is for once that committed.
 */
async function stageNew(
  core: MshCore,
  m: NewMessage,
  inReception = false,
): Promise<{ take(trx: AnyDb): Promise<void>; after(): void }> {
  const { inbound, bytes, env, info, patientCpr, keys } = m;
  const receipt = receiptFor(env);
  // Files only (the envelope's is the access point's, stored already): their rows commit with the inbox row.
  const receiptBlob = await writeBlob(core, receipt.xml);
  // Taken in the AP's reception commit on this store: the envelope is the blob that commit notes and names.
  const envInStore =
    inReception && inbound.envelope.hash !== undefined && inbound.envelope.size !== undefined;
  const envBlob = envInStore
    ? { hash: inbound.envelope.hash!, size: inbound.envelope.size! }
    : await writeBlob(core, bytes);
  const now = core.now();
  const id = randomUUID();
  const facts = factsNow(core, env);
  const receiptFacts = factsNow(core, receipt.envelope);
  const row = {
    id,
    as4_message_id: inbound.as4MessageId,
    envelope_id: envelopeIdOf(env),
    message_header_id: info.mh ?? null,
    bundle_id: info.bundle ?? null,
    type: info.type,
    sender: env.sender.value,
    receiver: env.receiver.value,
    mime_type: env.binaryContent.mimeType,
    patient_cpr: patientCpr,
    envelope_hash: envBlob.hash,
    envelope_size: envBlob.size,
    received_at: now,
    removed_at: null,
    receipt_message_id: scopeValue(receipt.envelope, 'MESSAGEIDENTIFIER') ?? envelopeIdOf(receipt.envelope),
    ack_message_id: null,
    ack_hash: null,
    ack_code: null,
    acknowledged_at: null,
    acknowledged_by: null,
    eds_facts: facts ? JSON.stringify(facts) : null,
    eua_taken_at: null,
  };
  return {
    async take(trx) {
      await noteMshBlob(core, trx, receiptBlob, receipt.xml);
      if (!envInStore) await noteMshBlob(core, trx, envBlob, bytes);
      if (!(await claimReceived(trx, inbound.as4MessageId, 'inbox', id, null, now)))
        throw new AlreadyReceived();
      if (!(await noteDuplicateKeys(trx, keys, id, now))) throw new DuplicateRace();
      await insertRow(trx, 'msh_inbox', row);
      // Push delivery: the EUA's webhooks hear of the item with the commit that puts it in the inbox.
      await core.webhooks.emit(trx, 'inbox.received', now, () =>
        inboxReceivedData(core.webhooks.base(), row),
      );
      await addSubmission(core, trx, receipt, receiptBlob, 'receipt', null);
      // 05.1 received, 05.2 in the inbox for the EUA, 07.1 the EnvelopeReceipt created and sent: one commit.
      if (facts) {
        await core.eds.report(trx, {
          station: 'MSH',
          side: 'destination',
          subtype: 'msg-received',
          facts,
          at: now,
        });
        await core.eds.report(trx, {
          station: 'MSH',
          side: 'destination',
          subtype: 'msg-sent',
          facts,
          at: now,
        });
      }
      if (receiptFacts) {
        await core.eds.report(trx, {
          station: 'MSH',
          side: 'origin',
          subtype: 'msg-created-and-sent',
          facts: receiptFacts,
          at: now,
        });
      }
    },
    after() {
      core.wake();
      core.logger.info(
        { inboxId: id, messageHeaderId: info.mh, sender: row.sender },
        'message delivered to the inbox',
      );
      core.hub.publish({ id, receivedAt: now, patientCpr, json: inboxItem(row) });
    },
  };
}
