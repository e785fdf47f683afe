// The GS1 check digit of a GLN (invariant gln-modulus-10) wherever the shipped profiles apply it: EER's
// dk-medcom-eer-gln-identifier on Endpoint.identifier:GLN-ID (severity warning in EER 2.0.1-draft), and dk-core's
// dk-core-gln-identifier on Organization.identifier:EAN-ID of dk-core, MedCom core and MedCom messaging
// organisations (severity error). Both rules sit on Identifier.value, a primitive, and EER's is written with
// `value.` inside parentheses, which the validator must read as the primitive itself.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Issue, shippedValidator } from '../../src/index.ts';
import { primitiveExpression } from '../../src/validator/invariants.ts';
import { FIXTURES } from './corpus.ts';

// biome-ignore lint/suspicious/noExplicitAny: test fixtures are untyped JSON, mutated freely
type J = Record<string, any>;

const readJson = (path: string): J => JSON.parse(readFileSync(path, 'utf8')) as J;
const fixture = (rel: string): J => readJson(join(FIXTURES, rel));
const CAREHOME = join(FIXTURES, '..', 'examples', 'eer', 'carehome.json');
const EER_ENDPOINT = 'eer/json/Endpoint-EerEndpoint-Messaging-AAR-eDeliveryFhir.5790000123117.json';
const DK_CORE_ORG = 'fhir/examples/dk-core-3.4.0/Organization-b08997bb-4476-4dd0-84dd-2e297f809364.json';
const HOMECARE =
  'fhir/examples/medcom-homecareobservation-1.2.1/Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json';

// Correct check digits (weights 1,3,1,3… over the first 12 digits): 5790000990009 (sum 71 → 9), the local
// network's 5790000123117, 5790000127092 and 5790000209354, and 5790000000050 (sum 50 → 0).
const VALID = ['5790000990009', '5790000123117', '5790000127092', '5790000209354'];
const WRONG = '5790000990008';

const gln = (issues: Issue[]): Issue[] => issues.filter((i) => /gln-modulus-10/.test(i.message));
const glnAt = (issues: Issue[], expression: string): string[] =>
  gln(issues)
    .filter((i) => i.expression === expression)
    .map((i) => `${i.severity}: ${i.message}`);
const isGlnIdentifier = (i: J): boolean => /^https?:\/\/www\.gs1\.org\/gln$/.test(i.system);

function setGln(resource: J, value: string): number {
  const n = resource.identifier.findIndex(isGlnIdentifier);
  assert.ok(n >= 0, 'the resource has a GLN identifier');
  resource.identifier[n].value = value;
  return n;
}

test('primitive invariants: every path starting with `value` on the focus is read as $this', () => {
  assert.equal(primitiveExpression("value.matches('^[0-9]{13}$')"), "$this.matches('^[0-9]{13}$')");
  assert.equal(
    primitiveExpression(
      '((\n  (value.substring(0,1).toInteger()*1)+\n  (value.substring(1,1).toInteger()*3)\n  ) mod(10)+value.substring(12,1).toInteger()=10)',
    ),
    '((\n  ($this.substring(0,1).toInteger()*1)+\n  ($this.substring(1,1).toInteger()*3)\n  ) mod(10)+$this.substring(12,1).toInteger()=10)',
  );
  assert.equal(
    primitiveExpression('iif(value.exists(), `value`.length(), 0) > 1'),
    'iif($this.exists(), $this.length(), 0) > 1',
  );
  assert.equal(primitiveExpression('where(value > 1).exists()'), 'where($this > 1).exists()');
  // Another element's `value`, a string, an environment variable and an expression without `value` stay.
  for (const kept of [
    'extension.value.exists()',
    'extension.where(value.exists()).empty()',
    "$this = 'value.x' or %value.exists()",
    "matches('^[0-9]{13}$')",
    'value.(',
  ]) {
    assert.equal(primitiveExpression(kept), kept);
  }
});

test('EER Endpoint: a correct GLN passes gln-modulus-10 (5790000990009, the local network GLNs)', () => {
  for (const value of VALID) {
    const endpoint = fixture(EER_ENDPOINT);
    const n = setGln(endpoint, value);
    const issues = shippedValidator().issues(endpoint);
    assert.deepEqual(gln(issues), [], value);
    assert.deepEqual(
      issues.filter((i) => i.severity === 'error' && i.expression === `Endpoint.identifier[${n}].value`),
      [],
      value,
    );
  }
});

test("EER Endpoint: a wrong check digit fails gln-modulus-10 with the profile's severity (warning)", () => {
  const endpoint = fixture(EER_ENDPOINT);
  const n = setGln(endpoint, WRONG);
  const issues = shippedValidator().issues(endpoint);
  assert.deepEqual(glnAt(issues, `Endpoint.identifier[${n}].value`), [
    'warning: Invariant gln-modulus-10 failed: GLN must pass the modulus 10 check - https://www.gs1.org/services/how-calculate-check-digit-manually',
  ]);
  assert.deepEqual(
    issues.filter((i) => i.severity === 'error'),
    [],
  );
});

test('EER gln-modulus-10 as published (`sum mod 10 + check digit = 10`) rejects a correct check digit 0', () => {
  // dk-medcom-eer-gln-identifier's own expression: with a check digit of 0 the left side is 0, never 10.
  // dk-core's `(10 - sum mod 10) mod 10 = check digit` accepts it (next tests). The validator reports what
  // the profile says; the rule is a warning in EER 2.0.1-draft.
  const endpoint = fixture(EER_ENDPOINT);
  const n = setGln(endpoint, '5790000000050');
  assert.deepEqual(
    gln(shippedValidator().issues(endpoint)).map((i) => `${i.severity} ${i.expression}`),
    [`warning Endpoint.identifier[${n}].value`],
  );
});

test('EER transaction Bundle (examples/eer/carehome.json): its GLN passes; a wrong digit warns at the Endpoint', () => {
  const bundle = readJson(CAREHOME);
  const at = bundle.entry.findIndex((e: J) => e.resource.resourceType === 'Endpoint');
  const expression = `Bundle.entry[${at}].resource.identifier[0].value`;
  assert.equal(bundle.entry[at].resource.identifier[0].value, '5790000990009');
  const valid = shippedValidator().issues(bundle);
  assert.deepEqual(gln(valid), []);
  assert.deepEqual(
    valid.filter((i) => i.severity === 'error'),
    [],
  );

  bundle.entry[at].resource.identifier[0].value = WRONG;
  const wrong = shippedValidator().issues(bundle);
  assert.deepEqual(glnAt(wrong, expression), [
    'warning: Invariant gln-modulus-10 failed: GLN must pass the modulus 10 check - https://www.gs1.org/services/how-calculate-check-digit-manually',
  ]);
  // A warning does not make the Endpoint fail to conform, so the Organization's reference to it stays valid.
  assert.deepEqual(
    wrong.filter((i) => i.severity === 'error'),
    [],
  );
});

test('dk-core Organization (dk-core-organization, EAN-ID): a correct GLN passes, a wrong check digit is an error', () => {
  for (const value of [...VALID, '5790000000050']) {
    const org = fixture(DK_CORE_ORG);
    setGln(org, value);
    assert.deepEqual(gln(shippedValidator().issues(org)), [], value);
  }
  const org = fixture(DK_CORE_ORG);
  const n = setGln(org, WRONG);
  assert.deepEqual(glnAt(shippedValidator().issues(org), `Organization.identifier[${n}].value`), [
    'error: Invariant gln-modulus-10 failed: GLN must pass the modulus 10 check - https://www.gs1.org/services/how-calculate-check-digit-manually',
  ]);
});

test('MedCom messaging organisations in a HomeCareObservation message: a wrong check digit is an error at the GLN', () => {
  const baseline = shippedValidator().issues(fixture(HOMECARE));
  assert.deepEqual(gln(baseline), []);
  const orgs = fixture(HOMECARE)
    .entry.map((e: J, i: number) => [e.resource, i] as const)
    .filter(([r]: readonly [J, number]) => r.resourceType === 'Organization');
  assert.ok(orgs.length >= 2);
  for (const [, at] of orgs) {
    const bundle = fixture(HOMECARE);
    const org = bundle.entry[at].resource;
    const n = setGln(org, WRONG);
    const profile = org.meta.profile[0];
    assert.deepEqual(
      glnAt(shippedValidator().issues(bundle), `Bundle.entry[${at}].resource.identifier[${n}].value`),
      [
        'error: Invariant gln-modulus-10 failed: GLN must pass the modulus 10 check - https://www.gs1.org/services/how-calculate-check-digit-manually',
      ],
      profile,
    );
  }
});
