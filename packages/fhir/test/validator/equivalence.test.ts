// The validator's findings on every fixture example (valid and invalid, with the corpus chains and with the shipped
// resources) and on tampered copies of each are exactly those recorded in equivalence.snapshot.json: speeding the
// validator up must not change one issue, its order, or its wording.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { computeResults, SNAPSHOT } from './equivalence.ts';

test('every fixture example and tampered copy gives the recorded issues, in the recorded order', () => {
  const expected = JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as Record<string, unknown>;
  const actual = computeResults();
  assert.deepEqual(Object.keys(actual), Object.keys(expected));
  const changed = Object.keys(expected).filter(
    (k) => JSON.stringify(actual[k]) !== JSON.stringify(expected[k]),
  );
  assert.deepEqual(
    changed.map((k) => ({ case: k, expected: expected[k], actual: actual[k] })),
    [],
  );
});
