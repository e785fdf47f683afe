// Extensions may only be used where their definition's context allows (R4 StructureDefinition.context), and the
// parts of a complex extension are checked against their slices, not reported as unknown extensions.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Issue, shippedValidator } from '../../src/index.ts';
import { FIXTURES } from './corpus.ts';

const issues = (r: unknown): Issue[] => shippedValidator().issues(r);
const errors = (r: unknown): string[] =>
  issues(r)
    .filter((i) => i.severity === 'error')
    .map((i) => `${i.expression}: ${i.message}`);

const BIRTH_PLACE = 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace';
const BIRTH_TIME = 'http://hl7.org/fhir/StructureDefinition/patient-birthTime';
const MUNICIPALITY = 'http://hl7.dk/fhir/core/StructureDefinition/dk-core-municipalityCodes';
const NATIONALITY = 'http://hl7.org/fhir/StructureDefinition/patient-nationality';

test('an extension whose context is Patient is an error on an Observation', () => {
  const obs = {
    resourceType: 'Observation',
    status: 'final',
    code: { text: 'x' },
    extension: [{ url: BIRTH_PLACE, valueAddress: { city: 'Aarhus' } }],
  };
  assert.deepEqual(errors(obs), [
    `Observation.extension[0]: Extension ${BIRTH_PLACE} is not allowed on Observation; its context allows Patient`,
  ]);
  assert.deepEqual(errors({ resourceType: 'Patient', extension: obs.extension }), []);
});

test('an extension with an element-path context is allowed on that element only', () => {
  const time = { extension: [{ url: BIRTH_TIME, valueDateTime: '2020-01-01T10:00:00+01:00' }] };
  assert.deepEqual(errors({ resourceType: 'Patient', birthDate: '2020-01-01', _birthDate: time }), []);
  assert.deepEqual(errors({ resourceType: 'Patient', gender: 'male', _gender: time }), [
    `Patient.gender.extension[0]: Extension ${BIRTH_TIME} is not allowed on Patient.gender (code); its context allows Patient.birthDate`,
  ]);
});

test('a dk-core extension for addresses is allowed on any Address, not on the Patient itself', () => {
  const ext = { url: MUNICIPALITY, valueCodeableConcept: { text: 'Aarhus' } };
  const onAddress = errors({ resourceType: 'Organization', name: 'x', address: [{ extension: [ext] }] });
  assert.deepEqual(
    onAddress.filter((e) => e.includes('is not allowed')),
    [],
  );
  const onPatient = errors({ resourceType: 'Patient', extension: [ext] });
  assert.ok(
    onPatient.includes(
      `Patient.extension[0]: Extension ${MUNICIPALITY} is not allowed on Patient; its context allows Patient.address, Address`,
    ),
    onPatient.join('\n'),
  );
});

test('the parts of a complex extension are checked against their slices, not reported as unknown extensions', () => {
  const nationality = (part: Record<string, unknown>) => ({
    resourceType: 'Patient',
    extension: [{ url: NATIONALITY, extension: [part] }],
  });
  const ok = issues(nationality({ url: 'code', valueCodeableConcept: { text: 'DK' } }));
  assert.deepEqual(
    ok.filter((i) => /Unknown extension/.test(i.message)),
    [],
  );
  assert.ok(
    errors(nationality({ url: 'code', valueString: 'DK' })).some((e) =>
      e.startsWith("Patient.extension[0].extension[0].valueString: Type 'String' is not allowed"),
    ),
  );
  const unknownPart = issues(nationality({ url: 'bogus', valueString: 'x' }));
  assert.ok(unknownPart.some((i) => i.severity === 'warning' && /Unknown extension bogus/.test(i.message)));
});

test('an element defined by contentReference takes the context of the element it refers to', () => {
  const author = {
    url: 'http://hl7.org/fhir/StructureDefinition/questionnaireresponse-author',
    valueReference: { display: 'Nurse' },
  };
  const qr = {
    resourceType: 'QuestionnaireResponse',
    status: 'completed',
    item: [
      {
        linkId: '1',
        answer: [{ valueString: 'x', item: [{ linkId: '1.1', extension: [author] }] }],
      },
    ],
  };
  assert.deepEqual(errors(qr), []);
});

test('StructureDefinitions with structuredefinition-fhir-type or regex on ElementDefinition.type are valid (R4 context errata)', () => {
  const sd = JSON.parse(
    readFileSync(join(FIXTURES, 'eds/json/StructureDefinition-EdsBasicDeliveryStatus.json'), 'utf8'),
  );
  assert.deepEqual(errors(sd), []);
  const withRegex = JSON.parse(
    readFileSync(
      join(
        FIXTURES,
        'fhir/profiles/medcom-messaging-3.0.0/StructureDefinition-medcom-messaging-messagedefinition.json',
      ),
      'utf8',
    ),
  );
  assert.deepEqual(
    errors(withRegex).filter((e) => /is not allowed on/.test(e)),
    [],
  );
});
