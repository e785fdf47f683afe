/**
 * The steps of EHMI Delivery Status (ehmi-core §1.2, the EDS IG's scenario tables): a message and what travels back
 * for it, each reported by the station that took the step as an EDS AuditEvent. Four flows, each from its own
 * sender (origin) to its own receiver (destination):
 *
 * - `message` 01–06: the clinical message, EUA → MSH → AP → AP → MSH → EUA;
 * - `receipt` 07–10: the receiver MSH's ehmiSBDH EnvelopeReceipt back to the sender MSH;
 * - `acknowledgement` 11–16: the receiving EUA's MedCom Acknowledgement back to the original sender's EUA;
 * - `ack-receipt` 17–20: the EnvelopeReceipt of that acknowledgement.
 *
 * A step's `.1` is the first event of a station (received, or created at the first station), `.2` its second (sent);
 * the EUA's `01.2`/`11.2` (`msg-sent`) stand for `.1` when an EUA reports the sending apart from the creation.
 */

/** Which of the four flows an event is about. */
export type EdsFlow = 'message' | 'receipt' | 'acknowledgement' | 'ack-receipt';

/** The kind of station: the end-user application, the message service handler, the access point. */
export type EdsStationKind = 'EUA' | 'MSH' | 'AP';

/** Whether a station is on the side of its flow's sender (`origin`) or receiver (`destination`). */
export type EdsSide = 'origin' | 'destination';

/** The EDS sub-types (CodeSystem ehmi-delivery-status-sub-types). */
export type EdsSubtype =
  | 'msg-created'
  | 'msg-created-and-sent'
  | 'msg-sent'
  | 'msg-received'
  | 'msg-received-and-finalized'
  | 'msg-finalized';

export interface EdsStep {
  code: string;
  flow: EdsFlow;
  station: EdsStationKind;
  side: EdsSide;
  subtype: EdsSubtype;
  /** What the step means, in words for people. */
  meaning: string;
}

const FLOWS: { flow: EdsFlow; first: number; stations: [EdsStationKind, EdsSide][]; what: string }[] = [
  {
    flow: 'message',
    first: 1,
    what: 'message',
    stations: [
      ['EUA', 'origin'],
      ['MSH', 'origin'],
      ['AP', 'origin'],
      ['AP', 'destination'],
      ['MSH', 'destination'],
      ['EUA', 'destination'],
    ],
  },
  {
    flow: 'receipt',
    first: 7,
    what: 'EnvelopeReceipt',
    stations: [
      ['MSH', 'origin'],
      ['AP', 'origin'],
      ['AP', 'destination'],
      ['MSH', 'destination'],
    ],
  },
  {
    flow: 'acknowledgement',
    first: 11,
    what: 'acknowledgement',
    stations: [
      ['EUA', 'origin'],
      ['MSH', 'origin'],
      ['AP', 'origin'],
      ['AP', 'destination'],
      ['MSH', 'destination'],
      ['EUA', 'destination'],
    ],
  },
  {
    flow: 'ack-receipt',
    first: 17,
    what: "acknowledgement's EnvelopeReceipt",
    stations: [
      ['MSH', 'origin'],
      ['AP', 'origin'],
      ['AP', 'destination'],
      ['MSH', 'destination'],
    ],
  },
];

function sideWord(side: EdsSide, flow: EdsFlow): string {
  // The receipt and the acknowledgement travel from the original receiver back to the original sender; the
  // acknowledgement's receipt goes forward again, from the original sender to the original receiver.
  const back = flow === 'receipt' || flow === 'acknowledgement';
  return (side === 'origin') !== back ? "sender's" : "receiver's";
}

/** How a station between the ends of a flow takes the message in and passes it on, by kind and side. */
const RECEIVED: Record<string, string> = {
  'MSH/origin': 'received',
  'AP/origin': 'took',
  'AP/destination': 'received',
  'MSH/destination': 'received',
};
const FROM: Record<string, string> = {
  'MSH/origin': ' from its EUA',
  'AP/origin': ' over from its MSH',
  'AP/destination': ' over AS4',
  'MSH/destination': ' from its AP',
};
const SENT: Record<string, string> = {
  'MSH/origin': 'handed',
  'AP/origin': 'sent',
  'AP/destination': 'handed',
  'MSH/destination': 'passed',
};
const TO: Record<string, string> = {
  'MSH/origin': ' to its AP',
  'AP/origin': ' over AS4',
  'AP/destination': ' to its MSH',
  'MSH/destination': ' to its EUA',
};

function buildSteps(): EdsStep[] {
  const steps: EdsStep[] = [];
  for (const f of FLOWS) {
    f.stations.forEach(([station, side], i) => {
      const n = String(f.first + i).padStart(2, '0');
      const who = `${sideWord(side, f.flow)} ${station}`;
      const last = i === f.stations.length - 1;
      if (i === 0) {
        steps.push({
          code: `${n}.1`,
          flow: f.flow,
          station,
          side,
          subtype: 'msg-created-and-sent',
          meaning: `${who} created and sent the ${f.what}`,
        });
        if (station === 'EUA') {
          steps.push({
            code: `${n}.2`,
            flow: f.flow,
            station,
            side,
            subtype: 'msg-sent',
            meaning: `${who} sent the ${f.what}`,
          });
        }
      } else if (last) {
        steps.push({
          code: `${n}.1`,
          flow: f.flow,
          station,
          side,
          subtype: 'msg-received-and-finalized',
          meaning:
            station === 'EUA'
              ? `${who} took the ${f.what} (fetched it${f.flow === 'message' ? ' or acknowledged it' : ''})`
              : `${who} received the ${f.what}`,
        });
      } else {
        steps.push({
          code: `${n}.1`,
          flow: f.flow,
          station,
          side,
          subtype: 'msg-received',
          meaning: `${who} ${RECEIVED[`${station}/${side}`]} the ${f.what}${FROM[`${station}/${side}`]}`,
        });
        steps.push({
          code: `${n}.2`,
          flow: f.flow,
          station,
          side,
          subtype: 'msg-sent',
          meaning: `${who} ${SENT[`${station}/${side}`]} the ${f.what}${TO[`${station}/${side}`]}`,
        });
      }
    });
  }
  return steps;
}

/** Every step, in the order of the flows (01.1 … 20.1). */
export const EDS_STEPS: readonly EdsStep[] = buildSteps();

const BY_CODE = new Map(EDS_STEPS.map((s) => [s.code, s]));

/** The step of a code (`03.2`), or undefined. */
export function edsStep(code: string): EdsStep | undefined {
  return BY_CODE.get(code);
}

/** What a step code means (the code itself when it is not one of the table). */
export function edsStepMeaning(code: string): string {
  return BY_CODE.get(code)?.meaning ?? code;
}

/** The step a station of a flow reports with a sub-type, or undefined when the table has none. */
export function edsStepFor(
  flow: EdsFlow,
  station: EdsStationKind,
  side: EdsSide,
  subtype: string,
): EdsStep | undefined {
  const candidates = EDS_STEPS.filter((s) => s.flow === flow && s.station === station && s.side === side);
  const exact = candidates.find((s) => s.subtype === subtype);
  if (exact) return exact;
  // A station may report the generic sub-type of its step: `msg-finalized` for the last, `msg-created` for the first.
  if (subtype === 'msg-finalized') return candidates.find((s) => s.subtype === 'msg-received-and-finalized');
  if (subtype === 'msg-created') return candidates.find((s) => s.subtype === 'msg-created-and-sent');
  return undefined;
}
