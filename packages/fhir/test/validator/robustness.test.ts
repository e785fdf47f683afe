// Acceptance findings: hostile nesting, malformed meta.profile, impossible dates and a message profile that is not
// loaded must give issues, not crashes or silent passes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Issue, shippedValidator } from '../../src/index.ts';
import { FIXTURES } from './corpus.ts';

// biome-ignore lint/suspicious/noExplicitAny: test input is untyped JSON
type J = Record<string, any>;

const issues = (r: unknown): Issue[] => shippedValidator().issues(r);
const errors = (r: unknown): Issue[] => issues(r).filter((i) => i.severity === 'error');

test('extensions nested 5000 deep are reported, not a stack overflow', () => {
  let ext: J = { url: 'http://example.org/e', valueString: 'x' };
  for (let i = 0; i < 5000; i++) ext = { url: 'http://example.org/e', extension: [ext] };
  const errs = errors({ resourceType: 'Patient', extension: [ext] });
  assert.equal(errs.length, 1);
  assert.match(
    errs[0]?.message ?? '',
    /^Nested more than \d+ levels deep; the content below was not checked$/,
  );
  assert.match(errs[0]?.expression ?? '', /^Patient\.extension\[0\](\.extension\[0\])+$/);
});

test('Bundles nested 1000 deep are reported, not a stack overflow', () => {
  let r: J = { resourceType: 'Patient' };
  for (let i = 0; i < 1000; i++) r = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: r }] };
  const errs = errors(r);
  assert.ok(errs.some((e) => /^Nested more than \d+ levels deep/.test(e.message)));
});

test('meta.profile given as a string is a shape error, not one unknown profile per character', () => {
  const url = 'http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-patient';
  const list = issues({ resourceType: 'Patient', meta: { profile: url } });
  assert.ok(list.some((i) => i.severity === 'error' && i.expression === 'Patient.meta.profile'));
  assert.deepEqual(
    list.filter((i) => /is not loaded/.test(i.message)),
    [],
  );
});

test('a date whose day does not exist in its month is invalid (the lexical pattern allows 2023-02-30)', () => {
  for (const birthDate of ['2023-02-30', '2023-02-29', '1900-02-29', '2023-04-31']) {
    const errs = errors({ resourceType: 'Patient', birthDate });
    assert.deepEqual(
      errs.map((e) => `${e.expression}: ${e.message}`),
      [`Patient.birthDate: "${birthDate}" is not a valid date: no such day`],
    );
  }
  for (const birthDate of ['2024-02-29', '2000-02-29', '2023-12-31', '2023-02'])
    assert.deepEqual(errors({ resourceType: 'Patient', birthDate }), []);
  const errs = errors({ resourceType: 'Patient', deceasedDateTime: '2023-06-31T10:00:00+02:00' });
  assert.equal(errs[0]?.expression, 'Patient.deceasedDateTime');
});

test('a MedCom message whose event implies a profile that is not loaded is a warning naming it, not a silent pass', () => {
  const b = JSON.parse(
    readFileSync(
      join(
        FIXTURES,
        'fhir/examples/medcom-homecareobservation-1.2.1/Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json',
      ),
      'utf8',
    ),
  ) as J;
  delete b.meta;
  for (const e of b.entry) delete e.resource.meta;
  b.entry[0].resource.eventCoding.code = 'care-communication-message';
  const list = issues(b).filter((i) => i.expression === 'Bundle.entry[0].resource.eventCoding');
  assert.deepEqual(
    list.map((i) => `${i.severity}: ${i.message}`),
    [
      'warning: The message profile http://medcomfhir.dk/ig/carecommunication/StructureDefinition/medcom-careCommunication-message of event care-communication-message is not loaded; only claimed profiles were checked',
    ],
  );
  b.entry[0].resource.eventCoding.code = 'no-such-message';
  assert.equal(
    issues(b).find((i) => i.expression === 'Bundle.entry[0].resource.eventCoding')?.severity,
    'warning',
  );
});

test('a contained resource or Bundle entry without resourceType is an error, not an empty Resource', () => {
  assert.deepEqual(
    errors({
      resourceType: 'Patient',
      contained: [{ id: 'o' }],
      managingOrganization: { reference: '#o' },
    }).map((e) => `${e.expression}: ${e.message}`),
    ['Patient.contained[0]: Missing resourceType: Patient.contained holds a resource'],
  );
  const bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { id: 'x' } }] };
  assert.ok(errors(bundle).some((e) => e.expression === 'Bundle.entry[0].resource'));
});

test('Reference.type must agree with the type the reference names', () => {
  const obs = (subject: J) => ({
    resourceType: 'Observation',
    status: 'final',
    code: { text: 'x' },
    subject,
  });
  assert.deepEqual(
    errors(obs({ reference: 'Patient/1', type: 'Group' })).map((e) => `${e.expression}: ${e.message}`),
    ["Observation.subject.type: Reference.type is 'Group' but 'Patient/1' refers to a Patient"],
  );
  assert.deepEqual(errors(obs({ reference: 'Patient/1', type: 'Patient' })), []);
  assert.deepEqual(errors(obs({ identifier: { value: '1' }, type: 'Group' })), []);
});

test('a string longer than 1 MB is invalid (R4 string)', () => {
  const errs = errors({ resourceType: 'Patient', name: [{ family: 'x'.repeat(1024 * 1024 + 1) }] });
  assert.equal(errs.length, 1);
  assert.equal(errs[0]?.expression, 'Patient.name[0].family');
  assert.match(errs[0]?.message ?? '', /may not exceed 1 MB/);
});

test('a CodeableConcept whose coding is a string is a shape error, and a required binding finds no code', () => {
  const list = issues({
    resourceType: 'Provenance',
    target: [{ reference: 'Patient/1' }],
    recorded: '2024-01-01T00:00:00Z',
    agent: [{ who: { reference: 'Practitioner/1' } }],
    activity: { coding: 'tampered-value' },
  });
  const at = (e: string) => list.filter((i) => i.severity === 'error' && i.expression === e);
  assert.ok(at('Provenance.activity.coding').some((i) => /must be a JSON array/.test(i.message)));
  assert.ok(!list.some((i) => /TypeError|is not a function/.test(i.message)));
});
