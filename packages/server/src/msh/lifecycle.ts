import { randomUUID } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import type { EdsMessageFacts } from '@ehmi/sbdh';
import { sql, type Updateable } from 'kysely';
import type { DeliveryStatusReporter, StepTaken } from '../delivery-status/index.ts';
import {
  boundAsIs,
  type FixedStatement,
  fixedStatement,
  insertAtCommit,
  insertRow,
  writePending,
} from '../store/index.ts';
import type { Db } from './core.ts';
import type { TimelineStep } from './steps.ts';
import type { MessageStatus, MshEventsTable, MshMessagesTable, NeedsAction } from './tables.ts';
import { messageData, type WebhookEmitter, type WebhookEventType } from './webhooks/events.ts';

/** What a step does to the message when it went well (`success`) or not (`failure`). */
interface Move {
  /** The status it sets; absent: the status stays. */
  status?: MessageStatus;
  /** The needs-action mark it sets (null: clears it). */
  needsAction?: NeedsAction | null;
  /** The statuses it may move from: any other and the message stays as it is. */
  from: readonly MessageStatus[];
  /** Only while the message has no mark, or one of these (a mark is set once). */
  markFrom?: readonly (NeedsAction | null)[];
  /** Only while the step's envelope is the message's latest: a resend replaced an older one's fate. */
  latestEnvelope?: true;
  /** Only while no acknowledgement arrived: the first one counts (MedCom 020 §1.2 #2). */
  unacknowledged?: true;
  /** A mark this step removes, whether or not the status moved (a receipt after a missing-receipt mark). */
  clears?: NeedsAction;
}

interface Step {
  code: TimelineStep;
  station: MshEventsTable['station'];
  /** The status a message is created with (createMessage). */
  creates?: MessageStatus;
  success?: Move;
  failure?: Move;
  /** The event is written only when the message moved: otherwise the step did not happen (a mark already set). */
  onlyIfMoved?: true;
  /** Recorded once per envelope (its event's detail names it): a repeat changes nothing, event and status alike. */
  oncePerEnvelope?: true;
}

const UNTIL_RECEIPTED: readonly MessageStatus[] = ['accepted', 'sent'];
const UNTIL_ACKNOWLEDGED: readonly MessageStatus[] = ['accepted', 'sent', 'receipted', 'failed'];

/**
 * The life of a sent message, step by step (EDS codes of steps.ts, ehmi-core §1.2): accepted → sent → receipted →
 * acknowledged, or failed; `needs_action` marks a missing receipt or acknowledgement. Every move is a conditional
 * update, so AP outcomes, receipts and acknowledgements may arrive in any order, twice, or on another instance
 * (docs/architecture.md "Style"). `failed` is final except for an acknowledgement, which is the receiver's word
 * (EBMS:0301 can mean a lost AS4 receipt of a message that arrived).
 */
export const LIFECYCLE = {
  /** EUA API 1, 2, 9: the message is created. */
  submitted: { code: '01.1', station: 'eua', creates: 'accepted' },
  /** An envelope built: the first one, or an acknowledgement sent again for a duplicate. */
  wrapped: { code: '02.1', station: 'msh' },
  /** EUA API 5: a new envelope; back to `accepted` from anything but acknowledged. */
  resent: {
    code: '02.1',
    station: 'msh',
    success: { status: 'accepted', needsAction: null, from: ['accepted', 'sent', 'receipted', 'failed'] },
    onlyIfMoved: true,
  },
  /** The `msh.dispatch` job handed the envelope to the AP, or the AP refused it for good. */
  handedOver: {
    code: '02.2',
    station: 'msh',
    failure: { status: 'failed', from: UNTIL_RECEIPTED, latestEnvelope: true },
    oncePerEnvelope: true,
  },
  /** The AP took the envelope over (its AS4 MessageId). */
  takenOver: { code: '03.1', station: 'ap' },
  /** The AP's outcome (`ap.outcome`): the receiving AP's AS4 receipt, or the AP gave up. */
  sentOverAs4: {
    code: '03.2',
    station: 'ap',
    success: { status: 'sent', from: ['accepted'], latestEnvelope: true },
    failure: { status: 'failed', from: UNTIL_RECEIPTED, latestEnvelope: true },
  },
  /** The receiver's EnvelopeReceipt: for any envelope of the message, or a ReceiptException for the latest. */
  envelopeReceipt: {
    code: '10.1',
    station: 'msh',
    success: { status: 'receipted', from: UNTIL_RECEIPTED, clears: 'missing-receipt' },
    failure: { status: 'failed', from: UNTIL_RECEIPTED, latestEnvelope: true },
    oncePerEnvelope: true,
  },
  /** The sweep: no EnvelopeReceipt by ExpectedResponseDateTime (ehmi-core §2.4/§6.1). */
  receiptMissing: {
    code: '10.1',
    station: 'msh',
    failure: { needsAction: 'missing-receipt', from: UNTIL_RECEIPTED, markFrom: [null] },
    onlyIfMoved: true,
  },
  /** The receiver's MedCom acknowledgement: `fatal-error` fails the message. */
  acknowledgement: {
    code: '15.1',
    station: 'msh',
    success: { status: 'acknowledged', needsAction: null, from: UNTIL_ACKNOWLEDGED, unacknowledged: true },
    failure: { status: 'failed', needsAction: null, from: UNTIL_ACKNOWLEDGED, unacknowledged: true },
    onlyIfMoved: true,
  },
  /** The sweep: no acknowledgement in time marks the message for resending (MedCom 020 §1.1, KR6.S). */
  acknowledgementMissing: {
    code: '15.1',
    station: 'msh',
    failure: {
      needsAction: 'missing-acknowledgement',
      from: ['accepted', 'sent', 'receipted'],
      markFrom: [null, 'missing-receipt'],
      unacknowledged: true,
    },
    onlyIfMoved: true,
  },
} as const satisfies Record<string, Step>;

export type LifecycleStep = keyof typeof LIFECYCLE;

type Place = Pick<StepTaken, 'station' | 'side' | 'subtype'>;

/**
 * What each step reports to EHMI Delivery Status, by its place in the step table: the number follows from the flow
 * of the facts given (01.1 for a message, 11.1 for an acknowledgement; 10.1 for a message's receipt, 20.1 for an
 * acknowledgement's). The AP's steps the MSH records on its timeline (03.1, 03.2) are the AP's to report, and a
 * missing acknowledgement is no step anyone took (track'n'trace sees what is missing).
 */
const REPORTS: Partial<Record<LifecycleStep, readonly Place[]>> = {
  // The EUA's step, taken through the MSH's API (source type EUA-MSH).
  submitted: [{ station: 'EUA', side: 'origin', subtype: 'msg-created-and-sent' }],
  wrapped: [{ station: 'MSH', side: 'origin', subtype: 'msg-received' }],
  resent: [{ station: 'MSH', side: 'origin', subtype: 'msg-received' }],
  handedOver: [{ station: 'MSH', side: 'origin', subtype: 'msg-sent' }],
  // The facts are the EnvelopeReceipt's (the receipt flow).
  envelopeReceipt: [{ station: 'MSH', side: 'destination', subtype: 'msg-received-and-finalized' }],
  receiptMissing: [{ station: 'MSH', side: 'destination', subtype: 'msg-received-and-finalized' }],
  // The facts are the acknowledgement's: received (15.1), and passed to the EUA with the same commit (15.2).
  acknowledgement: [
    { station: 'MSH', side: 'destination', subtype: 'msg-received' },
    { station: 'MSH', side: 'destination', subtype: 'msg-sent' },
  ],
};

/** The EDS report of a step: who reports, and the facts of the message of the step's flow (null: none kept). */
export interface StepReport {
  eds: DeliveryStatusReporter;
  facts: EdsMessageFacts | null;
}

/** The message a step concerns and, for the steps of one envelope, which envelope (its SBDH InstanceIdentifier). */
export interface MessageRef {
  id: string;
  envelopeId?: string;
}

export interface TransitionInput {
  outcome?: MshEventsTable['outcome'];
  detail: string;
  time: number;
  /** When the row changes (`updated_at`); the event's time by default. */
  now?: number;
  /** Columns that change with the move (failure reason, acknowledgement, a resend's envelope). */
  set?: Updateable<MshMessagesTable>;
  /** Moves only while the message was resent this many times (a resend's optimistic check). */
  resends?: number;
  /** Report the step to EDS with these facts, in the same transaction, when it took effect. */
  report?: StepReport;
  /**
   * A once-per-envelope step the caller knows was never recorded for this envelope: its own conditional update in
   * this transaction moved the envelope out of the state the step leaves (`markSubmitted` from `queued`), so the
   * timeline is not searched.
   */
  firstForEnvelope?: true;
  /**
   * Where the step's webhook events go (`MshCore.webhooks`): an acknowledgement that took effect is
   * `message.acknowledged`, a move to `failed` is `message.failed`, queued in this transaction. A step that can
   * have either needs it (EHMI_INTERNAL otherwise, so a caller that forgets it fails its tests).
   */
  webhooks?: WebhookEmitter;
}

/**
 * Take one step of a message's life in the caller's transaction: the status change the table allows (a
 * conditional update) and the timeline event together. Returns whether the step took effect: false when the table
 * refused the move of an `onlyIfMoved` step (nothing is written) or a once-per-envelope step was recorded before.
 */
export async function transition(
  trx: Db,
  message: MessageRef,
  name: LifecycleStep,
  input: TransitionInput,
): Promise<boolean> {
  const step: Step = LIFECYCLE[name];
  const outcome = input.outcome ?? 'success';
  const move = outcome === 'success' ? step.success : step.failure;
  if ((step.oncePerEnvelope || move?.latestEnvelope) && !message.envelopeId) {
    throw new EhmiError('EHMI_INTERNAL', `the step ${name} needs the envelope it concerns`);
  }
  if (
    step.oncePerEnvelope &&
    !input.firstForEnvelope &&
    (await recorded(trx, message.id, step.code, message.envelopeId!))
  ) {
    return false;
  }
  let moved = true;
  if (move) {
    const set = input.set ?? {};
    const values: Record<string, unknown> = {
      now: input.now ?? input.time,
      id: message.id,
      envelope: message.envelopeId,
      resends: input.resends,
    };
    for (const [k, v] of Object.entries(set)) if (v !== undefined) values[`set_${k}`] = v;
    moved =
      (await moveStatement(name, outcome, move, set, input.resends !== undefined).affected(trx, values)) ===
      1;
    if (move.clears) await CLEAR_MARK.run(trx, { id: message.id, mark: move.clears });
  }
  if (step.onlyIfMoved && !moved) return false;
  const event = {
    id: randomUUID(),
    message_id: message.id,
    code: step.code,
    station: step.station,
    outcome,
    detail: input.detail,
    time: input.time,
  };
  // With the transaction's other timeline events, in one INSERT before its commit.
  if (!insertAtCommit(trx, 'msh_events', event)) await trx.insertInto('msh_events').values(event).execute();
  const report = input.report;
  if (report?.eds.enabled && report.facts) {
    for (const place of REPORTS[name] ?? []) {
      await report.eds.report(trx, { ...place, facts: report.facts, outcome, at: input.time });
    }
  }
  if (move) {
    const events: WebhookEventType[] = [];
    if (name === 'acknowledgement' && moved) events.push('message.acknowledged');
    if (move.status === 'failed' && moved) events.push('message.failed');
    if (events.length > 0) {
      const webhooks = input.webhooks;
      if (!webhooks) throw new EhmiError('EHMI_INTERNAL', `the step ${name} needs the MSH's webhooks`);
      const data = async () =>
        messageData(
          webhooks.base(),
          await trx
            .selectFrom('msh_messages')
            .selectAll()
            .where('id', '=', message.id)
            .executeTakeFirstOrThrow(),
        );
      for (const type of events) await webhooks.emit(trx, type, input.time, data);
    }
  }
  return true;
}

/**
 * The conditional update of a step's move, built once per shape (store/fixed.ts): the step and its outcome fix the
 * status, the mark and the conditions, so only the columns of `set` and whether `resends` is compared vary. A value
 * of `set` that is itself SQL (not a plain value) is built afresh each time, as Kysely would.
 */
const moves = new Map<string, FixedStatement<string, unknown>>();

function moveStatement(
  name: LifecycleStep,
  outcome: string,
  move: Move,
  set: Updateable<MshMessagesTable>,
  resends: boolean,
): FixedStatement<string, unknown> {
  // Columns the move writes itself take precedence over `set`, as in the object spread below.
  const columns = Object.keys(set).filter(
    (k) =>
      set[k as keyof typeof set] !== undefined &&
      k !== 'updated_at' &&
      !(k === 'status' && move.status) &&
      !(k === 'needs_action' && move.needsAction !== undefined),
  );
  const plain = columns.every((k) => boundAsIs(set[k as keyof typeof set]));
  const key = `${name} ${outcome} ${resends} ${columns.join(',')}`;
  let statement = plain ? moves.get(key) : undefined;
  if (statement) return statement;
  const names = ['now', 'id', ...(plain ? columns.map((k) => `set_${k}`) : [])];
  if (move.latestEnvelope) names.push('envelope');
  if (resends) names.push('resends');
  statement = fixedStatement(names, (db, p) => {
    let update = (db as Db)
      .updateTable('msh_messages')
      .set({
        ...Object.fromEntries(columns.map((k) => [k, plain ? p[`set_${k}`] : set[k as keyof typeof set]])),
        ...(move.status ? { status: move.status } : {}),
        ...(move.needsAction !== undefined ? { needs_action: move.needsAction } : {}),
        updated_at: p.now,
      })
      .where('id', '=', p.id)
      .where('status', 'in', move.from);
    if (move.latestEnvelope) update = update.where('envelope_id', '=', p.envelope);
    if (move.unacknowledged) update = update.where('ack_code', 'is', null);
    if (resends) update = update.where('resends', '=', p.resends);
    const marks = move.markFrom;
    if (marks) {
      update = update.where((eb) =>
        eb.or(marks.map((m) => (m === null ? eb('needs_action', 'is', null) : eb('needs_action', '=', m)))),
      );
    }
    return update;
  });
  if (plain) moves.set(key, statement);
  return statement;
}

/** A mark removed whether or not the status moved (`Move.clears`), built once (store/fixed.ts). */
const CLEAR_MARK = fixedStatement(['id', 'mark'], (db, p) =>
  (db as Db)
    .updateTable('msh_messages')
    .set({ needs_action: null })
    .where('id', '=', p.id)
    .where('needs_action', '=', p.mark),
);

/** The timeline look-up of `recorded`, built once (store/fixed.ts). */
const RECORDED = fixedStatement(['id', 'code', 'length', 'prefix'], (db, p) =>
  (db as Db)
    .selectFrom('msh_events')
    .select('id')
    .where('message_id', '=', p.id)
    .where('code', '=', p.code)
    .where(sql`substr(detail, 1, ${p.length})`, '=', p.prefix),
);

/** An event of this step naming this envelope (details begin `envelope <id>`) is on the timeline already. */
async function recorded(trx: Db, messageId: string, code: string, envelopeId: string): Promise<boolean> {
  // The transaction's own events, kept for its commit, are written first so that the look-up sees them.
  await writePending(trx);
  // The prefix compared as a prefix, not by LIKE: SQLite re-prepares a statement whose LIKE pattern is a bound value
  // each time that value changes (it may plan the LIKE as a range), a parse and plan per look-up; and an id holding
  // `%` or `_` would be a wildcard there. Both engines' `substr` counts characters (code points), as here.
  const prefix = `envelope ${envelopeId}`;
  const row = await RECORDED.first(trx, { id: messageId, code, length: [...prefix].length, prefix });
  return row !== undefined;
}

/** Create a sent message in the caller's transaction, with the status and event of its first step. */
export async function createMessage(
  trx: Db,
  row: MshMessagesTable,
  submitted: { detail: string; time: number; report?: StepReport },
): Promise<void> {
  await insertRow(trx, 'msh_messages', { ...row, status: LIFECYCLE.submitted.creates });
  await transition(trx, row, 'submitted', submitted);
}
