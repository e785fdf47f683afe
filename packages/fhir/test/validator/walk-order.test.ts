// The walk reports an object's findings in the order of the element definitions, whatever the order of the JSON
// properties: it visits the children an object has values for and the required ones without values, merged in
// definition order.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Issue, shippedValidator } from '../../src/index.ts';
import { FIXTURES } from './corpus.ts';

// biome-ignore lint/suspicious/noExplicitAny: test input is untyped JSON
type J = Record<string, any>;

const MESSAGE = join(
  FIXTURES,
  'fhir/examples/medcom-homecareobservation-1.2.1/Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json',
);

/** The same JSON with every object's properties in reverse order. */
function reversed(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reversed);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v)
      .reverse()
      .map(([k, x]) => [k, reversed(x)]),
  );
}

/**
 * A broken copy: required elements removed, a repeated value where one is allowed, an unknown element. (Two types of
 * one choice are named in the order met, so they stay out of it.)
 */
function broken(): J {
  const bundle = JSON.parse(readFileSync(MESSAGE, 'utf8')) as J;
  const byType = (t: string): J => bundle.entry.find((e: J) => e.resource.resourceType === t).resource;
  const observation = byType('Observation');
  delete observation.status;
  delete observation.code;
  observation.colour = 'blue';
  const header = byType('MessageHeader');
  delete header.source;
  const patient = byType('Patient');
  delete patient.identifier;
  patient.gender = ['male', 'female'];
  return bundle;
}

const messages = (list: Issue[]): string[] => list.map((i) => `${i.severity} ${i.expression}: ${i.message}`);

test('an object with its properties in another order gives the same findings in the same order', () => {
  const validator = shippedValidator();
  const asWritten = validator.issues(broken());
  const inReverse = validator.issues(reversed(broken()));
  const errors = asWritten.filter((i) => i.severity === 'error');
  // The breakage is found (else the comparison below would prove nothing).
  for (const expected of [
    /Observation\.status is required/,
    /Observation\.code is required/,
    /MessageHeader\.source is required/,
    /Unknown element 'colour'/,
    /Patient\.gender does not repeat/,
  ]) {
    assert.ok(
      errors.some((i) => expected.test(i.message)),
      `${expected} in ${messages(errors).join('\n')}`,
    );
  }
  assert.deepEqual(messages(inReverse), messages(asWritten));
});
