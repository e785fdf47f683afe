// Extensions by URL and bindings whose ValueSet is missing: never a silent pass.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createValidator, loadConformance, shippedValidator } from '../../src/index.ts';
import { FIXTURES } from './corpus.ts';

const patient = (extra: Record<string, unknown>) => ({ resourceType: 'Patient', gender: 'female', ...extra });
const issues = (r: unknown) => shippedValidator().issues(r);

test('an extension is checked against the definition its url names (value type)', () => {
  const r = patient({
    extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace', valueString: 'Aarhus' }],
  });
  assert.ok(
    issues(r).some((i) => i.severity === 'error' && i.expression === 'Patient.extension[0].valueString'),
  );
});

test('an extension with an unknown url is a warning naming it', () => {
  const r = patient({ extension: [{ url: 'http://example.org/ext/unknown', valueString: 'x' }] });
  const w = issues(r).find((i) => i.message.includes('http://example.org/ext/unknown'));
  assert.equal(w?.severity, 'warning');
});

test('an unknown modifierExtension is an error', () => {
  const r = patient({
    modifierExtension: [{ url: 'http://example.org/ext/unknown-modifier', valueBoolean: true }],
  });
  const e = issues(r).find((i) => i.message.includes('unknown-modifier'));
  assert.equal(e?.severity, 'error');
});

test('ext-1: an extension with both a value and extensions is an error', () => {
  const r = patient({
    extension: [
      { url: 'http://example.org/ext/x', valueString: 'a', extension: [{ url: 'b', valueString: 'c' }] },
    ],
  });
  assert.ok(issues(r).some((i) => i.severity === 'error' && i.message.startsWith('ext-1')));
});

test('a required binding to a ValueSet that is not loaded is a warning naming the ValueSet', () => {
  // HomeCare Observation without the MedCom terminology package: medcom-core-observation-status is unknown.
  const P = (ig: string) => join(FIXTURES, 'fhir/profiles', ig);
  const c = loadConformance([
    P('dk-core-3.4.0'),
    P('medcom-core-2.4.0'),
    P('medcom-messaging-3.0.0'),
    P('medcom-homecareobservation-1.2.1'),
  ]);
  const obs = JSON.parse(
    readFileSync(
      join(
        FIXTURES,
        'fhir/examples/medcom-homecareobservation-1.2.1/Observation-3fd3835d-1758-4d22-8547-000182752817.json',
      ),
      'utf8',
    ),
  );
  const w = createValidator(c)
    .issues(obs)
    .find(
      (i) => i.expression === 'Observation.status' && i.message.includes('medcom-core-observation-status'),
    );
  assert.equal(w?.severity, 'warning');
  assert.match(w?.message ?? '', /is not loaded/);
});

test('a code outside an extensible binding (data-absent-reason) is a warning, not an error', () => {
  const r = {
    resourceType: 'Observation',
    status: 'final',
    code: { text: 'x' },
    dataAbsentReason: { coding: [{ system: 'http://snomed.info/sct', code: '12345' }] },
  };
  const found = issues(r).filter((i) => i.expression === 'Observation.dataAbsentReason');
  assert.ok(found.length > 0);
  assert.ok(found.every((i) => i.severity === 'warning'));
});

test('a ValueSet importing a ValueSet that is not loaded answers unknown (a warning), not no', async () => {
  const { Terminology } = await import('../../src/validator/terminology.ts');
  const c = loadConformance([], { r4: false });
  c.add({
    resourceType: 'ValueSet',
    url: 'http://example.org/ValueSet/outer',
    compose: { include: [{ valueSet: ['http://example.org/ValueSet/missing'] }] },
  });
  const t = new Terminology(c);
  const m = t.inValueSet('http://example.org/ValueSet/outer', 'http://example.org/cs', 'x');
  assert.equal(m.result, 'unknown');
  assert.match(m.reason ?? '', /ValueSet http:\/\/example\.org\/ValueSet\/missing is not loaded/);
});

test("a binding to a CodeSystem's implicit ValueSet (CodeSystem.valueSet) is checked against the CodeSystem", async () => {
  const { Terminology } = await import('../../src/validator/terminology.ts');
  const c = loadConformance([], { r4: false });
  c.add({
    resourceType: 'CodeSystem',
    url: 'http://example.org/cs',
    valueSet: 'http://example.org/vs-all',
    content: 'complete',
    concept: [{ code: 'a' }],
  });
  const t = new Terminology(c);
  assert.equal(t.inValueSet('http://example.org/vs-all', 'http://example.org/cs', 'a').result, 'yes');
  assert.equal(t.inValueSet('http://example.org/vs-all', 'http://example.org/cs', 'b').result, 'no');
});

test('txt-1: a narrative with a script is an error at Patient.text.div', () => {
  const r = patient({
    text: {
      status: 'generated',
      div: '<div xmlns="http://www.w3.org/1999/xhtml"><script>x()</script>Hi</div>',
    },
  });
  assert.ok(
    issues(r).some(
      (i) => i.severity === 'error' && i.expression === 'Patient.text.div' && i.message.startsWith('txt-1'),
    ),
  );
});

test('txt-2: an empty narrative div is an error; a div with text is fine', () => {
  const empty = patient({
    text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml"> </div>' },
  });
  assert.ok(issues(empty).some((i) => i.severity === 'error' && i.message.startsWith('txt-2')));
  const ok = patient({
    text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml"><p>Else</p></div>' },
  });
  assert.ok(!issues(ok).some((i) => i.severity === 'error'));
});
