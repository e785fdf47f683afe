import { type DeliveryStatusView, type EdsParty, readDeliveryStatus } from './delivery-status.ts';
import { EDS_STEPS, type EdsFlow, edsStep, edsStepMeaning } from './steps.ts';

/**
 * A message's journey across the network from its EDS events (ehmi-core §1.2, §3): every step with its time,
 * station and outcome, the status in the MSH's words, and the steps the table expects that are not recorded — late
 * (`missing`, past their due time) or still to come (`pending`). A pure function: the events, `now` and the
 * thresholds in; how the events are found is {@link collectJourneyEvents}.
 */

/** How long each step may take before it is late (node config `deliveryStatus.due`, `ehmi track` flags). */
export interface JourneyThresholds {
  /** One hop: a step inside a node, or from one station to the next (the AS4 transfer included). */
  hopSeconds: number;
  /** From the AS4 receipt (03.2, 13.2) to the EnvelopeReceipt at the sender MSH (10.1, 20.1): ehmi-core §2.4. */
  receiptMinutes: number;
  /**
   * From the message's creation (01.1) to its acknowledgement at the sender MSH (15.1): the MSH's
   * `acknowledgementTimeoutMs` (MedCom 020 §1.1); the receiving EUA's fetch (06.1) and its acknowledgement (11.1)
   * are due by then too.
   */
  acknowledgementMinutes: number;
}

export const DEFAULT_JOURNEY_THRESHOLDS: JourneyThresholds = {
  hopSeconds: 60,
  receiptMinutes: 10,
  acknowledgementMinutes: 30,
};

/** A sent message's status in the MSH's words (`GET /messages/{id}`, msh/lifecycle.ts). */
export type JourneyStatus = 'accepted' | 'sent' | 'receipted' | 'acknowledged' | 'failed';

export interface JourneyEvent {
  /** The step (`03.2`); null for an event no step of the table places (another vendor's, no owner on its Device). */
  code: string | null;
  flow: EdsFlow;
  /** `<organisation>/<EUA|MSH|AP>`: the organisation's name when the events carry it, else its SOR code. */
  station: string;
  time: string;
  outcome: 'success' | 'failure';
  /** What the step means (edsStepMeaning), or the station's sub-type for an unplaced event. */
  meaning: string;
  subtype: string;
  /** The id of the message the event is about: the message, its EnvelopeReceipt, its acknowledgement … */
  messageId: string;
}

/** A step the table expects that is not recorded, and when it is (or was) due. */
export interface JourneyGap {
  code: string;
  station: string;
  meaning: string;
  /** ISO time; absent for a step without a deadline (the sender's EUA fetching the acknowledgement). */
  dueBy?: string;
}

export interface Journey {
  /** The id asked for (the MSH's tracking id, or the message id). */
  id: string;
  /** MessageHeader.id: the ehmiSBDH MESSAGEIDENTIFIER EDS knows the message by. */
  messageId: string;
  status: JourneyStatus;
  events: JourneyEvent[];
  /** Expected steps past their due time. */
  missing: JourneyGap[];
  /** Expected steps not yet due. */
  pending: JourneyGap[];
}

export interface JourneyOptions {
  now: Date;
  /** The id to answer with (default: the message id). */
  id?: string;
  thresholds?: Partial<JourneyThresholds>;
  /**
   * When the message was created, as its sending MSH knows it: the start of the deadlines when EDS holds no 01.1
   * (without it, the first event recorded), so that a message EDS knows nothing of has its first steps missing.
   */
  start?: Date;
  /**
   * Whether the receiver acknowledges the message (the acknowledgement and its receipt are expected). Default: for a
   * MedCom FHIR message (an SBDH Standard `…-message`), not for other payloads.
   */
  acknowledgement?: boolean;
}

type Within = 'hop' | 'receipt' | 'acknowledgement' | 'none';

/**
 * The steps our nodes take for a message, each due a threshold after the step it follows (`after`; `start` is the
 * message's creation). The EUA steps are those the MSH reports for its EUA (`EUA-MSH`: 01.1, 06.1, 11.1, 16.1), not
 * the alternative `.2` an EUA reporting by itself sends. The receiving AP's steps follow the sending AP's take-over
 * (03.1), as the transfer happens before the AS4 receipt (03.2); the EnvelopeReceipt follows the AS4 receipt
 * (ehmi-core §2.4: ExpectedResponseDateTime); the receiving EUA's steps and the acknowledgement follow the start.
 * The sender's EUA takes the acknowledgement when it will: 16.1 has no deadline.
 */
const EXPECTED: readonly { code: string; after: string; within: Within }[] = [
  { code: '01.1', after: 'start', within: 'hop' },
  { code: '02.1', after: '01.1', within: 'hop' },
  { code: '02.2', after: '02.1', within: 'hop' },
  { code: '03.1', after: '02.2', within: 'hop' },
  { code: '03.2', after: '03.1', within: 'hop' },
  { code: '04.1', after: '03.1', within: 'hop' },
  { code: '04.2', after: '04.1', within: 'hop' },
  { code: '05.1', after: '04.2', within: 'hop' },
  { code: '05.2', after: '05.1', within: 'hop' },
  { code: '06.1', after: 'start', within: 'acknowledgement' },
  { code: '07.1', after: '05.1', within: 'hop' },
  { code: '08.1', after: '07.1', within: 'hop' },
  { code: '08.2', after: '08.1', within: 'hop' },
  { code: '09.1', after: '08.1', within: 'hop' },
  { code: '09.2', after: '09.1', within: 'hop' },
  { code: '10.1', after: '03.2', within: 'receipt' },
  { code: '11.1', after: 'start', within: 'acknowledgement' },
  { code: '12.1', after: '11.1', within: 'hop' },
  { code: '12.2', after: '12.1', within: 'hop' },
  { code: '13.1', after: '12.2', within: 'hop' },
  { code: '13.2', after: '13.1', within: 'hop' },
  { code: '14.1', after: '13.1', within: 'hop' },
  { code: '14.2', after: '14.1', within: 'hop' },
  { code: '15.1', after: 'start', within: 'acknowledgement' },
  { code: '15.2', after: '15.1', within: 'hop' },
  { code: '16.1', after: '15.2', within: 'none' },
  { code: '17.1', after: '15.1', within: 'hop' },
  { code: '18.1', after: '17.1', within: 'hop' },
  { code: '18.2', after: '18.1', within: 'hop' },
  { code: '19.1', after: '18.1', within: 'hop' },
  { code: '19.2', after: '19.1', within: 'hop' },
  { code: '20.1', after: '13.2', within: 'receipt' },
];

/** The events of one message's journey, in time order: the message's, its receipts', its acknowledgement's. */
function eventsOf(messageId: string, all: readonly DeliveryStatusView[]): DeliveryStatusView[] {
  const ackIds = new Set(
    all
      .filter((e) => e.flow === 'acknowledgement' && e.originalMessageId === messageId)
      .map((e) => e.messageId),
  );
  return all.filter((e) => {
    switch (e.flow) {
      case 'message':
        return e.messageId === messageId;
      case 'receipt':
      case 'acknowledgement':
        return e.originalMessageId === messageId;
      case 'ack-receipt':
        return e.originalMessageId !== undefined && ackIds.has(e.originalMessageId);
    }
    return false;
  });
}

const stepIndex = (code: string | undefined) => (code ? EDS_STEPS.findIndex((s) => s.code === code) : -1);
const ms = (iso: string) => Date.parse(iso);

function byTime(a: DeliveryStatusView, b: DeliveryStatusView): number {
  return ms(a.recorded) - ms(b.recorded) || stepIndex(a.step?.code) - stepIndex(b.step?.code);
}

/** The parties of the original message: its sender and receiver (the flows back swap them). */
function partiesOf(events: readonly DeliveryStatusView[]): { sender?: EdsParty; receiver?: EdsParty } {
  const m = events.find((e) => e.flow === 'message');
  if (m) return { sender: m.sender, receiver: m.receiver };
  const back = events[0];
  return back ? { sender: back.receiver, receiver: back.sender } : {};
}

/**
 * The journey of the message `messageId` from EDS events (any superset: those of other messages are left out).
 * Duplicated events (a station reporting the same step of the same envelope again) show once, the first.
 *
 * @example
 * const events = await collectJourneyEvents(messageHeaderId, search);
 * const journey = buildJourney(messageHeaderId, events, { now: new Date() });
 * for (const m of journey.missing) console.log(`${m.code} ${m.station} due by ${m.dueBy}`);
 */
export function buildJourney(
  messageId: string,
  all: readonly DeliveryStatusView[],
  options: JourneyOptions,
): Journey {
  const thresholds = { ...DEFAULT_JOURNEY_THRESHOLDS, ...options.thresholds };
  const parties = partiesOf(eventsOf(messageId, all));
  // Organisation names: those the parties carry, else those the Devices' owners carry.
  const names = new Map<string, string>();
  for (const e of all) if (e.owner?.name) names.set(e.owner.sor, e.owner.name);
  for (const p of [parties.sender, parties.receiver]) if (p?.name) names.set(p.sor, p.name);
  const orgName = (sor: string | undefined) => (sor ? (names.get(sor) ?? sor) : '?');
  const stationOf = (e: DeliveryStatusView) => {
    const sor =
      e.owner?.sor ??
      (e.side === 'origin' ? e.sender.sor : e.side === 'destination' ? e.receiver.sor : undefined);
    return `${orgName(sor)}/${e.station}`;
  };

  // One event per station, step, envelope and outcome: a station's retry shows once, a resend's new envelope again.
  const seen = new Set<string>();
  const events = eventsOf(messageId, all)
    .sort(byTime)
    .filter((e) => {
      const what = e.step?.code ?? `${e.sourceType}|${e.subtype}|${e.deviceId ?? ''}`;
      const key = [what, stationOf(e), e.messageId, e.transportEnvelopeId ?? '', e.outcome].join('\n');
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });

  const placed = events.filter(
    (e): e is DeliveryStatusView & { step: NonNullable<DeliveryStatusView['step']> } => Boolean(e.step),
  );
  const first = new Map<string, DeliveryStatusView>();
  for (const e of placed) if (!first.has(e.step.code)) first.set(e.step.code, e);

  // The receiving MSH rejected the envelope (a ReceiptException: 05.1 and 07.1 failure). A 10.1 failure alone is the
  // sender's MSH finding no EnvelopeReceipt by its deadline: the receipt may still come, and nothing failed yet.
  const rejected = placed.some(
    (e) => e.outcome === 'failure' && (e.step.code === '05.1' || e.step.code === '07.1'),
  );
  const status = statusOf(placed, rejected);

  // A failure ends its flow's later steps, unless a later step of that flow went well after it (a resend). A
  // ReceiptException (07.1, 17.1 failure) still travels back: it ends no flow.
  const endedAt = new Map<EdsFlow, number>();
  for (const e of placed) {
    if (e.outcome !== 'failure' || endedAt.has(e.step.flow)) continue;
    if (e.step.code === '07.1' || e.step.code === '17.1') continue;
    const index = stepIndex(e.step.code);
    const recovered = placed.some(
      (o) =>
        o.outcome === 'success' &&
        o.step.flow === e.step.flow &&
        stepIndex(o.step.code) >= index &&
        ms(o.recorded) >= ms(e.recorded),
    );
    if (!recovered) endedAt.set(e.step.flow, index);
  }
  const messageEnd = endedAt.get('message');
  const expectsAcknowledgement =
    options.acknowledgement ??
    /-message$/.test(events.find((e) => e.flow === 'message')?.messageType ?? '-message');
  const ackEnd = endedAt.get('acknowledgement');
  const flowExpected: Record<EdsFlow, boolean> = {
    message: true,
    // The receiving MSH answers every envelope it got, a rejected one with a ReceiptException.
    receipt: messageEnd === undefined || messageEnd >= stepIndex('05.1'),
    acknowledgement: expectsAcknowledgement && messageEnd === undefined && !rejected,
    'ack-receipt':
      expectsAcknowledgement &&
      messageEnd === undefined &&
      !rejected &&
      (ackEnd === undefined || ackEnd >= stepIndex('15.1')),
  };

  const created = first.get('01.1');
  const start = created
    ? ms(created.recorded)
    : (options.start?.getTime() ?? (events[0] ? ms(events[0].recorded) : undefined));
  const span: Record<Within, number | undefined> = {
    hop: thresholds.hopSeconds * 1000,
    receipt: thresholds.receiptMinutes * 60_000,
    acknowledgement: thresholds.acknowledgementMinutes * 60_000,
    none: undefined,
  };
  const dueCache = new Map<string, number | undefined>();
  const due = (code: string): number | undefined => {
    if (dueCache.has(code)) return dueCache.get(code);
    const x = EXPECTED.find((s) => s.code === code);
    let at: number | undefined;
    const add = span[x?.within ?? 'none'];
    if (x && add !== undefined) {
      const base =
        x.after === 'start' ? start : first.has(x.after) ? ms(first.get(x.after)!.recorded) : due(x.after);
      at = base === undefined ? undefined : base + add;
    }
    dueCache.set(code, at);
    return at;
  };

  const missing: JourneyGap[] = [];
  const pending: JourneyGap[] = [];
  if (start !== undefined) {
    for (const x of EXPECTED) {
      const step = edsStep(x.code)!;
      if (first.has(x.code) || !flowExpected[step.flow]) continue;
      const end = endedAt.get(step.flow);
      if (end !== undefined && stepIndex(x.code) > end) continue;
      const side = (step.side === 'origin') === (step.flow === 'message') ? parties.sender : parties.receiver;
      const gap: JourneyGap = {
        code: x.code,
        station: `${orgName(side?.sor)}/${step.station}`,
        meaning: step.meaning,
      };
      const at = due(x.code);
      if (at !== undefined) gap.dueBy = new Date(at).toISOString();
      (at !== undefined && at <= options.now.getTime() ? missing : pending).push(gap);
    }
  }

  return {
    id: options.id ?? messageId,
    messageId,
    status,
    events: events.map((e) => ({
      code: e.step?.code ?? null,
      flow: e.flow,
      station: stationOf(e),
      time: e.recorded,
      outcome: e.outcome,
      meaning: e.step ? edsStepMeaning(e.step.code) : `${e.sourceType} ${e.subtype}`,
      subtype: e.subtype,
      messageId: e.messageId,
    })),
    missing,
    pending,
  };
}

/**
 * The status the MSH's lifecycle (msh/lifecycle.ts) gives the message after these steps, walked in time order:
 * the AS4 receipt sends it, the EnvelopeReceipt receipts it (a ReceiptException fails it; no receipt by the
 * deadline only marks it, as the MSH's needsAction), the acknowledgement at the sender MSH acknowledges it (a fatal
 * one fails it); a failure of the latest envelope before its receipt fails it, a new envelope (02.1, a resend)
 * accepts it again.
 */
function statusOf(
  placed: readonly (DeliveryStatusView & { step: { code: string; flow: EdsFlow } })[],
  rejected: boolean,
): JourneyStatus {
  let status: JourneyStatus = 'accepted';
  let envelope: string | undefined;
  const untilReceipted = () => status === 'accepted' || status === 'sent';
  for (const e of placed) {
    const { code, flow } = e.step;
    const ok = e.outcome === 'success';
    if (flow === 'message') {
      if (code === '02.1' && ok) {
        envelope = e.transportEnvelopeId ?? envelope;
        if (status !== 'acknowledged') status = 'accepted';
      } else if (code === '03.2' && ok && status === 'accepted') {
        status = 'sent';
      } else if (!ok && untilReceipted()) {
        const latest = !envelope || !e.transportEnvelopeId || e.transportEnvelopeId === envelope;
        if (latest) status = 'failed';
      }
    } else if (flow === 'receipt' && code === '10.1' && untilReceipted()) {
      if (ok) status = 'receipted';
      else if (rejected) status = 'failed';
    } else if (
      flow === 'acknowledgement' &&
      (code === '15.1' || code === '16.1') &&
      status !== 'acknowledged'
    ) {
      status = ok ? 'acknowledged' : 'failed';
    }
  }
  return status;
}

/** Read EDS AuditEvents matching a FHIR search (each `[name, value]` a parameter), all pages. */
export type EdsSearch = (params: [string, string][]) => Promise<Record<string, unknown>[]>;

/**
 * Find a message's events in EDS with the searches its journey needs: the message's own (`message-id`), its
 * EnvelopeReceipts' and its acknowledgement's (`orig-message-id`), and the acknowledgement's EnvelopeReceipts'
 * (`orig-message-id` of the acknowledgement's id). Events that are no EDS delivery status are left out.
 */
export async function collectJourneyEvents(
  messageId: string,
  search: EdsSearch,
): Promise<DeliveryStatusView[]> {
  const views = (events: Record<string, unknown>[]) =>
    events.map(readDeliveryStatus).filter((v): v is DeliveryStatusView => v !== undefined);
  const [own, answers] = await Promise.all([
    search([['message-id', messageId]]).then(views),
    search([['orig-message-id', messageId]]).then(views),
  ]);
  const ackIds = [...new Set(answers.filter((v) => v.flow === 'acknowledgement').map((v) => v.messageId))];
  const ackReceipts = await Promise.all(ackIds.map((id) => search([['orig-message-id', id]]).then(views)));
  const byId = new Map<string, DeliveryStatusView>();
  const out: DeliveryStatusView[] = [];
  for (const v of [...own, ...answers, ...ackReceipts.flat()]) {
    if (v.id !== undefined) {
      if (byId.has(v.id)) continue;
      byId.set(v.id, v);
    }
    out.push(v);
  }
  return out;
}
