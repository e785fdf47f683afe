import type { Selectable } from 'kysely';
import type { OutboundOutcome } from '../contract.ts';
import { type FixedStatement, fixedStatement } from '../store/fixed.ts';
import type { Db } from './core.ts';
import type { MessageStatus, MshTables, NeedsAction } from './tables.ts';

/**
 * The MSH's reads and plain writes of its own tables, named for what they answer (docs/architecture.md "Style":
 * data access behind a repository). Status changes and timeline events go through lifecycle.ts instead.
 */

/**
 * The patient a request is restricted to (the CPR its access token names, `authz.ts` `AccessClaims.patient`), or
 * undefined: every patient. A restricted read finds only rows about that patient; a row about none is not found.
 */
export type PatientRestriction = string | undefined;

/** A sent message by its tracking id (with `patient`, only when it is about that patient). */
export function findMessage(db: Db, id: string, patient?: PatientRestriction) {
  let query = db.selectFrom('msh_messages').selectAll().where('id', '=', id);
  if (patient !== undefined) query = query.where('patient_cpr', '=', patient);
  return query.executeTakeFirst();
}

/** Where a page of a list starts: after the row with this time and id, in the list's order. */
export interface PageCursor {
  at: number;
  id: string;
}

/** One page of a list: `limit` rows after `after`, oldest first (`asc`) or newest first (`desc`). */
export interface Paging {
  limit?: number;
  after?: PageCursor;
  order?: 'asc' | 'desc';
}

/** The most a list answers without `limit`, as before it paged. */
const UNPAGED_LIMIT = 10_000;

/**
 * `GET /messages`: oldest first (newest first with `order: 'desc'`), optionally one status, needs-action mark,
 * patient, receiver, type and a creation time range; a page after a cursor (keyset paging on `created_at, id`, a
 * stable order however many rows arrive meanwhile).
 */
export function listMessages(
  db: Db,
  filter: {
    status?: MessageStatus;
    needsAction?: NeedsAction;
    patient?: PatientRestriction;
    receiver?: string;
    type?: string;
    from?: number;
    to?: number;
  },
  paging: Paging = {},
) {
  const desc = paging.order === 'desc';
  let query = db
    .selectFrom('msh_messages')
    .selectAll()
    .orderBy('created_at', desc ? 'desc' : 'asc')
    .orderBy('id', desc ? 'desc' : 'asc');
  if (filter.status !== undefined) query = query.where('status', '=', filter.status);
  if (filter.needsAction !== undefined) query = query.where('needs_action', '=', filter.needsAction);
  if (filter.patient !== undefined) query = query.where('patient_cpr', '=', filter.patient);
  if (filter.receiver !== undefined) query = query.where('receiver', '=', filter.receiver);
  if (filter.type !== undefined) query = query.where('type', '=', filter.type);
  if (filter.from !== undefined) query = query.where('created_at', '>=', filter.from);
  if (filter.to !== undefined) query = query.where('created_at', '<=', filter.to);
  const after = paging.after;
  if (after) {
    const op = desc ? '<' : '>';
    query = query.where((eb) =>
      eb.or([
        eb('created_at', op, after.at),
        eb.and([eb('created_at', '=', after.at), eb('id', op, after.id)]),
      ]),
    );
  }
  return query.limit(paging.limit ?? UNPAGED_LIMIT).execute();
}

/** A message's timeline: by time, then EDS code. */
export function messageEvents(db: Db, messageId: string) {
  return db
    .selectFrom('msh_events')
    .selectAll()
    .where('message_id', '=', messageId)
    .orderBy('time')
    .orderBy('code')
    .execute();
}

/** The message first submitted with this `<Bundle.id>|<MessageHeader.id>`. */
export function findBySubmitKey(db: Db, key: string) {
  return db.selectFrom('msh_messages').selectAll().where('submit_key', '=', key).executeTakeFirst();
}

const FIND_SUBMITTED = fixedStatement<'key' | 'header', Selectable<MshTables['msh_messages']>>(
  ['key', 'header'],
  (db, p) =>
    (db as Db)
      .selectFrom('msh_messages')
      .selectAll()
      .where((eb) =>
        eb.or([
          eb('submit_key', '=', p.key),
          eb.and([eb('message_header_id', '=', p.header), eb('kind', '=', 'fhir')]),
        ]),
      ),
);

/**
 * A FHIR submission's two look-ups in one statement: the message first submitted with this submit key
 * (`<Bundle.id>|<MessageHeader.id>`, an identical resubmission) and a MedCom message sent with this MessageHeader.id
 * (another Bundle.id: a conflict). Each is `undefined` when no row matches.
 */
export async function findSubmitted(db: Db, key: string, messageHeaderId: string) {
  const { rows } = await FIND_SUBMITTED.run(db, { key, header: messageHeaderId });
  return {
    bySubmitKey: rows.find((r) => r.submit_key === key),
    byHeader: rows.find((r) => r.message_header_id === messageHeaderId && r.kind === 'fhir'),
  };
}

/** A MedCom message sent with this MessageHeader.id, to `receiver` when given. */
export function findFhirMessageByHeader(db: Db, messageHeaderId: string, receiver?: string) {
  let query = db
    .selectFrom('msh_messages')
    .selectAll()
    .where('message_header_id', '=', messageHeaderId)
    .where('kind', '=', 'fhir');
  if (receiver !== undefined) query = query.where('receiver', '=', receiver);
  return query.executeTakeFirst();
}

/** Its receipt arrived: the receipt deadline of that envelope is gone (a resend sets its own). */
export async function clearReceiptDue(trx: Db, messageId: string, envelopeId: string): Promise<void> {
  await CLEAR_RECEIPT_DUE.run(trx, { id: messageId, envelope: envelopeId });
}

/** `clearReceiptDue`'s update, built once (store/fixed.ts). */
const CLEAR_RECEIPT_DUE = fixedStatement(['id', 'envelope'], (db, p) =>
  (db as Db)
    .updateTable('msh_messages')
    .set({ receipt_due: null })
    .where('id', '=', p.id)
    .where('envelope_id', '=', p.envelope),
);

/** An envelope handed (or to be handed) to the AP, by its SBDH InstanceIdentifier. */
export function findSubmission(db: Db, id: string) {
  return FIND_SUBMISSION.first(db, { id });
}

const FIND_SUBMISSION = fixedStatement<'id', Selectable<MshTables['msh_submissions']>>(['id'], (db, p) =>
  (db as Db).selectFrom('msh_submissions').selectAll().where('id', '=', p.id),
);

/**
 * The AP took a submission: its AS4 MessageId, kept from the first hand-over if the job ran twice. True when this
 * call moved it from `queued`: the first hand-over of this envelope that commits.
 */
export async function markSubmitted(
  trx: Db,
  id: string,
  as4MessageId: string,
  now: number,
): Promise<boolean> {
  const moved = await trx
    .updateTable('msh_submissions')
    .set({ status: 'submitted', as4_message_id: as4MessageId, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', 'queued')
    .executeTakeFirst();
  if (Number(moved.numUpdatedRows) === 1) return true;
  await trx
    .updateTable('msh_submissions')
    .set({ as4_message_id: as4MessageId })
    .where('id', '=', id)
    .where('as4_message_id', 'is', null)
    .execute();
  return false;
}

/** The AP refused a submission for good. */
export async function failSubmission(trx: Db, id: string, reason: string, now: number): Promise<void> {
  await trx
    .updateTable('msh_submissions')
    .set({ status: 'failed', reason, updated_at: now })
    .where('id', '=', id)
    .execute();
}

/**
 * The AP's final word on a submission (`sent` / `failed`), unless it had one already: the submission's message and
 * purpose when this call recorded it, undefined when it was final before or is unknown (one statement, no read).
 */
export async function finishSubmission(trx: Db, outcome: OutboundOutcome, now: number) {
  return FINISH_SUBMISSION.first(trx, {
    status: outcome.status,
    as4: outcome.as4MessageId,
    code: outcome.ebmsCode ?? null,
    reason: outcome.reason ?? null,
    now,
    id: outcome.submissionId,
  });
}

const FINISH_SUBMISSION = fixedStatement<
  'status' | 'as4' | 'code' | 'reason' | 'now' | 'id',
  Pick<Selectable<MshTables['msh_submissions']>, 'id' | 'message_id' | 'purpose'>
>(['status', 'as4', 'code', 'reason', 'now', 'id'], (db, p) =>
  (db as Db)
    .updateTable('msh_submissions')
    .set({ status: p.status, as4_message_id: p.as4, ebms_code: p.code, reason: p.reason, updated_at: p.now })
    .where('id', '=', p.id)
    .where('status', 'not in', ['sent', 'failed'])
    .returning(['id', 'message_id', 'purpose']),
);

/** A message's held archive copies, built once (store/fixed.ts). */
const HELD_COPIES = fixedStatement<'message', { id: string }>(['message'], (db, p) =>
  (db as Db)
    .selectFrom('msh_submissions')
    .select('id')
    .where('message_id', '=', p.message)
    .where('purpose', '=', 'archive')
    .where('status', '=', 'held'),
);

/** Queue a message's held archive copies (the caller adds their dispatch jobs); returns their ids. */
export async function releaseHeld(trx: Db, messageId: string, now: number): Promise<string[]> {
  const held = (await HELD_COPIES.run(trx, { message: messageId })).rows;
  for (const h of held) {
    await trx
      .updateTable('msh_submissions')
      .set({ status: 'queued', updated_at: now })
      .where('id', '=', h.id)
      .execute();
  }
  return held.map((h) => h.id);
}

/** An inbox item, removed or not (with `patient`, only when it is about that patient). */
export function findInboxItem(db: Db, id: string, patient?: PatientRestriction) {
  let query = db.selectFrom('msh_inbox').selectAll().where('id', '=', id);
  if (patient !== undefined) query = query.where('patient_cpr', '=', patient);
  return query.executeTakeFirst();
}

/**
 * `GET /inbox`: the items not removed, oldest first (newest first with `order: 'desc'`); with `patient`, that
 * patient's only; a page after a cursor (keyset paging on `received_at, id`).
 */
export function listInbox(db: Db, patient?: PatientRestriction, paging: Paging = {}) {
  const desc = paging.order === 'desc';
  let query = db.selectFrom('msh_inbox').selectAll().where('removed_at', 'is', null);
  if (patient !== undefined) query = query.where('patient_cpr', '=', patient);
  const after = paging.after;
  if (after) {
    const op = desc ? '<' : '>';
    query = query.where((eb) =>
      eb.or([
        eb('received_at', op, after.at),
        eb.and([eb('received_at', '=', after.at), eb('id', op, after.id)]),
      ]),
    );
  }
  return query
    .orderBy('received_at', desc ? 'desc' : 'asc')
    .orderBy('id', desc ? 'desc' : 'asc')
    .limit(paging.limit ?? UNPAGED_LIMIT)
    .execute();
}

/** Items received at or after `since` and not removed, oldest first: the inbox stream's poll. */
export function inboxSince(db: Db, since: number) {
  return db
    .selectFrom('msh_inbox')
    .selectAll()
    .where('received_at', '>=', since)
    .where('removed_at', 'is', null)
    .orderBy('received_at')
    .limit(1000)
    .execute();
}

/** Acknowledge-to-remove: the item leaves the list and stays for duplicate handling. */
export async function removeInboxItem(db: Db, id: string, now: number): Promise<void> {
  await db
    .updateTable('msh_inbox')
    .set({ removed_at: now })
    .where('id', '=', id)
    .where('removed_at', 'is', null)
    .execute();
}

/** The acknowledgement sent for an inbox item, unless one was noted before (then false). */
export async function noteAcknowledgement(
  trx: Db,
  inboxId: string,
  ack: { messageId: string; hash: string; code: string; at: number; by: string | null },
): Promise<boolean> {
  const updated = await trx
    .updateTable('msh_inbox')
    .set({
      ack_message_id: ack.messageId,
      ack_hash: ack.hash,
      ack_code: ack.code,
      acknowledged_at: ack.at,
      acknowledged_by: ack.by,
    })
    .where('id', '=', inboxId)
    .where('ack_message_id', 'is', null)
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1;
}

/** Whether a delivery with this AS4 MessageId was handled already. */
export async function wasReceived(db: Db, as4MessageId: string): Promise<boolean> {
  return (await WAS_RECEIVED.first(db, { id: as4MessageId })) !== undefined;
}

const WAS_RECEIVED = fixedStatement(['id'], (db, p) =>
  (db as Db).selectFrom('msh_received').select('as4_message_id').where('as4_message_id', '=', p.id),
);

/** Note a delivery's AS4 MessageId and what became of it, in its transaction; false when it was there already. */
export async function claimReceived(
  trx: Db,
  as4MessageId: string,
  outcome: string,
  inboxId: string | null,
  detail: string | null,
  now: number,
): Promise<boolean> {
  const values = { as4_message_id: as4MessageId, outcome, inbox_id: inboxId, detail, received_at: now };
  return (await CLAIM_RECEIVED.affected(trx, values)) === 1;
}

const CLAIM_RECEIVED = fixedStatement(
  ['as4_message_id', 'outcome', 'inbox_id', 'detail', 'received_at'],
  (db, p) =>
    (db as Db)
      .insertInto('msh_received')
      .values(p)
      .onConflict((oc) => oc.column('as4_message_id').doNothing()),
);

/** A new inbox item's duplicate keys, in its transaction; false when one was inserted meanwhile (a race). */
export async function noteDuplicateKeys(
  trx: Db,
  keys: string[],
  inboxId: string,
  now: number,
): Promise<boolean> {
  const distinct = [...new Set(keys)];
  if (distinct.length === 0) return true;
  // One statement for all of them (on PostgreSQL one round trip): every key inserted, or a race.
  const values: Record<string, unknown> = { inbox: inboxId, now };
  distinct.forEach((key, i) => {
    values[`k${i}`] = key;
  });
  return (await dedupStatements(distinct.length).note.affected(trx, values)) === distinct.length;
}

/** The duplicate keys of these that were seen before, each with its inbox item. */
export async function seenKeys(db: Db, keys: string[]): Promise<Selectable<MshTables['msh_dedup']>[]> {
  if (keys.length === 0) return [];
  const values: Record<string, unknown> = {};
  keys.forEach((key, i) => {
    values[`k${i}`] = key;
  });
  return (await dedupStatements(keys.length).seen.run(db, values)).rows;
}

/** The duplicate keys' look-up and insert for `count` keys, built once per count (store/fixed.ts). */
const dedupByCount = new Map<
  number,
  { seen: FixedStatement<string, Selectable<MshTables['msh_dedup']>>; note: FixedStatement<string, unknown> }
>();

function dedupStatements(count: number) {
  let s = dedupByCount.get(count);
  if (s) return s;
  const keys = Array.from({ length: count }, (_, i) => `k${i}`);
  s = {
    seen: fixedStatement<string, Selectable<MshTables['msh_dedup']>>(keys, (db, p) =>
      (db as Db)
        .selectFrom('msh_dedup')
        .selectAll()
        .where(
          'key',
          'in',
          keys.map((k) => p[k]),
        ),
    ),
    note: fixedStatement([...keys, 'inbox', 'now'], (db, p) =>
      (db as Db)
        .insertInto('msh_dedup')
        .values(keys.map((k) => ({ key: p[k], inbox_id: p.inbox, created_at: p.now })))
        .onConflict((oc) => oc.column('key').doNothing()),
    ),
  };
  // An item has a handful of keys; a count seen once is not kept.
  if (count <= 16) dedupByCount.set(count, s);
  return s;
}
