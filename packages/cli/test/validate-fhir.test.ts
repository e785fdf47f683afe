// `ehmi validate` on FHIR resources (JSON and XML): detection, --profile and the exit codes 0 / 1 / 2.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { jsonToXml } from '@ehmi/fhir';
import { ehmi, FIXTURES, tempFile } from './helpers.ts';

const HOMECARE = join(
  FIXTURES,
  'fhir/examples/medcom-homecareobservation-1.2.1/Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json',
);
const bundle = () => JSON.parse(readFileSync(HOMECARE, 'utf8'));

describe('ehmi validate (FHIR)', () => {
  it('exits 0 for a valid HomeCareObservation message in JSON, warnings allowed', async () => {
    const r = await ehmi('validate', HOMECARE);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /valid FHIR JSON Bundle/);
  });

  it('exits 0 for the same message in XML (converted with jsonToXml)', async () => {
    const r = await ehmi('validate', tempFile('homecare.xml', jsonToXml(bundle())));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /valid FHIR XML Bundle/);
  });

  it('exits 1 for a broken reference, one line naming file, FHIRPath and message', async () => {
    const b = bundle();
    b.entry[0].resource.sender.reference = 'Organization/nowhere';
    const file = tempFile('broken.json', JSON.stringify(b));
    const r = await ehmi('validate', file);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(
        `^${file}: error: Bundle\\.entry\\[0\\]\\.resource\\.sender\\.reference: .*Organization/nowhere`,
        'm',
      ),
    );
  });

  it('--profile forces a profile the resource does not claim', async () => {
    const file = tempFile('patient.json', JSON.stringify({ resourceType: 'Patient', gender: 'female' }));
    assert.equal((await ehmi('validate', file)).code, 0);
    const r = await ehmi(
      'validate',
      '--profile',
      'http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-patient',
      file,
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: Patient\.identifier: /);
  });

  it('exits 2 when --profile names a profile that is not loaded', async () => {
    const r = await ehmi('validate', '--profile', 'http://example.org/StructureDefinition/nope', HOMECARE);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /http:\/\/example\.org\/StructureDefinition\/nope is not a loaded StructureDefinition/,
    );
  });

  it('exits 2 for JSON that is not FHIR', async () => {
    const r = await ehmi('validate', tempFile('x.json', '{"a":1}'));
    assert.equal(r.code, 2);
  });

  it('says why JSON is not FHIR: malformed, or without a resourceType (exit 2)', async () => {
    const malformed = tempFile('malformed.json', '{"resourceType":"Patient",');
    const r = await ehmi('validate', malformed);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`^${malformed}: error: not FHIR: malformed JSON \\(`, 'm'));
    const plain = tempFile('plain.json', '{"a":1}');
    assert.match(
      (await ehmi('validate', plain)).stderr,
      new RegExp(`^${plain}: error: not FHIR: JSON without a resourceType`, 'm'),
    );
  });

  it('warns on stderr when the event implies a message profile that is not loaded (no silent pass)', async () => {
    const b = bundle();
    delete b.meta;
    for (const e of b.entry) delete e.resource.meta;
    b.entry[0].resource.eventCoding.code = 'care-communication-message';
    const file = tempFile('carecommunication.json', JSON.stringify(b));
    const r = await ehmi('validate', file);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^${file}: warning: Bundle\\.entry\\[0\\]\\.resource\\.eventCoding: The message profile \\S+medcom-careCommunication-message of event care-communication-message is not loaded`,
        'm',
      ),
    );
  });

  it('exits 1 when one of several files is invalid and 2 when one cannot be read', async () => {
    const b = bundle();
    b.type = 'collection';
    const bad = tempFile('bad.json', JSON.stringify(b));
    assert.equal((await ehmi('validate', HOMECARE, bad)).code, 1);
    assert.equal((await ehmi('validate', HOMECARE, join(FIXTURES, 'no-such-file.json'))).code, 2);
  });
});
