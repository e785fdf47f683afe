// Slicing rules on a small differential-only profile (its snapshot is generated): discriminators value,
// pattern, exists and type; closed and ordered slicing (R4 profiling §5.1.0.4).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { createValidator, type Issue, loadConformance, type StructureDefinition } from '../../src/index.ts';
import { FIXTURES } from './corpus.ts';

const URL = 'http://example.org/StructureDefinition/sliced-patient';

const profile: StructureDefinition = {
  resourceType: 'StructureDefinition',
  url: URL,
  version: '1.0.0',
  name: 'SlicedPatient',
  kind: 'resource',
  abstract: false,
  type: 'Patient',
  baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Patient',
  derivation: 'constraint',
  differential: {
    element: [
      {
        id: 'Patient.identifier',
        path: 'Patient.identifier',
        slicing: { discriminator: [{ type: 'value', path: 'system' }], ordered: true, rules: 'closed' },
        min: 1,
      },
      { id: 'Patient.identifier:cpr', path: 'Patient.identifier', sliceName: 'cpr', min: 1, max: '1' },
      {
        id: 'Patient.identifier:cpr.system',
        path: 'Patient.identifier.system',
        min: 1,
        fixedUri: 'urn:oid:1.2.208.176.1.2',
      },
      { id: 'Patient.identifier:local', path: 'Patient.identifier', sliceName: 'local', min: 0, max: '*' },
      {
        id: 'Patient.identifier:local.system',
        path: 'Patient.identifier.system',
        min: 1,
        patternUri: 'urn:example:local',
      },
      {
        id: 'Patient.telecom',
        path: 'Patient.telecom',
        slicing: { discriminator: [{ type: 'exists', path: 'period' }], rules: 'open' },
      },
      { id: 'Patient.telecom:dated', path: 'Patient.telecom', sliceName: 'dated', min: 1, max: '*' },
      { id: 'Patient.telecom:dated.period', path: 'Patient.telecom.period', min: 1 },
      {
        id: 'Patient.deceased[x]',
        path: 'Patient.deceased[x]',
        slicing: { discriminator: [{ type: 'type', path: '$this' }], rules: 'open' },
      },
      {
        id: 'Patient.deceased[x]:deceasedBoolean',
        path: 'Patient.deceased[x]',
        sliceName: 'deceasedBoolean',
        max: '0',
        type: [{ code: 'boolean' }],
      },
      { id: 'Patient.gender', path: 'Patient.gender', min: 1, patternCode: 'female' },
    ],
  },
};

const conformance = loadConformance([]);
conformance.add(structuredClone(profile) as unknown as Record<string, unknown>);
const validator = createValidator(conformance);

const valid = () => ({
  resourceType: 'Patient',
  meta: { profile: [URL] },
  identifier: [
    { system: 'urn:oid:1.2.208.176.1.2', value: '0101011234' },
    { system: 'urn:example:local', value: 'x1' },
  ],
  telecom: [{ system: 'phone', value: '12345678', period: { start: '2020-01-01' } }],
  gender: 'female',
  deceasedDateTime: '2024-01-01T10:00:00+01:00',
});

const errors = (r: unknown): Issue[] => validator.issues(r).filter((i) => i.severity === 'error');
const messages = (r: unknown) => errors(r).map((e) => `${e.expression}: ${e.message}`);

test('a snapshot is generated for a differential-only profile', () => {
  const sd = conformance.structureDefinition(URL);
  assert.ok(sd?.snapshot);
  assert.ok(sd.snapshot.element.some((e) => e.id === 'Patient.identifier:cpr.system'));
});

test('an instance meeting every slice is valid', () => {
  assert.deepEqual(messages(valid()), []);
});

test('value discriminator: a missing required slice is reported', () => {
  const p = valid();
  p.identifier = [{ system: 'urn:example:local', value: 'x1' }];
  assert.ok(messages(p).some((m) => m.startsWith('Patient.identifier: ') && m.includes("Slice 'cpr'")));
});

test('closed slicing: a value matching no slice is reported at the value', () => {
  const p = valid();
  p.identifier.push({ system: 'urn:other', value: 'y' });
  assert.ok(
    messages(p).some(
      (m) => m.startsWith('Patient.identifier[2]: ') && m.includes('matches none of the slices'),
    ),
  );
});

test('ordered slicing: slices out of definition order are reported', () => {
  const p = valid();
  p.identifier.reverse();
  assert.ok(messages(p).some((m) => m.includes("Slice 'cpr' is out of order")));
});

test('exists discriminator: a telecom without period does not fill the dated slice', () => {
  const p = valid();
  delete (p.telecom[0] as { period?: unknown }).period;
  assert.ok(messages(p).some((m) => m.includes("Slice 'dated' of Patient.telecom needs at least 1")));
});

test('type discriminator: deceasedBoolean is excluded by a max 0 type slice', () => {
  const p: Record<string, unknown> = valid();
  delete p.deceasedDateTime;
  p.deceasedBoolean = false;
  assert.ok(
    messages(p).some((m) => m.includes("Slice 'deceasedBoolean' of Patient.deceased[x] allows at most 0")),
  );
});

test('pattern on a primitive: another gender is reported at Patient.gender', () => {
  const p = valid();
  p.gender = 'male';
  assert.ok(messages(p).some((m) => m.startsWith('Patient.gender: ') && m.includes('pattern "female"')));
});

test('--profile style forcing: the profile is applied even when meta.profile does not claim it', () => {
  const p: Record<string, unknown> = valid();
  delete p.meta;
  p.gender = 'male';
  assert.equal(errors(p).length, 0);
  assert.ok(
    validator
      .issues(p, { profile: URL })
      .some((i) => i.severity === 'error' && i.expression === 'Patient.gender'),
  );
});

test('profile discriminator on a datatype: an Identifier slice is matched by its Identifier profile', () => {
  const url = 'http://example.org/StructureDefinition/profiled-identifiers';
  const c = loadConformance([]);
  c.add({
    resourceType: 'StructureDefinition',
    url,
    name: 'ProfiledIdentifiers',
    kind: 'resource',
    abstract: false,
    type: 'Patient',
    baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Patient',
    derivation: 'constraint',
    differential: {
      element: [
        {
          id: 'Patient.identifier',
          path: 'Patient.identifier',
          slicing: { discriminator: [{ type: 'profile', path: '$this' }], rules: 'closed' },
        },
        {
          id: 'Patient.identifier:sor',
          path: 'Patient.identifier',
          sliceName: 'sor',
          min: 1,
          max: '1',
          type: [
            {
              code: 'Identifier',
              profile: ['http://hl7.dk/fhir/core/StructureDefinition/dk-core-sor-identifier'],
            },
          ],
        },
      ],
    },
  });
  for (const dir of ['dk-core-3.4.0']) {
    for (const r of loadConformance([join(FIXTURES, 'fhir/profiles', dir)], { r4: false }).all()) {
      c.add(r as Record<string, unknown>);
    }
  }
  const v = createValidator(c);
  const ok = {
    resourceType: 'Patient',
    meta: { profile: [url] },
    identifier: [{ system: 'urn:oid:1.2.208.176.1.1', value: '52581000016005' }],
  };
  const bad = {
    resourceType: 'Patient',
    meta: { profile: [url] },
    identifier: [{ system: 'urn:x', value: '123' }],
  };
  assert.deepEqual(
    v
      .issues(ok)
      .filter((i) => i.severity === 'error')
      .map((i) => i.message),
    [],
  );
  assert.ok(
    v.issues(bad).some((i) => i.severity === 'error' && i.message.includes('matches none of the slices')),
  );
});

test('type discriminator on Bundle.entry.resource: entries are matched by resource type (closed)', () => {
  const url = 'http://example.org/StructureDefinition/typed-entries';
  const c = loadConformance([]);
  c.add({
    resourceType: 'StructureDefinition',
    url,
    name: 'TypedEntries',
    kind: 'resource',
    abstract: false,
    type: 'Bundle',
    baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Bundle',
    derivation: 'constraint',
    differential: {
      element: [
        {
          id: 'Bundle.entry',
          path: 'Bundle.entry',
          slicing: { discriminator: [{ type: 'type', path: 'resource' }], rules: 'closed' },
        },
        { id: 'Bundle.entry:patient', path: 'Bundle.entry', sliceName: 'patient', min: 1, max: '1' },
        { id: 'Bundle.entry:patient.resource', path: 'Bundle.entry.resource', type: [{ code: 'Patient' }] },
      ],
    },
  });
  const v = createValidator(c);
  const bundle = (types: string[]) => ({
    resourceType: 'Bundle',
    meta: { profile: [url] },
    type: 'collection',
    entry: types.map((t, i) => ({
      fullUrl: `urn:uuid:00000000-0000-4000-8000-00000000000${i}`,
      resource: { resourceType: t },
    })),
  });
  const errs = (b: unknown) =>
    v
      .issues(b)
      .filter((i) => i.severity === 'error')
      .map((i) => `${i.expression}: ${i.message}`);
  assert.deepEqual(errs(bundle(['Patient'])), []);
  assert.ok(
    errs(bundle(['Patient', 'Organization'])).some(
      (m) => m.startsWith('Bundle.entry[1]: ') && m.includes('matches none'),
    ),
  );
  assert.ok(
    errs(bundle(['Organization'])).some((m) =>
      m.includes("Slice 'patient' of Bundle.entry needs at least 1"),
    ),
  );
});

test('an exists discriminator on a choice element works with the path written value or value[x]', () => {
  for (const path of ['value', 'value[x]']) {
    const c = loadConformance([]);
    c.add({
      resourceType: 'StructureDefinition',
      url: 'http://example.org/StructureDefinition/components',
      name: 'Components',
      kind: 'resource',
      type: 'Observation',
      baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Observation',
      derivation: 'constraint',
      differential: {
        element: [
          {
            id: 'Observation.component',
            path: 'Observation.component',
            slicing: { discriminator: [{ type: 'exists', path }], rules: 'closed' },
          },
          {
            id: 'Observation.component:withValue',
            path: 'Observation.component',
            sliceName: 'withValue',
            min: 1,
            max: '1',
          },
          { id: 'Observation.component:withValue.value[x]', path: 'Observation.component.value[x]', min: 1 },
          { id: 'Observation.component:noValue', path: 'Observation.component', sliceName: 'noValue' },
          { id: 'Observation.component:noValue.value[x]', path: 'Observation.component.value[x]', max: '0' },
        ],
      },
    });
    const obs = (component: unknown[]) => ({
      resourceType: 'Observation',
      meta: { profile: ['http://example.org/StructureDefinition/components'] },
      status: 'final',
      code: { text: 'bp' },
      component,
    });
    const errs = (r: unknown) =>
      createValidator(c)
        .issues(r)
        .filter((i) => i.severity === 'error')
        .map((i) => `${i.expression}: ${i.message}`);
    const withValue = { code: { text: 'a' }, valueQuantity: { value: 1 } };
    assert.deepEqual(errs(obs([withValue, { code: { text: 'b' } }])), [], path);
    assert.deepEqual(
      errs(obs([{ code: { text: 'b' } }])),
      [
        "Observation.component: Slice 'withValue' of Observation.component needs at least 1 value(s), found 0",
      ],
      path,
    );
  }
});

test('type discriminator through resolve(): contained targets are matched by the type their profile constrains', () => {
  // As MedComCoreDocumentReference slices DocumentReference.author: `$this.resolve()` by type, closed.
  const url = 'http://example.org/StructureDefinition/authored-document';
  const c = loadConformance([]);
  const target = (type: string) => ({
    resourceType: 'StructureDefinition',
    url: `http://example.org/StructureDefinition/author-${type}`,
    name: `Author${type}`,
    kind: 'resource',
    abstract: false,
    type,
    baseDefinition: `http://hl7.org/fhir/StructureDefinition/${type}`,
    derivation: 'constraint',
    differential: { element: [{ id: type, path: type }] },
  });
  c.add(target('Organization'));
  c.add(target('Practitioner'));
  const ref = (type: string) => [
    { code: 'Reference', targetProfile: [`http://example.org/StructureDefinition/author-${type}`] },
  ];
  c.add({
    resourceType: 'StructureDefinition',
    url,
    name: 'AuthoredDocument',
    kind: 'resource',
    abstract: false,
    type: 'DocumentReference',
    baseDefinition: 'http://hl7.org/fhir/StructureDefinition/DocumentReference',
    derivation: 'constraint',
    differential: {
      element: [
        {
          id: 'DocumentReference.author',
          path: 'DocumentReference.author',
          slicing: { discriminator: [{ type: 'type', path: '$this.resolve()' }], rules: 'closed' },
          min: 1,
        },
        {
          id: 'DocumentReference.author:institution',
          path: 'DocumentReference.author',
          sliceName: 'institution',
          min: 1,
          max: '1',
          type: ref('Organization'),
        },
        {
          id: 'DocumentReference.author:person',
          path: 'DocumentReference.author',
          sliceName: 'person',
          min: 0,
          max: '1',
          type: ref('Practitioner'),
        },
      ],
    },
  });
  const v = createValidator(c);
  const doc = (authors: string[]) => ({
    resourceType: 'DocumentReference',
    meta: { profile: [url] },
    contained: [
      { resourceType: 'Organization', id: 'org', name: 'Pleje' },
      { resourceType: 'Practitioner', id: 'pr', name: [{ family: 'Nielsen' }] },
      { resourceType: 'Patient', id: 'pt' },
    ],
    status: 'current',
    subject: { reference: '#pt' },
    authenticator: { reference: '#pr' },
    author: authors.map((a) => ({ reference: `#${a}` })),
    content: [{ attachment: { contentType: 'text/xml' } }],
  });
  const errs = (d: unknown) =>
    v
      .issues(d)
      .filter((i) => i.severity === 'error')
      .map((i) => `${i.expression}: ${i.message}`);
  assert.deepEqual(errs(doc(['org', 'pr'])), []);
  assert.deepEqual(errs(doc(['org'])), []);
  assert.ok(
    errs(doc(['pr'])).some((m) =>
      m.includes("Slice 'institution' of DocumentReference.author needs at least 1"),
    ),
  );
  assert.ok(
    errs(doc(['org', 'pt'])).some(
      (m) => m.startsWith('DocumentReference.author[1]: ') && m.includes('matches none'),
    ),
  );
});
