import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseXml } from '@ehmi/xml';
import type {
  Bundle,
  DiagnosticReport,
  MessageHeader,
  Observation,
  Organization,
  Patient,
  Provenance,
} from '@medplum/fhirtypes';
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import { buildHomeCareObservationMessage, jsonToXml, xmlToJson } from '../../src/index.ts';
import {
  EXAMPLES,
  example,
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
const example73996 = () =>
  example('medcom-homecareobservation-1.2.1', 'Bundle-73996cdc-3192-4d15-bd16-c365ef0085e7.json');
const build = () => buildHomeCareObservationMessage(sampleInput(), fixedContext());

test('entries come in the order of MedCom example 401cbc36: MessageHeader first, Observations last', () => {
  const expected = resources(HOMECARE_401()).map((r) => r.resourceType);
  assert.deepEqual(
    resources(build()).map((r) => r.resourceType),
    // the example has six observations, the sample input three
    expected.slice(0, expected.length - 3),
  );
});

test('the Bundle and every resource claim the profiles the MedCom example claims', () => {
  const claimed = (b: Bundle) =>
    new Set(resources(b).map((r) => `${r.resourceType} ${r.meta?.profile?.join(' ')}`));
  const built = build();
  assert.deepEqual(built.meta?.profile, HOMECARE_401().meta?.profile);
  assert.deepEqual(claimed(built), claimed(HOMECARE_401()));
});

// The generated examples have no narrative (SUSHI writes none), so these comparisons build without one.
const bare = () => buildHomeCareObservationMessage(sampleInput(), { ...fixedContext(), narrative: false });

test('MessageHeader and Provenance have exactly the elements of the MedCom example', () => {
  for (const type of ['MessageHeader', 'Provenance'] as const) {
    assert.deepEqual(shape(ofType(bare(), type)[0]), shape(ofType(HOMECARE_401(), type)[0]), type);
  }
  assert.deepEqual(shape({ ...bare(), entry: [] }), shape({ ...HOMECARE_401(), entry: [] }));
});

test('no resource uses an element that no MedCom HomeCare example uses', () => {
  const known = new Map<string, Set<string>>();
  const dir = join(EXAMPLES, 'medcom-homecareobservation-1.2.1');
  for (const f of readdirSync(dir).filter((f) => f.startsWith('Bundle-'))) {
    for (const r of resources(JSON.parse(readFileSync(join(dir, f), 'utf8')))) {
      const set = known.get(r.resourceType) ?? new Set<string>();
      for (const p of shape(r)) set.add(p);
      known.set(r.resourceType, set);
    }
  }
  // Organization.contact.extension: the data-absent-reason alternative of medcom-homecareObservation-4,
  // allowed by MedComRequesterOrganization but not shown in an example.
  const extra = new Set(['contact.extension', 'contact.extension.url', 'contact.extension.valueCode']);
  const input = sampleInput();
  input.receiver.requesterInitials = undefined;
  for (const b of [bare(), buildHomeCareObservationMessage(input, { narrative: false })]) {
    for (const r of resources(b)) {
      for (const p of shape(r)) {
        assert.ok(known.get(r.resourceType)?.has(p) || extra.has(p), `${r.resourceType}.${p}`);
      }
    }
  }
});

test('every reference resolves to an entry of the Bundle', () => {
  const bundle = build();
  const refs = resources(bundle).flatMap((r) => references(r));
  assert.ok(refs.length >= 10);
  for (const [path, reference] of refs) assert.ok(resolves(bundle, reference), `${path}: ${reference}`);
});

test('fullUrl is <base>/<Type>/<id>, the form of the MedCom examples', () => {
  for (const e of build().entry ?? []) {
    assert.equal(
      e.fullUrl,
      `http://medcomfhir.dk/ig/homecareobservation/${e.resource?.resourceType}/${e.resource?.id}`,
    );
  }
  const other = buildHomeCareObservationMessage(sampleInput(), {
    fullUrlBase: 'https://msh.example.dk/fhir/',
  });
  assert.match(
    other.entry?.[0]?.fullUrl ?? '',
    /^https:\/\/msh\.example\.dk\/fhir\/MessageHeader\/[0-9a-f-]{36}$/,
  );
});

test('each build is a new message: new Bundle.id and MessageHeader.id, UUID v4 (052.2)', () => {
  const a = buildHomeCareObservationMessage(sampleInput());
  const b = buildHomeCareObservationMessage(sampleInput());
  const headerId = (x: Bundle) => x.entry?.[0]?.resource?.id;
  assert.match(a.id ?? '', UUID_V4);
  assert.match(headerId(a) ?? '', UUID_V4);
  assert.notEqual(a.id, b.id);
  assert.notEqual(headerId(a), headerId(b));
  const ids = resources(a).map((r) => r.id);
  assert.equal(new Set([a.id, ...ids]).size, ids.length + 1, 'all ids distinct');
});

test('timestamps are FHIR instants with a timezone', () => {
  const bundle = buildHomeCareObservationMessage(sampleInput());
  const provenance = ofType<Provenance>(bundle, 'Provenance')[0];
  for (const t of [
    bundle.timestamp,
    provenance?.occurredDateTime,
    provenance?.recorded,
    ofType<DiagnosticReport>(bundle, 'DiagnosticReport')[0]?.issued,
  ]) {
    assert.match(t ?? '', INSTANT);
  }
});

test('MessageHeader: HomeCare event code, primary destination, SOR endpoints, definition', () => {
  const header = ofType<MessageHeader>(build(), 'MessageHeader')[0];
  const example = ofType<MessageHeader>(HOMECARE_401(), 'MessageHeader')[0];
  assert.deepEqual(header?.eventCoding, example?.eventCoding);
  assert.deepEqual(header?.destination?.[0]?.extension, example?.destination?.[0]?.extension);
  assert.equal(header?.destination?.[0]?.endpoint, 'https://sor2.sum.dsdn.dk/#id=52581000016005');
  assert.equal(header?.source?.endpoint, 'https://sor2.sum.dsdn.dk/#id=1144561000016002');
  assert.equal(header?.definition, example?.definition);
});

test('the sender carries GLN, SOR and ProducentID KAF; the receiver GLN, SOR, Ydernummer and initials', () => {
  const bundle = build();
  const header = ofType<MessageHeader>(bundle, 'MessageHeader')[0];
  const org = (reference?: string) =>
    ofType<Organization>(bundle, 'Organization').find((o) => `Organization/${o.id}` === reference);
  assert.deepEqual(org(header?.sender?.reference)?.identifier, [
    { system: 'https://www.gs1.org/gln', value: '5790000123117' },
    { system: 'urn:oid:1.2.208.176.1.1', value: '1144561000016002' },
    { system: 'http://medcomfhir.dk/ig/terminology/CodeSystem/MedComProducentID', value: 'KAF' },
  ]);
  const receiver = org(header?.destination?.[0]?.receiver?.reference);
  assert.deepEqual(receiver?.identifier, [
    { system: 'https://www.gs1.org/gln', value: '5790000127092' },
    { system: 'urn:oid:1.2.208.176.1.1', value: '52581000016005' },
    { system: 'urn:oid:1.2.208.176.1.4', value: '061654' },
  ]);
  assert.deepEqual(receiver?.contact, [{ name: { given: ['O.K.M.'] } }]);
});

test('without requester initials the contact carries data-absent-reason (medcom-homecareObservation-4)', () => {
  const input = sampleInput();
  input.receiver.requesterInitials = undefined;
  const receiver = ofType<Organization>(buildHomeCareObservationMessage(input), 'Organization')[0];
  assert.deepEqual(receiver?.contact, [
    {
      extension: [
        { url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' },
      ],
    },
  ]);
});

test('the patient has the CPR identifier and an official name', () => {
  const patient = ofType<Patient>(build(), 'Patient')[0];
  assert.deepEqual(patient?.identifier, [{ system: 'urn:oid:1.2.208.176.1.2', value: '2509479989' }]);
  assert.deepEqual(patient?.name, [{ use: 'official', family: 'Elmer', given: ['Bruno'] }]);
});

test('observations carry NPU codes, UCUM units, NI interpretation and the patient as subject', () => {
  const bundle = build();
  const [crp, leuko, nitrite] = ofType<Observation>(bundle, 'Observation');
  const patient = ofType<Patient>(bundle, 'Patient')[0];
  assert.deepEqual(crp?.code.coding, [
    {
      system: 'urn:oid:1.2.208.176.2.1',
      code: 'NPU19748',
      display: 'P—C-reaktivt protein; massek. = ? mg/L',
    },
  ]);
  assert.deepEqual(leuko?.valueQuantity, {
    value: 9.1,
    unit: '10^9/L',
    system: 'http://unitsofmeasure.org',
    code: '10*9/L',
  });
  assert.deepEqual(leuko?.note, [{ text: 'Målt efter måltid.' }]);
  assert.equal(nitrite?.valueString, 'Negative');
  for (const o of [crp, leuko, nitrite]) {
    assert.equal(o?.status, 'final');
    assert.equal(o?.subject?.reference, `Patient/${patient?.id}`);
    assert.equal(o?.interpretation?.[0]?.coding?.[0]?.code, 'NI');
  }
  const report = ofType<DiagnosticReport>(bundle, 'DiagnosticReport')[0];
  assert.deepEqual(
    report?.result?.map((r) => r.reference),
    [crp, leuko, nitrite].map((o) => `Observation/${o?.id}`),
  );
});

test('the report has the producer organisation and the practitioner role as its two performers', () => {
  const bundle = build();
  const report = ofType<DiagnosticReport>(bundle, 'DiagnosticReport')[0];
  const header = ofType<MessageHeader>(bundle, 'MessageHeader')[0];
  assert.equal(report?.performer?.length, 2);
  assert.equal(report?.performer?.[0]?.reference, header?.sender?.reference);
  assert.match(report?.performer?.[1]?.reference ?? '', /^PractitionerRole\//);
  assert.deepEqual(header?.focus, [{ reference: `DiagnosticReport/${report?.id}` }]);
  assert.equal(report?.conclusion, 'ABCDE: stabil.');
});

test('restricted results mark the report R (Restricted), as MedCom example faa0c104 does', () => {
  const input = { ...sampleInput(), restricted: true };
  const report = ofType<DiagnosticReport>(buildHomeCareObservationMessage(input), 'DiagnosticReport')[0];
  assert.deepEqual(report?.meta?.security, [
    { system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R', display: 'Restricted' },
  ]);
  assert.equal(ofType<DiagnosticReport>(build(), 'DiagnosticReport')[0]?.meta?.security, undefined);
});

test('the Provenance is a new-message by the sender, targeting this MessageHeader', () => {
  const bundle = build();
  const provenance = ofType<Provenance>(bundle, 'Provenance')[0];
  const header = ofType<MessageHeader>(bundle, 'MessageHeader')[0];
  assert.deepEqual(provenance?.target, [{ reference: `MessageHeader/${header?.id}` }]);
  assert.equal(provenance?.activity?.coding?.[0]?.code, 'new-message');
  assert.deepEqual(provenance?.agent, [{ who: header?.sender }]);
  assert.equal(provenance?.entity, undefined);
});

test('MedCom and dk-core invariants that FHIRPath can evaluate hold', () => {
  const bundle = build();
  const ev = (expr: string, base: unknown = bundle) => fhirpath.evaluate(base as object, expr, undefined, r4);
  assert.deepEqual(ev('entry[0].resource is MessageHeader'), [true]);
  assert.deepEqual(ev('entry.resource.ofType(Provenance).exists()'), [true]); // medcom-messaging-2
  assert.deepEqual(
    ev(
      "entry.resource.ofType(Provenance).all(activity.coding.code in ('new-message' | 'reply-message' | 'retract-message' | 'modified-message'))",
    ),
    [true],
  ); // medcom-homecareObsMessage-2, the ValueSet's four codes
  assert.deepEqual(
    ev(
      "entry[0].resource.definition.matches('^http://medcomfhir.dk/ig/messagedefinitions/MessageDefinition/MedComHomeCareObservationMessageDefinition|1[.][0-9]{1,2}$')",
    ),
    [true],
  ); // medcom-hcobs-definition-url
  assert.deepEqual(
    ev(
      'entry.resource.ofType(Observation).all(value.ofType(Quantity).value.exists() implies value.ofType(Quantity).unit.exists() or value.ofType(Quantity).code.exists())',
    ),
    [true],
  ); // dk-core-observation-mandatory-units
  assert.deepEqual(
    ev(
      "entry.resource.ofType(Organization).all(identifier.where(system='urn:oid:1.2.208.176.1.1').exists())",
    ),
    [true],
  );
});

test('the built message survives JSON→XML→JSON', () => {
  const bundle = build();
  assert.deepEqual(xmlToJson(jsonToXml(bundle)), bundle);
});

test('an observation time without a timezone is refused, naming the field', () => {
  const input = sampleInput();
  const first = input.observations[0];
  if (first) first.effective = '2026-11-25T10:24:08';
  assert.throws(
    () => buildHomeCareObservationMessage(input),
    (err: Coded) =>
      err.code === 'EHMI_VALIDATION_FAILED' && err.expression?.[0] === 'observations[0].effective',
  );
});

test('a text result longer than 12 characters is refused (valueString maxLength)', () => {
  const input = sampleInput();
  input.observations.push({
    code: 'NPU21578',
    value: { string: 'Thirteen char' },
    effective: '2026-11-25T10:00:00Z',
  });
  assert.throws(
    () => buildHomeCareObservationMessage(input),
    (err: Coded) => err.expression?.[0] === 'observations[3].value.string',
  );
});

test('a receiver without Ydernummer is refused (MedComRequesterOrganization)', () => {
  const input = sampleInput();
  input.receiver.ydernummer = '';
  assert.throws(
    () => buildHomeCareObservationMessage(input),
    (err: Coded) => err.expression?.[0] === 'receiver.ydernummer',
  );
});

test('a message without observations is refused', () => {
  assert.throws(
    () => buildHomeCareObservationMessage({ ...sampleInput(), observations: [] }),
    (err: Coded) => err.expression?.[0] === 'observations',
  );
});

test('a patient with both a CPR and another identifier is refused', () => {
  const input = sampleInput();
  input.patient.identifier = { system: 'urn:oid:1.2.208.176.1.6.1.1', value: '0703921VJ5' };
  assert.throws(
    () => buildHomeCareObservationMessage(input),
    (err: Coded) => err.expression?.[0] === 'patient',
  );
});

test('a patient with an eCPR identifier keeps its system and use', () => {
  const input = sampleInput();
  input.patient = {
    identifier: { system: 'urn:oid:1.2.208.176.1.6.1.1', value: '0703921VJ5', use: 'temp' },
    family: 'Hansen',
  };
  const patient = ofType<Patient>(buildHomeCareObservationMessage(input), 'Patient')[0];
  assert.deepEqual(patient?.identifier, [
    { use: 'temp', system: 'urn:oid:1.2.208.176.1.6.1.1', value: '0703921VJ5' },
  ]);
});

test('every resource carries a generated XHTML narrative stating its key facts', () => {
  const bundle = build();
  for (const r of resources(bundle)) {
    const text = (r as { text?: { status?: string; div?: string } }).text;
    assert.equal(text?.status, 'generated', r.resourceType);
    const div = parseXml(text?.div ?? '').documentElement;
    assert.equal(div?.namespaceURI, 'http://www.w3.org/1999/xhtml');
    assert.equal(div?.localName, 'div');
  }
  const [crp] = ofType<Observation>(bundle, 'Observation');
  assert.match(crp?.text?.div ?? '', /26 mg\/L/);
  assert.match(ofType<MessageHeader>(bundle, 'MessageHeader')[0]?.text?.div ?? '', /Skødstrup Lægepraksis/);
});

test('narrative text is escaped, never markup from the input', () => {
  const input = sampleInput();
  input.conclusion = '<script>alert(1)</script> & "x"';
  const report = ofType<DiagnosticReport>(buildHomeCareObservationMessage(input), 'DiagnosticReport')[0];
  assert.ok(report?.text?.div.includes('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;'));
  assert.ok(!report?.text?.div.includes('<script>'));
});

test('narrative: false leaves the narrative out', () => {
  assert.ok(resources(bare()).every((r) => !('text' in r)));
});

test('a modifying message names the earlier MessageHeader as a revision (example 73996cdc)', () => {
  const input = { ...sampleInput(), replaces: { messageHeaderId: 'aaaa', change: 'modified' as const } };
  const provenance = ofType<Provenance>(buildHomeCareObservationMessage(input), 'Provenance')[0];
  const example = ofType<Provenance>(example73996(), 'Provenance')[0];
  assert.deepEqual(provenance?.activity, example?.activity);
  assert.deepEqual(provenance?.entity, [{ role: 'revision', what: { reference: 'MessageHeader/aaaa' } }]);
});

test('a retracting message names the earlier MessageHeader as a removal (example 5f341feb)', () => {
  const input = { ...sampleInput(), replaces: { messageHeaderId: 'bbbb', change: 'retracted' as const } };
  const provenance = ofType<Provenance>(buildHomeCareObservationMessage(input), 'Provenance')[0];
  assert.equal(provenance?.activity?.coding?.[0]?.code, 'retract-message');
  assert.deepEqual(provenance?.entity, [{ role: 'removal', what: { reference: 'MessageHeader/bbbb' } }]);
});
