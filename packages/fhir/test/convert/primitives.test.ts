import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonToXml, xmlToJson } from '../../src/index.ts';

const NS = 'xmlns="http://hl7.org/fhir"';

test('integer and decimal values become JSON numbers (R4 §2.6.2)', () => {
  const json = xmlToJson(
    `<Observation ${NS}><status value="final"/><code><text value="x"/></code>` +
      `<valueQuantity><value value="26.5"/></valueQuantity></Observation>`,
  );
  assert.deepEqual(json.valueQuantity, { value: 26.5 });
  const r = xmlToJson(`<Patient ${NS}><multipleBirthInteger value="2"/></Patient>`);
  assert.equal(r.multipleBirthInteger, 2);
});

test('boolean values become JSON booleans', () => {
  const json = xmlToJson(`<Patient ${NS}><active value="false"/><deceasedBoolean value="true"/></Patient>`);
  assert.equal(json.active, false);
  assert.equal(json.deceasedBoolean, true);
});

test('number-looking strings stay strings (Patient.id, Identifier.value)', () => {
  const json = xmlToJson(
    `<Patient ${NS}><id value="123"/><identifier><value value="0101"/></identifier></Patient>`,
  );
  assert.equal(json.id, '123');
  assert.deepEqual(json.identifier, [{ value: '0101' }]);
});

test('a decimal keeps its written precision through XML→JSON→XML ("1.50" stays "1.50")', () => {
  const xml = `<Observation ${NS}><status value="final"/><code><text value="x"/></code><valueQuantity><value value="1.50"/></valueQuantity></Observation>`;
  const json = xmlToJson(xml);
  assert.deepEqual(json.valueQuantity, { value: 1.5 });
  assert.equal(jsonToXml(json), xml);
});

test('a decimal changed after reading is written in its new value, not the old lexical form', () => {
  const json = xmlToJson(
    `<Observation ${NS}><status value="final"/><code><text value="x"/></code><valueQuantity><value value="1.50"/></valueQuantity></Observation>`,
  );
  (json.valueQuantity as { value: number }).value = 2;
  assert.match(jsonToXml(json), /<value value="2"\/>/);
});

test('a decimal inside a repeating element keeps its precision too', () => {
  const xml = `<RiskAssessment ${NS}><status value="final"/><subject><reference value="Patient/1"/></subject><prediction><probabilityDecimal value="0.10"/></prediction><prediction><probabilityDecimal value="0.250"/></prediction></RiskAssessment>`;
  assert.equal(jsonToXml(xmlToJson(xml)), xml);
});

test('a boolean given as a JSON string is refused with the path', () => {
  assert.throws(
    () => jsonToXml({ resourceType: 'Patient', active: 'true' }),
    (err: Error & { code?: string; expression?: string[] }) =>
      err.code === 'EHMI_VALIDATION_FAILED' && err.expression?.[0] === 'Patient.active',
  );
});

test('a number given as a JSON string is refused with the path', () => {
  assert.throws(
    () => jsonToXml({ resourceType: 'Observation', status: 'final', valueQuantity: { value: '26' } }),
    (err: Error & { code?: string; expression?: string[] }) =>
      err.code === 'EHMI_VALIDATION_FAILED' && err.expression?.[0] === 'Observation.valueQuantity.value',
  );
});

test('an XML integer that is not an integer is refused', () => {
  assert.throws(
    () => xmlToJson(`<Patient ${NS}><multipleBirthInteger value="2.5"/></Patient>`),
    (err: Error & { code?: string }) => err.code === 'EHMI_VALIDATION_FAILED',
  );
});

test('an XML boolean other than true/false is refused', () => {
  assert.throws(
    () => xmlToJson(`<Patient ${NS}><active value="yes"/></Patient>`),
    (err: Error & { code?: string; expression?: string[] }) =>
      err.code === 'EHMI_VALIDATION_FAILED' && err.expression?.[0] === 'Patient.active',
  );
});

test('newlines and markup characters in values survive JSON→XML→JSON', () => {
  const resource = { resourceType: 'Patient', id: 'p', name: [{ text: 'a & b <c> "d"\n\te\r\nf' }] };
  assert.deepEqual(xmlToJson(jsonToXml(resource)), resource);
});

test('a character XML cannot carry is refused instead of producing broken XML', () => {
  assert.throws(
    () => jsonToXml({ resourceType: 'Patient', name: [{ text: 'a\u0001b' }] }),
    (err: Error & { code?: string }) => err.code === 'EHMI_VALIDATION_FAILED',
  );
});
