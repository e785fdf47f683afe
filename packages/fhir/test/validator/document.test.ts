// FHIR documents as they arrive: JSON or XML (through the converter's xmlToJson), detected by content.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isEhmiError } from '@ehmi/errors';
import {
  assertValid,
  detectFhir,
  jsonToXml,
  validateFhirDocument,
  validateResource,
} from '../../src/index.ts';
import { FIXTURES } from './corpus.ts';

const json = readFileSync(
  join(
    FIXTURES,
    'fhir/examples/medcom-homecareobservation-1.2.1/Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json',
  ),
  'utf8',
);

test('detectFhir: JSON with a resourceType is FHIR JSON', () => {
  assert.equal(detectFhir(Buffer.from(json)), 'json');
});

test('detectFhir: XML whose root is in the FHIR namespace is FHIR XML, after a prolog and comments', () => {
  assert.equal(
    detectFhir(
      '<?xml version="1.0"?>\n<!-- x --><Bundle xmlns="http://hl7.org/fhir"><id value="1"/></Bundle>',
    ),
    'xml',
  );
});

test('detectFhir: an ehmiSBDH envelope and JSON without resourceType are not FHIR', () => {
  const sbdh = readFileSync(join(FIXTURES, 'ehmi-sbdh/examples/20250429_ehmisbdh_ack_sample.xml'));
  assert.equal(detectFhir(sbdh), undefined);
  assert.equal(detectFhir('{"a":1}'), undefined);
  assert.equal(detectFhir('not json'), undefined);
});

test('the XML form of a valid message is valid, with the same findings as its JSON form', () => {
  const xml = jsonToXml(JSON.parse(json));
  const fromXml = validateFhirDocument(xml);
  const fromJson = validateFhirDocument(json);
  assert.equal(fromXml.format, 'xml');
  assert.equal(fromXml.valid, true);
  assert.deepEqual(
    fromXml.issues.map((i) => `${i.severity} ${i.expression} ${i.message}`),
    fromJson.issues.map((i) => `${i.severity} ${i.expression} ${i.message}`),
  );
});

test('a tampered XML message is invalid at the same FHIRPath as in JSON', () => {
  const bundle = JSON.parse(json);
  bundle.entry[0].resource.sender.reference = 'Organization/nowhere';
  const r = validateFhirDocument(jsonToXml(bundle));
  assert.equal(r.valid, false);
  assert.ok(
    r.issues.some(
      (i) => i.severity === 'error' && i.expression === 'Bundle.entry[0].resource.sender.reference',
    ),
  );
});

test('XML with an element R4 does not define is invalid, with the converter naming the path', () => {
  const r = validateFhirDocument('<Patient xmlns="http://hl7.org/fhir"><colour value="blue"/></Patient>');
  assert.equal(r.valid, false);
  assert.match(r.issues[0]?.message ?? '', /colour/);
});

test('malformed JSON is invalid with one issue saying why', () => {
  const r = validateFhirDocument('{"resourceType": "Patient",');
  assert.equal(r.valid, false);
  assert.equal(r.issues.length, 1);
});

test('options.profile forces a profile on the document', () => {
  const patient = JSON.stringify({ resourceType: 'Patient', gender: 'female' });
  const r = validateFhirDocument(patient, {
    profile: 'http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-patient',
  });
  assert.equal(r.valid, false);
  assert.ok(r.issues.some((i) => i.profile?.endsWith('medcom-core-patient')));
});

test('assertValid throws EHMI_VALIDATION_FAILED naming the first error and carrying the OperationOutcome', () => {
  const bundle = JSON.parse(json);
  bundle.type = 'collection';
  assert.throws(
    () => assertValid(bundle),
    (e: unknown) =>
      isEhmiError(e) &&
      e.code === 'EHMI_VALIDATION_FAILED' &&
      e.expression.includes('Bundle.type') &&
      (e.details.outcome as { resourceType?: string }).resourceType === 'OperationOutcome',
  );
});

test('assertValid returns the outcome (with its warnings) for a valid message', () => {
  const outcome = assertValid(JSON.parse(json));
  assert.ok(outcome.issue.every((i) => i.severity !== 'error'));
});

test('the OperationOutcome the validator returns is itself a valid R4 OperationOutcome', () => {
  const bundle = JSON.parse(json);
  bundle.type = 'collection';
  bundle.entry[0].resource.sender.reference = 'Organization/nowhere';
  const outcome = validateResource(bundle);
  assert.ok(outcome.issue.some((i) => i.severity === 'error' && i.expression?.length));
  const again = validateResource(outcome);
  assert.deepEqual(
    again.issue.filter((i) => i.severity === 'error').map((i) => i.diagnostics),
    [],
  );
});
