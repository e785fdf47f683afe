import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
});
