import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shippedValidator } from '@ehmi/fhir';
import { BASIC_PROFILE, EdsValidator, PATIENT_PROFILE, SHAPE_KEPT_CHARS } from '../../src/eds/profiles.ts';
import { eventDigest } from '../../src/eds/repository.ts';
import { edsSamples, type Json } from './helpers.ts';

type Element = Json & { id: string; path: string };

/** The values an event's shape leaves out (`shapeOf`): `recorded` and each entity's `what.identifier.value`. */
const VARYING = /^AuditEvent\.recorded$|^AuditEvent\.entity(:[A-Za-z]+)?\.what\.identifier(\.value)?$/;

/** Invariants the profiles carry, none reading `recorded` or an identifier's value; a new one is to be looked at. */
const KNOWN_INVARIANTS = new Set(['dom-2', 'dom-3', 'dom-4', 'dom-5', 'dom-6', 'ele-1', 'ext-1', 'sev-1']);

function elements(url: string): Element[] {
  const sd = shippedValidator().conformance.structureDefinition(url) as
    | { snapshot?: { element?: Element[] } }
    | undefined;
  const list = sd?.snapshot?.element;
  assert.ok(list && list.length > 0, `${url} has a snapshot`);
  return list;
}

/** An event with its own time and ids in the places that vary from one step to the next. */
function withValues(event: Json, recorded: unknown, id: (code: string) => unknown): Json {
  const copy = structuredClone(event);
  copy.recorded = recorded;
  for (const e of (copy.entity as Json[] | undefined) ?? []) {
    const identifier = (e.what as Json | undefined)?.identifier as Json | undefined;
    if (identifier) identifier.value = id(String((e.type as Json | undefined)?.code));
  }
  return copy;
}

describe('EDS profile check: an event of a shape that conformed has only its time and ids checked', () => {
  it('the profiles read recorded and the entities’ identifier values as primitives only (what shapes rely on)', () => {
    for (const url of [
      BASIC_PROFILE,
      PATIENT_PROFILE,
      'http://hl7.org/fhir/StructureDefinition/Identifier',
    ]) {
      for (const e of elements(url)) {
        for (const c of (e.constraint as { key: string; expression?: string }[] | undefined) ?? []) {
          assert.ok(
            KNOWN_INVARIANTS.has(c.key) || url.endsWith('/Identifier'),
            `${e.id}: invariant ${c.key}`,
          );
          assert.doesNotMatch(c.expression ?? '', /recorded|identifier\.value/, `${e.id}: ${c.key}`);
        }
        const slicing = e.slicing as { discriminator?: { path: string }[] } | undefined;
        for (const d of slicing?.discriminator ?? []) {
          assert.doesNotMatch(d.path, /recorded|what|identifier|value$/, `${e.id}: discriminator ${d.path}`);
        }
        const varying = VARYING.test(e.id) || (url.endsWith('/Identifier') && e.path === 'Identifier.value');
        if (!varying) continue;
        const extra = Object.keys(e).filter((k) =>
          /^(fixed|pattern|maxLength|binding|minValue|maxValue)/.test(k),
        );
        assert.deepEqual(extra, [], `${e.id} constrains its value: ${extra.join(', ')}`);
        for (const c of (e.constraint as { key: string }[] | undefined) ?? []) assert.equal(c.key, 'ele-1');
      }
    }
  });

  it('decides as the full profile check does, for every IG sample and good and bad times and ids', () => {
    const cached = new EdsValidator();
    const full = new EdsValidator();
    const times: unknown[] = [
      '2026-12-07T01:02:03.456Z',
      '2026-12-07T01:02:03+01:00',
      '2024-02-29T00:00:00Z',
      '2025-02-29T00:00:00Z',
      '2026-12-07',
      '2026-12-07T01:02:03',
      '',
      ' ',
      '#station',
      1765069323000,
      null,
    ];
    const ids: ((code: string) => unknown)[] = [
      (code) => `urn:uuid:6f1c2d3e-0000-4000-8000-${code.length.toString().padStart(12, '0')}`,
      () => '0101011234',
      () => '',
      () => '   ',
      () => '#station',
      () => 'x'.repeat(1024 * 1024 + 1),
      () => 42,
      () => ({ value: 'nested' }),
    ];
    let compared = 0;
    let refused = 0;
    let shaped = 0;
    const samples = edsSamples();
    for (const { name, event } of samples) {
      // Learn the sample's shape first (when it conforms), then vary its values.
      assert.equal(cached.validate(event).ok, full.validate(event).ok, name);
      for (const time of times) {
        for (const id of ids) {
          const varied = withValues(event, time, id);
          const expected = new EdsValidator().validate(varied).ok;
          const result = cached.validate(varied);
          assert.equal(result.ok, expected, `${name} recorded ${JSON.stringify(time)}`);
          // A conforming event's shape gives its digest: the same as the event's own canonical text.
          if (result.shape) {
            assert.equal(eventDigest(varied, result.shape), eventDigest(varied), `${name} digest`);
            shaped++;
          }
          compared++;
          // Refused, or a value the shapes never vouch for (`#…`): checked in full.
          if (!expected || time === '#station' || id('') === '#station') refused++;
        }
      }
    }
    assert.ok(compared > 1000 && refused < compared && shaped > 100, `${shaped} digests by shape`);
    // Only each sample itself and those variations were checked in full.
    assert.ok(cached.fullValidations <= samples.length + refused, `${cached.fullValidations} full checks`);
  });

  it('a shape longer than SHAPE_KEPT_CHARS is neither remembered nor handed on: such events are checked in full', () => {
    const v = new EdsValidator();
    const [sample] = edsSamples().filter((s) => s.name.includes('PDS'));
    assert.ok(sample);
    const at = (s: number) => new Date(Date.UTC(2026, 11, 7, 1, 0, s)).toISOString();
    const long = (s: number) => {
      const event = withValues(sample.event, at(s), (c) => `l-${s}-${c}`) as {
        entity: Record<string, unknown>[];
      };
      event.entity[0] = { ...event.entity[0], description: 'x'.repeat(SHAPE_KEPT_CHARS) };
      return event;
    };
    for (const s of [1, 2, 3]) {
      const result = v.validate(long(s));
      assert.equal(result.ok, true);
      assert.equal(result.shape, undefined);
    }
    assert.equal(v.fullValidations, 3);
  });

  it('a second event of a conforming shape is not checked in full; a failing one or another shape always is', () => {
    const v = new EdsValidator();
    const [sample] = edsSamples().filter((s) => s.name.includes('PDS'));
    assert.ok(sample);
    const at = (s: number) => new Date(Date.UTC(2026, 11, 7, 1, 0, s)).toISOString();
    assert.equal(v.validate(withValues(sample.event, at(1), (c) => `a-${c}`)).ok, true);
    assert.equal(v.fullValidations, 1);
    const second = v.validate(withValues(sample.event, at(2), (c) => `b-${c}`));
    assert.equal(second.ok, true);
    assert.equal(v.fullValidations, 1);
    // A bad time in the same shape: the validator decides and words it.
    const bad = v.validate(withValues(sample.event, '2026-13-01T00:00:00Z', (c) => `c-${c}`));
    assert.equal(bad.ok, false);
    assert.equal(v.fullValidations, 2);
    assert.match(JSON.stringify(bad.outcome), /recorded/);
    // Another shape (another outcome): checked in full once, then remembered too.
    const failure = { ...withValues(sample.event, at(3), (c) => `d-${c}`), outcome: '8' };
    assert.equal(v.validate(failure).ok, true);
    assert.equal(v.validate({ ...failure, recorded: at(4) }).ok, true);
    assert.equal(v.fullValidations, 3);
    // A shape that fails is never remembered.
    const wrong = { ...withValues(sample.event, at(5), (c) => `e-${c}`), action: 'Z' };
    assert.equal(v.validate(wrong).ok, false);
    assert.equal(v.validate(wrong).ok, false);
    assert.equal(v.fullValidations, 5);
  });
});
