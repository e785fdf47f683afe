import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonToXml, xmlToJson } from '../../src/index.ts';
import { jsonExamples } from './fixtures.ts';

const examples = jsonExamples();

test('the fixture folder yields the JSON examples (guards against a wrong fixture path)', () => {
  assert.ok(examples.length >= 190, `found ${examples.length} JSON examples`);
});

for (const [name, resource] of examples) {
  test(`JSON→XML→JSON is lossless: ${name}`, () => {
    assert.deepStrictEqual(xmlToJson(jsonToXml(resource)), resource);
  });
}

test('JSON→XML is stable: the XML of the round-tripped JSON is byte-identical', () => {
  for (const [name, resource] of examples) {
    const xml = jsonToXml(resource);
    assert.equal(jsonToXml(xmlToJson(xml)), xml, name);
  }
});
