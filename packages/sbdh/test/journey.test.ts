import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildDeliveryStatus,
  buildJourney,
  collectJourneyEvents,
  type DeliveryStatusView,
  EDS_STEPS,
  type EdsMessageFacts,
  type EdsParty,
  readDeliveryStatus,
} from '../src/index.ts';

const sender: EdsParty = { sor: '1234561000016000', gln: '5790000123117', name: 'Aarhus Kommune' };
const receiver: EdsParty = { sor: '953741000016009', gln: '5790000127092', name: 'Lægerne Stjernepladsen' };
const MESSAGE = 'msg-1';
const ACK = 'ack-1';

const message: EdsMessageFacts = {
  messageId: MESSAGE,
  messageType: 'homecareobservation-message',
  messageVersion: '1.2',
  messageEnvelopeId: 'bundle-1',
  transportEnvelopeId: 'env-1',
  sender,
  receiver,
  patientCpr: '0201919990',
};
const receipt: EdsMessageFacts = {
  messageId: 'receipt-1',
  messageType: 'ehmisbdh-acknowledgement',
  messageVersion: 'ebbp-signals-2.0',
  transportEnvelopeId: 'receipt-env-1',
  sender: receiver,
  receiver: sender,
  original: {
    messageId: MESSAGE,
    messageType: message.messageType,
    messageVersion: '1.2',
    transportEnvelopeId: 'env-1',
  },
};
const ack: EdsMessageFacts = {
  messageId: ACK,
  messageType: 'acknowledgement-message',
  messageVersion: '2.0',
  messageEnvelopeId: 'ack-bundle-1',
  transportEnvelopeId: 'ack-env-1',
  sender: receiver,
  receiver: sender,
  original: { messageId: MESSAGE, messageType: message.messageType, messageVersion: '1.2' },
};
const ackReceipt: EdsMessageFacts = {
  ...receipt,
  messageId: 'receipt-2',
  transportEnvelopeId: 'receipt-env-2',
  sender,
  receiver,
  original: { messageId: ACK, messageType: 'acknowledgement-message', messageVersion: '2.0' },
};
const FACTS = { message, receipt, acknowledgement: ack, 'ack-receipt': ackReceipt } as const;

const T0 = Date.parse('2026-12-06T10:00:00Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000);
/** The steps our nodes take (the EUA's alternative `.2` steps are not). */
const OUR_STEPS = EDS_STEPS.filter((s) => !(s.station === 'EUA' && s.code.endsWith('.2')));

let serial = 0;
/** One step as EDS returns it: built by its station, read back. */
function event(
  code: string,
  seconds: number,
  outcome: 'success' | 'failure' = 'success',
  change: (facts: EdsMessageFacts) => EdsMessageFacts = (f) => f,
): DeliveryStatusView {
  const step = EDS_STEPS.find((s) => s.code === code)!;
  const facts = change(FACTS[step.flow]);
  const org = step.side === 'origin' ? facts.sender : facts.receiver;
  const resource = buildDeliveryStatus({
    code,
    facts,
    station: {
      deviceId: `${org.sor}-${step.station}`,
      sourceType: step.station === 'EUA' ? 'EUA-MSH' : step.station,
      organisation: org,
    },
    outcome,
    recorded: at(seconds),
  });
  const view = readDeliveryStatus({ ...resource, id: `ev-${++serial}` });
  assert.ok(view, code);
  return view;
}

/** Every step of our topology, one second apart. */
const complete = () => OUR_STEPS.map((s, i) => event(s.code, i));

describe('the journey of a message from its EDS events', () => {
  it('shows a complete flow step by step, in order, with nothing missing or pending', () => {
    const events = complete().reverse();
    const j = buildJourney(MESSAGE, events, { now: at(3600), id: 'tracking-1' });
    assert.equal(j.id, 'tracking-1');
    assert.equal(j.messageId, MESSAGE);
    assert.equal(j.status, 'acknowledged');
    assert.deepEqual(
      j.events.map((e) => e.code),
      OUR_STEPS.map((s) => s.code),
    );
    assert.deepEqual(j.missing, []);
    assert.deepEqual(j.pending, []);
    const e = j.events.find((x) => x.code === '03.2')!;
    assert.deepEqual(
      { station: e.station, time: e.time, outcome: e.outcome },
      {
        station: 'Aarhus Kommune/AP',
        time: at(OUR_STEPS.findIndex((s) => s.code === '03.2')).toISOString(),
        outcome: 'success',
      },
    );
    assert.match(e.meaning, /sender's AP sent the message over AS4/);
    assert.equal(j.events.find((x) => x.code === '06.1')?.station, 'Lægerne Stjernepladsen/EUA');
    assert.equal(j.events.find((x) => x.code === '10.1')?.station, 'Aarhus Kommune/MSH');
  });

  it('names a station by its SOR code when the events carry no organisation name', () => {
    const anonymous = (f: EdsMessageFacts) => ({
      ...f,
      sender: { ...f.sender, name: undefined },
      receiver: { ...f.receiver, name: undefined },
    });
    const j = buildJourney(MESSAGE, [event('01.1', 0, 'success', anonymous)], { now: at(0) });
    assert.equal(j.events[0]?.station, `${sender.sor}/EUA`);
    assert.equal(j.pending[0]?.station, `${sender.sor}/MSH`);
  });

  it('has no EnvelopeReceipt ten minutes after the AS4 receipt (03.2): 10.1 is missing, due by 03.2 + 10 min', () => {
    const upTo = (code: string) => OUR_STEPS.slice(0, OUR_STEPS.findIndex((s) => s.code === code) + 1);
    const events = upTo('09.2').map((s) => event(s.code, 1));
    const sent = at(1).getTime();
    const before = buildJourney(MESSAGE, events, { now: new Date(sent + 9 * 60_000) });
    assert.equal(before.status, 'sent');
    assert.deepEqual(before.missing, []);
    assert.equal(
      before.pending.find((p) => p.code === '10.1')?.dueBy,
      new Date(sent + 10 * 60_000).toISOString(),
    );

    const after = buildJourney(MESSAGE, events, { now: new Date(sent + 11 * 60_000) });
    assert.deepEqual(after.missing, [
      {
        code: '10.1',
        station: 'Aarhus Kommune/MSH',
        meaning: "sender's MSH received the EnvelopeReceipt",
        dueBy: new Date(sent + 10 * 60_000).toISOString(),
      },
    ]);
    // The acknowledgement is due by the acknowledgement deadline, 30 minutes after the message was created.
    assert.equal(
      after.pending.find((p) => p.code === '15.1')?.dueBy,
      new Date(sent + 30 * 60_000).toISOString(),
    );
  });

  it('counts from the creation time the sending MSH gives when EDS holds nothing of the message', () => {
    const j = buildJourney(MESSAGE, [], { now: at(120), start: at(0), acknowledgement: true });
    assert.equal(j.status, 'accepted');
    assert.deepEqual(j.events, []);
    assert.deepEqual(
      j.missing.map((m) => [m.code, m.station, m.dueBy]),
      [
        ['01.1', '?/EUA', at(60).toISOString()],
        ['02.1', '?/MSH', at(120).toISOString()],
      ],
    );
    assert.deepEqual(buildJourney(MESSAGE, [], { now: at(120) }).missing, []);
  });

  it('takes its thresholds from the options', () => {
    const events = [event('01.1', 0), event('02.1', 1)];
    const j = buildJourney(MESSAGE, events, {
      now: at(10),
      thresholds: { hopSeconds: 5, acknowledgementMinutes: 1 },
    });
    assert.deepEqual(
      j.missing.map((m) => [m.code, m.dueBy]),
      [['02.2', at(6).toISOString()]],
    );
    assert.equal(j.pending.find((p) => p.code === '03.1')?.dueBy, at(11).toISOString());
    assert.equal(j.pending.find((p) => p.code === '15.1')?.dueBy, at(60).toISOString());
    // A step not reported chains its successors' deadlines: 03.2 is one more hop after 03.1's.
    assert.equal(j.pending.find((p) => p.code === '03.2')?.dueBy, at(16).toISOString());
  });

  it('fails the message when its AP gives up (03.2 failure), and expects nothing after it', () => {
    const events = ['01.1', '02.1', '02.2', '03.1'].map((c, i) => event(c, i));
    events.push(event('03.2', 60, 'failure'));
    const j = buildJourney(MESSAGE, events, { now: at(7200) });
    assert.equal(j.status, 'failed');
    assert.equal(j.events.at(-1)?.outcome, 'failure');
    assert.deepEqual(j.missing, []);
    assert.deepEqual(j.pending, []);
  });

  it('expects the flow again after a resend went well, and shows its new envelope', () => {
    const resent = (f: EdsMessageFacts) => ({ ...f, transportEnvelopeId: 'env-2' });
    const events = ['01.1', '02.1', '02.2', '03.1'].map((c, i) => event(c, i));
    events.push(event('03.2', 10, 'failure'));
    events.push(...['02.1', '02.2', '03.1', '03.2'].map((c, i) => event(c, 20 + i, 'success', resent)));
    const j = buildJourney(MESSAGE, events, { now: at(30) });
    assert.equal(j.status, 'sent');
    assert.equal(j.events.filter((e) => e.code === '02.1').length, 2);
    assert.ok(j.pending.some((p) => p.code === '10.1'));
  });

  it('fails the message on a ReceiptException (05.1, 07.1 and 10.1 failure) and then expects no acknowledgement', () => {
    const events = complete().filter((e) => e.step!.code <= '04.2');
    events.push(event('05.1', 50, 'failure'), event('07.1', 51, 'failure'));
    events.push(...['08.1', '08.2', '09.1', '09.2'].map((c, i) => event(c, 52 + i)));
    const before = buildJourney(MESSAGE, events, { now: at(7200) });
    // The ReceiptException still travels back: its 10.1 is expected.
    assert.deepEqual(
      before.missing.map((m) => m.code),
      ['10.1'],
    );
    events.push(event('10.1', 100, 'failure'));
    const j = buildJourney(MESSAGE, events, { now: at(7200) });
    assert.equal(j.status, 'failed');
    assert.deepEqual(j.missing, []);
    assert.deepEqual(j.pending, []);
  });

  it('keeps the message sent when its MSH found no EnvelopeReceipt by the deadline (10.1 failure alone), and receipts it when one comes late', () => {
    const events = complete().filter((e) => e.step!.code <= '05.2');
    events.push(event('10.1', 700, 'failure'));
    const late = buildJourney(MESSAGE, events, { now: at(800) });
    assert.equal(late.status, 'sent');
    assert.ok(
      late.pending.some((p) => p.code === '15.1'),
      'the acknowledgement is still expected',
    );
    events.push(
      ...['07.1', '08.1', '08.2', '09.1', '09.2'].map((c, i) => event(c, 750 + i)),
      event('10.1', 760),
    );
    assert.equal(buildJourney(MESSAGE, events, { now: at(800) }).status, 'receipted');
  });

  it('is receipted after the EnvelopeReceipt and failed by a fatal acknowledgement (15.1 failure)', () => {
    const upTo10 = complete().filter((e) => e.step!.code <= '10.1');
    assert.equal(buildJourney(MESSAGE, upTo10, { now: at(60) }).status, 'receipted');
    const fatal = [...upTo10, event('15.1', 100, 'failure')];
    assert.equal(buildJourney(MESSAGE, fatal, { now: at(60) }).status, 'failed');
  });

  it('shows a duplicated event (a station reporting a step again) once', () => {
    const events = [event('01.1', 0), event('02.1', 1), event('02.1', 2), event('02.1', 1)];
    const j = buildJourney(MESSAGE, events, { now: at(3) });
    assert.deepEqual(
      j.events.map((e) => [e.code, e.time]),
      [
        ['01.1', at(0).toISOString()],
        ['02.1', at(1).toISOString()],
      ],
    );
  });

  it("shows another vendor's event without an owner on its Device by its station and sub-type, in time order", () => {
    const foreign = buildDeliveryStatus({
      code: '04.1',
      facts: message,
      station: { deviceId: 'other-ap', sourceType: 'AP', organisation: receiver },
      outcome: 'success',
      recorded: at(5),
    });
    const device = (foreign.contained as Record<string, unknown>[])[0]!;
    delete device.owner;
    const view = readDeliveryStatus(foreign)!;
    assert.equal(view.step, undefined);
    const j = buildJourney(MESSAGE, [event('01.1', 0), view, event('02.1', 9)], { now: at(10) });
    assert.deepEqual(
      j.events.map((e) => [e.code, e.station, e.subtype]),
      [
        ['01.1', 'Aarhus Kommune/EUA', 'msg-created-and-sent'],
        [null, '?/AP', 'msg-received'],
        ['02.1', 'Aarhus Kommune/MSH', 'msg-received'],
      ],
    );
    assert.match(j.events[1]!.meaning, /AP msg-received/);
  });

  it("links the acknowledgement's EnvelopeReceipt through the acknowledgement's id, and leaves other messages out", () => {
    const other = (f: EdsMessageFacts) => ({
      ...f,
      original: { ...f.original!, messageId: 'ack-of-another' },
    });
    const events = [
      ...complete(),
      event('20.1', 99, 'failure', other),
      event('01.1', 5, 'success', (f) => ({ ...f, messageId: 'msg-2' })),
    ];
    const j = buildJourney(MESSAGE, events, { now: at(3600) });
    assert.deepEqual(
      j.events.map((e) => e.code),
      OUR_STEPS.map((s) => s.code),
    );
    assert.deepEqual(
      [...new Set(j.events.filter((e) => e.flow === 'ack-receipt').map((e) => e.messageId))],
      ['receipt-2'],
    );
  });

  it('expects no acknowledgement for a payload that is no MedCom message', () => {
    const payload = (f: EdsMessageFacts) => ({ ...f, messageType: 'DIS01' });
    const j = buildJourney(MESSAGE, [event('01.1', 0, 'success', payload)], { now: at(0) });
    assert.equal(
      j.pending.some((p) => p.code === '15.1'),
      false,
    );
    assert.ok(j.pending.some((p) => p.code === '10.1'));
  });

  it('finds the events with the searches EDS offers: the message, what answers it, and the receipts of its acknowledgement', async () => {
    const all = OUR_STEPS.map((s, i) => {
      const step = s;
      const facts = FACTS[step.flow];
      const org = step.side === 'origin' ? facts.sender : facts.receiver;
      return {
        ...buildDeliveryStatus({
          code: s.code,
          facts,
          station: {
            deviceId: `d-${org.sor}`,
            sourceType: step.station === 'EUA' ? 'EUA-MSH' : step.station,
            organisation: org,
          },
          outcome: 'success',
          recorded: at(i),
        }),
        id: `e${i}`,
      };
    });
    const asked: string[] = [];
    const events = await collectJourneyEvents(MESSAGE, async (params) => {
      asked.push(params.map(([k, v]) => `${k}=${v}`).join('&'));
      const [[name, value]] = params as [[string, string]];
      return all.filter((e) => {
        const v = readDeliveryStatus(e)!;
        return name === 'message-id' ? v.messageId === value : v.originalMessageId === value;
      });
    });
    assert.deepEqual(asked.sort(), ['message-id=msg-1', 'orig-message-id=ack-1', 'orig-message-id=msg-1']);
    assert.equal(events.length, OUR_STEPS.length);
  });
});
