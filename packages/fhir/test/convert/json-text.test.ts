import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonToXml, parseFhirJson, stringifyFhirJson, xmlToJson } from '../../src/index.ts';
import { jsonExamples } from './fixtures.ts';

const NS = 'xmlns="http://hl7.org/fhir"';
const OBS_TEXT =
  '{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50,"unit":"mmol/L"},"component":[{"code":{"text":"y"},"valueQuantity":{"value":2.0e1}}]}';

test('JSON text "1.50" reaches XML as 1.50 through parseFhirJson', () => {
  const xml = jsonToXml(parseFhirJson(OBS_TEXT));
  assert.match(xml, /<valueQuantity><value value="1\.50"\/>/);
  assert.match(xml, /<value value="2\.0e1"\/>/);
});

test('plain JSON.parse loses the written precision (why parseFhirJson exists)', () => {
  assert.match(jsonToXml(JSON.parse(OBS_TEXT)), /<value value="1\.5"\/>/);
});

test('stringifyFhirJson writes decimals as they were read, from JSON text or from XML', () => {
  assert.equal(stringifyFhirJson(parseFhirJson(OBS_TEXT)), OBS_TEXT);
  const xml = `<Observation ${NS}><status value="final"/><code><text value="x"/></code><valueQuantity><value value="7.10"/></valueQuantity></Observation>`;
  assert.match(stringifyFhirJson(xmlToJson(xml)), /"valueQuantity":\{"value":7\.10\}/);
});

test('stringifyFhirJson writes what JSON.stringify writes for every example, indented or not', () => {
  for (const [name, resource] of jsonExamples()) {
    assert.equal(stringifyFhirJson(resource), JSON.stringify(resource), name);
    assert.equal(stringifyFhirJson(resource, 2), JSON.stringify(resource, null, 2), name);
  }
});

test('numbers inside strings are not taken for number tokens', () => {
  const text =
    '{"resourceType":"Basic","code":{"text":"1.50 \\" 2.0"},"extension":[{"url":"u","valueDecimal":3.10}]}';
  assert.equal(stringifyFhirJson(parseFhirJson(text)), text);
});

test('text that is not JSON is refused as unreadable input', () => {
  assert.throws(
    () => parseFhirJson('{"resourceType":'),
    (err: Error & { code?: string }) => err.code === 'EHMI_INPUT_UNREADABLE',
  );
  assert.throws(
    () => parseFhirJson('[1]'),
    (err: Error & { code?: string }) => err.code === 'EHMI_INPUT_UNREADABLE',
  );
});
