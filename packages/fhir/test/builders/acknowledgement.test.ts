import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EhmiError } from '@ehmi/errors';
import type { Bundle, MessageHeader, OperationOutcome, Organization, Provenance } from '@medplum/fhirtypes';
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import {
  acknowledgementFor,
  buildAcknowledgement,
  buildHomeCareObservationMessage,
  classifyReceivedMessage,
  jsonToXml,
  resendMessage,
  xmlToJson,
} from '../../src/index.ts';
import {
  ACK_FATAL,
  FIXTURES,
  HOMECARE_401,
  INSTANT,
  ofType,
  references,
  resolves,
  resources,
  shape,
  UUID_V4,
} from './helpers.ts';
import { fixedContext, sampleInput } from './input.ts';

type Coded = Error & { code?: string; expression?: string[] };
const received = () => buildHomeCareObservationMessage(sampleInput(), fixedContext('2026-11-25T11:00:00Z'));
const header = (b: Bundle) => b.entry?.[0]?.resource as MessageHeader;
const FATAL = {
  code: 'fatal-error' as const,
  issues: [
    {
      severity: 'error' as const,
      code: 'structure' as const,
      details: 'MSG_VALUESET_VALUE_UNKNOWN',
      text: 'Unknown code',
    },
  ],
};

test('an ok acknowledgement claims the acknowledgement profiles and answers the received MessageHeader.id', () => {
  const msg = received();
  const ack = buildAcknowledgement(msg, { code: 'ok' });
  assert.deepEqual(ack.meta?.profile, [
    'http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgement',
  ]);
  assert.equal(ack.type, 'message');
  const h = header(ack);
  assert.deepEqual(h.meta?.profile, [
    'http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgementHeader',
  ]);
  assert.deepEqual(h.eventCoding, {
    system: 'http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-eventCodes',
    code: 'acknowledgement-message',
  });
  assert.deepEqual(h.response, { identifier: header(msg).id, code: 'ok' });
  assert.equal(ofType(ack, 'OperationOutcome').length, 0);
});

test('entries follow MedCom example bc9535ef: MessageHeader, two Provenance, two Organization, OperationOutcome', () => {
  const ack = buildAcknowledgement(received(), FATAL);
  assert.deepEqual(
    resources(ack).map((r) => r.resourceType),
    resources(ACK_FATAL()).map((r) => r.resourceType),
  );
});

test('the acknowledgement MessageHeader and Provenance have exactly the elements of the MedCom example', () => {
  // the example's issue has no details.text
  const ack = buildAcknowledgement(received(), {
    code: 'fatal-error',
    issues: [{ severity: 'error', code: 'structure', details: 'MSG_VALUESET_VALUE_UNKNOWN' }],
    narrative: false,
  });
  assert.deepEqual(shape(header(ack)), shape(header(ACK_FATAL())));
  assert.deepEqual(shape(ofType(ack, 'Provenance')[1]), shape(ofType(ACK_FATAL(), 'Provenance')[1]));
  assert.deepEqual(
    shape(ofType(ack, 'OperationOutcome')[0]),
    shape(ofType(ACK_FATAL(), 'OperationOutcome')[0]),
  );
});

test('fatal-error carries a MedComAcknowledgementOperationOutcome referenced from response.details', () => {
  const ack = buildAcknowledgement(received(), FATAL);
  const outcome = ofType<OperationOutcome>(ack, 'OperationOutcome')[0];
  assert.deepEqual(outcome?.meta?.profile, [
    'http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-acknowledgement-operationoutcome',
  ]);
  assert.equal(header(ack).response?.code, 'fatal-error');
  assert.deepEqual(header(ack).response?.details, { reference: `OperationOutcome/${outcome?.id}` });
  assert.deepEqual(outcome?.issue, [
    {
      severity: 'error',
      code: 'structure',
      details: {
        coding: [
          {
            system: 'http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-acknowledgement-error-codes',
            code: 'MSG_VALUESET_VALUE_UNKNOWN',
          },
        ],
        text: 'Unknown code',
      },
    },
  ]);
});

test('transient-error carries its OperationOutcome; an HL7 MSG_ code gets the HL7 operation-outcome system', () => {
  const ack = buildAcknowledgement(received(), {
    code: 'transient-error',
    issues: [
      { severity: 'error', code: 'transient', details: 'MSG_Mailbox_Out_Of_Operation' },
      { severity: 'information', code: 'informational', details: 'MSG_LOCAL_FAIL', diagnostics: 'db down' },
    ],
  });
  assert.equal(header(ack).response?.code, 'transient-error');
  const issues = ofType<OperationOutcome>(ack, 'OperationOutcome')[0]?.issue ?? [];
  assert.equal(
    issues[0]?.details?.coding?.[0]?.system,
    'http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-acknowledgement-error-codes',
  );
  assert.deepEqual(issues[1]?.details?.coding, [
    { system: 'http://terminology.hl7.org/CodeSystem/operation-outcome', code: 'MSG_LOCAL_FAIL' },
  ]);
  assert.equal(issues[1]?.diagnostics, 'db down');
});

test('an error code without issues is refused (medcom-acknowledgement-1)', () => {
  for (const code of ['fatal-error', 'transient-error'] as const) {
    assert.throws(
      () => buildAcknowledgement(received(), { code }),
      (err: Coded) => err.code === 'EHMI_VALIDATION_FAILED' && err.expression?.[0] === 'issues',
    );
  }
});

test('an ok acknowledgement may carry information issues, e.g. for a duplicate', () => {
  const ack = buildAcknowledgement(received(), {
    code: 'ok',
    issues: [{ severity: 'information', code: 'duplicate', details: 'MSG_DUPLICATE_ID' }],
  });
  assert.equal(ofType(ack, 'OperationOutcome').length, 1);
  assert.match(header(ack).response?.details?.reference ?? '', /^OperationOutcome\//);
});

test('the acknowledgement goes back: sender and receiver swap, and so do the endpoints', () => {
  const msg = received();
  const ack = buildAcknowledgement(msg, { code: 'ok' });
  const m = header(msg);
  const a = header(ack);
  assert.equal(a.sender?.reference, m.destination?.[0]?.receiver?.reference);
  assert.equal(a.destination?.[0]?.receiver?.reference, m.sender?.reference);
  assert.equal(a.destination?.[0]?.endpoint, m.source?.endpoint);
  assert.equal(a.source?.endpoint, m.destination?.[0]?.endpoint);
  assert.deepEqual(a.destination?.[0]?.extension, m.destination?.[0]?.extension);
  assert.equal(a.destination?.length, 1, 'no cc destination (MedComAcknowledgementMessageHeader)');
});

test('two Provenance: the received one copied, and an acknowledgement one with entity revision', () => {
  const msg = received();
  const ack = buildAcknowledgement(msg, { code: 'ok' });
  const [original, own] = ofType<Provenance>(ack, 'Provenance');
  assert.deepEqual(original, ofType<Provenance>(msg, 'Provenance')[0]);
  assert.deepEqual(own?.target, [{ reference: `MessageHeader/${header(ack).id}` }]);
  assert.deepEqual(own?.activity?.coding, [
    {
      system: 'http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-activityCodes',
      code: 'acknowledgement',
    },
  ]);
  assert.deepEqual(own?.entity, [
    { role: 'revision', what: { reference: `MessageHeader/${header(msg).id}` } },
  ]);
  assert.deepEqual(own?.agent, [{ who: header(ack).sender }]);
  assert.match(own?.occurredDateTime ?? '', INSTANT);
  assert.match(own?.recorded ?? '', INSTANT);
});

test('every reference resolves in the acknowledgement, except those naming the received MessageHeader', () => {
  const msg = received();
  const ack = buildAcknowledgement(msg, FATAL);
  const originalHeader = `MessageHeader/${header(msg).id}`;
  const refs = resources(ack).flatMap((r) => references(r));
  assert.ok(refs.length >= 8);
  for (const [path, reference] of refs) {
    // As in MedCom's examples, the acknowledged message's header is named but not carried.
    if (reference === originalHeader) continue;
    assert.ok(resolves(ack, reference), `${path}: ${reference}`);
  }
});

test('the organisations are carried over unchanged from the received message', () => {
  const msg = received();
  const ack = buildAcknowledgement(msg, { code: 'ok' });
  const ids = (b: Bundle) =>
    ofType<Organization>(b, 'Organization')
      .map((o) => JSON.stringify(o))
      .sort();
  assert.deepEqual(ids(ack), ids(msg));
});

test('each acknowledgement has a new Bundle.id and MessageHeader.id (UUID v4)', () => {
  const msg = received();
  const a = buildAcknowledgement(msg, { code: 'ok' });
  const b = buildAcknowledgement(msg, { code: 'ok' });
  assert.match(a.id ?? '', UUID_V4);
  assert.match(header(a).id ?? '', UUID_V4);
  assert.notEqual(a.id, b.id);
  assert.notEqual(header(a).id, header(b).id);
  assert.notEqual(header(a).id, header(msg).id);
});

test('a duplicate gets the same acknowledgement content again: only Bundle.id and timestamp change (020 §1.1)', () => {
  const msg = received();
  const first = buildAcknowledgement(msg, FATAL);
  const again = buildAcknowledgement(structuredClone(msg), {
    code: 'ok', // ignored: a duplicate never switches between positive and negative
    previous: first,
    now: () => new Date('2026-11-25T13:00:00Z'),
  });
  assert.notEqual(again.id, first.id);
  assert.equal(again.timestamp, '2026-11-25T13:00:00Z');
  assert.deepEqual(again.entry, first.entry);
  assert.deepEqual({ ...again, id: first.id, timestamp: first.timestamp }, first);
  assert.notEqual(again.entry, first.entry, 'a copy, not the same objects');
});

test('a previous acknowledgement of another message is refused', () => {
  const first = buildAcknowledgement(received(), { code: 'ok' });
  const other = buildHomeCareObservationMessage(sampleInput());
  assert.throws(
    () => buildAcknowledgement(other, { code: 'ok', previous: first }),
    (err: Coded) => err.expression?.[0] === 'previous',
  );
});

test('an acknowledgement is never acknowledged (KR2.R)', () => {
  const ack = buildAcknowledgement(received(), { code: 'ok' });
  assert.throws(
    () => buildAcknowledgement(ack, { code: 'ok' }),
    (err: Coded) => err.expression?.[0] === 'MessageHeader.eventCoding',
  );
});

test('a Bundle whose first entry is not a MessageHeader is refused (medcom-messaging-1)', () => {
  const msg = received();
  msg.entry?.reverse();
  assert.throws(
    () => buildAcknowledgement(msg, { code: 'ok' }),
    (err: Coded) =>
      err.code === 'EHMI_VALIDATION_FAILED' && err.expression?.[0] === 'Bundle.entry[0].resource',
  );
});

test('MedCom example message 401cbc36 is acknowledged with its own ids and base', () => {
  const ack = buildAcknowledgement(HOMECARE_401(), { code: 'ok' });
  assert.equal(header(ack).response?.identifier, '489de4f2-0d8d-4de2-a7ce-ccb93568799f');
  assert.equal(header(ack).sender?.reference, 'Organization/1ab9c2d9-c348-4d75-9122-60ea8a6fdcf1');
  assert.equal(
    header(ack).destination?.[0]?.receiver?.reference,
    'Organization/a0330c62-fe29-4719-83fa-a94959084f29',
  );
  assert.equal(ofType<Provenance>(ack, 'Provenance')[0]?.id, '008e1c02-605d-458e-8cb8-3eeb16a69aac');
  assert.ok(ack.entry?.every((e) => e.fullUrl?.startsWith('http://medcomfhir.dk/ig/homecareobservation/')));
});

test('a message received as XML is acknowledged like its JSON form', () => {
  const xml = readFileSync(join(FIXTURES, 'ehmi-sbdh/examples/ehmiMessage_401cbc36_HCO_bundle.xml'), 'utf8');
  const msg = xmlToJson(xml) as unknown as Bundle;
  const ctx = fixedContext();
  const fromXml = buildAcknowledgement(msg, { code: 'ok', ...ctx });
  const fromJson = buildAcknowledgement(HOMECARE_401(), { code: 'ok', ...fixedContext() });
  assert.equal(header(fromXml).response?.identifier, header(fromJson).response?.identifier);
  assert.deepEqual(header(fromXml), header(fromJson));
});

test('invariant medcom-acknowledgement-1 holds for ok and error acknowledgements, and fails without the outcome', () => {
  const expr =
    "iif(entry.resource.ofType(MessageHeader).response.code = 'ok', true, entry.resource.ofType(MessageHeader).response.code != 'ok' and entry.resource.ofType(OperationOutcome).exists())";
  const ev = (b: Bundle) => fhirpath.evaluate(b as object, expr, undefined, r4);
  assert.deepEqual(ev(buildAcknowledgement(received(), { code: 'ok' })), [true]);
  const nack = buildAcknowledgement(received(), FATAL);
  assert.deepEqual(ev(nack), [true]);
  nack.entry = nack.entry?.filter((e) => e.resource?.resourceType !== 'OperationOutcome');
  assert.deepEqual(ev(nack), [false]);
});

test('the acknowledgement survives JSON→XML→JSON', () => {
  const ack = buildAcknowledgement(received(), FATAL);
  assert.deepEqual(xmlToJson(jsonToXml(ack)), ack);
});

test('duplicate cases follow the MedCom 043 table', () => {
  assert.equal(classifyReceivedMessage({ bundleIdSeen: false, messageHeaderIdSeen: false }), 'new');
  assert.equal(classifyReceivedMessage({ bundleIdSeen: true, messageHeaderIdSeen: true }), 'duplicate');
  assert.equal(classifyReceivedMessage({ bundleIdSeen: false, messageHeaderIdSeen: true }), 'resent');
  assert.equal(
    classifyReceivedMessage({ bundleIdSeen: true, messageHeaderIdSeen: false }),
    'bundle-id-reused',
  );
});

test('the acknowledgement narrates what it creates and leaves carried-over resources as they were', () => {
  const msg = buildHomeCareObservationMessage(sampleInput(), { narrative: false });
  const ack = buildAcknowledgement(msg, FATAL);
  assert.match(header(ack).text?.div ?? '', /fatal-error/);
  assert.match(
    ofType<OperationOutcome>(ack, 'OperationOutcome')[0]?.text?.div ?? '',
    /MSG_VALUESET_VALUE_UNKNOWN/,
  );
  const [copied, own] = ofType<Provenance>(ack, 'Provenance');
  assert.equal(copied?.text, undefined);
  assert.match(own?.text?.div ?? '', /acknowledgement/);
  assert.ok(ofType<Organization>(ack, 'Organization').every((o) => o.text === undefined));
});

test('a content error becomes fatal-error with the error as the issue', () => {
  const err = new EhmiError('EHMI_VALIDATION_FAILED', 'Observation.status is "bogus"', {
    expression: ['Bundle.entry[3].resource.status'],
  });
  const options = acknowledgementFor(err);
  assert.equal(options.code, 'fatal-error');
  assert.deepEqual(options.issues, [
    {
      severity: 'error',
      code: 'invalid',
      text: 'Observation.status is "bogus"',
      expression: ['Bundle.entry[3].resource.status'],
    },
  ]);
  assert.equal(header(buildAcknowledgement(received(), options)).response?.code, 'fatal-error');
});

test('unreadable XML is fatal-error with MSG_BAD_SYNTAX', () => {
  const options = acknowledgementFor(new EhmiError('EHMI_XML_MALFORMED', 'not well-formed'));
  assert.equal(options.code, 'fatal-error');
  assert.equal(options.issues[0]?.details, 'MSG_BAD_SYNTAX');
});

test('a receiver-side problem is transient-error; an internal error does not disclose its message', () => {
  assert.equal(
    acknowledgementFor(new EhmiError('EHMI_STORE_UNAVAILABLE', 'db down')).code,
    'transient-error',
  );
  const internal = acknowledgementFor(new Error('secret stack detail'));
  assert.equal(internal.code, 'transient-error');
  assert.deepEqual(internal.issues, [{ severity: 'fatal', code: 'exception', text: 'Internal error' }]);
});

test('a message whose sender is not in the Bundle is refused, naming MessageHeader.sender', () => {
  const msg = received();
  msg.entry = msg.entry?.filter((e) => `Organization/${e.resource?.id}` !== header(msg).sender?.reference);
  assert.throws(
    () => buildAcknowledgement(msg, { code: 'ok' }),
    (err: Coded) => err.code === 'EHMI_VALIDATION_FAILED' && err.expression?.[0] === 'MessageHeader.sender',
  );
});

test('a resent message keeps its MessageHeader.id and gets a new Bundle.id and timestamp (MR7.R)', () => {
  const msg = received();
  const before = structuredClone(msg);
  const again = resendMessage(msg, { now: () => new Date('2026-11-25T11:30:00Z') });
  assert.deepEqual(msg, before, 'the original is not modified');
  assert.notEqual(again.id, msg.id);
  assert.match(again.id ?? '', UUID_V4);
  assert.equal(again.timestamp, '2026-11-25T11:30:00Z');
  assert.deepEqual(again.entry, msg.entry);
});

test('a resent message (new Bundle.id, same MessageHeader.id) is acknowledged exactly as the first time', () => {
  const msg = received();
  const firstAck = buildAcknowledgement(msg, { code: 'ok' });
  const resent = resendMessage(msg);
  assert.equal(classifyReceivedMessage({ bundleIdSeen: false, messageHeaderIdSeen: true }), 'resent');
  const secondAck = buildAcknowledgement(resent, { code: 'ok', previous: firstAck });
  assert.deepEqual(secondAck.entry, firstAck.entry);
  assert.notEqual(secondAck.id, firstAck.id);
});
