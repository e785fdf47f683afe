// Tampered copies of valid MedCom messages (mutated in memory) must be caught, at the right FHIRPath.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Issue, shippedValidator } from '../../src/index.ts';
import { FIXTURES } from './corpus.ts';

// biome-ignore lint/suspicious/noExplicitAny: test fixtures are untyped JSON, mutated freely
type J = Record<string, any>;

const read = (rel: string): J => JSON.parse(readFileSync(join(FIXTURES, 'fhir/examples', rel), 'utf8')) as J;
const HOMECARE = 'medcom-homecareobservation-1.2.1/Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json';
const ACK = 'medcom-acknowledgement-2.0.3/Bundle-bc9535ef-ed94-4060-a928-7baddec7ee71.json';

const homecare = (): J => read(HOMECARE);
const entry = (b: J, type: string, n = 0): J =>
  b.entry.filter((e: J) => e.resource.resourceType === type)[n].resource;
const indexOf = (b: J, r: J): number => b.entry.findIndex((e: J) => e.resource === r);
const errors = (r: unknown): Issue[] =>
  shippedValidator()
    .issues(r)
    .filter((i) => i.severity === 'error');

function assertError(r: unknown, expression: string, message: RegExp): void {
  const errs = errors(r);
  assert.ok(
    errs.some((e) => e.expression === expression && message.test(e.message)),
    `expected an error at ${expression} matching ${message}; got:\n${errs.map((e) => `${e.expression}: ${e.message}`).join('\n')}`,
  );
}

test('the untouched HomeCareObservation message is valid (baseline for the mutations)', () => {
  assert.deepEqual(errors(homecare()), []);
});

test('the untouched fatal-error acknowledgement is valid against the shipped profiles', () => {
  assert.deepEqual(errors(read(ACK)), []);
});

test('cardinality: a missing MessageHeader.sender (1..1) is reported at the header', () => {
  const b = homecare();
  delete entry(b, 'MessageHeader').sender;
  assertError(b, 'Bundle.entry[0].resource.sender', /MessageHeader\.sender is required/);
});

test('cardinality: a second Observation.valueQuantity-like value on a 0..1 element is reported', () => {
  const b = homecare();
  const obs = entry(b, 'Observation');
  obs.subject = [obs.subject, obs.subject];
  assertError(b, `Bundle.entry[${indexOf(b, obs)}].resource.subject`, /does not repeat/);
});

test('fixed value: Bundle.type other than message is reported at Bundle.type', () => {
  const b = homecare();
  b.type = 'collection';
  assertError(b, 'Bundle.type', /does not match the (fixed value|pattern) "message"/);
});

test('pattern: a wrong eventCoding code is reported at MessageHeader.eventCoding', () => {
  const b = homecare();
  entry(b, 'MessageHeader').eventCoding.code = 'care-communication-message';
  assertError(b, 'Bundle.entry[0].resource.eventCoding', /does not match the pattern/);
});

test('required slice: removing the SOR identifier from the sender is reported (identifier:SOR-ID 1..)', () => {
  const b = homecare();
  const sender = entry(b, 'Organization', 1);
  sender.identifier = sender.identifier.filter((i: J) => i.system !== 'urn:oid:1.2.208.176.1.1');
  assertError(
    b,
    `Bundle.entry[${indexOf(b, sender)}].resource.identifier`,
    /Slice 'SOR-ID' of Organization\.identifier needs at least 1/,
  );
});

test('extension-based slicing: destination without the primary use extension misses slice primary (closed)', () => {
  const b = homecare();
  entry(b, 'MessageHeader').destination[0].extension[0].valueCoding.code = 'cc';
  assertError(
    b,
    'Bundle.entry[0].resource.destination',
    /Slice 'primary' of MessageHeader\.destination needs at least 1/,
  );
});

test('profile-based slicing: a DiagnosticReport performer that resolves to a Patient matches no slice (closed)', () => {
  const b = homecare();
  const dr = entry(b, 'DiagnosticReport');
  const patient = entry(b, 'Patient');
  dr.performer[1] = { reference: `Patient/${patient.id}` };
  assertError(b, `Bundle.entry[${indexOf(b, dr)}].resource.performer[1]`, /matches none of the slices/);
});

test('required binding: Observation.status amended is outside medcom-core-observation-status', () => {
  const b = homecare();
  const obs = entry(b, 'Observation');
  obs.status = 'amended';
  assertError(
    b,
    `Bundle.entry[${indexOf(b, obs)}].resource.status`,
    /'amended' is not in the required ValueSet http:\/\/medcomfhir\.dk\/ig\/terminology\/ValueSet\/medcom-core-observation-status/,
  );
});

test('required binding of the R4 base: an unknown Bundle.type code is reported', () => {
  const b = homecare();
  delete b.meta;
  b.type = 'bogus';
  assertError(
    b,
    'Bundle.type',
    /'bogus' is not in the required ValueSet http:\/\/hl7\.org\/fhir\/ValueSet\/bundle-type/,
  );
});

test('code in a known CodeSystem: an unknown activity code is reported at the coding', () => {
  const b = homecare();
  const prov = entry(b, 'Provenance');
  prov.activity.coding[0].code = 'no-such-activity';
  assertError(
    b,
    `Bundle.entry[${indexOf(b, prov)}].resource.activity.coding[0]`,
    /Unknown code 'no-such-activity' in CodeSystem/,
  );
});

test('broken reference: a sender reference that matches no entry is reported (aggregation bundled)', () => {
  const b = homecare();
  entry(b, 'MessageHeader').sender.reference = 'Organization/does-not-exist';
  assertError(b, 'Bundle.entry[0].resource.sender.reference', /must resolve inside the Bundle/);
});

test('reference target profile: a sender that is a Patient is the wrong type', () => {
  const b = homecare();
  const patient = entry(b, 'Patient');
  entry(b, 'MessageHeader').sender.reference = `Patient/${patient.id}`;
  assertError(
    b,
    'Bundle.entry[0].resource.sender.reference',
    /Reference to a Patient, but only Organization allowed/,
  );
});

test('conformsTo(): a header that breaks its profile fails medcom-homecareObsMessage-1 on the Bundle', () => {
  const b = homecare();
  delete entry(b, 'MessageHeader').definition;
  assertError(b, 'Bundle', /Invariant medcom-homecareObsMessage-1 failed/);
});

test('invariant with resolve(): a PractitionerRole without code fails medcom-homecareReport-1', () => {
  const b = homecare();
  delete entry(b, 'PractitionerRole').code;
  const dr = entry(b, 'DiagnosticReport');
  assertError(
    b,
    `Bundle.entry[${indexOf(b, dr)}].resource.performer[1]`,
    /Invariant medcom-homecareReport-1 failed/,
  );
});

test('memberOf(): a Provenance activity outside the HomeCare activities fails medcom-homecareObsMessage-2', () => {
  const b = homecare();
  entry(b, 'Provenance').activity.coding[0].code = 'forward-message';
  assertError(b, 'Bundle', /Invariant medcom-homecareObsMessage-2 failed/);
});

test('types: a string where valueQuantity.value needs a decimal is reported', () => {
  const b = homecare();
  const obs = b.entry.map((e: J) => e.resource).find((r: J) => r.valueQuantity);
  obs.valueQuantity.value = '26';
  assertError(b, `Bundle.entry[${indexOf(b, obs)}].resource.valueQuantity.value`, /is not a decimal/);
});

test('choice types: eventUri is not allowed where the MedCom header restricts event[x] to Coding', () => {
  const b = homecare();
  const h = entry(b, 'MessageHeader');
  delete h.eventCoding;
  h.eventUri = 'http://example.org/event';
  assertError(
    b,
    'Bundle.entry[0].resource.eventUri',
    /Type 'Uri' is not allowed for MessageHeader\.event\[x\]/,
  );
});

test('unknown elements are reported', () => {
  const b = homecare();
  entry(b, 'Patient').favouriteColour = 'blue';
  assertError(
    b,
    `Bundle.entry[${indexOf(b, entry(b, 'Patient'))}].resource.favouriteColour`,
    /Unknown element/,
  );
});

test('dateTime: a time without a timezone is reported (R4 dateTime requires one with a time)', () => {
  const b = homecare();
  b.timestamp = '2023-09-01T12:00:00';
  assertError(b, 'Bundle.timestamp', /is not a valid instant/);
});

test('the message event implies the profile even without meta.profile on the Bundle', () => {
  const b = homecare();
  delete b.meta;
  b.type = 'message';
  entry(b, 'MessageHeader').sender.reference = 'Organization/does-not-exist';
  assertError(b, 'Bundle.entry[0].resource.sender.reference', /must resolve inside the Bundle/);
});

test('acknowledgement: a fatal-error ack without its OperationOutcome fails medcom-acknowledgement-1', () => {
  const b = read(ACK);
  b.entry = b.entry.filter((e: J) => e.resource.resourceType !== 'OperationOutcome');
  delete entry(b, 'MessageHeader').response.details;
  assertError(b, 'Bundle', /Invariant medcom-acknowledgement-1 failed/);
});

test('dom-6 (narrative) is a warning, not an error', () => {
  const issues = shippedValidator().issues(homecare());
  const dom6 = issues.filter((i) => i.message.includes('dom-6'));
  assert.ok(dom6.length > 0);
  assert.ok(dom6.every((i) => i.severity === 'warning'));
});

test('broken reference: a MessageHeader.focus that matches no entry is an error (the focus travels in the message)', () => {
  const b = homecare();
  entry(b, 'MessageHeader').focus[0].reference = 'DiagnosticReport/not-here';
  assertError(b, 'Bundle.entry[0].resource.focus[0].reference', /must resolve inside the Bundle/);
});

test('a message Bundle whose first entry is not the MessageHeader is reported at entry[0]', () => {
  const b = homecare();
  b.entry.push(b.entry.shift());
  assertError(b, 'Bundle.entry[0]', /must start with a MessageHeader/);
});

test('broken reference: a DiagnosticReport.result (aggregation bundled) that matches no entry is an error', () => {
  const b = homecare();
  const dr = entry(b, 'DiagnosticReport');
  dr.result[0].reference = 'Observation/not-here';
  assertError(
    b,
    `Bundle.entry[${indexOf(b, dr)}].resource.result[0].reference`,
    /must resolve inside the Bundle/,
  );
});

test('types: a resource id that is not an R4 id is reported (Resource.id is id, whatever the 4.0.1 snapshot says)', () => {
  const b = homecare();
  entry(b, 'MessageHeader').id = 'not a valid id!';
  assertError(b, 'Bundle.entry[0].resource.id', /is not a valid id/);
});

test('Bundle: a fullUrl that disagrees with the resource id is reported at the fullUrl', () => {
  const b = homecare();
  b.entry[1].resource.id = 'another-id';
  assertError(b, 'Bundle.entry[1].fullUrl', /disagrees with the resource/);
});
