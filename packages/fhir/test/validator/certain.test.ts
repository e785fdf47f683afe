// The invariant shortcuts answer "holds" only where fhirpath.js answers true: on hand-made edge cases compared
// with fhirpath.js directly, and on every fixture example and tampered copy with each shortcut's "holds" checked
// by FHIRPath as well.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import { certainTest } from '../../src/validator/certain.ts';
import { checkShortcuts } from '../../src/validator/invariants.ts';
import { computeResults } from './equivalence.ts';

type J = Record<string, unknown>;

const UNITS =
  'value.ofType(Quantity).value.exists() implies value.ofType(Quantity).unit.exists() or value.ofType(Quantity).code.exists()';
const ORG_ID =
  "identifier.where(system='urn:oid:1.2.208.176.1.1' or system='https://kombit.dk/sts/organisation' or system='urn:oid:2.16.840.1.113883.2.24.1.1').exists()";

/** [base, expression, value, what the shortcut answers]; fhirpath.js must give true wherever it answers true. */
const CASES: [string, string, J, boolean][] = [
  ['Organization', '(identifier.count() + name.count()) > 0', { name: 'A' }, true],
  ['Organization', '(identifier.count() + name.count()) > 0', { identifier: [{ value: '1' }] }, true],
  ['Organization', '(identifier.count() + name.count()) > 0', {}, false],
  ['Organization', '(identifier.count() + name.count()) > 0', { _name: { extension: [] } }, false],
  ['Organization', '(identifier.count() + name.count()) > 0', { identifier: [] }, false],
  ['Organization', '(identifier.count() + name.count()) > 0', { identifier: null }, false],
  ['Organization', ORG_ID, { identifier: [{ system: 'urn:oid:1.2.208.176.1.1', value: '1' }] }, true],
  ['Organization', ORG_ID, { identifier: [{ system: 'urn:oid:1.2.208.176.1.2' }] }, false],
  ['Organization', ORG_ID, { identifier: [{ system: 'urn:oid:1.2.208.176.1.1', _system: {} }] }, false],
  ['Organization', ORG_ID, { identifier: ['urn:oid:1.2.208.176.1.1'] }, false],
  ['Organization', ORG_ID, { identifier: [{ system: ['urn:oid:1.2.208.176.1.1'] }] }, true],
  ['Organization', ORG_ID, { identifier: [{ system: 7 }] }, false],
  ['Observation', UNITS, { valueQuantity: { value: 1, unit: 'kg' } }, true],
  ['Observation', UNITS, { valueQuantity: { value: 1, code: 'kg' } }, true],
  ['Observation', UNITS, { valueQuantity: { value: 1 } }, false],
  ['Observation', UNITS, { valueString: '1' }, false],
  ['Observation', UNITS, {}, true],
  ['Observation', UNITS, { valueQuantity: { value: 1, unit: 'kg' }, valueString: 'x' }, false],
  ['Observation', UNITS, { value: { value: 1, unit: 'kg' } }, false],
  // `value` is not a choice of Identifier: fhirpath.js reads Identifier.value, the shortcut does not decide.
  ['Identifier', 'value.ofType(Quantity).exists().not()', { value: 'x' }, false],
  [
    'Observation',
    'value.empty() or component.code.where(coding.exists()).empty()',
    { valueQuantity: {} },
    true,
  ],
  [
    'Observation',
    'value.empty() or component.code.where(coding.exists()).empty()',
    { valueQuantity: { value: 1 }, component: [{ code: { coding: [{ code: 'a' }] } }] },
    false,
  ],
  ['Observation', 'value.exists()', { valueString: 'x' }, true],
  ['Observation', 'value.exists()', { _valueString: { extension: [] } }, false],
  ['Observation', 'value.exists()', { valueFoo: 'x' }, false],
  ['Observation', 'component.value.exists()', { component: [{ valueString: 'x' }] }, false],
  [
    'Observation',
    'value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()',
    { valueQuantity: { value: 1 } },
    true,
  ],
  [
    'Observation',
    'value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()',
    { valueQuantity: { value: 1 }, component: [{ code: { text: 'a' } }] },
    false,
  ],
  [
    'Bundle',
    'entry.resource.ofType(Provenance).exists()',
    { entry: [{ resource: { resourceType: 'Provenance' } }] },
    true,
  ],
  [
    'Bundle',
    'entry.resource.ofType(Provenance).exists()',
    { entry: [{ resource: { resourceType: 'Patient' } }] },
    false,
  ],
  ['Bundle', 'entry.resource.ofType(Provenance).exists()', { entry: [{ resource: {} }] }, false],
  [
    'Bundle',
    'entry.resource.ofType(Resource).exists()',
    { entry: [{ resource: { resourceType: 'Patient' } }] },
    false,
  ],
  [
    'Bundle',
    "entry.resource.ofType(Provenance).all(activity.memberOf('http://example.org/vs'))",
    { entry: [{ resource: { resourceType: 'Patient' } }] },
    true,
  ],
  [
    'Bundle',
    "entry.resource.ofType(Provenance).all(activity.memberOf('http://example.org/vs'))",
    { entry: [{ resource: { resourceType: 'Provenance' } }] },
    false,
  ],
  ['Patient', 'name.ofType(%x).empty()', {}, false],
  [
    'Bundle',
    "type = 'message' implies entry.first().resource.is(MessageHeader)",
    {
      type: 'message',
      entry: [{ resource: { resourceType: 'MessageHeader' } }, { resource: { resourceType: 'Patient' } }],
    },
    true,
  ],
  [
    'Bundle',
    "type = 'message' implies entry.first().resource.is(MessageHeader)",
    { type: 'message', entry: [{ resource: { resourceType: 'Patient' } }] },
    false,
  ],
  [
    'Bundle',
    "type = 'document' implies entry.first().resource.is(Composition)",
    { type: 'message', entry: [{ resource: { resourceType: 'Patient' } }] },
    true,
  ],
  [
    'Bundle',
    "type = 'document' implies (timestamp.hasValue())",
    { type: 'message', timestamp: '2024-01-01T00:00:00Z' },
    true,
  ],
  ['Bundle', "type = 'document' implies (timestamp.hasValue())", { type: 'document' }, false],
  [
    'Bundle',
    "type = 'message' and timestamp.hasValue()",
    { type: 'message', timestamp: '2024-01-01T00:00:00Z' },
    false,
  ],
  ['Bundle', "type = 'document' implies (timestamp.hasValue())", { type: 'message' }, true],
  [
    'Bundle',
    "type = 'document' implies (timestamp.hasValue())",
    { type: 'document', timestamp: '2024-01-01T00:00:00Z' },
    false,
  ],
  ['Bundle', "total.empty() or (type = 'searchset') or (type = 'history')", { type: 'message' }, true],
  [
    'Bundle',
    "total.empty() or (type = 'searchset') or (type = 'history')",
    { type: 'searchset', total: 1 },
    true,
  ],
  [
    'Bundle',
    "total.empty() or (type = 'searchset') or (type = 'history')",
    { type: 'message', total: 1 },
    false,
  ],
  ['Patient', "birthDate = '2020-01-01'", { birthDate: '2020-01-01' }, false],
  [
    'Patient',
    "name.exists() or extension('http://x').exists()",
    { extension: [{ url: 'http://x', valueString: 'a' }] },
    true,
  ],
  [
    'Patient',
    "name.exists() or extension('http://x').exists()",
    { extension: [{ url: 'http://y', valueString: 'a' }] },
    false,
  ],
  ['Patient', 'contained.text.empty()', {}, true],
  [
    'Patient',
    'contained.text.empty()',
    { contained: [{ resourceType: 'Patient', text: { div: '<div/>' } }] },
    false,
  ],
  ['Patient', '%resource.id.exists()', { id: '1' }, false],
  ['Patient', 'name.given.count() > 1', { name: [{ given: ['a', 'b'] }] }, true],
  ['Patient', 'name.given.count() > 1', { name: [{ given: ['a', 'b'], _given: [null, {}] }] }, false],
];

for (const [base, expression, value, expected] of CASES) {
  test(`${base} ${JSON.stringify(value)}: ${expression} ${expected ? 'certainly holds' : 'is left to FHIRPath'}`, () => {
    const shortcut = certainTest(expression)?.(value, base) ?? false;
    assert.equal(shortcut, expected);
    if (shortcut) {
      const r = fhirpath.evaluate(structuredClone(value), { base, expression }, { resource: value }, r4);
      assert.deepEqual(r, [true]);
    }
  });
}

test('on every fixture example and tampered copy, FHIRPath agrees with each shortcut that says a rule holds', () => {
  const disagreements: string[] = [];
  checkShortcuts(disagreements);
  try {
    computeResults();
  } finally {
    checkShortcuts(undefined);
  }
  assert.deepEqual(disagreements, []);
});

// resolve(), conformsTo() and memberOf() are decided only with the validator's answers (a host), and only when
// every answer is plain: a reference found, a boolean from the terminology.
const bundle: J = {
  resourceType: 'Bundle',
  type: 'message',
  entry: [
    { fullUrl: 'urn:a', resource: { resourceType: 'MessageHeader', id: 'h' } },
    { fullUrl: 'urn:b', resource: { resourceType: 'Practitioner', id: 'p', name: [{ family: 'N' }] } },
  ],
};
const entries = bundle.entry as { fullUrl: string; resource: J }[];
const host = (over: Partial<Record<'found' | 'conforms' | 'member', unknown>> = {}) => ({
  resolve: (ref: string) =>
    over.found === false ? undefined : entries.find((e) => e.fullUrl === ref)?.resource,
  conformsTo: (r: J, url: string) =>
    (over.conforms ?? (r.resourceType === 'MessageHeader' && url === 'u')) as boolean,
  memberOf: () => (over.member ?? true) as boolean | string,
});

const HOSTED: [string, string, J, ReturnType<typeof host> | undefined, boolean][] = [
  ['Reference', 'reference.resolve().name.exists()', { reference: 'urn:b' }, host(), true],
  ['Reference', 'reference.resolve().name.exists()', { reference: 'urn:b' }, undefined, false],
  ['Reference', 'reference.resolve().name.exists()', { reference: 'urn:b' }, host({ found: false }), false],
  ['Reference', 'reference.resolve().name.exists()', { reference: 'urn:b', _reference: {} }, host(), false],
  ['Reference', 'reference.resolve().telecom.exists()', { reference: 'urn:b' }, host(), false],
  ['Bundle', "entry[0].resource.conformsTo('u')", bundle, host(), true],
  ['Bundle', "entry[1].resource.conformsTo('u')", bundle, host(), false],
  ['Bundle', "entry[5].resource.conformsTo('u').not()", bundle, host(), false],
  ['Bundle', "entry[0].resource.conformsTo('u')", bundle, host({ conforms: false }), false],
  ['Bundle', "entry.resource.ofType(Practitioner).all(name.memberOf('v'))", bundle, host(), true],
  [
    'Bundle',
    "entry.resource.ofType(Practitioner).all(name.memberOf('v'))",
    bundle,
    host({ member: 'no expansion' }),
    false,
  ],
  [
    'Bundle',
    "entry.resource.ofType(Practitioner).all(name.memberOf('v'))",
    bundle,
    host({ member: false }),
    false,
  ],
];

for (const [base, expression, value, h, expected] of HOSTED) {
  test(`${base} with ${h ? 'a host' : 'no host'}: ${expression} ${expected ? 'certainly holds' : 'is left to FHIRPath'}`, () => {
    assert.equal(certainTest(expression)?.(value, base, h, value) ?? false, expected);
  });
}
