import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isEhmiError } from '@ehmi/errors';
import { EHMI_DIR, MEDCOM_DIR, R4_DIR } from '../../src/conformance/load.ts';
import type { Json } from '../../src/conformance/types.ts';
import { compareVersions, loadConformance, shippedConformance } from '../../src/index.ts';
import { FIXTURES } from '../validator/corpus.ts';

const PATIENT = 'http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-patient';
const both = loadConformance([
  join(FIXTURES, 'fhir/profiles/medcom-core-2.4.0'),
  join(FIXTURES, 'fhir/profiles/medcom-core-4.0.0'),
]);

test('a bare canonical URL resolves to the latest loaded version', () => {
  assert.equal(both.structureDefinition(PATIENT)?.version, '4.0.0');
});

test('url|version resolves to that version', () => {
  assert.equal(both.structureDefinition(`${PATIENT}|2.4.0`)?.version, '2.4.0');
});

test('url|version with a version that is not loaded resolves to nothing', () => {
  assert.equal(both.structureDefinition(`${PATIENT}|9.9.9`), undefined);
});

test('the R4 base definitions are loaded with the profiles', () => {
  assert.equal(both.typeDefinition('Patient')?.kind, 'resource');
  assert.equal(both.typeDefinition('Coding')?.kind, 'complex-type');
  assert.ok(both.valueSet('http://hl7.org/fhir/ValueSet/administrative-gender'));
});

test('loadConformance(dirs, { r4: false }) leaves the base out', () => {
  const c = loadConformance([join(FIXTURES, 'fhir/profiles/medcom-core-2.4.0')], { r4: false });
  assert.equal(c.typeDefinition('Patient'), undefined);
  assert.ok(c.structureDefinition(PATIENT));
});

test('requireStructureDefinition names a missing URL with EHMI_NOT_FOUND', () => {
  assert.throws(
    () => both.requireStructureDefinition('http://example.org/nope'),
    (e: unknown) =>
      isEhmiError(e) && e.code === 'EHMI_NOT_FOUND' && e.message.includes('http://example.org/nope'),
  );
});

test('a conformance path that cannot be read is EHMI_INPUT_UNREADABLE', () => {
  assert.throws(
    () => loadConformance([join(FIXTURES, 'no-such-folder')], { r4: false }),
    (e: unknown) => isEhmiError(e) && e.code === 'EHMI_INPUT_UNREADABLE',
  );
});

test('the shipped resources carry the HomeCareObservation chain and the EHMI EDS profiles, with snapshots', () => {
  const c = shippedConformance();
  for (const url of [
    'http://medcomfhir.dk/ig/homecareobservation/StructureDefinition/medcom-homecareobservation-message',
    'http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgement',
    'http://hl7.dk/fhir/core/StructureDefinition/dk-core-organization',
    'http://medcomehmi.dk/ig/eds/StructureDefinition/EdsPatientDeliveryStatus',
  ]) {
    assert.ok(c.structureDefinition(url)?.snapshot?.element.length, url);
  }
});

test('compareVersions orders numeric parts numerically', () => {
  assert.ok(compareVersions('4.0.1', '4.0.0') > 0);
  assert.ok(compareVersions('2.10.0', '2.9.0') > 0);
  assert.ok(compareVersions('1.0.0', '1.0.0-trial-use') < 0);
});

test("a Bundle file's entries read when resolved equal the file's parsed entries, whatever their strings hold", () => {
  const dir = mkdtempSync(join(tmpdir(), 'ehmi-conformance-'));
  try {
    const tricky = 'quote " backslash \\ brackets }]{[ "entry":[ æøå 😀 \\"';
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      meta: { tag: [{ code: '"entry":[{' }] },
      entry: [
        {
          fullUrl: 'urn:x:1',
          resource: {
            resourceType: 'CodeSystem',
            url: 'http://example.org/cs',
            version: '1.0.0',
            content: 'complete',
            concept: [{ code: 'a', display: tricky }],
          },
        },
        { resource: { resourceType: 'Patient', id: 'not-conformance' } },
        {
          resource: {
            resourceType: 'ValueSet',
            url: 'http://example.org/vs',
            compose: { include: [{ system: 'http://example.org/cs' }] },
          },
        },
      ],
    };
    writeFileSync(join(dir, 'bundle.json'), JSON.stringify(bundle, null, 1));
    const c = loadConformance([dir], { r4: false });
    assert.deepEqual(
      [...c.summaries()].map((s) => `${s.resourceType} ${s.url}`),
      ['CodeSystem http://example.org/cs', 'ValueSet http://example.org/vs'],
    );
    assert.deepEqual(c.codeSystem('http://example.org/cs'), bundle.entry[0]!.resource);
    assert.deepEqual(c.valueSet('http://example.org/vs'), bundle.entry[2]!.resource);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every shipped resource read when resolved equals the one parsed from its whole file', () => {
  const c = shippedConformance();
  let n = 0;
  for (const dir of [R4_DIR, MEDCOM_DIR, EHMI_DIR]) {
    for (const name of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      const whole = JSON.parse(readFileSync(join(dir, name), 'utf8')) as { entry: { resource: Json }[] };
      for (const { resource } of whole.entry) {
        const canonical =
          resource.version === undefined ? resource.url : `${resource.url}|${resource.version}`;
        const got = c.resolve(canonical as string, resource.resourceType as string);
        assert.deepEqual(got, resource, `${name}: ${resource.url}`);
        n++;
      }
    }
  }
  assert.equal(n, [...c.summaries()].length);
});

test('a Bundle file edited or replaced after it was indexed is read again whole; a resource gone is EHMI_INTERNAL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ehmi-conformance-'));
  try {
    const file = join(dir, 'bundle.json');
    const cs = (url: string, code = 'x') => ({
      resourceType: 'CodeSystem',
      url,
      content: 'complete',
      concept: [{ code }],
    });
    const bundle = (...resources: object[]) => ({
      resourceType: 'Bundle',
      type: 'collection',
      entry: resources.map((resource) => ({ resource })),
    });
    const A = 'http://example.org/a';
    const B = 'http://example.org/b';
    const C = 'http://example.org/c';
    writeFileSync(file, JSON.stringify(bundle(cs(A), cs(B), cs(C))));
    const c = loadConformance([dir], { r4: false });
    // Edited in place: the entries moved, b's code changed; each is found again by its type, URL and version.
    writeFileSync(file, JSON.stringify(bundle(cs('http://example.org/bb'), cs(B, 'y'), cs(A))));
    assert.deepEqual(c.codeSystem(A), cs(A));
    assert.deepEqual(c.codeSystem(B), cs(B, 'y'));
    // Gone from the file: the node's fault, not the caller's.
    assert.throws(
      () => c.codeSystem(C),
      (e: unknown) => isEhmiError(e) && e.code === 'EHMI_INTERNAL' && e.message.includes(C),
    );
    // Replaced by another file of the same octets (an upgrade in place): read as before.
    writeFileSync(file, JSON.stringify(bundle(cs(A), cs(B), cs(C))));
    const d = loadConformance([dir], { r4: false });
    rmSync(file);
    writeFileSync(file, JSON.stringify(bundle(cs(A), cs(B), cs(C))));
    assert.deepEqual(d.codeSystem(C), cs(C));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a broken or odd file is read as JSON reads it: refused at load, or its resources as JSON.parse gives them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ehmi-conformance-'));
  try {
    const file = join(dir, 'bundle.json');
    const cs = (url: string) => ({ resourceType: 'CodeSystem', url, content: 'complete', concept: [] });
    const entries = `[{"resource":${JSON.stringify(cs('http://example.org/a'))}}]`;
    for (const broken of [
      `{"resourceType":"Bundle","entry":[{"resource":${JSON.stringify(cs('http://example.org/a'))}},`,
      `{"resourceType":"Bundle","entry":${entries}} trailing`,
      `{"resourceType":"Bundle","entry":[{"resource":${JSON.stringify(cs('http://example.org/a'))}} junk ]}`,
    ]) {
      writeFileSync(file, broken);
      assert.throws(
        () => loadConformance([dir], { r4: false }),
        (e: unknown) => isEhmiError(e) && e.code === 'EHMI_INPUT_UNREADABLE',
        broken,
      );
    }
    // Two "entry" keys: JSON.parse keeps the last.
    writeFileSync(
      file,
      `{"resourceType":"Bundle","entry":${entries},"entry":[{"resource":${JSON.stringify(cs('http://example.org/b'))}}]}`,
    );
    let c = loadConformance([dir], { r4: false });
    assert.deepEqual(
      [...c.summaries()].map((s) => s.url),
      ['http://example.org/b'],
    );
    assert.deepEqual(c.codeSystem('http://example.org/b'), cs('http://example.org/b'));
    // Not a Bundle: its entries are not resources of the file.
    writeFileSync(file, `{"resourceType":"Parameters","entry":${entries}}`);
    assert.deepEqual([...loadConformance([dir], { r4: false }).summaries()], []);
    // A version that is not a string: resolved by its URL, as before.
    writeFileSync(
      file,
      JSON.stringify({
        resourceType: 'Bundle',
        entry: [{ resource: { ...cs('http://example.org/n'), version: 1 } }],
      }),
    );
    c = loadConformance([dir], { r4: false });
    assert.equal(c.codeSystem('http://example.org/n')?.version, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a relative conformance folder is read from where it was when loaded, whatever the working directory later', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ehmi-conformance-'));
  const other = mkdtempSync(join(tmpdir(), 'ehmi-conformance-'));
  const cwd = process.cwd();
  try {
    const cs = (display: string) => ({
      resourceType: 'CodeSystem',
      url: 'http://example.org/a',
      content: 'complete',
      concept: [{ code: 'a', display }],
    });
    const bundle = (display: string) =>
      JSON.stringify({
        resourceType: 'Bundle',
        entry: [{ resource: cs(display) }, { resource: cs(display) }],
      });
    writeFileSync(join(dir, 'bundle.json'), bundle('from the loaded folder'));
    writeFileSync(join(other, 'bundle.json'), bundle('from another folder'));
    process.chdir(dir);
    const c = loadConformance(['.'], { r4: false });
    process.chdir(other);
    assert.equal(c.codeSystem('http://example.org/a')?.concept?.[0]?.display, 'from the loaded folder');
  } finally {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  }
});
