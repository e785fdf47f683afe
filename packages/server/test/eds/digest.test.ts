import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { EdsValidator } from '../../src/eds/profiles.ts';
import { eventDigest } from '../../src/eds/repository.ts';
import { edsFixture } from './helpers.ts';

// An event's digest is its key in EDS's store: a stored digest must never change, however `eventDigest` is written.
// These were computed by the digest's first implementation.
describe('EDS event digest', () => {
  it('is the digest EDS has always given these events', () => {
    const pinned: [string, string][] = [
      ['AuditEvent-EDS-BDS-07.1.json', '1043e7321b2a06db61e08050949f16da4afeef8f22640d3fca667e63e26c6ff3'],
      ['AuditEvent-EDS-BDS-17.1.json', 'c0efa38fc631d2ec572bd466769c30a9440085cf05def2172d5899f614dfaa8a'],
      ['AuditEvent-EDS-PDS-06.1.json', '057fb705a0acee9da8be1f924a8b6e89b06a22f625f87a69c326f8374f8a90f8'],
    ];
    for (const [name, digest] of pinned) assert.equal(eventDigest(edsFixture(name)), digest, name);
  });

  it('sorts keys by code unit at every depth, leaves out undefined members, and ignores id and meta', () => {
    const odd = {
      b: [1, undefined, { z: 'é\u0000"', a: null }],
      a: { d: 1.5e300, c: true, é: 'x', B: -0 },
      x: undefined,
      meta: { q: 1 },
      id: '1',
    };
    assert.equal(eventDigest(odd), '54c7abbe06d47b2e95e0c2ff419c1acc1867fe7073871346b96ff6d51bffb652');
    const reordered = { id: '2', a: { B: -0, é: 'x', c: true, d: 1.5e300 }, b: odd.b };
    assert.equal(eventDigest(reordered), eventDigest(odd));
  });

  it('orders the keys of small and large objects alike, in whatever order they come', () => {
    // Keys that code-unit order and a locale's order sort differently, each object in reverse and shuffled order.
    const names = (n: number) =>
      Array.from({ length: n }, (_, i) => `${i % 3 === 0 ? 'K' : 'k'}${i}é${n - i}`);
    const sorted = (keys: string[]) => [...keys].sort();
    // The text the digest hashes, by its definition: keys in code-unit order at every depth.
    const reference = (v: unknown): string =>
      v === null || typeof v !== 'object'
        ? JSON.stringify(v)
        : `{${sorted(Object.keys(v))
            .map((k) => `${JSON.stringify(k)}:${reference((v as Record<string, unknown>)[k])}`)
            .join(',')}}`;
    for (const n of [2, 5, 31, 32, 33, 200]) {
      const keys = names(n);
      // Each key's value depends on the key only: half of them objects of their own, with keys out of order.
      const valueFor = (k: string, i: number) => (i % 2 === 0 ? { [k]: i, a: true } : k);
      const build = (order: string[]) =>
        Object.fromEntries(order.map((k) => [k, valueFor(k, keys.indexOf(k))]));
      const reversed = build([...keys].reverse());
      const shuffled = build(
        keys
          .map((k, i) => [k, (i * 7919) % n] as const)
          .sort((x, y) => x[1] - y[1])
          .map(([k]) => k),
      );
      const expected = createHash('sha256').update(reference(reversed)).digest('hex');
      assert.equal(eventDigest(reversed), expected, `${n} keys reversed`);
      assert.equal(eventDigest(shuffled), expected, `${n} keys shuffled`);
    }
  });

  it('is the same text when taken from the event’s shape, whatever the values hold', () => {
    const validator = new EdsValidator();
    const sample = edsFixture('AuditEvent-EDS-PDS-06.1.json');
    // Characters JSON escapes, a raw U+0000 (the template's own separator), a lone surrogate, digits alone.
    const values = ['"quoted" \\ back', 'nul \u0000 0 \u00001\u0000', 'lone \ud800 ø ✓', '0', '1', ''];
    // Another member holding a U+0000 with digits, as the template writes a position.
    const texts = ['plain', '\u00000\u0000', '\u0000'];
    let shaped = 0;
    for (const text of texts) {
      for (const value of values) {
        type Entity = {
          type?: { code?: string };
          what?: { identifier?: { value?: string } };
          description?: string;
        };
        const event = structuredClone(sample) as Record<string, unknown> & { entity: Entity[] };
        event.recorded = `2026-12-08T02:0${values.indexOf(value)}:00Z`;
        for (const e of event.entity)
          if (e.what?.identifier) e.what.identifier.value = `${value}-${e.type?.code}`;
        event.entity[0]!.description = text;
        const result = validator.validate(event);
        assert.equal(result.ok, true, JSON.stringify(result.outcome));
        if (!result.shape) continue;
        shaped++;
        assert.equal(eventDigest(event, result.shape), eventDigest(event), `${text} / ${value}`);
      }
    }
    assert.equal(shaped, texts.length * values.length);
  });
});
