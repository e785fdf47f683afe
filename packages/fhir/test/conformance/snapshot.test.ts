// Profiles given with a differential only (as Forge or SUSHI without --snapshot leave them) get a generated
// snapshot that validates like the published one; a profile whose snapshot cannot be generated is reported.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Conformance, createValidator, type Issue, loadConformance } from '../../src/index.ts';
import { examples, FIXTURES } from '../validator/corpus.ts';

// biome-ignore lint/suspicious/noExplicitAny: fixtures are untyped JSON
type J = Record<string, any>;

const P = (ig: string) => join(FIXTURES, 'fhir/profiles', ig);

/** The IGs' conformance resources with the snapshot of every profile removed. */
function differentialOnly(dirs: string[]): Conformance {
  const c = loadConformance([]);
  for (const dir of dirs) {
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    const ig = files.find((f) => f.startsWith('ImplementationGuide-'));
    const version = ig ? (JSON.parse(readFileSync(join(dir, ig), 'utf8')) as J).version : undefined;
    for (const f of files) {
      const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as J;
      if (!['StructureDefinition', 'ValueSet', 'CodeSystem'].includes(r.resourceType)) continue;
      if (r.derivation === 'constraint') delete r.snapshot;
      r.version ??= version;
      c.add(r);
    }
  }
  return c;
}

const chain = [
  P('dk-core-3.4.0'),
  P('medcom-terminology-2.0.1'),
  P('medcom-core-4.0.0'),
  P('medcom-messaging-4.0.1'),
];
const errors = (list: Issue[]) =>
  list.filter((i) => i.severity === 'error').map((i) => `${i.expression}: ${i.message}`);

test('generated snapshots place slices inside unexpanded datatypes and extension slices with a profile', () => {
  const c = differentialOnly(chain);
  for (const url of [
    'http://hl7.dk/fhir/core/StructureDefinition/dk-core-patient',
    'http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-messageHeader',
  ]) {
    assert.ok(c.structureDefinition(url)?.snapshot, `${url}: ${c.problem(url)}`);
  }
});

test('examples validate the same against generated and published snapshots', () => {
  const generated = createValidator(differentialOnly(chain));
  const published = createValidator(loadConformance(chain));
  for (const ex of examples('fhir/examples/medcom-messaging-4.0.1')) {
    assert.deepEqual(errors(generated.issues(ex.resource)), errors(published.issues(ex.resource)), ex.file);
  }
});

test('a profile whose base is not loaded is reported by name, not thrown', () => {
  const c = loadConformance([]);
  c.add({
    resourceType: 'StructureDefinition',
    url: 'http://example.org/StructureDefinition/p',
    name: 'P',
    kind: 'resource',
    type: 'Patient',
    derivation: 'constraint',
    baseDefinition: 'http://example.org/StructureDefinition/missing-base',
    differential: { element: [{ id: 'Patient.gender', path: 'Patient.gender', min: 1 }] },
  });
  const list = createValidator(c).issues({
    resourceType: 'Patient',
    meta: { profile: ['http://example.org/StructureDefinition/p'] },
  });
  const w = list.find((i) => i.expression === 'Patient.meta.profile');
  assert.equal(w?.severity, 'warning');
  assert.match(
    w?.message ?? '',
    /^Profile http:\/\/example\.org\/StructureDefinition\/p cannot be used \(Base http:\/\/example\.org\/StructureDefinition\/missing-base of .* is not loaded\)/,
  );
});
