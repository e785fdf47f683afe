// Acceptance findings: hostile nesting, malformed meta.profile and impossible dates must give issues, not crashes
// or silent passes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Issue, shippedValidator } from '../../src/index.ts';

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
