import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { shippedValidator } from '@ehmi/fhir';
import {
  buildDeliveryStatus,
  EDS_STEPS,
  type EdsStation,
  edsFactsOf,
  edsStep,
  edsStepMeaning,
  parse,
  readDeliveryStatus,
} from '../src/index.ts';
import { FIXTURES, fixture, json } from './fixtures.ts';

const validator = shippedValidator();
const errors = (resource: unknown) => validator.issues(resource).filter((i) => i.severity === 'error');

const message = parse(fixture('ehmi-sbdh/examples/ehmiSBDH_9a6ff822_HCO_full.xml'));
const receipt = parse(fixture('ehmi-sbdh/examples/ehmiSBDH_9a6ff822_ReceiptAcknowledgement_full.xml'));
const facts = edsFactsOf(message, { sender: 'Aarhus Kommune', receiver: 'Lægerne Stjernepladsen' });
const receiptFacts = edsFactsOf(receipt);
const ackFacts = {
  ...facts,
  messageId: 'ack-1',
  messageType: 'acknowledgement-message',
  messageVersion: '2.0',
  patientCpr: undefined,
  sender: facts.receiver,
  receiver: facts.sender,
  original: {
    messageId: facts.messageId,
    messageType: facts.messageType,
    messageVersion: facts.messageVersion,
  },
};
const ackReceiptFacts = {
  ...receiptFacts,
  original: { ...receiptFacts.original!, messageType: 'acknowledgement-message', messageVersion: '2.0' },
};

function station(kind: 'EUA' | 'MSH' | 'AP', org: { sor: string; gln: string }): EdsStation {
  return {
    deviceId: `dev-${kind}-${org.sor}`,
    sourceType: kind === 'EUA' ? 'EUA-MSH' : kind,
    organisation: org,
  };
}

describe('EDS delivery status (ehmi-core §1.2, §3)', () => {
  it('has every step of the four flows, 01.1 to 20.1, each with its meaning', () => {
    const codes = EDS_STEPS.map((s) => s.code);
    for (const c of [
      '01.1',
      '01.2',
      '02.1',
      '02.2',
      '03.2',
      '06.1',
      '07.1',
      '10.1',
      '11.1',
      '16.1',
      '17.1',
      '20.1',
    ]) {
      assert.ok(codes.includes(c), c);
    }
    assert.equal(codes.includes('06.2'), false);
    assert.equal(edsStep('03.2')?.station, 'AP');
    assert.equal(edsStep('10.1')?.subtype, 'msg-received-and-finalized');
    assert.match(edsStepMeaning('03.2'), /sender's AP sent the message over AS4/);
    assert.match(edsStepMeaning('10.1'), /sender's MSH received the EnvelopeReceipt/);
    assert.equal(edsStepMeaning('99.9'), '99.9');
  });

  it('builds an event for every step that validates against its EDS profile and reads back as that step', () => {
    for (const step of EDS_STEPS) {
      const f =
        step.flow === 'message'
          ? facts
          : step.flow === 'receipt'
            ? receiptFacts
            : step.flow === 'acknowledgement'
              ? ackFacts
              : ackReceiptFacts;
      const org = step.side === 'origin' ? f.sender : f.receiver;
      for (const outcome of ['success', 'failure'] as const) {
        const event = buildDeliveryStatus({
          code: step.code,
          facts: f,
          station: station(step.station, org),
          outcome,
          recorded: new Date('2026-12-06T10:00:00Z'),
        });
        assert.deepEqual(errors(event), [], `${step.code} ${outcome}`);
        const view = readDeliveryStatus(event);
        assert.equal(view?.step?.code, step.code, `${step.code} reads back`);
        assert.equal(view?.outcome, outcome);
        assert.equal(view?.messageId, f.messageId);
      }
    }
  });

  it('uses the patient profile for a clinical message and the basic one for receipts and acknowledgements', () => {
    const at = new Date();
    const pds = buildDeliveryStatus({
      code: '02.2',
      facts,
      station: station('MSH', facts.sender),
      outcome: 'success',
      recorded: at,
    });
    assert.deepEqual((pds.meta as { profile: string[] }).profile, [
      'http://medcomehmi.dk/ig/eds/StructureDefinition/EdsPatientDeliveryStatus',
    ]);
    assert.equal(readDeliveryStatus(pds)?.patientCpr, facts.patientCpr);
    const bds = buildDeliveryStatus({
      code: '07.1',
      facts: receiptFacts,
      station: station('MSH', receiptFacts.sender),
      outcome: 'success',
      recorded: at,
    });
    assert.deepEqual((bds.meta as { profile: string[] }).profile, [
      'http://medcomehmi.dk/ig/eds/StructureDefinition/EdsBasicDeliveryStatus',
    ]);
    assert.equal(readDeliveryStatus(bds)?.patientCpr, undefined);
    // The profile check is real: without its sub-type or with an outcome EDS does not allow, the event is refused.
    assert.notDeepEqual(errors({ ...bds, subtype: undefined }), []);
    assert.notDeepEqual(errors({ ...bds, outcome: '4' }), []);
  });

  it('refuses a step of another flow than the message it is given', () => {
    assert.throws(
      () =>
        buildDeliveryStatus({
          code: '07.1',
          facts,
          station: station('MSH', facts.receiver),
          outcome: 'success',
          recorded: new Date(),
        }),
      /07\.1 is of the receipt flow/,
    );
  });

  it("reads MedCom's sample events: flow, station and the steps their sub-type places", () => {
    const dir = join(FIXTURES, 'eds/json');
    const samples = readdirSync(dir).filter((f) => f.startsWith('AuditEvent-'));
    assert.equal(samples.length, 34);
    for (const file of samples) {
      const event = json(join(dir, file));
      const view = readDeliveryStatus(event);
      assert.ok(view, file);
      const code = /EDS-[PB]DS-(\d\d\.\d)/.exec(file)![1]!;
      const expected = edsStep(code)!;
      assert.equal(view.flow, expected.flow, file);
      assert.equal(view.station, expected.station, file);
      // The samples' Devices name no owner: a first or last step is placed by its sub-type, the others are not.
      if (view.step) assert.equal(view.step.code, code, file);
      if (/created|finalized/.test(expected.subtype)) assert.equal(view.step?.code, code, file);
    }
  });
});
