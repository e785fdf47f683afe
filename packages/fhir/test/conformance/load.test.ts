import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { isEhmiError } from '@ehmi/errors';
import { compareVersions, loadConformance, shippedConformance } from '../../src/index.ts';
import { FIXTURES } from '../validator/corpus.ts';

const PATIENT = 'http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-patient';
const both = loadConformance([
  join(FIXTURES, 'fhir/profiles/medcom-core-2.4.0'),
  join(FIXTURES, 'fhir/profiles/medcom-core-4.0.0'),
]);

test('a bare canonical URL resolves to the latest loaded version', () => {
  assert.equal(both.structureDefinition(PATIENT)?.version, '4.0.0');
});

test('url|version resolves to that version', () => {
  assert.equal(both.structureDefinition(`${PATIENT}|2.4.0`)?.version, '2.4.0');
});

test('url|version with a version that is not loaded resolves to nothing', () => {
  assert.equal(both.structureDefinition(`${PATIENT}|9.9.9`), undefined);
});

test('the R4 base definitions are loaded with the profiles', () => {
  assert.equal(both.typeDefinition('Patient')?.kind, 'resource');
  assert.equal(both.typeDefinition('Coding')?.kind, 'complex-type');
  assert.ok(both.valueSet('http://hl7.org/fhir/ValueSet/administrative-gender'));
});

test('loadConformance(dirs, { r4: false }) leaves the base out', () => {
  const c = loadConformance([join(FIXTURES, 'fhir/profiles/medcom-core-2.4.0')], { r4: false });
  assert.equal(c.typeDefinition('Patient'), undefined);
  assert.ok(c.structureDefinition(PATIENT));
});

test('requireStructureDefinition names a missing URL with EHMI_NOT_FOUND', () => {
  assert.throws(
    () => both.requireStructureDefinition('http://example.org/nope'),
    (e: unknown) =>
      isEhmiError(e) && e.code === 'EHMI_NOT_FOUND' && e.message.includes('http://example.org/nope'),
  );
});

test('a conformance path that cannot be read is EHMI_INPUT_UNREADABLE', () => {
  assert.throws(
    () => loadConformance([join(FIXTURES, 'no-such-folder')], { r4: false }),
    (e: unknown) => isEhmiError(e) && e.code === 'EHMI_INPUT_UNREADABLE',
  );
});

test('the shipped resources carry the HomeCareObservation chain and the EHMI EDS profiles, with snapshots', () => {
  const c = shippedConformance();
  for (const url of [
    'http://medcomfhir.dk/ig/homecareobservation/StructureDefinition/medcom-homecareobservation-message',
    'http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgement',
    'http://hl7.dk/fhir/core/StructureDefinition/dk-core-organization',
    'http://medcomehmi.dk/ig/eds/StructureDefinition/EdsPatientDeliveryStatus',
  ]) {
    assert.ok(c.structureDefinition(url)?.snapshot?.element.length, url);
  }
});

test('compareVersions orders numeric parts numerically', () => {
  assert.ok(compareVersions('4.0.1', '4.0.0') > 0);
  assert.ok(compareVersions('2.10.0', '2.9.0') > 0);
  assert.ok(compareVersions('1.0.0', '1.0.0-trial-use') < 0);
});
